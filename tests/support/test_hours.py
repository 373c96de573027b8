"""Support hours: from the configuration, from when tickets arrive, and the opening backlog."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsledger.core.config import load_config, weekly_open_spans
from opsledger.core.errors import ConfigError
from opsledger.support.hours import (
    HoursSource,
    carried_backlog,
    configured_hours,
    observed_hours,
)

DAY = 24 * 60


def test_configured_hours_open_exactly_the_named_intervals() -> None:
    spans = weekly_open_spans("Mon-Fri 08:00-18:00, Sat 10:00-14:00")
    hours = configured_hours(spans, "Europe/Berlin", 60)
    opened = [i for i, is_open in enumerate(hours.open) if is_open]
    expected = [d * 24 + h for d in range(5) for h in range(8, 18)] + [5 * 24 + h
                                                                          for h in range(10, 14)]
    assert opened == expected
    assert hours.open_hours == 5 * 10 + 4
    assert hours.source is HoursSource.CONFIGURED
    assert hours.describe() == "Mon-Fri 08:00-18:00; Sat 10:00-14:00"


def test_hours_past_midnight_and_round_the_clock() -> None:
    # Sunday 22:00 to Monday 06:00 wraps round the end of the week.
    assert weekly_open_spans("Sun 22:00-06:00") == ((0, 360), (6 * DAY + 22 * 60, 7 * DAY))
    assert weekly_open_spans("24x7") == ((0, 7 * DAY),)
    assert weekly_open_spans("Sat-Sun 00:00-24:00") == ((5 * DAY, 6 * DAY), (6 * DAY, 7 * DAY))
    half = configured_hours(weekly_open_spans("Tue 09:30-11:00"), "UTC", 30)
    assert [i for i, o in enumerate(half.open) if o] == [48 + 19, 48 + 20, 48 + 21]
    assert half.describe() == "Tue 09:30-11:00"


@pytest.mark.parametrize(("text", "words"), [
    ("Mon 8-18", "not like"),
    ("Moonday 08:00-18:00", "not like"),
    ("Mon 08:00-25:00", "00:00 to 24:00"),
])
def test_malformed_hours_are_refused(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        weekly_open_spans(text)


def _problems(root: Path, text: str) -> list[dict[str, Any]]:
    (root / "opsledger.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(root)
    assert "opsledger.yaml" in str(caught.value)
    return [p.to_json() for p in caught.value.problems]


def test_bad_support_policy_names_the_file_line_and_key(tmp_path: Path) -> None:
    [zone] = _problems(tmp_path, "policies:\n  support:\n    hours:\n"
                                 "      weekly: 'Mon-Fri 08:00-18:00'\n"
                                 "      timezone: Mars/Olympus\n")
    assert zone["location"] == "line 5"
    assert "policies.support.hours.timezone" in str(zone["message"])
    [text] = _problems(tmp_path, "policies:\n  support:\n    hours: {weekly: 'Mon 8-18'}\n")
    assert text["location"] == "line 3" and "'Mon 8-18' is not like" in str(text["message"])
    [twice] = _problems(tmp_path, "policies:\n  support:\n    skill_groups:\n"
                                  "      - {name: desk, queues: [access, billing]}\n"
                                  "      - {name: other, queues: [billing]}\n")
    assert twice["location"] == "line 2"
    assert "queue 'billing' is in skill groups 'desk' and 'other'" in str(twice["message"])
    [grid] = _problems(tmp_path, "policies:\n  support:\n"
                                 "    hours: {weekly: 'Mon-Fri 08:30-18:00'}\n")
    assert "60-minute interval grid" in str(grid["message"])
    (tmp_path / "opsledger.yaml").write_text(
        "policies:\n  support:\n    interval_minutes: 30\n"
        "    hours: {weekly: 'Mon-Fri 08:30-18:00'}\n")
    assert load_config(tmp_path).policies.support.interval_minutes == 30


def _week(per_day: int, day_values: dict[int, list[float]]) -> list[float]:
    week = [0.0] * (7 * per_day)
    for day, values in day_values.items():
        week[day * per_day:(day + 1) * per_day] = values
    return week


def test_observed_hours_are_the_shortest_run_holding_the_share() -> None:
    monday = [0.0] * 24
    for hour, tickets in {7: 1.0, 9: 5.0, 10: 6.0, 12: 4.0, 15: 3.0, 20: 1.0}.items():
        monday[hour] = tickets
    # Monday to Friday together: 20 tickets; 90 % is 18: 09:00-16:00 holds 18, and no
    # shorter run does. Every working day opens then, Thursday's quiet notwithstanding.
    week = _week(24, {0: monday, 6: [0.0] * 23 + [0.5]})
    hours = observed_hours(week, "UTC", 60, 0.9)
    assert hours.source is HoursSource.OBSERVED and hours.observed_share == 0.9
    for day in range(5):
        assert [h for h in range(24) if hours.open[day * 24 + h]] == list(range(9, 16))
    # The weekend holds 0.5 of 20.5 tickets (2 %), under the 10 % left closed: closed.
    assert not any(hours.open[5 * 24:])
    assert hours.describe() == "Mon-Fri 09:00-16:00"
    # Flat: 22 of 24 hours hold 90 %; of the runs that long, the earliest.
    flat = observed_hours(_week(24, {2: [1.0] * 24}), "UTC", 60, 0.9)
    assert flat.describe() == "Mon-Fri 00:00-22:00"


@pytest.mark.parametrize(("weekend_share", "opens"), [(0.11, True), (0.09, False)])
def test_the_weekend_opens_only_with_more_than_the_share_left_out(
    weekend_share: float, opens: bool
) -> None:
    week = _week(24, {d: [0.0] * 9 + [1.0] * 8 + [0.0] * 7 for d in range(5)})
    weekend = 40 * weekend_share / (1 - weekend_share)
    week[5 * 24 + 10] = weekend / 2
    week[6 * 24 + 11] = weekend / 2
    hours = observed_hours(week, "UTC", 60, 0.9)
    expected = "Mon-Fri 09:00-17:00" + ("; Sat-Sun 10:00-12:00" if opens else "")
    assert hours.describe() == expected


def test_closed_hours_tickets_are_spread_over_the_next_opening_day() -> None:
    hours = configured_hours(weekly_open_spans("Mon-Fri 08:00-18:00"), "UTC", 60)
    week = [1.0] * 168
    carried = carried_backlog(week, hours.open, 24)
    # Friday 18:00 to Monday 08:00 is 62 closed hours, spread over Monday's 10 open hours.
    assert carried[8:18] == pytest.approx([6.2] * 10)
    # Monday 18:00 to Tuesday 08:00: 14 hours over Tuesday's 10.
    assert carried[24 + 8:24 + 18] == pytest.approx([1.4] * 10)
    assert sum(carried) == pytest.approx(168 - 50)
    assert carried_backlog(week, [True] * 168, 24) == tuple([0.0] * 168)
    assert carried_backlog(week, [False] * 168, 24) == tuple([0.0] * 168)


@given(st.lists(st.booleans(), min_size=168, max_size=168),
       st.lists(st.floats(0, 20), min_size=168, max_size=168))
@settings(max_examples=60, deadline=None)
def test_every_closed_ticket_is_carried_once(is_open: list[bool], week: list[float]) -> None:
    carried = carried_backlog(week, is_open, 24)
    closed = sum(t for t, o in zip(week, is_open, strict=True) if not o)
    if any(is_open):
        assert sum(carried) == pytest.approx(closed, abs=1e-6)
    assert all(c == 0 for c, o in zip(carried, is_open, strict=True) if not o)
