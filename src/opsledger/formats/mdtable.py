"""GitHub-flavoured Markdown pipe tables and the headings they sit under.

The table syntax follows the GFM specification (https://github.github.com/gfm/#tables-extension-):
a header row, a delimiter row of ``---`` cells (``:`` marks alignment), then body rows;
leading and trailing pipes are optional and ``\\|`` is a pipe inside a cell. Two departures
suit hand-written registers better than rendering does:

- a body row whose cell count differs from the header's is kept as *ragged* (the reader
  quarantines it) instead of being padded or cut, because a missing cell usually means the
  values have shifted into the wrong columns;
- a pipe inside an inline code span (`` `a|b` ``) is content when splitting on every pipe
  would give a ragged row but keeping code spans whole gives the right cell count.

A table ends at a blank line or at a line without an unescaped pipe. Tables inside fenced
code blocks are ignored. Cell text is returned with Markdown backslash escapes and HTML
character references decoded, so a table written by :func:`opsledger.render.sections.md_table`
reads back as the values it was given.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from opsledger.core.problems import ReadResult
from opsledger.formats.csvrows import header_key, require_columns
from opsledger.formats.fields import Fields

T = TypeVar("T")

_DELIMITER_CELL = re.compile(r"^:?-+:?$")
_ATX_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LINE_END = re.compile(r"\r\n|\r|\n")
# CommonMark: any ASCII punctuation character may be backslash-escaped.
_ESCAPABLE = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
# Cell values that mean "nothing written here" in hand-kept registers.
EMPTY_WORDS = frozenset({"", "-", "—", "–", "n/a", "na", "tbd", "none", "null"})


@dataclass(frozen=True)
class Heading:
    level: int
    title: str
    line: int


@dataclass(frozen=True)
class TableRow:
    line: int  # 1-based line number in the document
    cells: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    line: int  # line of the header row
    header: tuple[str, ...]
    align: tuple[str, ...]  # "left", "right", "center" or "" per column
    rows: tuple[TableRow, ...]
    headings: tuple[Heading, ...]  # the headings this table sits under, outermost first

    @property
    def ragged(self) -> tuple[TableRow, ...]:
        return tuple(row for row in self.rows if len(row.cells) != len(self.header))

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(header_key(h) for h in self.header)

    def under(self, title: str) -> bool:
        """Return whether one of the table's headings is ``title`` (case and spacing ignored)."""
        wanted = header_key(title)
        return any(header_key(h.title) == wanted for h in self.headings)


def unescape_cell(text: str) -> str:
    """Return a cell's text with backslash escapes and HTML character references decoded."""
    if "\\" not in text and "&" not in text:
        return text
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text) and text[i + 1] in _ESCAPABLE:
            out.append(text[i + 1])
            i += 2
            continue
        if char == "&":
            # Decode one reference at a time so that an escaped "\&amp;" stays literal.
            end = text.find(";", i)
            if 0 < end - i <= 32:
                decoded = html.unescape(text[i : end + 1])
                if decoded != text[i : end + 1]:
                    out.append(decoded)
                    i = end + 1
                    continue
        out.append(char)
        i += 1
    return "".join(out)


def _split(line: str, keep_code: bool) -> list[str]:
    """Return the raw cells of a row (escapes kept), splitting on unescaped pipes."""
    if "\\" in line or (keep_code and "`" in line):
        cells = _split_escaped(line, keep_code)
    else:
        cells = line.split("|")  # every pipe splits: nothing escapes one
    stripped = line.strip()
    if stripped.startswith("|") and cells and not cells[0].strip():
        cells = cells[1:]
    if _ends_with_pipe(stripped) and cells and not cells[-1].strip():
        cells = cells[:-1]
    return cells


def _split_escaped(line: str, keep_code: bool) -> list[str]:
    """Return the cells between the unescaped pipes of ``line`` (outside inline code spans
    with ``keep_code``), outer empty cells included."""
    cells: list[str] = []
    current: list[str] = []
    i = 0
    code_ticks = 0  # length of the backtick run that opened the current code span
    while i < len(line):
        char = line[i]
        if char == "\\" and i + 1 < len(line):
            current.append(line[i : i + 2])
            i += 2
            continue
        if char == "`" and keep_code:
            run = len(line) - i - len(line[i:].lstrip("`"))
            if code_ticks == 0 and line.find("`" * run, i + run) >= 0:
                code_ticks = run
            elif code_ticks == run:
                code_ticks = 0
            current.append("`" * run)
            i += run
            continue
        if char == "|" and code_ticks == 0:
            cells.append("".join(current))
            current = []
            i += 1
            continue
        current.append(char)
        i += 1
    cells.append("".join(current))
    return cells


def _ends_with_pipe(text: str) -> bool:
    if not text.endswith("|"):
        return False
    backslashes = len(text[:-1]) - len(text[:-1].rstrip("\\"))
    return backslashes % 2 == 0


def _has_pipe(line: str) -> bool:
    """Return whether ``line`` holds a pipe that is not backslash-escaped."""
    if "\\" not in line:  # nothing escapes a pipe
        return "|" in line
    i = 0
    while i < len(line):
        if line[i] == "\\":
            i += 2
            continue
        if line[i] == "|":
            return True
        i += 1
    return False


def split_lines(text: str) -> list[str]:
    """Return the document's lines, split only where Markdown ends a line (LF, CRLF, CR)."""
    return _LINE_END.split(text)


def split_row(line: str, columns: int | None = None) -> list[str]:
    """Return the decoded cells of one table row.

    With ``columns`` given, a split that keeps inline code spans whole is tried when the
    plain split does not give that many cells.
    """
    raw = _split(line, keep_code=False)
    if columns is not None and len(raw) != columns and "`" in line:
        protected = _split(line, keep_code=True)
        if len(protected) == columns:
            raw = protected
    return [unescape_cell(cell.strip()) for cell in raw]


def _alignment(cells: Sequence[str]) -> tuple[str, ...] | None:
    align = []
    for cell in cells:
        text = cell.strip()
        if not _DELIMITER_CELL.match(text):
            return None
        if text.startswith(":") and text.endswith(":") and len(text) > 1:
            align.append("center")
        elif text.endswith(":"):
            align.append("right")
        elif text.startswith(":"):
            align.append("left")
        else:
            align.append("")
    return tuple(align)


def _heading(line: str) -> tuple[int, str] | None:
    match = _ATX_HEADING.match(line)
    if not match:
        return None
    return len(match.group(1)), (match.group(2) or "").strip()


def parse_tables(text: str) -> list[Table]:
    """Return every pipe table in a Markdown document, with 1-based line numbers."""
    lines = split_lines(text)
    tables: list[Table] = []
    headings: list[Heading] = []
    fence: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        fence_match = _FENCE.match(line)
        if fence is not None:
            if (
                fence_match
                and fence_match.group(1)[0] == fence[0]
                and len(fence_match.group(1)) >= len(fence)
                and not line.strip().strip(fence[0])
            ):
                fence = None
            i += 1
            continue
        if fence_match:
            fence = fence_match.group(1)
            i += 1
            continue
        heading = _heading(line)
        if heading is not None:
            level, title = heading
            headings = [h for h in headings if h.level < level] + [Heading(level, title, i + 1)]
            i += 1
            continue
        table = _table_at(lines, i, tuple(headings))
        if table is None:
            i += 1
            continue
        tables.append(table)
        i = table.line + 1 + len(table.rows)
    return tables


def _table_at(lines: list[str], i: int, headings: tuple[Heading, ...]) -> Table | None:
    """Return the table whose header row is ``lines[i]``, if one starts there."""
    if i + 1 >= len(lines):
        return None
    header_line, rule_line = lines[i], lines[i + 1]
    if _indent(header_line) >= 4 or (not _has_pipe(header_line) and not _has_pipe(rule_line)):
        return None
    rule_cells = _split(rule_line, keep_code=False)
    align = _alignment(rule_cells)
    if align is None:
        return None
    header = split_row(header_line, len(align))
    if len(header) != len(align):
        return None
    rows = []
    j = i + 2
    while j < len(lines):
        line = lines[j]
        if not line.strip() or not _has_pipe(line) or _heading(line) or _FENCE.match(line):
            break
        rows.append(TableRow(j + 1, tuple(split_row(line, len(header)))))
        j += 1
    return Table(i + 1, tuple(header), align, tuple(rows), headings)


def _indent(line: str) -> int:
    expanded = line.expandtabs(4)
    return len(expanded) - len(expanded.lstrip(" "))


def tables_under(tables: Sequence[Table], *titles: str) -> list[Table]:
    """Return the tables that sit under a heading named like one of ``titles``."""
    return [t for t in tables if any(t.under(title) for title in titles)]


def is_empty(value: str | None) -> bool:
    """Return whether a cell holds nothing (blank, a dash, ``n/a``, ``TBD``...)."""
    return value is None or plain(value).strip().lower() in EMPTY_WORDS


def plain(value: str) -> str:
    """Return a cell's value without surrounding emphasis or a whole-cell code span."""
    text = value.strip()
    for marker in ("**", "__", "`", "*", "_"):
        if len(text) > 2 * len(marker) and text.startswith(marker) and text.endswith(marker):
            text = text[len(marker) : -len(marker)].strip()
    return text


def table_fields(
    path: Path,
    result: ReadResult[T],
    table: Table,
    required: Sequence[str],
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> Iterator[Fields]:
    """Yield a :class:`Fields` per body row of ``table``, keyed by normalised column names.

    A missing required column makes the whole file fail; a ragged row is quarantined.
    Empty-meaning cells (``-``, ``n/a``, ``TBD``) are given to :class:`Fields` as blank.
    """
    keys = canonical_keys(table.header, aliases)
    if not require_columns(result, f"line {table.line}", keys, required, table.header):
        return
    for row in table.rows:
        if len(row.cells) != len(keys):
            result.quarantine(
                f"line {row.line}",
                "wrong number of cells in table row",
                f"{len(keys)} cells",
                f"{len(row.cells)} cells",
            )
            continue
        values = {
            key: ("" if is_empty(cell) else plain(cell))
            for key, cell in zip(keys, row.cells, strict=True)
        }
        yield Fields(str(path), values, _locator(row.line))


def canonical_keys(
    header: Sequence[str], aliases: Mapping[str, Sequence[str]] | None = None
) -> list[str]:
    """Return normalised column names with aliases mapped to their canonical name."""
    reverse = {
        header_key(alias): name for name, names in (aliases or {}).items() for alias in names
    }
    keys = [header_key(plain(h)) for h in header]
    return [reverse.get(k, k) for k in keys]


def _locator(line: int) -> Callable[[str], str]:
    return lambda column: f"line {line}, column '{column}'"


@dataclass(frozen=True)
class MarkdownSection:
    heading: Heading
    body: str  # Markdown between this heading and the next one of the same or higher level
    body_line: int  # line number of the body's first line


def sections(text: str, level: int) -> list[MarkdownSection]:
    """Return the sections whose heading has exactly ``level`` hashes, outside code fences."""
    lines = split_lines(text)
    found: list[tuple[Heading, int]] = []
    ends: list[int] = []
    fence: str | None = None
    for index, line in enumerate(lines):
        fence_match = _FENCE.match(line)
        if fence is not None:
            if fence_match and fence_match.group(1)[0] == fence[0]:
                fence = None
            continue
        if fence_match:
            fence = fence_match.group(1)
            continue
        heading = _heading(line)
        if heading is None:
            continue
        if heading[0] <= level and len(ends) < len(found):
            ends.append(index)
        if heading[0] == level:
            found.append((Heading(level, heading[1], index + 1), index + 1))
    while len(ends) < len(found):
        ends.append(len(lines))
    return [
        MarkdownSection(heading, "\n".join(lines[start:end]).strip("\n"), start + 1)
        for (heading, start), end in zip(found, ends, strict=True)
    ]
