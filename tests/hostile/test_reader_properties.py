"""Property tests over every registered reader: whatever the bytes, a ReadResult comes
back; rows of any text are quarantined with their line, never raised; any JSON value
put anywhere in a valid document is read or reported, never raised.

The readers come from the registry, so a reader registered later is covered at once.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsledger.core.inputs import reader_for
from opsledger.core.problems import Level, Problem, ReadResult

from .harness import ReaderTarget, accepted_suffixes, distinct_formats, reader_targets, seed_for

SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=12,
)


def placements() -> Iterator[tuple[ReaderTarget, str]]:
    for target in reader_targets():
        for suffix in distinct_formats(accepted_suffixes(target)):
            yield target, suffix


PLACEMENTS = list(placements())


def read_as(target: ReaderTarget, suffix: str, data: bytes) -> ReadResult[Any]:
    """Write ``data`` where the reader looks (in a fresh folder) and read it."""
    with tempfile.TemporaryDirectory(prefix="opsledger-prop-") as tmp:
        base = Path(tmp) / target.relative
        file = base / f"input{suffix}" if target.is_folder else base
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(data)
        reader = reader_for(target.key)
        assert reader is not None
        result = reader(base)
    assert isinstance(result, ReadResult)
    assert all(isinstance(p, Problem) and p.message and p.path for p in result.problems)
    return result


def label(item: tuple[ReaderTarget, str]) -> str:
    return f"{item[0].key.value}{item[1] if item[0].is_folder else ''}"


@pytest.mark.parametrize("placement", PLACEMENTS, ids=label)
@SETTINGS
@given(data=st.binary(max_size=2048))
def test_any_bytes_give_a_read_result(placement: tuple[ReaderTarget, str], data: bytes) -> None:
    read_as(*placement, data)


CSV_PLACEMENTS = [p for p in PLACEMENTS if p[1] == ".csv"]


@pytest.mark.parametrize("placement", CSV_PLACEMENTS, ids=label)
@SETTINGS
@given(rows=st.lists(st.lists(st.text(max_size=30), min_size=1, max_size=12), max_size=6))
def test_csv_rows_of_any_text_are_located(
    small_demo: Path, placement: tuple[ReaderTarget, str], rows: list[list[str]]
) -> None:
    target, suffix = placement
    seed = seed_for(small_demo, target, suffix)
    header = next(csv.reader(io.StringIO(seed.decode("utf-8-sig")))) if seed else ["id", "name"]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    result = read_as(target, suffix, buffer.getvalue().encode("utf-8"))
    # Line numbers count \r, \n and \r\n as line ends, as the csv module's reader does.
    last_line = len(re.findall(r"\r\n|\r|\n", buffer.getvalue())) + 1
    for problem in result.problems:
        if problem.level is Level.ROW:
            found = re.search(r"line (\d+)", problem.location)
            assert found, f"row problem without its line: {problem}"
            assert 1 <= int(found.group(1)) <= last_line


JSON_PLACEMENTS = [p for p in PLACEMENTS if p[1] in (".json", ".sarif")]


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document[:3]):
            found += _paths(value, (*prefix, index))
    return found


def _replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[head] = _replace(document[head], rest, value)
    return copy


@pytest.mark.parametrize("placement", JSON_PLACEMENTS, ids=label)
@SETTINGS
@given(choice=st.integers(min_value=0), value=JSON_VALUES)
def test_any_json_value_anywhere_is_read_or_reported(
    small_demo: Path, placement: tuple[ReaderTarget, str], choice: int, value: Any
) -> None:
    target, suffix = placement
    seed = seed_for(small_demo, target, suffix)
    if seed is None:
        pytest.skip(f"the demo has no {suffix} file for {target.key.value}")
    document = json.loads(seed)
    paths = _paths(document)
    mutated = _replace(document, paths[choice % len(paths)], value)
    read_as(target, suffix, json.dumps(mutated).encode("utf-8"))
