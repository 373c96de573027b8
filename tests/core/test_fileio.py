from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsledger.core.fileio import atomic_write_text, csv_text, sha256_tree, spreadsheet_safe


def test_atomic_write_leaves_no_partial_file_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "out.md"
    atomic_write_text(target, "old")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError):
        atomic_write_text(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.md"]


def test_outputs_get_the_umask_mode_not_a_private_one(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "report.md", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "report.md").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1+1", "'+1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("-2+3", "'-2+3"),
        ("-2.5", "-2.5"),
        ("plain", "plain"),
        ("\tTAB", "'\tTAB"),
    ],
)
def test_spreadsheet_safe(cell: str, safe: str) -> None:
    assert spreadsheet_safe(cell) == safe


@given(st.lists(st.text(max_size=20), min_size=1, max_size=5))
def test_csv_cells_never_start_a_formula(cells: list[str]) -> None:
    text = csv_text([f"c{i}" for i in range(len(cells))], [cells])
    row = list(csv.reader(io.StringIO(text, newline="")))[1]
    for value in row:
        if value[:1] in ("=", "+", "@", "\t", "\r"):
            raise AssertionError(value)
        if value.startswith("-"):
            float(value)  # only plain negative numbers may start with '-'


def test_tree_digest_changes_with_content_and_names(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("1")
    first = sha256_tree(tmp_path)
    (tmp_path / "a").write_text("2")
    second = sha256_tree(tmp_path)
    (tmp_path / "a").rename(tmp_path / "b")
    third = sha256_tree(tmp_path)
    assert len({first, second, third}) == 3
