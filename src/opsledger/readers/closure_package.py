"""CLOSURE-PACKAGE.zip: a manifest of the handover archive, inspected without extracting it.

Nothing is written to disk. The archive is refused as a whole (one fatal problem naming the
entry) when an entry could escape an extraction folder (absolute path, drive letter, ``..``,
backslashes, control characters), is a symbolic link or device, is encrypted, repeats an
earlier name, or looks like a decompression bomb; and when the archive declares too many
entries or too many bytes. Each entry is then streamed through SHA-256 with its actual
size checked against the size its header declares, so a lying header cannot make the
inspection read more than the declared total.
"""

from __future__ import annotations

import hashlib
import itertools
import stat
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from opsledger.core.problems import ReadResult, shown
from opsledger.model.handover import ArchiveEntry

MAX_ENTRIES = 10_000
MAX_TOTAL_BYTES = 1 << 30  # declared uncompressed size of all entries together
MAX_RATIO = 200  # uncompressed / compressed, above which a large entry is a bomb
RATIO_MIN_BYTES = 1 << 20  # small entries may compress well without being a threat
MAX_CENTRAL_DIRECTORY_BYTES = 64 << 20
_CHUNK = 1 << 16

_EOCD = b"PK\x05\x06"
_EOCD64_LOCATOR = b"PK\x06\x07"
_EOCD64 = b"PK\x06\x06"
_ENCRYPTED = 0x1
_STRONG_ENCRYPTION = 0x40
_UTF8_NAME = 0x800


@dataclass(frozen=True)
class ArchiveLimits:
    max_entries: int = MAX_ENTRIES
    max_total_bytes: int = MAX_TOTAL_BYTES
    max_ratio: float = MAX_RATIO
    ratio_min_bytes: int = RATIO_MIN_BYTES


def read(path: Path) -> ReadResult[ArchiveEntry]:
    """Return the manifest of CLOSURE-PACKAGE.zip (name, sizes, SHA-256 per file entry)."""
    return inspect_archive(path, ArchiveLimits())


def inspect_archive(path: Path, limits: ArchiveLimits) -> ReadResult[ArchiveEntry]:
    """Return the archive's manifest, or a fatal problem when it is unsafe or unreadable."""
    result: ReadResult[ArchiveEntry] = ReadResult(path, detected_format="zip")
    try:
        handle = path.open("rb")
    except OSError as exc:
        return result.fail("", f"cannot read the file: {exc.strerror or exc}")
    with handle:
        declared = _declared_directory(handle)
        if isinstance(declared, str):
            return result.fail("", declared, "a ZIP archive", _magic(handle))
        count, directory_bytes = declared
        if count > limits.max_entries:
            return result.fail(
                "", "archive holds too many entries", f"at most {limits.max_entries}", str(count)
            )
        if directory_bytes > MAX_CENTRAL_DIRECTORY_BYTES:
            return result.fail(
                "",
                "archive directory is too large",
                f"at most {MAX_CENTRAL_DIRECTORY_BYTES} bytes",
                f"{directory_bytes} bytes",
            )
        handle.seek(0)
        try:
            archive = zipfile.ZipFile(handle)
        except (
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
            NotImplementedError,  # an entry needing a newer zip version than Python reads
            ValueError,
            OSError,
            EOFError,
        ) as exc:
            return result.fail("", f"unreadable ZIP archive: {exc}", "a complete ZIP archive")
        with archive:
            infos = archive.infolist()
            if len(infos) != count:
                # Python's zipfile takes the last end-record signature in the file; if that
                # is not the record found above, tools would disagree about the contents.
                return result.fail(
                    "",
                    "archive directory is ambiguous (a second end-of-archive record?)",
                    f"{count} entries as the end record declares",
                    f"{len(infos)} entries",
                )
            if not _entries_safe(result, infos, limits, path.stat().st_size):
                return result
            for info in infos:
                if info.is_dir():
                    continue
                entry = _stream(result, archive, info)
                if entry is None:
                    return result
                result.records.append(entry)
    return result


def _declared_directory(handle: BinaryIO) -> tuple[int, int] | str:
    """Return (entry count, directory size) from the end record, or why there is none.

    Read before :mod:`zipfile` parses the directory, so a directory of millions of
    entries is refused without being loaded.
    """
    handle.seek(0, 2)
    size = handle.tell()
    if size < 22:
        return "not a ZIP archive (too short for an end-of-archive record)"
    tail_size = min(size, 22 + 0xFFFF)
    handle.seek(size - tail_size)
    tail = handle.read(tail_size)
    # The record is the last signature whose comment length reaches exactly to the end of
    # the file; an earlier match may sit inside the archive comment.
    at = tail.rfind(_EOCD)
    while at >= 0:
        if len(tail) - at >= 22:
            (comment_length,) = struct.unpack("<H", tail[at + 20 : at + 22])
            if at + 22 + comment_length == len(tail):
                break
        at = tail.rfind(_EOCD, 0, at)
    if at < 0:
        return "not a ZIP archive, or a truncated one (no end-of-archive record)"
    _, disk, _, _, entries, directory_bytes, _, _ = struct.unpack("<4s4H2LH", tail[at : at + 22])
    if disk != 0:
        return "multi-part ZIP archives are not supported"
    if entries == 0xFFFF or directory_bytes == 0xFFFFFFFF:
        locator_at = at - 20
        if locator_at < 0 or tail[locator_at : locator_at + 4] != _EOCD64_LOCATOR:
            return "ZIP64 archive without its end-of-archive locator"
        (record_offset,) = struct.unpack("<Q", tail[locator_at + 8 : locator_at + 16])
        if record_offset + 56 > size:
            return "truncated ZIP64 archive"
        handle.seek(record_offset)
        record = handle.read(56)
        if record[:4] != _EOCD64:
            return "ZIP64 archive with a damaged end-of-archive record"
        entries, directory_bytes = struct.unpack("<QQ", record[32:48])
    return entries, directory_bytes


def _magic(handle: BinaryIO) -> str:
    handle.seek(0)
    head = handle.read(8)
    return f"a file starting with {shown(head)}" if head else "an empty file"


def _entries_safe(
    result: ReadResult[ArchiveEntry],
    infos: list[zipfile.ZipInfo],
    limits: ArchiveLimits,
    archive_bytes: int,
) -> bool:
    """Return True when every entry passes the name, type, size and ratio checks."""
    if len(infos) > limits.max_entries:
        result.fail(
            "", "archive holds too many entries", f"at most {limits.max_entries}", str(len(infos))
        )
        return False
    seen: dict[str, str] = {}
    total = 0
    for info in infos:
        where = f"entry {shown(info.orig_filename)}"
        unsafe = _unsafe_name(info.orig_filename)
        if unsafe:
            result.fail(where, f"unsafe entry name: {unsafe}", "a relative path inside the archive")
            return False
        kind = _special_kind(info)
        if kind:
            result.fail(where, f"entry is a {kind}", "regular files and folders only")
            return False
        if info.flag_bits & (_ENCRYPTED | _STRONG_ENCRYPTION):
            result.fail(where, "entry is encrypted", "unencrypted entries")
            return False
        if info.filename in seen:
            result.fail(where, "duplicate entry name", "each name once")
            return False
        folded = info.filename.casefold()
        if folded in seen.values():
            result.warn(where, "another entry differs from this one only in letter case")
        seen[info.filename] = folded
        if info.compress_size > archive_bytes:
            result.fail(
                where,
                "entry is larger than the archive (truncated archive?)",
                f"at most {archive_bytes} compressed bytes",
                f"{info.compress_size} bytes",
            )
            return False
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_min_bytes and ratio > limits.max_ratio:
            result.fail(
                where,
                "entry compresses suspiciously well (decompression bomb?)",
                f"a compression ratio of at most {limits.max_ratio:g}:1 for entries over "
                f"{limits.ratio_min_bytes} bytes",
                f"{ratio:.0f}:1 ({info.file_size} bytes from {info.compress_size})",
            )
            return False
        total += info.file_size
        if total > limits.max_total_bytes:
            result.fail(
                where,
                "archive expands beyond the size limit",
                f"at most {limits.max_total_bytes} bytes in all",
                f"more than {total} bytes declared",
            )
            return False
    return _no_overlap(result, infos)


def _no_overlap(result: ReadResult[ArchiveEntry], infos: list[zipfile.ZipInfo]) -> bool:
    """Return False when two entries share stored bytes (an overlapping-entry bomb)."""
    ordered = sorted(infos, key=lambda info: info.header_offset)
    for before, after in itertools.pairwise(ordered):
        # The local header is at least 30 bytes plus the name; data follows it.
        encoding = "utf-8" if before.flag_bits & _UTF8_NAME else "cp437"
        name_bytes = len(before.orig_filename.encode(encoding, errors="replace"))
        end = before.header_offset + 30 + name_bytes + before.compress_size
        if end > after.header_offset:
            result.fail(
                f"entry {shown(after.orig_filename)}",
                f"entry overlaps the stored data of entry {shown(before.orig_filename)}",
                "entries stored one after another",
            )
            return False
    return True


def _unsafe_name(name: str) -> str:
    """Return why ``name`` could escape an extraction folder, or '' when it is safe."""
    if not name:
        return "empty name"
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        return "control character in the name"
    if "\\" in name:
        return "backslash in the name (a path separator on Windows)"
    if name.startswith("/"):
        return "absolute path"
    if len(name) >= 2 and name[1] == ":" and name[0].isalpha():
        return "drive-letter path"
    parts = name.rstrip("/").split("/")
    if ".." in parts:
        return "'..' path component"
    if any(part in ("", ".") for part in parts):
        return "empty or '.' path component"
    return ""


def _special_kind(info: zipfile.ZipInfo) -> str:
    """Return 'symbolic link' etc. when the Unix mode bits mark a non-regular entry."""
    mode = info.external_attr >> 16
    if not mode:
        return ""
    kind = stat.S_IFMT(mode)
    if kind == stat.S_IFLNK:
        return "symbolic link"
    if kind in (stat.S_IFCHR, stat.S_IFBLK):
        return "device file"
    if kind in (stat.S_IFIFO, stat.S_IFSOCK):
        return "pipe or socket"
    return ""


def _stream(
    result: ReadResult[ArchiveEntry], archive: zipfile.ZipFile, info: zipfile.ZipInfo
) -> ArchiveEntry | None:
    """Return the entry's manifest line, reading at most one byte past its declared size."""
    where = f"entry {shown(info.orig_filename)}"
    digest = hashlib.sha256()
    actual = 0
    try:
        with archive.open(info) as stream:
            while True:
                chunk = stream.read(min(_CHUNK, info.file_size + 1 - actual))
                if not chunk:
                    break
                actual += len(chunk)
                if actual > info.file_size:
                    result.fail(
                        where,
                        "entry expands beyond its declared size",
                        f"{info.file_size} bytes",
                        f"more than {info.file_size} bytes",
                    )
                    return None
                digest.update(chunk)
    except NotImplementedError as exc:
        result.fail(where, f"unsupported entry: {exc}", "stored or deflated entries")
        return None
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
        result.fail(where, f"damaged entry: {exc}", "an intact archive")
        return None
    if actual != info.file_size:
        result.fail(
            where,
            "entry is shorter than its declared size (truncated archive?)",
            f"{info.file_size} bytes",
            f"{actual} bytes",
        )
        return None
    return ArchiveEntry(info.filename, info.file_size, info.compress_size, digest.hexdigest())
