"""Utilisation series read as columns: names converted once per distinct text, lines found
only for the rows that need one, and the same table and messages either way."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsledger.core.problems import Level
from opsledger.readers import utilisation


def write(tmp_path: Path, name: str, text: str) -> Path:
    folder = tmp_path / "utilisation"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text)
    return folder


def test_a_clean_file_never_walks_its_lines(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def walked(*args: object) -> np.ndarray:
        raise AssertionError("line numbers computed for a file without a bad row")

    monkeypatch.setattr(utilisation, "line_numbers", walked)
    rows = "".join(f"2026-10-0{d}T10:00:00Z,api,cpu,{d},4\n" for d in range(1, 8))
    result = utilisation.read(write(tmp_path, "u.csv", "time,service,resource,used,capacity\n"
                                    + rows))
    assert result.problems == []
    assert list(result.log.frame["utilisation"]) == pytest.approx([d / 4 for d in range(1, 8)])


def test_bad_rows_after_a_quoted_line_break_keep_their_file_lines(tmp_path: Path) -> None:
    text = ("time,service,resource,utilisation\n"
            '2026-10-01T10:00:00Z,"api\ngateway",cpu,0.5\n'   # lines 2-3
            "2026-10-01T11:00:00Z,api,cpu,lots\n"               # line 4
            "\n"                                               # line 5, blank
            "2026-10-01T12:00:00Z,api,cpu,0.25\n"               # line 6
            "2026-10-01T13:00:00Z,,cpu,0.25\n")                 # line 7
    result = utilisation.read(write(tmp_path, "u.csv", text))
    found = {(p.location, p.message) for p in result.problems if p.level is Level.ROW}
    assert found == {("line 4, column 'utilisation'", "'utilisation' is not a number"),
                     ("line 7, column 'service'", "missing service")}
    assert list(result.log.frame["service"]) == ["api\ngateway", "api"]


def test_names_are_trimmed_and_resources_recognised_per_distinct_text(tmp_path: Path) -> None:
    text = ("time,service,resource,used,capacity\n"
            "2026-10-01T10:00:00Z, api ,CPU ,1,4\n"
            "2026-10-01T10:00:00Z,api,Mem,2,4\n"
            "2026-10-01T10:00:00Z,\u00a0api\u00a0,conn,3,4\n"
            "2026-10-01T10:00:00Z,db,gpu,3,4\n")
    result = utilisation.read(write(tmp_path, "u.csv", text))
    frame = result.log.frame
    # str.strip removes the no-break space too: all three rows are the service "api".
    assert list(frame["service"]) == ["api", "api", "api"]
    assert list(frame["resource"]) == ["cpu", "memory", "connections"]
    assert all(type(name) is str for name in frame["service"])
    (bad,) = [p for p in result.problems if p.level is Level.ROW]
    assert (bad.location, bad.found) == ("line 5, column 'resource'", "'gpu'")


def test_a_parquet_column_of_numbers_is_read_as_names(tmp_path: Path) -> None:
    folder = tmp_path / "utilisation"
    folder.mkdir()
    pd.DataFrame({
        "time": pd.to_datetime(["2026-10-01", "2026-10-02", "2026-10-03"], utc=True),
        "service": [7, 7, 8],
        "resource": ["cpu", "cpu", "disk"],
        "used": ["1", "", None],
        "capacity": [2.0, 2.0, 2.0],
    }).to_parquet(folder / "u.parquet")
    result = utilisation.read(tmp_path)
    frame = result.log.frame
    assert list(frame["service"]) == ["7"]
    assert list(frame["utilisation"]) == [0.5]
    # Empty and missing 'used' cells are no number, not a bad number: the rows lack a ratio.
    found = sorted(p.location for p in result.problems if p.level is Level.ROW)
    assert found == ["row 2, column 'capacity'", "row 3, column 'capacity'"]


_NUMBER_CELLS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-10**20, 10**20).map(str),
    st.sampled_from(["", " ", " 0.5 ", "\t2\t", "+1", "-0", ".5", "5.", "1e3", "1E-3", "inf",
                     "-Infinity", "nan", "NaN", "1e400", "1,5", "0x10", "lots", "1 000",
                     "1_000", "1e", "e5", "+.5e-3", "٣", "1.5.2"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_NUMBER_CELLS, max_size=20))
def test_number_cells_cast_by_the_column_are_those_pandas_reads_one_by_one(
        cells: list[str]) -> None:
    """Each cell gives a finite number exactly when pandas reads its trimmed text as one, and
    then the float nearest to it, as Python's ``float`` reads it."""
    found = utilisation.numbers_of(pd.Series(cells, dtype=object))
    for cell, value in zip(cells, found, strict=True):
        expected = pd.to_numeric(pd.Series([cell.strip()], dtype=object),
                                 errors="coerce").to_numpy(dtype=float)[0]
        assert np.isfinite(value) == np.isfinite(expected), cell
        if np.isfinite(expected):
            assert value == float(cell), cell


def test_numbers_of_a_column_holding_more_than_text_are_read_by_pandas() -> None:
    mixed = pd.Series(["1.5", 2.0, None, " 3 "], dtype=object)
    assert np.allclose(utilisation.numbers_of(mixed), [1.5, 2.0, np.nan, 3.0], equal_nan=True)


@settings(max_examples=200, deadline=None)
@given(st.lists(_NUMBER_CELLS, max_size=20), st.integers(0, 20))
def test_numbers_of_arrow_text_are_those_of_the_same_text_as_objects(cells: list[str],
                                                                     split: int) -> None:
    chunks = pa.chunked_array([cells[:split], cells[split:]], type=pa.string())
    arrow = pd.Series(pd.arrays.ArrowExtensionArray(chunks))
    found = utilisation.numbers_of(arrow)
    expected = utilisation.numbers_of(pd.Series(cells, dtype=object))
    assert np.array_equal(found, expected, equal_nan=True)


def test_names_and_times_are_held_once_per_distinct_text_and_numbers_as_arrow_text() -> None:
    table = pa.table({"Timestamp": ["2026-10-01T10:00:00Z"] * 3,
                      "service": ["api", "db", "api"], "Used": ["1", "x", "2"]})
    frame = utilisation._text_frame(table, ["time", "service", "used"])
    assert list(frame.columns) == ["time", "service", "used"]
    assert list(frame["service"].cat.categories) == ["api", "db"]
    assert list(frame["time"].cat.categories) == ["2026-10-01T10:00:00Z"]
    assert isinstance(frame["used"].dtype, pd.ArrowDtype) and list(frame["used"]) == ["1", "x", "2"]


def test_a_file_read_in_several_blocks_gives_every_row_and_its_line(tmp_path: Path) -> None:
    # Over a MiB: Arrow reads it in several blocks, each with its own dictionary of names.
    count = 36_000

    def when(n: int) -> str:
        return f"2026-10-{1 + n % 28:02d}T{n % 24:02d}:00:00Z"

    rows = [f"{when(n)},svc-{n % 37},cpu,{n % 5},4\n" for n in range(count)]
    rows[25_000] = "2026-10-01T00:00:00Z,svc-1,cpu,lots,4\n"
    rows[-1] = "not a time,svc-2,cpu,1,4\n"
    text = "time,service,resource,used,capacity\n" + "".join(rows)
    assert len(text.encode()) > 1.2 * 2**20
    result = utilisation.read(write(tmp_path, "u.csv", text))
    found = sorted((p.location, p.message) for p in result.problems if p.level is Level.ROW)
    assert found == [("line 25002, column 'used'", "'used' is not a number"),
                     (f"line {count + 1}, column 'time'", "'time' is not a date-time")]
    frame = result.log.frame
    kept = [n for n in range(count - 1) if n != 25_000]
    assert list(frame["service"]) == [f"svc-{n % 37}" for n in kept]
    assert list(frame["used"]) == [float(n % 5) for n in kept]
    assert list(frame["time"]) == [pd.Timestamp(when(n)) for n in kept]


def test_two_columns_giving_the_same_field_fail_the_file_by_name(tmp_path: Path) -> None:
    text = ("time,Timestamp,service,resource,utilisation\n"
            "2026-10-01T10:00:00Z,2026-10-01T11:00:00Z,api,cpu,0.5\n")
    result = utilisation.read(write(tmp_path, "u.csv", text))
    (problem,) = result.problems
    assert problem.level is Level.FATAL and problem.location == "line 1"
    assert problem.message == "columns 'time' and 'Timestamp' both give the 'time' column"
    assert len(result.log) == 0
    folder = tmp_path / "parquet" / "utilisation"
    folder.mkdir(parents=True)
    pd.DataFrame({"time": pd.to_datetime(["2026-10-01"], utc=True), "service": ["api"],
                  "resource": ["cpu"], "utilisation": [0.5], "utilization": [0.4],
                  }).to_parquet(folder / "u.parquet")
    (problem,) = utilisation.read(folder).problems
    assert problem.message == ("columns 'utilisation' and 'utilization' both give the "
                               "'utilisation' column")


def test_samples_of_one_file_are_its_log_and_of_several_are_joined_in_name_order(
    tmp_path: Path,
) -> None:
    header = "time,service,resource,utilisation\n"
    folder = write(tmp_path, "b.csv", header + "2026-10-02T10:00:00Z,web,cpu,0.2\n")
    one = utilisation.read(folder)
    # Not copied: a run holds its samples once.
    assert one.log.frame is one.records[0].frame
    write(tmp_path, "a.csv", header + "2026-10-01T10:00:00Z,api,cpu,0.1\n"
          "2026-10-01T11:00:00Z,api,memory,0.3\n")
    write(tmp_path, "c.csv", header)  # no samples
    joined = utilisation.read(folder).log.frame
    assert list(joined["service"]) == ["api", "api", "web"]
    assert list(joined["utilisation"]) == pytest.approx([0.1, 0.3, 0.2])
    assert list(joined.index) == [0, 1, 2]
