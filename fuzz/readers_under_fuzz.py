"""What the fuzz targets share: the registered readers of one family of files, and one
fuzz input run through each of them.

A family is a set of file suffixes (JSON, CSV, YAML, ...). Its readers are found from the
registry, as the hostile-file tests find them: a file input whose name has one of the
suffixes, or a folder input whose reader opens files with one of them. Each input is
written where the reader looks, then read; a reader that raises, or returns something
other than a ReadResult, is a crash for the fuzzer.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

FAMILIES: dict[str, tuple[str, ...]] = {
    "json": (".json", ".sarif"),
    "jsonl": (".jsonl", ".ndjson"),
    "csv": (".csv",),
    "yaml": (".yaml", ".yml"),
    "markdown": (".md",),
    "archive": (".zip", ".xlsx"),
}


@dataclass(frozen=True)
class FuzzedReader:
    name: str
    read: Callable[[Path], Any]
    target: Path  # what the reader is given: its file, or the folder it scans
    written: Path  # where the fuzz input goes


def _accepts(read: Callable[[Path], Any], suffix: str) -> bool:
    """Return True when a folder reader opens files with ``suffix`` (probed with a NUL)."""
    from opsledger.core.problems import Level

    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / f"probe{suffix}"
        probe.write_bytes(b"probe\x00\n")
        try:
            result = read(Path(tmp))
        except Exception:
            return True  # let the fuzzer find the crash
        return any(p.path == str(probe) and p.level is not Level.WARNING for p in result.problems)


def readers_of(family: str, root: Path) -> list[FuzzedReader]:
    """Return each registered reader of ``family``'s files, set up under ``root``."""
    from opsledger.core.config import Config
    from opsledger.core.workspace import Workspace
    from opsledger.readers.registry import READERS

    layout = Workspace(root, Config())
    found = []
    for key, read in READERS.items():
        path = layout.path(key)
        if path.suffix:
            if path.suffix.lower() in FAMILIES[family]:
                found.append(FuzzedReader(key.value, read, path, path))
            continue
        for suffix in FAMILIES[family]:
            if _accepts(read, suffix):
                found.append(FuzzedReader(key.value, read, path, path / f"fuzz{suffix}"))
    for reader in found:
        reader.written.parent.mkdir(parents=True, exist_ok=True)
    return found


def import_readers() -> None:
    """Import every registered reader module (inside ``atheris.instrument_imports``)."""
    importlib.import_module("opsledger.readers.registry")


def run_one(readers: list[FuzzedReader], data: bytes) -> None:
    """Feed ``data`` to every reader; raise if one of them breaks its contract."""
    from opsledger.core.problems import Problem, ReadResult

    for reader in readers:
        reader.written.write_bytes(data)
        result = reader.read(reader.target)
        if not isinstance(result, ReadResult):
            raise TypeError(f"{reader.name} returned {type(result).__name__}")
        for problem in result.problems:
            if not isinstance(problem, Problem) or not problem.message:
                raise TypeError(f"{reader.name} returned a problem without a message")
        reader.written.unlink()


def fuzz_family(family: str, argv: list[str]) -> None:
    """Run the coverage-guided fuzzer on one family (the entry point of each target)."""
    import atheris

    with atheris.instrument_imports(include=["opsledger"]):
        import_readers()
    # libFuzzer ends the process itself, so nothing would remove a temporary folder: the
    # caller may name one it cleans (the test suite does), else it is under the system's.
    given = os.environ.get("OPSLEDGER_FUZZ_WORKDIR")
    workdir = Path(given) if given else Path(tempfile.mkdtemp(prefix=f"opsledger-fuzz-{family}-"))
    workdir.mkdir(parents=True, exist_ok=True)
    readers = readers_of(family, workdir)
    if not readers:
        raise SystemExit(f"no registered reader reads {family} files")

    def test_one_input(data: bytes) -> None:
        run_one(readers, data)

    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
