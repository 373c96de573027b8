"""The health history read column by column gives the records the row-by-row reader gives.

Every test compares the two paths on the same file: ``health.read_file`` (columns first,
rows when in doubt) against ``health.read_rows`` (rows only). Records (those made from the
history read) are compared field by field with their types, time zones and the sign of a
zero, not only with ``==``.
"""

from __future__ import annotations

import gc
import json
import math
import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsledger.model.health import EncodedTimes, ProbeHistory, ProbeResult
from opsledger.readers import health
from opsledger.readers.health_columns import Columns, build_history, read_columns

FIXTURES = Path(__file__).parent / "fixtures" / "health"
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def exact(records: list[ProbeResult] | ProbeHistory) -> list[tuple[Any, ...]]:
    """Return each record as the values and types a consumer could tell apart."""
    return [
        (
            type(p),
            p.time,
            p.time.tzinfo,
            p.service,
            type(p.service),
            p.check,
            type(p.check),
            p.ok,
            type(p.ok),
            repr(p.latency_ms),
            type(p.latency_ms),
        )
        for p in records
    ]


def kind_of(path: Path) -> str:
    return health.FORMATS[path.suffix.lower()]


def assert_same_as_rows(path: Path, *, columnar: bool | None = None) -> list[ProbeResult]:
    """Assert both paths agree on ``path``; ``columnar`` says whether the fast path takes it."""
    kind = kind_of(path)
    by_rows = health.read_rows(path, kind)
    read = health.read_file(path, kind)
    assert read.records == []  # the probes are in the history
    assert exact(read.history) == exact(by_rows.records)
    assert read.record_count == len(by_rows.records)
    assert [str(p) for p in read.problems] == [str(p) for p in by_rows.problems]
    assert [p.level for p in read.problems] == [p.level for p in by_rows.problems]
    assert read.detected_format == by_rows.detected_format
    if columnar is not None:
        assert (read_columns(path, kind) is not None) is columnar
    return list(read.history)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8"))
    else:
        path.write_bytes(content)
    return path


# --- the demo's files and the fixtures ------------------------------------------------------


def test_every_demo_history_file_is_read_by_columns_with_the_row_readers_records(
    small_demo: Path,
):
    files = sorted((small_demo / "reports" / "health").iterdir())
    assert {kind_of(f) for f in files} == {"csv", "jsonl"}
    total = 0
    for file in files:
        total += len(assert_same_as_rows(file, columnar=True))
    assert total == health.read(small_demo / "reports" / "health").record_count > 10_000


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.iterdir()))
def test_fixtures_read_alike(name: str):
    assert_same_as_rows(FIXTURES / name)


def test_plain_fixtures_take_the_column_path_and_bad_ones_the_row_path():
    taken = {p.name for p in FIXTURES.iterdir()
             if p.suffix in (".csv", ".jsonl") and read_columns(p, kind_of(p)) is not None}
    # good.jsonl names its time and ok fields differently from line to line: a column per
    # name, of which any could be a null written out or a field left out, so rows decide.
    assert taken == {"good.csv", "aliases.csv"}


# --- CSV --------------------------------------------------------------------------------------

HEADER = "time,service,check,ok,latency_ms\n"

CSV_TAKEN = {
    "time zones and naive times": HEADER
    + "2026-10-01T02:00:00+02:00,a,http,true,1\n"
    + "2026-10-01T00:00:00Z,a,http,true,2\n"
    + "2026-10-01 00:00:00,a,http,true,3\n"
    + "2026-10-01T00:00:00.250-05:30,a,http,true,4\n"
    + "2026-10-01T00:00:00 UTC,a,http,true,5\n"
    + "1790812800,a,http,true,6\n"
    + "1790812800000,a,http,true,7\n",
    "missing latencies and checks": HEADER
    + "2026-10-01T00:00:00Z,a,,true,\n"
    + "2026-10-01T00:00:00Z,a,  ,false,   \n",
    "quoted cells with commas, quotes and line breaks": HEADER
    + '2026-10-01T00:00:00Z,"auth, edge","lo""gin",true,"12.5"\n'
    + '2026-10-01T00:00:00Z,"multi\nline",http,false,0\n',
    "words, spaces and case": HEADER
    + "2026-10-01T00:00:00Z, a ,http, TRUE ,1e3\n"
    + "2026-10-01T00:00:00Z,a,http,Down, 7 \n"
    + "2026-10-01T00:00:00Z,a,http,yes,-0\n"
    + "2026-10-01T00:00:00Z,a,http,0,1_000\n",
    "aliases with extra columns": "Timestamp,Service Name,region,Status,Duration (ms)\n"
    + "2026-10-01T00:00:00Z,a,eu,passed,4\n",
    "exact column over its alias": "time,service,status,ok\n2026-10-01T00:00:00Z,a,200,false\n",
    "windows line ends, byte-order mark, blank lines": "\ufeff"
    + HEADER.replace("\n", "\r\n")
    + "\r\n2026-10-01T00:00:00Z,a,http,true,1\r\n\r\n",
    "old Mac line ends": HEADER.replace("\n", "\r") + "2026-10-01T00:00:00Z,a,http,true,1\r",
    "header only": HEADER,
    "no line break at the end": HEADER + "2026-10-01T00:00:00Z,a,http,true,1",
    "duplicate column names": "time,service,ok,ok\n2026-10-01T00:00:00Z,a,true,maybe\n",
}

CSV_DOUBTFUL = {
    "bad date": HEADER + "2026-02-30T00:00:00Z,a,http,true,1\n",
    "date out of range": HEADER + "1200-01-01T00:00:00Z,a,http,true,1\n",
    "bad ok word": HEADER + "2026-10-01T00:00:00Z,a,http,maybe,1\n",
    "no service": HEADER + "2026-10-01T00:00:00Z,  ,http,true,1\n",
    "negative latency": HEADER + "2026-10-01T00:00:00Z,a,http,true,-1\n",
    "not a number": HEADER + "2026-10-01T00:00:00Z,a,http,true,nan\n",
    "infinite latency": HEADER + "2026-10-01T00:00:00Z,a,http,true,inf\n",
    "thousands separator": HEADER + '2026-10-01T00:00:00Z,a,http,true,"1,234"\n',
    "too few cells": HEADER + "2026-10-01T00:00:00Z,a,http,true\n",
    "too many cells": HEADER + "2026-10-01T00:00:00Z,a,http,true,1,2\n",
    "a line of spaces": HEADER + "   \n2026-10-01T00:00:00Z,a,http,true,1\n",
    "a row of empty cells": HEADER + ",,,,\n2026-10-01T00:00:00Z,a,http,true,1\n",
    "missing column": "time,service,latency_ms\n2026-10-01T00:00:00Z,a,1\n",
    "empty file": "",
    "blank header": " , \n",
    "an open quote": HEADER + '2026-10-01T00:00:00Z,"a,http,true,1\n',
    "a NUL byte": HEADER + "2026-10-01T00:00:00Z,a\x00,http,true,1\n",
    "a cell over the size limit": HEADER + "2026-10-01T00:00:00Z," + "a" * 1_000_001
    + ",x,true,1\n",
}


@pytest.mark.parametrize("content", CSV_TAKEN.values(), ids=CSV_TAKEN.keys())
def test_csv_the_column_path_takes(tmp_path: Path, content: str):
    assert_same_as_rows(write(tmp_path, "h.csv", content), columnar=True)


@pytest.mark.parametrize("content", CSV_DOUBTFUL.values(), ids=CSV_DOUBTFUL.keys())
def test_csv_the_column_path_leaves_to_the_rows(tmp_path: Path, content: str):
    assert_same_as_rows(write(tmp_path, "h.csv", content), columnar=False)


def test_csv_non_utf8_and_wide_encodings_are_left_to_the_rows(tmp_path: Path):
    latin = write(tmp_path, "latin.csv", HEADER.encode() + "2026-10-01T00:00:00Z,caf\xe9,h,1,1\n"
                  .encode("latin-1"))
    wide = write(tmp_path, "wide.csv", (HEADER + "2026-10-01T00:00:00Z,a,h,1,1\n").encode("utf-16"))
    for path in (latin, wide):
        assert_same_as_rows(path, columnar=False)
        assert health.read_file(path, "csv").fatal


def test_a_bad_row_far_down_sends_the_whole_file_to_the_rows_with_its_line(tmp_path: Path):
    rows = [f"{(T0 + timedelta(minutes=i)).isoformat()},a,http,true,{i}" for i in range(200_000)]
    rows[150_000] = rows[150_000].replace("true", "perhaps")
    path = write(tmp_path, "h.csv", HEADER + "\n".join(rows) + "\n")
    records = assert_same_as_rows(path, columnar=False)
    assert len(records) == 199_999
    (problem,) = health.read_file(path, "csv").problems
    assert problem.location == "line 150002, column 'ok'"


# --- JSON Lines ------------------------------------------------------------------------------


def line(**fields: Any) -> str:
    return json.dumps(fields)


JSONL_TAKEN = {
    "aliases, HTTP codes, null check and no latency": "\n".join([
        line(timestamp="2026-10-01T00:00:00Z", service="a", check="http", status=200,
             duration_ms=20.5),
        line(timestamp="2026-10-01T00:05:00Z", service="a", check=None, status=503),
        line(timestamp="2026-10-01T00:10:00Z", service="a", status=302, duration_ms=None),
    ]) + "\n",
    "time zones": "\n".join([
        line(time="2026-10-01T02:00:00+02:00", service="a", ok=True, latency_ms=1),
        line(time="2026-10-01 00:00:00", service="a", ok=False, latency_ms=2.5),
        line(time="2026-10-01T00:00:00.5Z", service="a", ok=True, latency_ms=0),
    ]) + "\n",
    "ok words, spaces and a zero with a sign": "\n".join([
        line(time="2026-10-01T00:00:00Z", service=" a ", ok=" Up ", latency_ms=-0.0),
        line(time="2026-10-01T00:00:00Z", service="a", ok="fail", latency_ms=0.0),
        line(time="2026-10-01T00:00:00Z", service="a", ok="0", latency_ms=1e-300),
    ]) + "\n",
    "whole and fractional latencies": "\n".join([
        line(time="2026-10-01T00:00:00Z", service="a", ok=True, latency_ms=9007199254740993),
        line(time="2026-10-01T00:00:00Z", service="a", ok=True, latency_ms=0.1),
    ]) + "\n",
    "nested extra fields and escapes": "\n".join([
        line(time="2026-10-01T00:00:00Z", service="caf\u00e9 \u2603", ok=True,
             labels={"zone": "eu", "tags": ["x", "y"]}),
        line(time="2026-10-01T00:00:00Z", service="tab\there", ok=True,
             labels={"zone": "us", "tags": []}),
    ]) + "\n",
    "windows line ends, byte-order mark and blank lines": "\ufeff\r\n"
    + line(time="2026-10-01T00:00:00Z", service="a", ok=True) + "\r\n  \r\n"
    + line(time="2026-10-01T00:00:00Z", service="b", ok=False) + "\r\n",
    "no line break at the end": line(time="2026-10-01T00:00:00Z", service="a", ok=True),
    "time named otherwise further down": line(time="2026-10-01T00:00:00Z", service="a", ok=True)
    + "\n" + line(time="2026-10-01T00:05:00Z", service="a", ok=True) + "\n",
}

GOOD_LINE = line(time="2026-10-01T00:00:00Z", service="a", ok=True) + "\n"

# Each after a good first line: the first line is also read on its own, as a sample.
JSONL_DOUBTFUL = {name: GOOD_LINE + content for name, content in {
    "invalid JSON": "{oops\n",
    "two objects on one line": GOOD_LINE.strip() * 2 + "\n",
    "one object over two lines": '{"time": "2026-10-01T00:00:00Z",\n"service": "a", "ok": true}\n',
    "a repeated key": '{"time": "2026-10-01T00:00:00Z", "service": "a", "ok": true, "ok": false}\n',
    "a repeated key in a nested object": '{"time": "2026-10-01T00:00:00Z", "service": "a", '
    '"ok": true, "x": {"y": 1, "y": 2}}\n',
    "a line separator inside a string": '{"time": "2026-10-01T00:00:00Z", '
    '"service": "a\u2028b", "ok": true}\n',
    "a next-line character inside a string": '{"time": "2026-10-01T00:00:00Z", '
    '"service": "a\x85b", "ok": true}\n',
    "a carriage return alone between objects": GOOD_LINE.strip() + "\r" + GOOD_LINE,
    "a carriage return alone inside an object": '{"time": "2026-10-01T00:00:00Z",\r'
    '"service": "a", "ok": true}\n',
    "a lone surrogate": '{"time": "2026-10-01T00:00:00Z", "service": "\\ud800", "ok": true}\n',
    "an array line": "[1, 2]\n",
    "an empty object": "{}\n",
    "null ok": line(time="2026-10-01T00:00:00Z", service="a", ok=None) + "\n",
    "ok as 1": line(time="2026-10-01T00:00:00Z", service="a", ok=1) + "\n",
    "ok as a float code": line(time="2026-10-01T00:00:00Z", service="a", status=200.0) + "\n",
    "epoch number time": line(time=1790812800, service="a", ok=True) + "\n",
    "blank check": line(time="2026-10-01T00:00:00Z", service="a", check=" ", ok=True) + "\n",
    "missing service": line(time="2026-10-01T00:00:00Z", ok=True) + "\n",
    "latency as text": line(time="2026-10-01T00:00:00Z", service="a", ok=True,
                            latency_ms="12") + "\n",
    "latency as true": line(time="2026-10-01T00:00:00Z", service="a", ok=True,
                            latency_ms=True) + "\n",
    "NaN latency": '{"time": "2026-10-01T00:00:00Z", "service": "a", "ok": true, '
    '"latency_ms": NaN}\n',
    "huge latency": '{"time": "2026-10-01T00:00:00Z", "service": "a", "ok": true, '
    '"latency_ms": 1e400}\n',
    "negative latency": line(time="2026-10-01T00:00:00Z", service="a", ok=True,
                             latency_ms=-3) + "\n",
    "ok under two names": line(time="2026-10-01T00:00:00Z", service="a", status=500) + "\n",
    "a line of non-breaking spaces": "\u00a0\n",
    "nesting too deep for Python in a short line": '{"time": "2026-10-01T00:00:00Z", '
    '"service": "a", "ok": true, "x": ' + "[" * 1500 + "]" * 1500 + "}\n",
    "nesting deep enough to overflow Arrow's stack": '{"time": "2026-10-01T00:00:00Z", '
    '"service": "a", "ok": true, "x": ' + "[" * 200_000 + "]" * 200_000 + "}\n",
    "a very long number": '{"time": "2026-10-01T00:00:00Z", "service": "a", "ok": true, "x": '
    + "9" * 5000 + "}\n",
}.items()}


@pytest.mark.parametrize("content", JSONL_TAKEN.values(), ids=JSONL_TAKEN.keys())
def test_jsonl_the_column_path_takes(tmp_path: Path, content: str):
    assert_same_as_rows(write(tmp_path, "h.jsonl", content), columnar=True)


@pytest.mark.parametrize("content", JSONL_DOUBTFUL.values(), ids=JSONL_DOUBTFUL.keys())
def test_jsonl_the_column_path_leaves_to_the_rows(tmp_path: Path, content: str):
    assert_same_as_rows(write(tmp_path, "h.jsonl", content), columnar=False)


def test_jsonl_two_aliases_of_a_field_are_left_to_the_rows(tmp_path: Path):
    content = (line(time="2026-10-01T00:00:00Z", service="a", status=200, success=False) + "\n"
               + line(time="2026-10-01T00:00:00Z", service="a", success=False, status=200))
    records = assert_same_as_rows(write(tmp_path, "h.jsonl", content), columnar=False)
    assert [p.ok for p in records] == [True, False]  # in each object, the first alias wins


def test_json_documents_are_read_row_by_row(tmp_path: Path):
    path = write(tmp_path, "h.json", json.dumps([{"time": "2026-10-01T00:00:00Z",
                                                  "service": "a", "ok": True}]))
    assert read_columns(path, "json") is None
    assert assert_same_as_rows(path) == [ProbeResult(T0, "a", "health", True, None)]


# --- the history built ------------------------------------------------------------------------


def test_a_history_built_from_distinct_values_gives_the_constructors_records():
    rows = np.array([0, 1, 1, 0])
    columns = Columns(
        time=EncodedTimes.of([(1_790_812_800_000_000, UTC), (1_790_813_100_000_000, UTC)], rows),
        service=(["b", "a"], rows),
        check=(["http", "health"], rows),
        ok=([True, False], rows),
        latency_ms=([1.5, None], rows),
    )
    built = list(build_history(columns))
    first = ProbeResult(T0, "b", "http", True, 1.5)
    second = ProbeResult(T0 + timedelta(minutes=5), "a", "health", False, None)
    expected = [first, second, second, first]
    assert built == expected
    assert [hash(p) for p in built] == [hash(p) for p in expected]
    assert exact(built) == exact(expected)


def test_equal_cells_are_held_once_across_the_files_of_a_history(tmp_path: Path):
    for name in ("a.csv", "b.csv"):
        write(tmp_path, name, HEADER + "".join(
            f"2026-10-01T00:0{i}:00Z,{name[0]},http,true,41.5\n" for i in range(5)))
    history = health.read(tmp_path).history
    assert len(history) == 10
    assert (history.services, history.checks, history.zone) == (("a", "b"), ("http",), None)
    assert len(set(history.time.tolist())) == 5  # the five instants
    assert [p.service for p in history] == ["a"] * 5 + ["b"] * 5  # files in name order


# --- properties -------------------------------------------------------------------------------

# Cells drawn from good and bad values alike, so that files of every kind come up.
STAMPS = st.sampled_from([
    "2026-10-01T00:00:00Z", "2026-10-01T00:05:00+02:00", "2026-10-01 00:10:00",
    " 2026-10-01T00:15:00Z ", "1790812800", "2026-13-01T00:00:00Z", "", "soon",
])
NAMES = st.sampled_from(["a", " b ", "c, d", 'e"f', "g\nh", "", "  ", "caf\u00e9", "null"])
OKS = st.sampled_from(["true", "False", " up ", "0", "maybe", "", "200"])
LATENCIES = st.sampled_from(["", " ", "0", "-0", "41.5", "1e3", "-1", "nan", "inf", "1,234", "NA",
                             "abc", "0.1"])


def csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(STAMPS, NAMES, NAMES, OKS, LATENCIES), max_size=12),
       blank_lines=st.sets(st.integers(0, 12)), line_end=st.sampled_from(["\n", "\r\n"]))
def test_csv_either_path_gives_the_same_result(
    tmp_path: Path, rows: list[tuple[str, ...]], blank_lines: set[int], line_end: str
):
    lines = ["time,service,check,ok,latency_ms"]
    for number, row in enumerate(rows):
        if number in blank_lines:
            lines.append("")
        lines.append(",".join(csv_cell(cell) for cell in row))
    assert_same_as_rows(write(tmp_path, "p.csv", line_end.join(lines) + line_end))


JSON_OKS = st.sampled_from([True, False, "true", " Down ", "maybe", 200, 404, 700, 1, None])
JSON_LATENCIES = st.one_of(
    st.none(), st.integers(-5, 10**20), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["12", True]),
)
JSON_CHECKS = st.sampled_from([None, "http", " login ", "", 7])


@st.composite
def json_probes(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for field, values in (("time", STAMPS), ("service", NAMES), ("check", JSON_CHECKS),
                          ("ok", JSON_OKS), ("latency_ms", JSON_LATENCIES)):
        if draw(st.integers(0, 9)):  # now and then a field is left out
            item[field] = draw(values)
    return item


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(json_probes(), max_size=12), blank_lines=st.sets(st.integers(0, 12)))
def test_jsonl_either_path_gives_the_same_result(
    tmp_path: Path, items: list[dict[str, Any]], blank_lines: set[int]
):
    lines = []
    for number, item in enumerate(items):
        if number in blank_lines:
            lines.append("  ")
        lines.append(json.dumps(item))
    assert_same_as_rows(write(tmp_path, "p.jsonl", "\n".join(lines) + "\n"))


@st.composite
def near_plain_times(draw: st.DrawFn) -> str:
    """A time in or near the plain form Arrow converts by the column: each field at or just
    past its bounds, the fraction and zone written in every way the readers meet."""
    def pick(*options: str) -> str:
        return draw(st.sampled_from(options))

    year = pick("0000", "1969", "1970", "2024", "2025", "2199", "2200", "9999")
    month = pick("00", "01", "02", "04", "12", "13")
    date = f"{year}-{month}-{pick('00', '01', '28', '29', '30', '31')}"
    clock = f"{pick('00', '09', '23', '24')}:{pick('00', '59', '60')}:{pick('00', '59', '60')}"
    fraction = pick("", ".5", ".123", ".000001", ".1234567", ",5", ".")
    zone = pick("Z", "Z", "z", "+00:00", "-00:00", "+02:00", "-07:30", "+23:59", "+24:00",
                "+05:60", "+0200", "+02", "", " UTC")
    return f"{pick('', '', ' ')}{date}{pick('T', 'T', ' ', 't')}{clock}{fraction}{zone}"


@st.composite
def plain_times(draw: st.DrawFn) -> str:
    """A valid time in the plain form: any instant, zone, and length of fraction."""
    moment = draw(st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(2199, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)),
                                   timezone(-timedelta(hours=7, minutes=30)),
                                   timezone(timedelta(hours=23, minutes=59))])))
    digits = draw(st.integers(0, 6))
    fraction = f".{moment.microsecond:06d}"[: digits + 1] if digits else ""
    offset = moment.strftime("%z")
    zone = "Z" if offset == "+0000" and draw(st.booleans()) else f"{offset[:3]}:{offset[3:]}"
    return f"{moment:%Y-%m-%dT%H:%M:%S}{fraction}{zone}"


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stamps=st.lists(plain_times() | near_plain_times(), min_size=1, max_size=8),
       kind=st.sampled_from(["csv", "jsonl"]))
def test_times_converted_by_the_column_are_those_read_one_by_one(
    tmp_path: Path, stamps: list[str], kind: str
):
    if kind == "csv":
        content = HEADER + "".join(f"{stamp},a,http,true,1.5\n" for stamp in stamps)
    else:
        content = "".join(json.dumps({"time": stamp, "service": "a", "ok": True}) + "\n"
                          for stamp in stamps)
    path = write(tmp_path, f"p.{kind}", content)
    readable = not health.read_rows(path, kind).problems
    read = assert_same_as_rows(path, columnar=readable)
    by_rows = health.read_rows(path, kind).records
    assert [repr(p.time.tzinfo) for p in read] == [repr(p.time.tzinfo) for p in by_rows]


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.builds(
    ProbeResult,
    time=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1),
                      timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7))])),
    service=st.text(min_size=1, max_size=8).filter(lambda s: s.strip() == s and s.strip()),
    check=st.text(min_size=1, max_size=8).filter(lambda s: s.strip() == s and s.strip()),
    ok=st.booleans(),
    latency_ms=st.none() | st.floats(min_value=0, max_value=1e12, allow_nan=False),
), min_size=1, max_size=15))
def test_valid_probes_round_trip_through_the_column_path(
    tmp_path: Path, probes: list[ProbeResult]
):
    lines = [json.dumps({"time": p.time.isoformat(), "service": p.service, "check": p.check,
                         "ok": p.ok, "latency_ms": p.latency_ms}) for p in probes]
    path = write(tmp_path, "p.jsonl", "\n".join(lines) + "\n")
    read = read_columns(path, "jsonl")
    assert read is not None and exact(read) == exact(probes)
    assert exact(ProbeHistory.from_records(probes)) == exact(probes)
    assert exact(health.read_rows(path, "jsonl").records) == exact(probes)


# --- speed ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_reads_600k_csv_rows_by_columns_well_under_the_row_readers_time(tmp_path: Path):
    services = [f"service-{n}" for n in range(40)]
    lines = ["time,service,check,ok,latency_ms"]
    for step in range(15_000):
        stamp = (T0 + timedelta(minutes=5 * step)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ok = "false" if step % 997 == 0 else "true"
        lines.extend(f"{stamp},{name},http,{ok},{40 + step % 50}.5" for name in services)
    path = write(tmp_path, "probes.csv", "\n".join(lines) + "\n")
    read_columns(write(tmp_path, "warm.csv", "\n".join(lines[:100]) + "\n"), "csv")

    gc.disable()  # as health.read does while it builds records
    try:
        started = time.process_time()
        by_rows = health.read_rows(path, "csv")
        row_seconds = time.process_time() - started
        started = time.process_time()
        by_columns = read_columns(path, "csv")
        column_seconds = time.process_time() - started
    finally:
        gc.enable()

    assert by_columns is not None and len(by_columns) == 600_000
    assert list(by_columns) == by_rows.records
    # Measured at about a quarter of the row reader's time; half leaves room for a busy box.
    assert column_seconds < row_seconds / 2, (column_seconds, row_seconds)
    assert math.isclose(float(np.nansum(by_columns.latency_ms)),
                         sum(p.latency_ms or 0 for p in by_rows.records))
