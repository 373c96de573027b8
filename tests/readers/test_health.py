"""The health-history reader: CSV, JSONL and JSON probe results, and every failure mode."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsledger.core.problems import Level
from opsledger.model.health import ProbeResult
from opsledger.readers import health

FIXTURES = Path(__file__).parent / "fixtures" / "health"
T0 = datetime(2026, 10, 1, tzinfo=UTC)


def read_one(name: str):
    path = FIXTURES / name
    return health.read(path)


def only_problem(result, level: Level):
    problems = [p for p in result.problems if p.level is level]
    assert len(problems) == 1, [str(p) for p in result.problems]
    return problems[0]


def test_csv_rows_become_probes_with_optional_latency_and_quoted_cells():
    result = read_one("good.csv")
    assert result.problems == []
    assert result.detected_format == "csv"
    assert list(result.history) == [
        ProbeResult(T0, "checkout", "http", True, 41.5),
        ProbeResult(T0 + timedelta(minutes=5), "checkout", "http", False, None),
        ProbeResult(T0 + timedelta(minutes=5), "auth, edge", "login", True, 12.0),
    ]


def test_csv_header_aliases_and_status_words_are_accepted():
    result = read_one("aliases.csv")
    assert result.problems == []
    assert [(p.service, p.check, p.ok, p.latency_ms) for p in result.history] == [
        ("search", "http", True, 88.25),
        ("search", "http", False, 5000.0),
    ]
    assert result.history[0].time == T0  # a naive time is taken as UTC


def test_jsonl_objects_with_aliases_http_codes_and_blank_lines():
    result = read_one("good.jsonl")
    assert result.problems == []
    assert result.detected_format == "jsonl"
    assert [(p.ok, p.latency_ms, p.check) for p in result.history] == [
        (True, 20.5, "http"),
        (False, None, "health"),  # status 503 is a failure; no check -> "health"
        (True, None, "health"),
    ]


def test_json_results_document():
    result = read_one("good.json")
    assert result.problems == []
    assert [(p.service, p.ok, p.latency_ms) for p in result.history] == [
        ("billing", True, 70.0),
        ("billing", False, 10000.0),
    ]


def test_folder_reads_every_format_and_warns_about_other_files(tmp_path: Path):
    for name in ("good.csv", "good.jsonl", "good.json"):
        (tmp_path / name).write_bytes((FIXTURES / name).read_bytes())
    (tmp_path / "notes.txt").write_text("probe notes\n")
    (tmp_path / ".hidden.csv").write_text("garbage\n")
    result = health.read(tmp_path)
    assert result.record_count == 3 + 3 + 2
    assert result.detected_format == "csv+json+jsonl"
    warning = only_problem(result, Level.WARNING)
    assert "notes.txt" in warning.message


def test_missing_column_is_fatal_and_names_file_and_line():
    result = read_one("missing_column.csv")
    problem = only_problem(result, Level.FATAL)
    assert result.fatal and result.record_count == 0
    assert problem.path.endswith("missing_column.csv")
    assert problem.location == "line 1"
    assert "ok" in problem.message
    assert "time, service, latency_ms" in problem.found


def test_bad_date_quarantines_the_row_only():
    result = read_one("bad_date.csv")
    problem = only_problem(result, Level.ROW)
    assert result.record_count == 1
    assert str(problem).startswith(f"{FIXTURES / 'bad_date.csv'}: line 3, column 'time'")
    assert "2026-02-30T00:05:00Z" in problem.found


def test_bad_bool_quarantines_the_row_with_expected_values():
    result = read_one("bad_bool.csv")
    problem = only_problem(result, Level.ROW)
    assert problem.location == "line 2, column 'ok'"
    assert "true/false" in problem.expected
    assert "'maybe'" in problem.found
    assert result.record_count == 1


def test_ragged_row_is_quarantined_with_cell_counts():
    result = read_one("ragged.csv")
    problem = only_problem(result, Level.ROW)
    assert problem.location == "line 3"
    assert (problem.expected, problem.found) == ("5 cells", "4 cells")
    assert result.record_count == 2


def test_bad_jsonl_lines_are_quarantined_with_their_line_numbers():
    result = read_one("bad_line.jsonl")
    locations = [p.location for p in result.problems]
    assert locations == ["line 2, column 61", "line 3", "line 4, field 'latency_ms'"]
    assert all(p.path.endswith("bad_line.jsonl") for p in result.problems)
    assert "invalid JSON" in result.problems[0].message
    assert result.record_count == 1


def test_truncated_json_is_fatal_with_line_and_column():
    result = read_one("truncated.json")
    problem = only_problem(result, Level.FATAL)
    assert problem.location.startswith("line 3, column")
    assert "invalid JSON" in problem.message


def test_nul_byte_is_fatal_and_names_the_line():
    result = read_one("nul_byte.csv")
    problem = only_problem(result, Level.FATAL)
    assert problem.location == "line 3"
    assert "NUL" in problem.message


def test_non_utf8_is_fatal_and_names_the_line_and_byte():
    result = read_one("latin1.csv")
    problem = only_problem(result, Level.FATAL)
    assert problem.location == "line 2"
    assert "0xe9" in problem.found


def test_lean_and_full_paths_agree_on_messages(tmp_path: Path):
    """A bad latency is caught by the lean path's fallback with the standard message."""
    path = tmp_path / "h.csv"
    path.write_text(
        "time,service,ok,latency_ms\n2026-10-01T00:00:00Z,a,true,-1\n"
        "2026-10-01T00:00:00Z,a,true,nan\n2026-10-01T00:00:00Z,,true,1\n"
    )
    result = health.read(path)
    assert [str(p).split(": ", 1)[1] for p in result.problems] == [
        "line 2, column 'latency_ms': 'latency_ms' is below 0 (expected at least 0, found '-1')",
        "line 3, column 'latency_ms': 'latency_ms' is not a finite number "
        "(expected a finite number, found 'nan')",
        "line 4, column 'service': missing value for 'service' "
        "(expected text, found 'an empty cell')",
    ]


def test_missing_path_is_fatal(tmp_path: Path):
    result = health.read(tmp_path / "nope")
    assert result.fatal


@pytest.mark.slow
def test_reads_600k_csv_rows_in_a_few_seconds(tmp_path: Path):
    services = [f"service-{n}" for n in range(40)]
    lines = ["time,service,check,ok,latency_ms"]
    for step in range(15_000):
        stamp = (T0 + timedelta(minutes=5 * step)).strftime("%Y-%m-%dT%H:%M:%SZ")
        ok = "false" if step % 997 == 0 else "true"
        lines.extend(f"{stamp},{name},http,{ok},{40 + step % 50}.5" for name in services)
    path = tmp_path / "probes.csv"
    path.write_text("\n".join(lines) + "\n")
    started = time.process_time()
    result = health.read(path)
    elapsed = time.process_time() - started
    assert result.record_count == 600_000 and result.problems == []
    # Measured at about 2 s of CPU on a shared 2-core machine; the bound leaves headroom.
    assert elapsed < 10, f"{elapsed:.1f} s"


# --- property tests -----------------------------------------------------------------------

names = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_characters="\x00\r\n", exclude_categories=("Cs",)
    ),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() == s and s.strip())
probes = st.builds(
    ProbeResult,
    time=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.replace(microsecond=0)),
    service=names,
    check=names,
    ok=st.booleans(),
    latency_ms=st.none() | st.floats(min_value=0, max_value=1e7, allow_nan=False),
)


def _csv_cell(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"') else text


@settings(max_examples=60, deadline=None)
@given(st.lists(probes, max_size=20))
def test_valid_rows_round_trip(tmp_path_factory: pytest.TempPathFactory, rows: list[ProbeResult]):
    lines = ["time,service,check,ok,latency_ms"]
    for probe in rows:
        latency = "" if probe.latency_ms is None else repr(probe.latency_ms)
        lines.append(
            ",".join(
                [
                    probe.time.isoformat(),
                    _csv_cell(probe.service),
                    _csv_cell(probe.check),
                    "true" if probe.ok else "false",
                    latency,
                ]
            )
        )
    path = tmp_path_factory.mktemp("rt") / "probes.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = health.read(path)
    assert result.problems == []
    assert list(result.history) == rows


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400) | st.text(alphabet=',"\n\r tf01:-TZabc.', max_size=300))
def test_reader_never_raises(tmp_path_factory: pytest.TempPathFactory, content: bytes | str):
    folder = tmp_path_factory.mktemp("fuzz")
    data = content if isinstance(content, bytes) else content.encode()
    for name in ("probes.csv", "probes.jsonl", "probes.json"):
        (folder / name).write_bytes(
            b"time,service,check,ok,latency_ms\n" + data if name.endswith(".csv") else data
        )
    result = health.read(folder)
    for probe in result.history:
        assert isinstance(probe.ok, bool)
        latency = probe.latency_ms
        assert latency is None or (latency >= 0 and math.isfinite(latency))
    for problem in result.problems:
        assert problem.path.startswith(str(folder))


def test_exact_column_wins_over_its_alias(tmp_path: Path):
    path = tmp_path / "h.csv"
    path.write_text("time,service,status,ok\n2026-10-01T00:00:00Z,a,200,false\n")
    (probe,) = health.read(path).history
    assert probe.ok is False
