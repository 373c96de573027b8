"""GitHub-flavoured Markdown pipe tables: examples from the GFM spec, quirks, properties."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from opsledger.core.problems import ReadResult
from opsledger.formats.mdtable import (
    _has_pipe,
    _split_escaped,
    parse_tables,
    sections,
    split_row,
    table_fields,
    tables_under,
    unescape_cell,
)
from opsledger.render.sections import md_table


def test_gfm_spec_example_198_basic_table() -> None:
    # https://github.github.com/gfm/#example-198
    (table,) = parse_tables("| foo | bar |\n| --- | --- |\n| baz | bim |\n")
    assert table.header == ("foo", "bar")
    assert [r.cells for r in table.rows] == [("baz", "bim")]
    assert [r.line for r in table.rows] == [3]


def test_gfm_spec_example_199_alignment() -> None:
    (table,) = parse_tables("| abc | defghi |\n:-: | -----------:\nbar | baz\n")
    assert table.align == ("center", "right")
    assert table.rows[0].cells == ("bar", "baz")


def test_gfm_spec_example_200_escaped_pipes() -> None:
    text = "| f\\|oo  |\n| ------ |\n| b `\\|` az |\n| b **\\|** im |\n"
    (table,) = parse_tables(text)
    assert table.header == ("f|oo",)
    assert [r.cells for r in table.rows] == [("b `|` az",), ("b **|** im",)]


def test_gfm_spec_example_203_header_and_delimiter_must_match() -> None:
    assert parse_tables("| abc | def |\n| --- |\n| bar |\n") == []


def test_table_ends_at_blank_line_and_at_a_line_without_pipes() -> None:
    text = "| a | b |\n|---|---|\n| 1 | 2 |\n\n| 3 | 4 |\n"
    (table,) = parse_tables(text)
    assert [r.cells for r in table.rows] == [("1", "2")]
    (table,) = parse_tables("a | b\n--|--\n1 | 2\nplain paragraph\n")
    assert [r.cells for r in table.rows] == [("1", "2")]


def test_leading_and_trailing_pipes_are_optional() -> None:
    (table,) = parse_tables("a | b\n--- | ---\n| 1 | 2\n3 | 4 |\n")
    assert [r.cells for r in table.rows] == [("1", "2"), ("3", "4")]


def test_inline_code_with_a_pipe_keeps_the_row_whole() -> None:
    (table,) = parse_tables("| id | command |\n|---|---|\n| 1 | `grep a|b` |\n")
    assert table.rows[0].cells == ("1", "`grep a|b`")
    assert table.ragged == ()


def test_ragged_rows_are_kept_and_quarantined_by_table_fields(tmp_path: Path) -> None:
    text = "# Register\n\n| id | title |\n|---|---|\n| 1 | ok |\n| 2 |\n| 3 | x | extra |\n"
    (table,) = parse_tables(text)
    assert [r.line for r in table.ragged] == [6, 7]
    result: ReadResult[str] = ReadResult(tmp_path / "r.md")
    rows = [f.text("title") for f in table_fields(result.path, result, table, ("title",))]
    assert rows == ["ok"]
    assert [p.location for p in result.problems] == ["line 6", "line 7"]
    assert "expected 2 cells, found 1 cells" in str(result.problems[0])


def test_missing_required_column_fails_the_file_at_the_header_line(tmp_path: Path) -> None:
    (table,) = parse_tables("intro\n\n| id | owner |\n|---|---|\n| 1 | x |\n")
    result: ReadResult[str] = ReadResult(tmp_path / "r.md")
    assert list(table_fields(result.path, result, table, ("title",))) == []
    assert result.fatal
    assert "r.md: line 3: missing required column title" in str(result.problems[0])


def test_empty_words_and_emphasis_in_cells(tmp_path: Path) -> None:
    (table,) = parse_tables("| a | b | c | d |\n|---|---|---|---|\n| — | TBD | **x** | `y` |\n")
    result: ReadResult[str] = ReadResult(tmp_path / "r.md")
    (fields,) = table_fields(result.path, result, table, ())
    assert fields.text("a", required=False) is None
    assert fields.text("b", required=False) is None
    assert fields.text("c") == "x"
    assert fields.text("d") == "y"
    assert fields.locate("c") == "line 3, column 'c'"


def test_tables_in_code_fences_are_ignored() -> None:
    text = "```\n| a | b |\n|---|---|\n| 1 | 2 |\n```\n\n| c |\n|---|\n| 3 |\n"
    (table,) = parse_tables(text)
    assert table.header == ("c",)
    assert table.line == 7


def test_tables_under_a_heading() -> None:
    text = (
        "# Postmortem\n\n## Timeline\n\n| t | e |\n|---|---|\n| 1 | 2 |\n\n"
        "## Action Items\n\n### Open\n\n| id | action |\n|---|---|\n| A1 | fix |\n\n"
        "## Appendix\n\n| x |\n|---|\n| y |\n"
    )
    tables = parse_tables(text)
    assert len(tables) == 3
    (actions,) = tables_under(tables, "Action items")
    assert actions.header == ("id", "action")
    assert [h.title for h in actions.headings] == ["Postmortem", "Action Items", "Open"]


def test_sections_split_at_same_or_higher_level_headings() -> None:
    text = "# T\n\n## One\n\nbody 1\n\n### Sub\n\nmore\n\n## Two\n\nbody 2\n# Next\n## Three\n"
    found = sections(text, 2)
    assert [s.heading.title for s in found] == ["One", "Two", "Three"]
    assert found[0].body == "body 1\n\n### Sub\n\nmore"
    assert found[1].body == "body 2"
    assert found[0].heading.line == 3


def test_unescape_cell_decodes_escapes_and_entities() -> None:
    assert unescape_cell("a\\|b \\\\ c &amp; &lt;x&gt; \\q") == "a|b \\ c & <x> \\q"


def test_split_row_without_columns_hint() -> None:
    assert split_row("| a | b\\|c | `d` |") == ["a", "b|c", "`d`"]


# Cells as md_table writes them: no line breaks (it turns them into spaces) and no
# surrounding whitespace (the parser strips it).
cell_text = st.text(
    alphabet=st.characters(codec="utf-8", blacklist_characters="\r\n"),
    max_size=12,
).map(str.strip)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[str], list[list[str]]]:
    columns = draw(st.integers(min_value=1, max_value=5))
    header = draw(st.lists(cell_text, min_size=columns, max_size=columns))
    rows = draw(st.lists(st.lists(cell_text, min_size=columns, max_size=columns), max_size=6))
    return header, rows


@settings(max_examples=300, deadline=None)
@given(tables(), st.sampled_from(["l", "r", "c"]))
def test_round_trip_with_md_table(table: tuple[list[str], list[list[str]]], align: str) -> None:
    header, rows = table
    text = md_table(header, rows, align=align * len(header))
    (parsed,) = parse_tables(text)
    assert list(parsed.header) == header
    assert [list(r.cells) for r in parsed.rows] == rows
    assert [r.line for r in parsed.rows] == list(range(3, 3 + len(rows)))
    assert set(parsed.align) == {{"l": "", "r": "right", "c": "center"}[align]}


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("|-:` \\\n#abc&;*_~")), max_size=200))
def test_never_raises_on_table_like_text(text: str) -> None:
    for table in parse_tables(text):
        assert table.line >= 1
        assert all(row.line > table.line for row in table.rows)
    sections(text, 2)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_arbitrary_text(text: str) -> None:
    parse_tables(text)
    sections(text, 2)


ROW_TEXT = st.text(alphabet=st.sampled_from(list("|`\\ &;ab-:*")), max_size=60)


@given(ROW_TEXT, st.booleans())
def test_a_row_without_a_backslash_splits_at_every_pipe(line: str, keep_code: bool) -> None:
    # What the plain split of a row without escapes (or code spans, when kept whole) rests on.
    if "\\" not in line and not (keep_code and "`" in line):
        assert _split_escaped(line, keep_code) == line.split("|")


@given(ROW_TEXT)
def test_a_pipe_counts_unless_a_backslash_escapes_it(line: str) -> None:
    # Left to right, a backslash takes the character after it along, whatever it is.
    assert _has_pipe(line) == bool(re.match(r"(?:\\.|[^\\|])*\|", line, re.DOTALL))

