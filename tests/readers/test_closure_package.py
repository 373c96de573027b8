"""CLOSURE-PACKAGE.zip: manifest of a good archive, and one archive per unsafe shape."""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

from opsledger.core.problems import Level, Problem
from opsledger.readers.closure_package import ArchiveLimits, inspect_archive, read


def build_zip(path: Path, entries: Sequence[tuple[str | zipfile.ZipInfo, bytes]]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def only_fatal(problems: list[Problem]) -> str:
    """Return the one fatal problem's text (and fail if there is not exactly one)."""
    fatal = [p for p in problems if p.level is Level.FATAL]
    assert len(fatal) == 1, problems
    return str(fatal[0])


def test_manifest_lists_every_file_with_size_and_sha256(tmp_path: Path) -> None:
    runbook = b"# Runbook: checkout\n\nRoll back first.\n" * 20
    overview = b"# Architecture\n"
    path = build_zip(
        tmp_path / "CLOSURE-PACKAGE.zip",
        [("runbooks/", b""), ("runbooks/checkout.md", runbook), ("architecture.md", overview)],
    )
    result = read(path)
    assert result.problems == []
    assert result.detected_format == "zip"
    manifest = {e.name: e for e in result.records}
    assert set(manifest) == {"runbooks/checkout.md", "architecture.md"}  # folders are not files
    entry = manifest["runbooks/checkout.md"]
    assert entry.size == len(runbook)
    assert entry.sha256 == hashlib.sha256(runbook).hexdigest()
    assert 0 < entry.compressed_size < entry.size  # deflated: the text repeats
    assert manifest["architecture.md"].sha256 == hashlib.sha256(overview).hexdigest()


def test_nothing_is_extracted(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "p.zip", [("a.md", b"x")])
    before = sorted(p.name for p in tmp_path.iterdir())
    read(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../x", "'..' path component"),
        ("docs/../../etc/passwd", "'..' path component"),
        ("/etc/passwd", "absolute path"),
        ("C:/Windows/win.ini", "drive-letter path"),
        ("..\\..\\x.md", "backslash"),
        ("docs//x.md", "empty or '.' path component"),
        ("docs/./x.md", "empty or '.' path component"),
        ("bad\x07name.md", "control character"),
    ],
)
def test_path_escapes_are_refused_naming_the_entry(tmp_path: Path, name: str, reason: str) -> None:
    path = build_zip(tmp_path / "p.zip", [("ok.md", b"fine"), (name, b"payload")])
    result = read(path)
    assert result.fatal
    assert result.records == []
    message = only_fatal(result.problems)
    assert str(path) in message
    assert f"entry {name!r}" in message
    assert reason in message


def test_symlink_entry_is_refused(tmp_path: Path) -> None:
    link = zipfile.ZipInfo("runbooks/passwd")
    link.create_system = 3
    link.external_attr = 0o120777 << 16  # S_IFLNK
    path = build_zip(tmp_path / "p.zip", [(link, b"/etc/passwd")])
    message = only_fatal(read(path).problems)
    assert "entry 'runbooks/passwd'" in message
    assert "symbolic link" in message


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate we want
        path = build_zip(tmp_path / "p.zip", [("a.md", b"first"), ("a.md", b"second")])
    message = only_fatal(read(path).problems)
    assert "entry 'a.md'" in message
    assert "duplicate entry name" in message


def test_case_only_duplicates_are_a_warning(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "p.zip", [("README.md", b"a"), ("readme.md", b"b")])
    result = read(path)
    assert not result.fatal
    assert len(result.records) == 2
    assert [p.level for p in result.problems] == [Level.WARNING]
    assert "entry 'readme.md'" in str(result.problems[0])


def _set_flag_bits(data: bytes, bits: int) -> bytes:
    """Return the archive with ``bits`` set in every local and central header's flags."""
    out = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = out.find(signature)
        while at >= 0:
            (flags,) = struct.unpack_from("<H", out, at + offset)
            struct.pack_into("<H", out, at + offset, flags | bits)
            at = out.find(signature, at + 4)
    return bytes(out)


def test_encrypted_entry_is_refused(tmp_path: Path) -> None:
    plain = build_zip(tmp_path / "plain.zip", [("secret.md", b"password=hunter2")])
    path = tmp_path / "p.zip"
    path.write_bytes(_set_flag_bits(plain.read_bytes(), 0x1))
    message = only_fatal(read(path).problems)
    assert "entry 'secret.md'" in message
    assert "encrypted" in message


def test_zip_bomb_is_refused_before_decompressing(tmp_path: Path) -> None:
    # 50 MB of zeros deflates to about 50 KB: a ratio near 1000:1.
    entries = [("readme.md", b"hi"), ("zeros.bin", bytes(50_000_000))]
    path = build_zip(tmp_path / "bomb.zip", entries)
    result = read(path)
    message = only_fatal(result.problems)
    assert "entry 'zeros.bin'" in message
    assert "decompression bomb" in message
    assert "50000000 bytes" in message
    assert result.records == []


def test_small_entries_may_compress_well(tmp_path: Path) -> None:
    # 512 KiB of zeros is over 200:1 but under the 1 MiB floor: not a threat.
    path = build_zip(tmp_path / "p.zip", [("zeros.bin", bytes(512 * 1024))])
    result = read(path)
    assert result.problems == []
    assert result.records[0].sha256 == hashlib.sha256(bytes(512 * 1024)).hexdigest()


def test_entry_count_limit(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "p.zip", [(f"f{i}.md", b"x") for i in range(6)])
    result = inspect_archive(path, ArchiveLimits(max_entries=5))
    message = only_fatal(result.problems)
    assert "too many entries" in message
    assert "at most 5" in message and "found 6" in message


def test_declared_total_size_limit(tmp_path: Path) -> None:
    path = build_zip(tmp_path / "p.zip", [("a.bin", b"a" * 600), ("b.bin", b"b" * 600)])
    result = inspect_archive(path, ArchiveLimits(max_total_bytes=1000))
    message = only_fatal(result.problems)
    assert "entry 'b.bin'" in message
    assert "size limit" in message


def test_header_that_understates_the_size_is_caught_while_streaming(tmp_path: Path) -> None:
    data = b"0123456789" * 100
    built = build_zip(tmp_path / "p.zip", [("a.bin", data)])
    raw = bytearray(built.read_bytes())
    # Lie in the central directory: declare 10 bytes instead of 1000.
    central = raw.find(b"PK\x01\x02")
    struct.pack_into("<I", raw, central + 24, 10)
    path = tmp_path / "lying.zip"
    path.write_bytes(bytes(raw))
    result = read(path)
    message = only_fatal(result.problems)
    assert "entry 'a.bin'" in message
    assert result.records == []


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "CLOSURE-PACKAGE.zip"
    path.write_text("this is a text file pretending to be an archive\n" * 3)
    result = read(path)
    message = only_fatal(result.problems)
    assert str(path) in message
    assert "not a ZIP archive" in message
    assert "found a file starting with" in message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "p.zip"
    path.write_bytes(b"")
    assert "an empty file" in only_fatal(read(path).problems)


def test_truncated_zip(tmp_path: Path) -> None:
    built = build_zip(tmp_path / "full.zip", [("a.md", b"a" * 5000), ("b.md", b"b" * 5000)])
    path = tmp_path / "p.zip"
    path.write_bytes(built.read_bytes()[:-40])
    message = only_fatal(read(path).problems)
    assert "truncated" in message


def test_damaged_entry_data_names_the_entry(tmp_path: Path) -> None:
    built = build_zip(tmp_path / "full.zip", [("a.md", b"abcdefgh" * 500)])
    raw = bytearray(built.read_bytes())
    raw[40:60] = b"\xff" * 20  # inside the deflated data of a.md
    path = tmp_path / "p.zip"
    path.write_bytes(bytes(raw))
    message = only_fatal(read(path).problems)
    assert "entry 'a.md'" in message


def test_overlapping_entries_are_refused(tmp_path: Path) -> None:
    # Two directory records pointing at the same stored data (the overlapping-file bomb).
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.md", b"a" * 100)
        archive.writestr("b.md", b"b" * 100)
    raw = bytearray(buffer.getvalue())
    second = raw.find(b"PK\x01\x02", raw.find(b"PK\x01\x02") + 4)
    struct.pack_into("<I", raw, second + 42, 0)  # b.md's local header offset -> a.md's
    path = tmp_path / "p.zip"
    path.write_bytes(bytes(raw))
    message = only_fatal(read(path).problems)
    assert "overlaps" in message


def test_missing_file(tmp_path: Path) -> None:
    result = read(tmp_path / "absent.zip")
    assert result.fatal
    assert "cannot read the file" in str(result.problems[0])


def _patch_end_record(data: bytes, entries: int) -> bytes:
    raw = bytearray(data)
    at = raw.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", raw, at + 8, entries, entries)
    return bytes(raw)


def test_entry_count_is_checked_before_the_directory_is_parsed(tmp_path: Path) -> None:
    built = build_zip(tmp_path / "full.zip", [("a.md", b"a")])
    path = tmp_path / "p.zip"
    path.write_bytes(_patch_end_record(built.read_bytes(), 20_000))
    message = only_fatal(read(path).problems)
    assert "too many entries" in message
    assert "found 20000" in message


def test_zip64_marker_without_locator(tmp_path: Path) -> None:
    built = build_zip(tmp_path / "full.zip", [("a.md", b"a")])
    path = tmp_path / "p.zip"
    path.write_bytes(_patch_end_record(built.read_bytes(), 0xFFFF))
    assert "ZIP64" in only_fatal(read(path).problems)


def test_end_signature_inside_the_comment_is_refused_as_ambiguous(tmp_path: Path) -> None:
    path = tmp_path / "p.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.md", b"a")
        # A fake end record claiming 60,000 entries, hidden in the archive comment.
        fake = b"PK\x05\x06" + struct.pack("<4H2LH", 0, 0, 60000, 60000, 0, 0, 0)
        archive.comment = fake + b" (release notes follow)"
    result = read(path)
    # The fake record is not taken for the real one (no "too many entries")...
    message = only_fatal(result.problems)
    assert "too many entries" not in message
    # ...and since other ZIP readers would take it, the archive is refused as ambiguous.
    assert "ambiguous" in message
    assert "expected 1 entries" in message


def test_demo_sized_archive_reads_in_one_pass(tmp_path: Path) -> None:
    # Many small entries within the limits: every one is listed, in archive order.
    entries = [(f"runbooks/service-{i:03d}.md", f"# Runbook {i}\n".encode()) for i in range(300)]
    result = read(build_zip(tmp_path / "p.zip", entries))
    assert result.problems == []
    assert [e.name for e in result.records] == [name for name, _ in entries]
    assert result.records[7].sha256 == hashlib.sha256(b"# Runbook 7\n").hexdigest()
