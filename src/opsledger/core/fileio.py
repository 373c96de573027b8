"""Writing outputs safely: whole files only (temporary file, fsync, rename), kept inside the
workspace being written, digests, and CSV cells that a spreadsheet will not execute."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import orjson

from opsledger.core.errors import InputError

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Sheets.
# OWASP "CSV Injection": prefix such cells with a single quote.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# The workspace whose outputs the running command writes, set by :func:`writes_confined_to`.
_write_boundary: ContextVar[Path | None] = ContextVar("opsledger_write_boundary", default=None)


@contextmanager
def writes_confined_to(root: Path) -> Iterator[None]:
    """Refuse, while this is active, any write below ``root`` that symlinks lead out of it.

    A workspace arrives through pull requests: a committed ``reports/ops -> /elsewhere``
    would otherwise redirect the report (or the approval log) to any folder the CI user
    can write. Every output goes through :func:`confined_output`, so one check guards all.
    """
    token = _write_boundary.set(root.resolve())
    try:
        yield
    finally:
        _write_boundary.reset(token)


def confined_output(path: Path) -> Path:
    """Return ``path`` once it is known that writing it stays inside the workspace.

    Only paths that name a place inside the workspace are checked: a file the user names
    on the command line outside it (``--junit ../gates.xml``) is theirs to choose. Inside,
    the real location after every symbolic link (of the folders and of the file itself,
    which an append would follow) must still be inside; else :class:`InputError`.
    """
    root = _write_boundary.get()
    if root is None:
        return path
    named = Path(os.path.normpath(path.absolute()))
    if not named.is_relative_to(root):
        return path
    real = named.resolve()
    if not real.is_relative_to(root):
        raise InputError(
            f"{path}: refusing to write here: a symbolic link leads it out of the workspace "
            f"{root} (to {real}); remove the link or make it point inside the workspace"
        )
    return path


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    confined_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file private (0600); an output gets the mode a plain write
        # would give it under the user's umask.
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# The name ``tempfile.mkstemp`` gives in :func:`atomic_write_bytes`: ".<target>.<8 random>.tmp".
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Remove the temporary files that interrupted atomic writes left in ``folder``.

    A process killed between creating its temporary file and renaming it leaves the file
    behind (nothing can run on SIGKILL). Call this only while holding the workspace lock,
    when no other writer can be half-way through a write in ``folder``.
    """
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for child in folder.iterdir():
        if _TEMP_NAME.match(child.name) and child.is_file() and not child.is_symlink():
            child.unlink(missing_ok=True)
            removed.append(child)
    return removed


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


# With these options orjson writes what the standard library writes with ``indent=2,
# sort_keys=True, ensure_ascii=False, default=str`` (which indents in pure Python, some
# fifty times slower): times, dataclasses and subclasses of JSON's types are handed to
# ``_as_json_encodes_it`` to be written as the standard library writes them.
_ORJSON_OPTIONS = (orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
                   | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
                   | orjson.OPT_PASSTHROUGH_SUBCLASS)


def _as_json_encodes_it(value: Any) -> Any:
    """Return what the standard library's encoder writes for ``value`` (one orjson does not
    write itself): a subclass of a JSON type as that type (a ``StrEnum`` as its text, a
    NumPy float as a number), anything else as its text."""
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, list):
        return list(value)
    return str(value)


def dumps_json(obj: Any) -> str:
    """Return canonical JSON (sorted keys, two-space indent, trailing newline).

    A document orjson refuses (a key that is not text, an integer beyond 64 bits) is written
    by the standard library. Two values are written as JSON where the standard library wrote
    Python: a float that is not finite is null (not ``NaN`` or ``Infinity``), and an
    enumeration that is neither text nor an integer is its value (not ``Class.MEMBER``). A
    float with an exponent is written in its shortest form (``1e-7``, not ``1e-07``)."""
    try:
        return orjson.dumps(obj, default=_as_json_encodes_it, option=_ORJSON_OPTIONS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, dumps_json(obj))


def spreadsheet_safe(value: object) -> str:
    """Return ``value`` as text that a spreadsheet shows rather than evaluates."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        # A plain negative number is data, not a formula.
        if text.startswith("-") and _is_number(text):
            return text
        return "'" + text
    return text


def csv_cell(value: object) -> str:
    """Return ``value`` spreadsheet-safe, with its line breaks as ``\\n``.

    The csv module quotes a cell holding ``\\n`` (our line terminator) but not a bare
    ``\\r``, which every CSV reader takes as the end of a row: the row would come back cut
    in two. Line breaks are normalised so each cell reads back exactly as written.
    """
    return spreadsheet_safe(value).replace("\r\n", "\n").replace("\r", "\n")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def csv_text(header: Sequence[str], rows: Iterable[Mapping[str, object] | Sequence[object]]) -> str:
    """Return CSV text with every cell made spreadsheet-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        values = [row.get(h) for h in header] if isinstance(row, Mapping) else list(row)
        writer.writerow([csv_cell(v) for v in values])
    return buffer.getvalue()


def atomic_write_csv(
    path: Path, header: Sequence[str], rows: Iterable[Mapping[str, object] | Sequence[object]]
) -> None:
    atomic_write_text(path, csv_text(header, rows))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def sha256_tree(path: Path) -> str:
    """Return a digest of a file, or of every file below a folder (names and contents)."""
    if path.is_file():
        return sha256_file(path)
    digest = hashlib.sha256()
    for child in sorted(p for p in path.rglob("*") if p.is_file()):
        digest.update(child.relative_to(path).as_posix().encode())
        digest.update(b"\0")
        digest.update(sha256_file(child).encode())
    return digest.hexdigest()
