"""The KPI history: month semantics, replace-a-month, trends, and failures that leave the
file as it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsledger.core.config import Config
from opsledger.core.errors import InputError
from opsledger.core.inputs import Context, Inputs
from opsledger.core.workspace import Workspace
from opsledger.review.changes import Verdict
from opsledger.review.history import (
    HistoryError,
    HistoryLockedError,
    HistoryRow,
    history_path,
    last_complete_month,
    month_end,
    month_of,
    month_start,
    month_title,
    months_back,
    parse_month,
    read_rows,
    record_month,
    replace_month,
    review_instant,
    review_month,
    trend,
    trends,
)
from opsledger.review.kpis import Better, Kpi, KpiSet, SkippedKpi

RECORDED = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def context(root: Path, now: datetime) -> Context:
    workspace = Workspace(root, Config())
    return Context(workspace, Inputs(workspace), now)


def kpis(now: datetime, **values: float) -> KpiSet:
    results: dict[str, Kpi | SkippedKpi] = {
        name: Kpi(name, name, value, "minutes" if name.startswith("mtt") else "ratio",
                  Better.LOWER if name.startswith("mtt") else Better.HIGHER, "test")
        for name, value in values.items()
    }
    results["cost_vs_target"] = SkippedKpi("cost_vs_target", "cost", "ratio", Better.LOWER,
                                           "cost", "no cost exports")
    return KpiSet(now, results)


def snapshot(path: Path) -> list[tuple[object, ...]]:
    return [(r.month, r.kpi, r.value, r.unit, r.better, r.recorded_at, r.inputs_digest)
            for r in read_rows(path)]


@pytest.mark.parametrize(("now", "month"), [
    (datetime(2026, 11, 1, tzinfo=UTC), "2026-10"),  # the --month 2026-10 instant
    (datetime(2026, 11, 1, 0, 0, 1, tzinfo=UTC), "2026-11"),
    (datetime(2026, 11, 21, 15, tzinfo=UTC), "2026-11"),
    (datetime(2027, 1, 1, tzinfo=UTC), "2026-12"),
])
def test_the_month_of_an_evaluation_is_that_of_the_instant_before_it(
        now: datetime, month: str) -> None:
    assert month_of(now) == month


def test_month_option_means_the_first_instant_of_the_following_month() -> None:
    assert month_end("2026-10") == datetime(2026, 11, 1, tzinfo=UTC)
    assert month_end("2026-12") == datetime(2027, 1, 1, tzinfo=UTC)
    assert month_of(month_end("2026-02")) == "2026-02"
    assert months_back("2026-02", 3) == ["2025-12", "2026-01", "2026-02"]
    assert len(months_back("2026-10", 12)) == 12 and months_back("2026-10", 12)[0] == "2025-11"


@pytest.mark.parametrize(("clock", "month"), [
    (datetime(2026, 12, 4, 9, tzinfo=UTC), "2026-11"),  # a report on 4 December: November
    (datetime(2026, 12, 1, tzinfo=UTC), "2026-11"),  # November has just ended
    (datetime(2026, 11, 30, 23, 59, tzinfo=UTC), "2026-10"),  # November has not
    (datetime(2027, 1, 15, tzinfo=UTC), "2026-12"),  # across a year
])
def test_without_month_a_review_covers_the_last_complete_month(
        clock: datetime, month: str) -> None:
    assert last_complete_month(clock) == month
    assert review_month(None, clock) == month
    assert review_instant(None, clock) == month_end(month)
    assert month_of(review_instant(None, clock)) == month


def test_a_review_of_a_month_runs_at_its_end_and_only_once_it_has_ended() -> None:
    clock = datetime(2026, 11, 21, 15, tzinfo=UTC)
    assert review_instant("2026-10", clock) == datetime(2026, 11, 1, tzinfo=UTC)
    assert month_of(review_instant("2026-10", clock)) == "2026-10"
    assert review_month("2026-03", clock) == "2026-03"
    with pytest.raises(InputError, match="has not ended yet"):
        review_instant("2026-11", clock)
    with pytest.raises(InputError, match="has not ended yet"):
        review_month("2027-01", clock)


def test_a_month_is_named_for_people() -> None:
    assert month_title("2026-11") == "November 2026"
    assert month_start("2026-11") == datetime(2026, 11, 1, tzinfo=UTC)


def test_figures_of_a_month_to_date_are_never_recorded(tmp_path: Path) -> None:
    mid_month = datetime(2026, 11, 21, 15, tzinfo=UTC)
    ctx = context(tmp_path, mid_month)
    with pytest.raises(ValueError, match="not those of the complete month 2026-11"):
        record_month(ctx, kpis(mid_month, availability=0.999), inputs_digest="d")
    with pytest.raises(ValueError, match="complete month 2026-10"):
        record_month(ctx, kpis(mid_month, availability=0.999), "2026-10", inputs_digest="d")
    assert not history_path(ctx.workspace).exists()


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-10", "october", "2026-00"])
def test_a_bad_month_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(InputError, match="YYYY-MM"):
        parse_month(text)


def test_recording_a_month_twice_replaces_it_and_leaves_other_months_alone(
        tmp_path: Path) -> None:
    october = context(tmp_path, month_end("2026-10"))
    september = context(tmp_path, month_end("2026-09"))
    record_month(september, kpis(september.now, availability=0.998, mttr_minutes=70.0),
                 inputs_digest="d-sep", recorded_at=RECORDED)
    first = record_month(october, kpis(october.now, availability=0.999, mttr_minutes=65.0),
                         inputs_digest="d-oct", recorded_at=RECORDED)
    assert first.month == "2026-10" and first.rows == 2  # the skipped KPI is not recorded
    path = history_path(october.workspace)
    assert path == tmp_path / ".opsledger" / "history.duckdb"
    before = snapshot(path)
    september_rows = [r for r in before if r[0] == "2026-09"]

    # Same month, same KPIs: the same rows, not duplicates.
    record_month(october, kpis(october.now, availability=0.999, mttr_minutes=65.0),
                 inputs_digest="d-oct", recorded_at=RECORDED)
    assert snapshot(path) == before

    # Re-run with other figures and one KPI fewer: the month is replaced as a whole.
    later = datetime(2026, 11, 5, tzinfo=UTC)
    record_month(october, kpis(october.now, availability=0.9995), inputs_digest="d-oct-2",
                 recorded_at=later)
    after = snapshot(path)
    assert [r for r in after if r[0] == "2026-09"] == september_rows
    assert [r for r in after if r[0] == "2026-10"] == [
        ("2026-10", "availability", 0.9995, "ratio", Better.HIGHER, later, "d-oct-2")]


def test_trend_covers_twelve_months_ending_with_the_evaluated_month(tmp_path: Path) -> None:
    path = tmp_path / ".opsledger" / "history.duckdb"
    recorded = {"2025-10": 90.0, "2025-12": 80.0, "2026-08": 75.0, "2026-09": 70.0,
                "2026-10": 60.0, "2026-11": 55.0}
    for month, value in sorted(recorded.items(), reverse=True):  # order of writing is moot
        replace_month(path, month, [HistoryRow(month, "mttr_minutes", value, "minutes",
                                               Better.LOWER, RECORDED, "d")])
    found = trend(context(tmp_path, month_end("2026-10")), "mttr_minutes")
    assert found.window == tuple(months_back("2026-10", 12))
    # 2025-10 is thirteen months back and 2026-11 is after the evaluated month.
    assert [p.month for p in found.points] == ["2025-12", "2026-08", "2026-09", "2026-10"]
    assert found.change == pytest.approx(60.0 - 70.0)
    assert found.verdict is Verdict.BETTER and found.improved is True  # lower is better
    values = found.values()
    assert len(values) == 12 and values[1] == 80.0 and values[-1] == 60.0
    assert values.count(None) == 8
    assert trend(context(tmp_path, month_end("2026-10")), "availability").points == ()
    everything = trends(context(tmp_path, month_end("2026-10")))
    assert list(everything) == ["mttr_minutes"]


def test_a_change_compares_with_the_calendar_month_before(tmp_path: Path) -> None:
    path = tmp_path / ".opsledger" / "history.duckdb"
    for month, value in (("2026-08", 75.0), ("2026-10", 60.0)):
        replace_month(path, month, [HistoryRow(month, "mttr_minutes", value, "minutes",
                                               Better.LOWER, RECORDED, "d")])
    found = trend(context(tmp_path, month_end("2026-10")), "mttr_minutes")
    # September is missing: August is not passed off as last month.
    assert found.previous is None and found.change is None and found.verdict is None


def test_this_runs_kpis_stand_for_the_month_reviewed(tmp_path: Path) -> None:
    path = tmp_path / ".opsledger" / "history.duckdb"
    for month, value in (("2026-09", 0.9990), ("2026-10", 0.5)):
        replace_month(path, month, [HistoryRow(month, "availability", value, "ratio",
                                               Better.HIGHER, RECORDED, "d")])
    ctx = context(tmp_path, month_end("2026-10"))
    current = kpis(ctx.now, availability=0.99976)
    found = trends(ctx, current=current)["availability"]
    # The recorded 2026-10 row is replaced by this run's value, recorded or not.
    assert found.latest is not None and found.latest.value == 0.99976
    assert found.previous is not None and found.previous.value == 0.9990
    assert found.verdict is Verdict.BETTER  # +0.076 pts, above the 0.01-pt threshold
    same = trends(ctx, current=kpis(ctx.now, availability=0.99905))["availability"]
    assert same.verdict is Verdict.SAME and same.improved is None  # +0.005 pts


def test_trend_of_a_workspace_without_history_is_empty_and_creates_no_file(
        tmp_path: Path) -> None:
    ctx = context(tmp_path, month_end("2026-10"))
    assert trend(ctx, "availability").latest is None
    assert not history_path(ctx.workspace).exists()


def test_a_failure_before_commit_leaves_the_previous_content(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    replace_month(path, "2026-09", [HistoryRow("2026-09", "a", 1.0, "count", Better.LOWER,
                                               RECORDED, "d")])
    replace_month(path, "2026-10", [HistoryRow("2026-10", "a", 2.0, "count", Better.LOWER,
                                               RECORDED, "d")])
    before = snapshot(path)

    def fail() -> None:
        raise RuntimeError("disk went away")

    rows = [HistoryRow("2026-10", f"k{i}", 9.0, "count", Better.LOWER, RECORDED, "x")
            for i in range(50)]
    with pytest.raises(RuntimeError, match="disk went away"):
        replace_month(path, "2026-10", rows, before_commit=fail)
    assert snapshot(path) == before
    # The file is still writable afterwards.
    replace_month(path, "2026-10", rows)
    assert len(read_rows(path, ["2026-10"])) == 50


def test_rows_of_another_month_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    with pytest.raises(ValueError, match="2026-09"):
        replace_month(path, "2026-10", [HistoryRow("2026-09", "a", 1.0, "count",
                                                   Better.LOWER, RECORDED, "d")])
    assert not path.exists()


WRITER = textwrap.dedent("""
    import sys, time
    from datetime import UTC, datetime
    from pathlib import Path
    from opsledger.review.kpis import Better
    from opsledger.review.history import HistoryRow, replace_month

    rows = [HistoryRow("2026-10", f"k{i}", 9.0, "count", Better.LOWER, datetime.now(UTC), "x")
            for i in range(2000)]

    def hold() -> None:
        print("written", flush=True)
        time.sleep(60)

    replace_month(Path(sys.argv[1]), "2026-10", rows, before_commit=hold)
""")


def test_a_process_killed_mid_write_leaves_the_previous_content(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    replace_month(path, "2026-10", [HistoryRow("2026-10", "a", 2.0, "count", Better.LOWER,
                                               RECORDED, "d")])
    before = snapshot(path)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "written"  # inside the transaction
        # While the writer holds the file, a reader gets a clear error, not a traceback.
        with pytest.raises(HistoryLockedError, match="in use by another process"):
            read_rows(path)
        with pytest.raises(HistoryLockedError, match=f"pid {writer.pid}"):
            replace_month(path, "2026-11", [])
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait()
    assert snapshot(path) == before
    replace_month(path, "2026-11", [HistoryRow("2026-11", "a", 3.0, "count", Better.LOWER,
                                               RECORDED, "d")])
    assert [r[2] for r in snapshot(path)] == [2.0, 3.0]


def test_a_file_that_is_not_a_history_is_reported_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "history.duckdb"
    path.write_bytes(b"not a database at all")
    with pytest.raises(HistoryError, match="cannot open the KPI history"):
        replace_month(path, "2026-10", [])
    assert path.read_bytes() == b"not a database at all"

    import duckdb

    other = tmp_path / "other.duckdb"
    connection = duckdb.connect(str(other))
    connection.execute("CREATE TABLE invoices (id INTEGER)")
    connection.close()
    with pytest.raises(HistoryError, match="not an opsledger KPI history"):
        read_rows(other)


def test_a_history_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    import duckdb

    path = tmp_path / "history.duckdb"
    replace_month(path, "2026-10", [])
    connection = duckdb.connect(str(path))
    connection.execute("UPDATE history_meta SET value = '99' WHERE key = 'schema_version'")
    connection.close()
    with pytest.raises(HistoryError, match="newer opsledger"):
        read_rows(path)
