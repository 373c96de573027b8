"""Opening an ``.xlsx`` workbook without trusting it.

An ``.xlsx`` file is a zip archive of XML parts, so it can carry the attacks of both: a zip
bomb (a few kilobytes that inflate to gigabytes), entries named ``../x``, and XML with a
DOCTYPE whose entities expand exponentially ("billion laughs") or reach out to files and
URLs (XXE). Before openpyxl sees the file, :func:`inspect_workbook_archive` checks the
archive's directory (entry count, declared sizes, compression ratio, names) and scans every
XML part for a DOCTYPE or ENTITY declaration, which no spreadsheet application writes.
openpyxl itself then parses with defusedxml (its ``openpyxl.xml.DEFUSEDXML`` switch), a
second line that refuses entity declarations should the scan ever miss one.
"""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from opsledger.core.problems import ReadResult, shown

T = TypeVar("T")

MAX_ENTRIES = 2_000
MAX_TOTAL_UNCOMPRESSED = 200 * 1024 * 1024
# Apache POI refuses parts that inflate more than 100 times (its minimum inflate ratio is
# 0.01); real sheet XML stays far below that. Tiny parts may compress better, harmlessly.
MAX_RATIO = 100.0
RATIO_CHECK_FROM = 1024 * 1024
_SCAN_CHUNK = 1 << 20
# Markers of a document type declaration, in the encodings an XML part may use.
_DTD_MARKERS = tuple(
    (marker.encode(encoding), marker)
    for marker in ("<!DOCTYPE", "<!ENTITY")
    for encoding in ("utf-8", "utf-16-le", "utf-16-be")
)
_OVERLAP = max(len(encoded) for encoded, _ in _DTD_MARKERS)
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


@dataclass(frozen=True)
class ArchiveLimits:
    entries: int = MAX_ENTRIES
    total_uncompressed: int = MAX_TOTAL_UNCOMPRESSED
    ratio: float = MAX_RATIO
    ratio_check_from: int = RATIO_CHECK_FROM


def xml_defence_problem() -> str | None:
    """Return why openpyxl would parse XML unprotected, or ``None`` when defusedxml is in use.

    openpyxl decides at import time: ``openpyxl.xml.DEFUSEDXML`` is true when defusedxml is
    installed and ``OPENPYXL_DEFUSEDXML`` is not set to something other than ``True``; its
    parsing functions are then defusedxml's.
    """
    import openpyxl.reader.excel
    import openpyxl.reader.strings
    import openpyxl.worksheet._reader
    import openpyxl.xml

    if not getattr(openpyxl.xml, "DEFUSEDXML", False):
        return (
            "openpyxl is not using defusedxml (is defusedxml installed, and "
            "OPENPYXL_DEFUSEDXML unset?)"
        )
    parsers = (
        openpyxl.reader.excel.fromstring,
        openpyxl.reader.strings.iterparse,
        openpyxl.worksheet._reader.iterparse,
    )
    for parser in parsers:
        module = getattr(parser, "__module__", "") or ""
        if not module.startswith("defusedxml"):
            return f"openpyxl parses with {module}.{getattr(parser, '__name__', parser)}"
    return None


def inspect_workbook_archive(
    path: Path, result: ReadResult[T], limits: ArchiveLimits = ArchiveLimits()
) -> bool:
    """Return True when the workbook archive is safe to hand to openpyxl.

    Otherwise record one fatal problem on ``result`` saying what was refused and why.
    """
    try:
        with path.open("rb") as handle:
            magic = handle.read(8)
    except OSError as exc:
        result.fail("", f"cannot read the file: {exc.strerror or exc}")
        return False
    if magic == _OLE2_MAGIC:
        result.fail(
            "",
            "this is a legacy .xls workbook",
            "an .xlsx workbook (save it as .xlsx)",
            "an OLE2 compound document",
        )
        return False
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, NotImplementedError, OSError, ValueError, EOFError) as exc:
        result.fail(
            "",
            "not an .xlsx workbook (not a readable zip archive)",
            "an .xlsx file",
            str(exc) or "unreadable data",
        )
        return False
    with archive:
        infos = archive.infolist()
        if not _directory_ok(infos, result, limits):
            return False
        names = {info.filename for info in infos}
        for part in ("[Content_Types].xml", "xl/workbook.xml"):
            if part not in names:
                result.fail(
                    f"entry '{part}'",
                    "not an .xlsx workbook: a required part is missing",
                    f"an entry '{part}'",
                    "no such entry",
                )
                return False
        return _parts_ok(archive, infos, result)


def _directory_ok(
    infos: list[zipfile.ZipInfo], result: ReadResult[T], limits: ArchiveLimits
) -> bool:
    if len(infos) > limits.entries:
        result.fail(
            "",
            "workbook archive holds too many entries",
            f"at most {limits.entries}",
            f"{len(infos)} entries",
        )
        return False
    total = 0
    seen: set[str] = set()
    for info in infos:
        name = info.filename
        if _escapes(name):
            result.fail(
                f"entry {shown(name)}",
                "workbook entry name escapes the archive",
                "a relative path inside the archive",
                shown(name),
            )
            return False
        if name in seen:
            result.fail(
                f"entry {shown(name)}",
                "workbook archive names an entry twice",
                "unique entry names",
                shown(name),
            )
            return False
        seen.add(name)
        if info.flag_bits & 0x1:
            result.fail(
                f"entry {shown(name)}",
                "workbook entry is encrypted",
                "an unencrypted .xlsx",
                "an encrypted zip entry",
            )
            return False
        total += info.file_size
        if total > limits.total_uncompressed:
            result.fail(
                "",
                "workbook inflates beyond the size limit (zip bomb?)",
                f"at most {limits.total_uncompressed} bytes uncompressed",
                f"more than {total} bytes",
            )
            return False
        if info.file_size >= limits.ratio_check_from:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.ratio:
                result.fail(
                    f"entry {shown(name)}",
                    "workbook entry is compressed suspiciously well (zip bomb?)",
                    f"a compression ratio of at most {limits.ratio:g}",
                    f"{ratio:.0f} ({info.compress_size} bytes inflating to {info.file_size})",
                )
                return False
    return True


def _escapes(name: str) -> bool:
    if not name or "\\" in name or "\x00" in name:
        return True
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts:
        return True
    first = pure.parts[0] if pure.parts else ""
    return len(first) >= 2 and first[1] == ":"  # a Windows drive letter


def _parts_ok(
    archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], result: ReadResult[T]
) -> bool:
    for info in infos:
        if info.is_dir() or not info.filename.lower().endswith((".xml", ".rels", ".vml")):
            continue
        try:
            marker = _find_dtd(_chunks(archive, info))
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            zlib.error,  # corrupt deflate data inside an entry
            OSError,
            EOFError,
            ValueError,
            NotImplementedError,
            RuntimeError,
        ) as exc:
            result.fail(
                f"entry '{info.filename}'",
                "workbook entry cannot be decompressed",
                "an intact zip entry",
                str(exc) or type(exc).__name__,
            )
            return False
        if marker:
            result.fail(
                f"entry '{info.filename}'",
                "workbook XML declares a document type or entities; refused (entity "
                "expansion or external entities)",
                "XML without a DOCTYPE",
                marker,
            )
            return False
    return True


def _chunks(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    # zipfile stops inflating at the declared size (and checks the CRC), so the directory
    # checks above bound this read.
    with archive.open(info) as stream:
        while chunk := stream.read(_SCAN_CHUNK):
            yield chunk


def _find_dtd(chunks: Iterator[bytes]) -> str:
    tail = b""
    for chunk in chunks:
        window = tail + chunk
        for encoded, marker in _DTD_MARKERS:
            if encoded in window:
                return marker
        tail = window[-_OVERLAP:]
    return ""


def load_workbook_safely(path: Path, result: ReadResult[T], data_only: bool) -> Any:
    """Return an openpyxl read-only workbook, or ``None`` after recording why not.

    Call :func:`inspect_workbook_archive` first; this adds the parser check and turns any
    openpyxl failure on a malformed file into a problem.
    """
    reason = xml_defence_problem()
    if reason:
        result.fail("", "refusing to parse workbook XML without protection", "defusedxml", reason)
        return None
    import openpyxl

    try:
        return openpyxl.load_workbook(
            path, read_only=True, data_only=data_only, keep_links=False, keep_vba=False
        )
    except Exception as exc:  # openpyxl raises many types on malformed parts
        result.fail(
            "",
            unreadable_message(exc),
            "a well-formed .xlsx workbook",
            unreadable_found(exc),
        )
        return None


def unreadable_message(exc: BaseException) -> str:
    """Return the message for an exception raised while openpyxl parsed a workbook."""
    if type(root_cause(exc)).__name__ in (
        "EntitiesForbidden",
        "DTDForbidden",
        "ExternalReferenceForbidden",
    ):
        return "workbook XML declares entities or a document type; refused"
    return "workbook cannot be read"


def unreadable_found(exc: BaseException) -> str:
    """Return what was found, naming the underlying parser error rather than its wrapper."""
    cause = root_cause(exc)
    return f"{type(cause).__name__}: {cause}"[:200]


def root_cause(exc: BaseException) -> BaseException:
    """Return the innermost exception (openpyxl wraps parser errors in a ValueError)."""
    seen = {id(exc)}
    while exc.__cause__ is not None and id(exc.__cause__) not in seen:
        exc = exc.__cause__
        seen.add(id(exc))
    return exc


@dataclass(frozen=True)
class UnfitCell:
    """A cell whose stored text does not fit the type the sheet declares for it.

    openpyxl converts each cell as it parses the sheet and raises on the first one that does
    not convert (the text ``abc`` in a cell typed as a number), which would lose the whole
    workbook; such a cell is given to the reader as this value, to quarantine its row.
    """

    text: str
    expected: str


@dataclass(frozen=True)
class SheetRow:
    """One stored row: its number, and its values and openpyxl cell types by column (A=0)."""

    number: int
    values: list[Any]
    kinds: list[str | None]


_DECLARED = {
    "n": "a number",
    "b": "a boolean (1 or 0)",
    "s": "an index into the shared strings",
    "d": "an ISO 8601 date-time",
}


@cache
def _tolerant_parser() -> type[Any]:
    from openpyxl.utils import coordinate_to_tuple
    from openpyxl.worksheet._reader import VALUE_TAG, WorkSheetParser

    class TolerantParser(WorkSheetParser):
        def parse_cell(self, element: Any) -> dict[str, Any]:
            try:
                cell: dict[str, Any] = super().parse_cell(element)
                return cell
            except (ValueError, TypeError, IndexError, OverflowError):
                kind = element.get("t", "n")
                coordinate = element.get("r")
                if coordinate:
                    row, column = coordinate_to_tuple(coordinate)
                else:
                    row, column = self.row_counter, self.col_counter
                text = element.findtext(VALUE_TAG, None) or ""
                value = UnfitCell(text, _DECLARED.get(kind, f"a value of type '{kind}'"))
                return {
                    "row": row,
                    "column": column,
                    "value": value,
                    "data_type": kind,
                    "style_id": 0,
                }

    return TolerantParser


def sheet_rows(sheet: Any, min_row: int = 1, max_row: int | None = None) -> Iterator[SheetRow]:
    """Yield the stored rows of a read-only worksheet from ``min_row`` (empty rows are absent).

    Like openpyxl's ``iter_rows(values_only=True)``, except that a cell whose text does not
    fit its declared type comes back as an :class:`UnfitCell` instead of ending the read.
    Uses the read-only worksheet's source and the workbook's date settings, as openpyxl does.
    """
    workbook = sheet.parent
    with sheet._get_source() as source:
        parser = _tolerant_parser()(
            source,
            sheet._shared_strings,
            data_only=workbook.data_only,
            epoch=workbook.epoch,
            date_formats=workbook._date_formats,
            timedelta_formats=workbook._timedelta_formats,
        )
        for number, cells in parser.parse():
            if max_row is not None and number > max_row:
                return
            if number < min_row:
                continue
            width = max((cell["column"] for cell in cells), default=0)
            values: list[Any] = [None] * width
            kinds: list[str | None] = [None] * width
            for cell in cells:
                values[cell["column"] - 1] = cell["value"]
                kinds[cell["column"] - 1] = cell["data_type"]
            yield SheetRow(number, values, kinds)
