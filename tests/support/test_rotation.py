"""Shifts over open hours, placed greedily, and a roster of five-day weeks that works them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import Bounds, LinearConstraint, milp

from opsledger.core.config import weekly_open_spans
from opsledger.support.hours import configured_hours
from opsledger.support.intervals import ServiceTarget, staff_intervals
from opsledger.support.rotation import (
    Shift,
    open_stretches,
    place_shifts,
    plan_shifts,
    propose_rotation,
)


def _mask(text: str, minutes: int = 60) -> tuple[bool, ...]:
    return configured_hours(weekly_open_spans(text), "UTC", minutes).open


def test_open_stretches_follow_the_hours() -> None:
    assert open_stretches(_mask("Mon-Fri 08:00-20:00"), 24) == [
        (d * 24 + 8, 12) for d in range(5)]
    assert open_stretches(_mask("24x7"), 24) == [(d * 24, 24) for d in range(7)]
    # Longer than a day: cut at midnight.
    assert open_stretches(_mask("Mon 08:00-24:00, Tue 00:00-24:00, Wed 00:00-12:00"), 24) == [
        (8, 16), (24, 24), (48, 12)]


def test_an_overnight_opening_is_one_stretch_round_the_end_of_the_week() -> None:
    assert open_stretches(_mask("Sun 22:00-06:00"), 24) == [(6 * 24 + 22, 8)]


def fewest_shifts(needed: list[int], length: int) -> int:
    """The least number of shifts of ``length`` that cover ``needed``: an integer program."""
    size = min(length, len(needed))
    starts = range(len(needed) - size + 1)
    covers = np.array([[1.0 if s <= i < s + size else 0.0 for s in starts]
                       for i in range(len(needed))])
    result = milp(np.ones(len(starts)), integrality=np.ones(len(starts)),
                  bounds=Bounds(0, np.inf),
                  constraints=LinearConstraint(covers, lb=np.array(needed, dtype=float)))
    assert result.success
    return round(result.fun)


@given(st.lists(st.integers(0, 6), min_size=1, max_size=16), st.integers(1, 10))
@settings(max_examples=80, deadline=None)
def test_greedy_shifts_cover_every_interval_with_the_fewest_shifts(
    needed: list[int], length: int
) -> None:
    placed = place_shifts(needed, length)
    size = min(length, len(needed))
    for index, need in enumerate(needed):
        on_duty = sum(h for s, h in placed if s <= index < s + size)
        assert on_duty >= need
    assert all(0 <= s <= len(needed) - size for s, _ in placed)
    assert sum(h for _, h in placed) == fewest_shifts(needed, length)


def test_shifts_of_a_week_carry_heads_occupancy_and_service_level() -> None:
    hours = configured_hours(weekly_open_spans("Mon 08:00-20:00, Sat 09:00-13:00"), "UTC", 60)
    arrivals = [0.0] * 168
    arrivals[8:20] = [30.0, 30.0] + [6.0] * 10  # a busy morning at 6 minutes a ticket
    target = ServiceTarget(0.8, 60, 0.85, 0.3)
    intervals = staff_intervals(arrivals, [0.0] * 168, hours, 360, target, 1)
    shifts = plan_shifts("desk", intervals, 8)
    monday = [s for s in shifts if s.weekday == 0]
    # The peak at 08:00 starts shifts there; the evening is covered by one ending at 20:00.
    assert monday[0].label() == "08:00-16:00"
    assert monday[-1].label() == "12:00-20:00"
    for index in range(8, 20):
        on_duty = sum(s.heads for s in monday if s.start // 60 <= index < s.start // 60 + 8)
        assert on_duty >= intervals[index].heads
    [saturday] = [s for s in shifts if s.weekday == 5]
    assert saturday.label() == "09:00-13:00" and saturday.heads == intervals[5 * 24 + 9].heads
    first = monday[0]
    part = intervals[8:16]
    assert first.occupancy == pytest.approx(
        sum(i.work_hours for i in part) / sum(i.agents for i in part))
    assert first.to_json()["service_level"] == pytest.approx(
        sum(i.tickets * i.figures.service_level for i in part if i.figures)
        / sum(i.tickets for i in part), abs=1e-6)


def _shifts(demand: list[int]) -> list[Shift]:
    return [Shift("desk", day, day * 1440 + 480, 480, heads, heads, 1.0, 2.0, 0.9)
            for day, heads in enumerate(demand) if heads]


@given(st.lists(st.integers(0, 12), min_size=7, max_size=7))
@settings(max_examples=80, deadline=None)
def test_roster_works_every_shift_with_the_fewest_agents(demand: list[int]) -> None:
    rotation = propose_rotation(_shifts(demand), 8.0)
    assert rotation.covered
    # Five working days each: no roster can have fewer agents than this.
    expected = max(max(demand), math.ceil(sum(demand) / 5)) if any(demand) else 0
    assert rotation.headcount == expected
    for line in rotation.lines:
        assert len(line.working_days) == 5 == len(set(line.working_days))
    assert rotation.spare_days == 5 * expected - sum(demand)
    assert rotation.rostered_hours == pytest.approx(8.0 * 5 * expected)


def test_closed_days_are_days_off_and_a_gap_is_found() -> None:
    rotation = propose_rotation(_shifts([3, 3, 3, 3, 3, 0, 0]), 8.0)
    assert rotation.headcount == 3 and rotation.spare_days == 0
    assert all(set(line.working_days) == set(range(5)) for line in rotation.lines)
    short = type(rotation)(rotation.lines[1:], tuple(
        type(c)(c.shift, c.rostered - 1) for c in rotation.coverage))
    assert not short.covered and len(short.to_json()["gaps"]) == 5  # type: ignore[arg-type]
