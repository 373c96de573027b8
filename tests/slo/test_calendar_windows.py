"""Calendar SLO windows are calendar periods counted on the wall clock of their time zone.

Expected boundaries are written out by hand or computed here with ``zoneinfo`` and
``dateutil.relativedelta``, never with the code under test.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given, settings
from hypothesis import strategies as st

from opsledger.model.slo import CalendarUnit, SloWindow
from opsledger.readers.slo_definitions import read

NEW_YORK = ZoneInfo("America/New_York")
UPSTREAM = Path(__file__).parents[1] / "fixtures" / "upstream" / "openslo"


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def new_york(year: int, month: int, day: int, hour: int = 0) -> datetime:
    """Return New York wall time as a UTC instant."""
    return datetime(year, month, day, hour, tzinfo=NEW_YORK).astimezone(UTC)


def period(window: SloWindow, end: datetime) -> tuple[datetime, datetime]:
    return window.start_at(end), window.end_of_period(end)


V1_HEAD = """\
apiVersion: openslo/v1
kind: SLO
metadata: {name: latency}
spec:
  service: api
  budgetingMethod: Occurrences
  objectives: [{displayName: ok, target: 0.99}]
  indicator:
    metadata: {name: latency}
    spec:
      ratioMetric:
        counter: true
        good: {metricSource: {type: Prometheus, spec: {query: good_total}}}
        total: {metricSource: {type: Prometheus, spec: {query: all_total}}}
  timeWindow:
"""
V1ALPHA_HEAD = """\
apiVersion: openslo/v1alpha
kind: SLO
metadata: {name: latency}
spec:
  service: api
  budgetingMethod: Occurrences
  objectives:
    - displayName: ok
      target: 0.99
      ratioMetrics:
        incremental: true
        good: {source: prometheus, queryType: promql, query: good_total}
        total: {source: prometheus, queryType: promql, query: all_total}
  timeWindows:
"""


def openslo(tmp_path: Path, time_window: str, head: str = V1_HEAD) -> SloWindow:
    """Return the window of a one-objective OpenSLO SLO whose time window is ``time_window``."""
    (tmp_path / "slo.yaml").write_text(head + textwrap.indent(time_window, "    "))
    result = read(tmp_path)
    assert not result.problems, [str(p) for p in result.problems]
    (slo,) = result.records
    return slo.window


# --- the example: one-month periods from 2022-01-01 -------------------------------


def test_month_from_a_midnight_start_is_the_calendar_month(tmp_path: Path) -> None:
    window = openslo(
        tmp_path,
        "- duration: 1M\n  isRolling: false\n  calendar:\n    startTime: 2022-01-01 00:00:00\n"
        "    timeZone: UTC\n",
    )
    assert period(window, utc(2026, 1, 1, 0, 30)) == (utc(2026, 1, 1), utc(2026, 2, 1))
    assert period(window, utc(2026, 2, 14, 9)) == (utc(2026, 2, 1), utc(2026, 3, 1))
    assert window.label == "calendar month from 2022-01-01"


def test_month_from_noon_starts_at_noon_on_the_first(tmp_path: Path) -> None:
    window = openslo(
        tmp_path,
        "- duration: 1M\n  isRolling: false\n  calendar:\n    startTime: 2022-01-01 12:00:00\n",
    )
    assert period(window, utc(2026, 1, 1)) == (utc(2025, 12, 1, 12), utc(2026, 1, 1, 12))
    assert period(window, utc(2026, 1, 1, 12)) == (utc(2026, 1, 1, 12), utc(2026, 2, 1, 12))


def test_month_from_noon_in_new_york_is_noon_new_york_time(tmp_path: Path) -> None:
    window = openslo(
        tmp_path,
        "- duration: 1M\n  isRolling: false\n  calendar:\n    startTime: 2022-01-01 12:00:00\n"
        "    timeZone: America/New_York\n",
    )
    # 00:30 UTC on New Year's Day is still 31 December in New York.
    assert period(window, utc(2026, 1, 1, 0, 30)) == (utc(2025, 12, 1, 17), utc(2026, 1, 1, 17))
    # Summer periods start at 16:00 UTC: noon under daylight-saving time.
    assert period(window, utc(2026, 7, 10)) == (utc(2026, 7, 1, 16), utc(2026, 8, 1, 16))
    assert window.label == "calendar month from 2022-01-01 12:00 (America/New_York)"


# --- weeks ----------------------------------------------------------------------------------


def test_new_york_week_starts_monday_midnight_new_york_time() -> None:
    window = SloWindow(7, rolling=False, calendar_unit=CalendarUnit.WEEK, time_zone=NEW_YORK.key)
    wednesday = utc(2026, 1, 7, 12)
    assert period(window, wednesday) == (utc(2026, 1, 5, 5), utc(2026, 1, 12, 5))
    assert period(window, utc(2026, 7, 8, 12)) == (utc(2026, 7, 6, 4), utc(2026, 7, 13, 4))
    # Monday 04:59 UTC is still Sunday evening in New York.
    assert window.start_at(utc(2026, 1, 5, 4, 59)) == utc(2025, 12, 29, 5)
    assert window.start_at(utc(2026, 1, 5, 5)) == utc(2026, 1, 5, 5)
    assert window.label == "calendar week (America/New_York)"


def test_two_weeks_anchored_on_a_date(tmp_path: Path) -> None:
    window = openslo(
        tmp_path,
        "- duration: 2w\n  isRolling: false\n  calendar:\n    startTime: 2026-01-05\n"
        "    timeZone: America/New_York\n",
    )
    assert window.count == 2 and window.calendar_unit is CalendarUnit.WEEK
    assert window.days == 14
    assert window.label == "calendar 2 weeks from 2026-01-05 (America/New_York)"
    assert period(window, utc(2026, 1, 20, 12)) == (new_york(2026, 1, 19), new_york(2026, 2, 2))
    # Periods run backwards from the anchor too.
    assert period(window, utc(2026, 1, 1)) == (new_york(2025, 12, 22), new_york(2026, 1, 5))
    # The fortnight holding the change to daylight-saving time is an hour short.
    start, end = period(window, utc(2026, 3, 10))
    assert (start, end) == (utc(2026, 3, 2, 5), utc(2026, 3, 16, 4))
    assert end - start == timedelta(days=14, hours=-1)


def test_start_time_with_an_offset_becomes_the_zones_wall_time(tmp_path: Path) -> None:
    window = openslo(
        tmp_path,
        "- duration: 2w\n  isRolling: false\n  calendar:\n    startTime: 2026-01-05T05:00:00Z\n"
        "    timeZone: America/New_York\n",
    )
    assert window.anchor == datetime(2026, 1, 5)
    assert window.start_at(utc(2026, 1, 20, 12)) == new_york(2026, 1, 19)


def test_not_rolling_without_a_calendar_aligns_to_utc_weeks(tmp_path: Path) -> None:
    window = openslo(tmp_path, "- duration: 1w\n  isRolling: false\n")
    assert window.time_zone == "UTC" and window.anchor is None
    assert period(window, utc(2026, 1, 7, 12)) == (utc(2026, 1, 5), utc(2026, 1, 12))
    assert window.label == "calendar week"


def test_v1alpha_count_and_unit_with_a_calendar(tmp_path: Path) -> None:
    window = openslo(
        tmp_path,
        "- unit: Month\n  count: 1\n  isRolling: false\n  calendar:\n"
        "    startTime: 2021-05-01 00:00:00\n    timeZone: Europe/Berlin\n",
        V1ALPHA_HEAD,
    )
    berlin = ZoneInfo("Europe/Berlin")
    start = datetime(2026, 1, 1, tzinfo=berlin).astimezone(UTC)
    end = datetime(2026, 2, 1, tzinfo=berlin).astimezone(UTC)
    assert (start, end) == (utc(2025, 12, 31, 23), utc(2026, 1, 31, 23))
    assert period(window, utc(2026, 1, 15)) == (start, end)


# --- quarters, DST days, month ends ---------------------------------------------------------


def test_quarters_natural_and_anchored() -> None:
    natural = SloWindow(91, rolling=False, calendar_unit=CalendarUnit.QUARTER)
    assert period(natural, utc(2026, 5, 15)) == (utc(2026, 4, 1), utc(2026, 7, 1))
    assert period(natural, utc(2026, 12, 31, 23, 59)) == (utc(2026, 10, 1), utc(2027, 1, 1))
    in_new_york = SloWindow(
        91, rolling=False, calendar_unit=CalendarUnit.QUARTER, time_zone=NEW_YORK.key
    )
    assert period(in_new_york, utc(2026, 5, 15)) == (utc(2026, 4, 1, 4), utc(2026, 7, 1, 4))
    anchored = SloWindow(
        91, rolling=False, calendar_unit=CalendarUnit.QUARTER, anchor=datetime(2025, 2, 15)
    )
    assert period(anchored, utc(2026, 1, 1)) == (utc(2025, 11, 15), utc(2026, 2, 15))
    assert anchored.label == "calendar quarter from 2025-02-15"


def test_new_york_days_last_23_and_25_hours_across_dst() -> None:
    window = SloWindow(1, rolling=False, calendar_unit=CalendarUnit.DAY, time_zone=NEW_YORK.key)
    spring = period(window, utc(2026, 3, 8, 12))
    assert spring == (utc(2026, 3, 8, 5), utc(2026, 3, 9, 4))
    assert spring[1] - spring[0] == timedelta(hours=23)
    autumn = period(window, utc(2026, 11, 1, 12))
    assert autumn == (utc(2026, 11, 1, 4), utc(2026, 11, 2, 5))
    assert autumn[1] - autumn[0] == timedelta(hours=25)
    # The repeated 01:30 belongs to the same (long) day.
    assert window.start_at(utc(2026, 11, 1, 6, 30)) == utc(2026, 11, 1, 4)


def test_month_end_anchor_keeps_its_day_clamped_to_the_month() -> None:
    window = SloWindow(
        30, rolling=False, calendar_unit=CalendarUnit.MONTH, anchor=datetime(2026, 1, 31)
    )
    assert period(window, utc(2026, 2, 27)) == (utc(2026, 1, 31), utc(2026, 2, 28))
    assert period(window, utc(2026, 2, 28)) == (utc(2026, 2, 28), utc(2026, 3, 31))
    assert period(window, utc(2026, 4, 30, 12)) == (utc(2026, 4, 30), utc(2026, 5, 31))
    assert period(window, utc(2028, 2, 29, 1)) == (utc(2028, 2, 29), utc(2028, 3, 31))
    for months in range(-30, 30):
        start = (datetime(2026, 1, 31) + relativedelta(months=months)).replace(tzinfo=UTC)
        assert window.start_at(start) == start
        assert window.start_at(start - timedelta(microseconds=1)) < start


def test_end_of_period_is_the_next_periods_start() -> None:
    windows = [
        SloWindow(30, rolling=False, calendar_unit=CalendarUnit.MONTH),
        SloWindow(7, rolling=False, calendar_unit=CalendarUnit.WEEK, time_zone=NEW_YORK.key),
        SloWindow(
            90,
            rolling=False,
            calendar_unit=CalendarUnit.MONTH,
            count=3,
            anchor=datetime(2024, 1, 31, 2, 30),
            time_zone=NEW_YORK.key,
        ),
    ]
    for window in windows:
        end = utc(2026, 3, 8, 6)
        close = window.end_of_period(end)
        assert close > end
        assert window.start_at(close) == close
        assert window.start_at(close - timedelta(microseconds=1)) == window.start_at(end)


def test_rolling_windows_are_unchanged() -> None:
    window = SloWindow(28)
    end = utc(2026, 1, 1, 0, 30)
    assert period(window, end) == (end - timedelta(days=28), end)
    assert window.label == "28d"


def test_model_refuses_unknown_zones_and_naive_ends() -> None:
    with pytest.raises(ValueError, match="Mars/Olympus"):
        SloWindow(7, rolling=False, calendar_unit=CalendarUnit.WEEK, time_zone="Mars/Olympus")
    with pytest.raises(ValueError, match="calendar unit"):
        SloWindow(7, rolling=False)
    with pytest.raises(ValueError, match="aware"):
        SloWindow(7, rolling=False, calendar_unit=CalendarUnit.WEEK).start_at(datetime(2026, 1, 1))


# --- problems and upstream files ------------------------------------------------------------


def test_unknown_time_zone_is_a_located_problem(tmp_path: Path) -> None:
    (tmp_path / "slo.yaml").write_text(
        (UPSTREAM / "go-sdk" / "v1" / "slos.yaml")
        .read_text()
        .replace("timeZone: America/New_York", "timeZone: Mars/Olympus")
    )
    result = read(tmp_path)
    assert not result.records
    (problem,) = result.problems
    assert "spec.timeWindow.0.calendar.timeZone" in str(problem)
    assert "unknown time zone" in str(problem) and "Mars/Olympus" in str(problem)
    assert "line 36" in str(problem)


def test_several_units_without_a_start_time_stay_refused(tmp_path: Path) -> None:
    (tmp_path / "slo.yaml").write_text(
        (UPSTREAM / "go-sdk" / "v1" / "slos.yaml")
        .read_text()
        .replace("duration: 1w", "duration: 2w")
        .replace("startTime: 2022-01-01 12:00:00", "startTime: ''")
    )
    (problem,) = read(tmp_path).problems
    assert "several units needs a start time" in str(problem)


def test_upstream_openslo_week_in_new_york() -> None:
    # startTime 2022-01-01 12:00:00, timeZone America/New_York, duration 1w: weeks from noon
    # on a Saturday, New York time.
    result = read(UPSTREAM / "go-sdk" / "v1" / "slos.yaml")
    (slo,) = result.records
    window = slo.window
    assert not window.rolling and window.calendar_unit is CalendarUnit.WEEK
    assert window.anchor == datetime(2022, 1, 1, 12) and window.time_zone == NEW_YORK.key
    assert window.label == "calendar week from 2022-01-01 12:00 (America/New_York)"
    assert period(window, utc(2026, 1, 1)) == (
        new_york(2025, 12, 27, 12),
        new_york(2026, 1, 3, 12),
    )
    assert period(window, utc(2026, 1, 1)) == (utc(2025, 12, 27, 17), utc(2026, 1, 3, 17))
    assert period(window, utc(2026, 7, 1)) == (utc(2026, 6, 27, 16), utc(2026, 7, 4, 16))


# --- the property ---------------------------------------------------------------------------

ZONES = [
    "UTC",
    "America/New_York",
    "Europe/London",
    "Asia/Kolkata",
    "Australia/Lord_Howe",  # half-hour daylight-saving shifts
    "America/Santiago",  # changes at midnight, so some local midnights do not exist
    "Pacific/Chatham",
]


@st.composite
def calendar_windows(draw: st.DrawFn) -> SloWindow:
    unit = draw(st.sampled_from(list(CalendarUnit)))
    anchor = draw(
        st.none() | st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2030, 12, 31))
    )
    count = 1 if anchor is None else draw(st.integers(min_value=1, max_value=5))
    return SloWindow(
        30,
        rolling=False,
        calendar_unit=unit,
        anchor=anchor,
        count=count,
        time_zone=draw(st.sampled_from(ZONES)),
    )


@settings(max_examples=300, deadline=None)
@given(
    window=calendar_windows(),
    end=st.datetimes(
        min_value=datetime(1995, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
    ),
)
def test_every_end_lies_in_exactly_one_period(window: SloWindow, end: datetime) -> None:
    start, close = period(window, end)
    assert start.tzinfo is UTC and close.tzinfo is UTC
    assert start <= end < close
    assert window.start_at(close) == close
    assert window.start_at(start) == start


@settings(max_examples=200, deadline=None)
@given(
    anchor=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2030, 12, 31)),
    months=st.integers(min_value=-120, max_value=120),
    count=st.sampled_from([1, 2, 3, 12]),
)
def test_anchored_month_periods_match_relativedelta(
    anchor: datetime, months: int, count: int
) -> None:
    window = SloWindow(
        30 * count, rolling=False, calendar_unit=CalendarUnit.MONTH, anchor=anchor, count=count
    )
    start = (anchor + relativedelta(months=months * count)).replace(tzinfo=UTC)
    following = (anchor + relativedelta(months=(months + 1) * count)).replace(tzinfo=UTC)
    assert period(window, start) == (start, following)
