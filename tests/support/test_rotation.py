"""Shifts from hourly staffing, and a roster that covers them with five-day weeks."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsledger.support.rotation import (
    Rotation,
    Shift,
    ShiftRequirement,
    check_coverage,
    daily_shifts,
    propose_rotation,
    shift_requirements,
)
from opsledger.support.staffing import staffing_by_hour


def test_daily_shifts_tile_the_day() -> None:
    assert [(s.start, s.end) for s in daily_shifts(8)] == [(0, 8), (8, 16), (16, 24)]
    assert [(s.start, s.end) for s in daily_shifts(10)] == [(0, 10), (10, 20), (20, 24)]
    assert daily_shifts(24)[0].label() == "00:00-00:00"
    with pytest.raises(ValueError):
        daily_shifts(0)


def test_a_shift_is_staffed_to_its_peak_hour() -> None:
    volumes = [0.0] * 168
    volumes[24 + 9] = 200.0  # Tuesday 09:00, 10 erlangs at 180 s
    volumes[24 + 10] = 20.0
    hours = staffing_by_hour(volumes, 180, 0.8, 20, occupancy_cap=1.0, shrinkage=0.3)
    needs = shift_requirements("l1", hours, daily_shifts(8))
    tuesday_day = next(n for n in needs if n.weekday == 1 and n.shift.start == 8)
    assert (tuesday_day.agents, tuesday_day.scheduled, tuesday_day.peak_hour) == (14, 20, 9)
    assert tuesday_day.contacts == pytest.approx(220.0)
    assert all(n.scheduled == 0 for n in needs if n is not tuesday_day)


def _needs(
    demand: list[int], queue: str = "l1", shift: Shift | None = None
) -> list[ShiftRequirement]:
    shift = shift or Shift("shift-2", 8, 16)
    return [
        ShiftRequirement(queue, day, shift, need, need, 9, 0.0) for day, need in enumerate(demand)
    ]


@given(st.lists(st.integers(0, 12), min_size=7, max_size=7))
@settings(max_examples=80, deadline=None)
def test_roster_covers_every_day_with_the_fewest_agents(demand: list[int]) -> None:
    rotation = propose_rotation(_needs(demand))
    assert rotation.covered
    # Five working days each: no roster can have fewer heads than this.
    assert rotation.headcount == max(max(demand), math.ceil(sum(demand) / 5))
    for line in rotation.lines:
        assert len(line.working_days) == 5 and len(set(line.working_days)) == 5


def test_coverage_check_finds_a_gap() -> None:
    needs = _needs([3, 3, 3, 3, 3, 1, 1]) + _needs([2, 2, 2, 2, 2, 2, 2], queue="l2")
    rotation = propose_rotation(needs)
    assert rotation.covered and rotation.headcount == 4 + 3
    short = [line for line in rotation.lines if line.agent != rotation.lines[0].agent]
    checked = Rotation(tuple(short), check_coverage(needs, short))
    assert not checked.covered
    gaps = [c for c in checked.coverage if c.gap]
    assert gaps and all(c.queue == rotation.lines[0].queue for c in gaps)
    assert checked.to_json()["gaps"]
