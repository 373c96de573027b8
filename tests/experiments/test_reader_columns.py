"""Observations read by whole columns give exactly what the row-by-row path gives.

The columnar path is taken when every row is clean; any row with a problem sends the file
to the row-by-row path, which names it. Both are compared here on generated files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsledger.core.problems import ReadResult
from opsledger.experiments.service import assign
from opsledger.formats.csvrows import csv_rows
from opsledger.model.assignment import assign_unit, assign_units
from opsledger.model.experiments import Observations
from opsledger.readers.experiments import ALIASES, _collect, _parquet_rows, _required, read_columns

from .builders import definition

TRIAL = definition()


def row_by_row(file: Path) -> tuple[Observations, list[str]]:
    result: ReadResult[object] = ReadResult(file)
    rows = (_parquet_rows(file, TRIAL, result) if file.suffix == ".parquet"
            else csv_rows(file, result, _required(TRIAL), ALIASES))
    return _collect(file, rows, TRIAL, result), [str(p) for p in result.problems]


def columns(file: Path) -> tuple[Observations | None, list[str]]:
    result: ReadResult[object] = ReadResult(file)
    return read_columns(file, TRIAL, result), [str(p) for p in result.problems]


def same(a: Observations, b: Observations) -> bool:
    return (list(a.unit_ids) == list(b.unit_ids) and list(a.variants) == list(b.variants)
            and a.columns.keys() == b.columns.keys()
            and all(np.array_equal(a.columns[k], b.columns[k]) for k in a.columns))


units = st.lists(st.from_regex(r"[a-z0-9]{1,6}", fullmatch=True), min_size=0, max_size=40,
                 unique=True)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=units, flips=st.integers(0, 3), pad=st.booleans())
def test_clean_csv_reads_the_same_by_columns(tmp_path: Path, ids: list[str], flips: int,
                                             pad: bool) -> None:
    space = " " if pad else ""
    lines = ["User ID,Variant,converted,latency_ms"]
    for i, unit in enumerate(ids):
        variant = assign(unit, TRIAL)
        if i < flips:  # recorded in the other variant: one warning, still read
            variant = "treatment" if variant == "control" else "control"
        lines.append(f"{space}{unit}{space},{variant},{i % 2},{100.5 + i}")
    file = tmp_path / f"obs-{len(ids)}-{flips}-{pad}.csv"
    file.write_text("\n".join(lines) + "\n")
    fast, fast_problems = columns(file)
    slow, slow_problems = row_by_row(file)
    assert fast is not None and same(fast, slow)
    assert fast_problems == slow_problems


def test_ids_that_look_like_numbers_stay_text(tmp_path: Path) -> None:
    ids = ["007", "010", "1e3"]
    lines = ["unit_id,variant,converted,latency_ms"]
    lines += [f"{u},{assign(u, TRIAL)},1,5" for u in ids]
    file = tmp_path / "observations.csv"
    file.write_text("\n".join(lines) + "\n")
    fast, _ = columns(file)
    assert fast is not None and list(fast.unit_ids) == ids


def test_clean_parquet_with_categorical_variants_reads_the_same(tmp_path: Path) -> None:
    ids = [f"u{i}" for i in range(50)]
    table = pa.table({
        "user_id": ids,
        "arm": pa.array([assign(u, TRIAL) for u in ids]).dictionary_encode(),
        "converted": [i % 3 == 0 for i in range(50)],
        "latency_ms": np.arange(50, dtype=np.int64),
    })
    file = tmp_path / "observations.parquet"
    pq.write_table(table, file)
    fast, fast_problems = columns(file)
    slow, slow_problems = row_by_row(file)
    assert fast is not None and same(fast, slow) and fast_problems == slow_problems


@pytest.mark.parametrize("bad_row", [
    "u9,{v},maybe,120",  # not 0/1
    "u9,{v},2,120",  # a number, not 0/1
    "u9,mystery,1,120",  # undeclared variant
    "u0,{v},1,120",  # unit seen twice
    "u9,{v},1,",  # empty cell
    "u9,{v},1,inf",  # not finite
    "u9,{v},1,1_000",  # a number Python reads and the file format does not
    ",{v},1,120",  # no unit
    "u9,{v},1",  # a cell short
])
def test_any_row_with_a_problem_goes_row_by_row(tmp_path: Path, bad_row: str) -> None:
    lines = ["unit_id,variant,converted,latency_ms", f"u0,{assign('u0', TRIAL)},1,100"]
    lines.append(bad_row.format(v=assign("u9", TRIAL)))
    file = tmp_path / "observations.csv"
    file.write_text("\n".join(lines) + "\n")
    assert columns(file)[0] is None


def test_vector_assignment_matches_one_by_one() -> None:
    ids = [f"unit-{i}" for i in range(5000)]
    for variants in ([("a", 1.0), ("b", 1.0)], [("c", 0.1), ("t1", 0.3), ("t2", 0.6)],
                     [("x", 1 / 3), ("y", 1 / 3), ("z", 1 / 3)]):
        expected = [assign_unit("salt", "exp", u, variants) for u in ids]
        assert assign_units("salt", "exp", ids, variants) == expected
