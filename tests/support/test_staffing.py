"""Erlang C against the published example and independent formulas; Erlang A against a CTMC."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm
from scipy.stats import poisson

from opsledger.core.config import weekly_open_spans
from opsledger.support.hours import configured_hours
from opsledger.support.intervals import ServiceTarget, staff_intervals, staffing_totals
from opsledger.support.staffing import (
    agents_needed,
    erlang_a_figures,
    erlang_b,
    erlang_c,
    erlang_c_figures,
    with_shrinkage,
)


def erlang_c_by_factorials(agents: int, traffic: float) -> float:
    """The textbook Erlang C sum, in exact rational arithmetic."""
    a = Fraction(traffic)
    top = a**agents / math.factorial(agents) * Fraction(agents, 1) / (agents - a)
    bottom = sum(a**k / math.factorial(k) for k in range(agents)) + top
    return float(top / bottom)


def test_published_example_needs_14_agents_before_shrinkage() -> None:
    # Call Centre Helper's worked Erlang C example: 100 contacts per 30 minutes, 3-minute
    # handle time (10 erlangs), 80 % answered within 20 s -> 14 agents before shrinkage.
    figures = agents_needed(100, 1800, 180, service_level=0.8, answer_seconds=20)
    assert figures.agents == 14
    assert figures.traffic_erlangs == pytest.approx(10.0)
    # The other figures against the factorial formula, worked independently of the module.
    p_wait = erlang_c_by_factorials(14, 10.0)
    assert p_wait == pytest.approx(0.1741, abs=5e-5)
    assert figures.p_wait == pytest.approx(p_wait, rel=1e-12)
    assert figures.service_level == pytest.approx(1 - p_wait * math.exp(-4 * 20 / 180), rel=1e-12)
    assert figures.service_level == pytest.approx(0.8884, abs=5e-5)
    assert figures.asa_seconds == pytest.approx(p_wait * 180 / 4, rel=1e-12)
    assert figures.asa_seconds == pytest.approx(7.836, abs=5e-4)
    assert figures.occupancy == pytest.approx(10 / 14)
    # 13 agents fall short of the target.
    p13 = erlang_c_by_factorials(13, 10.0)
    short = erlang_c_figures(13, 100, 1800, 180, 20).service_level
    assert short == pytest.approx(1 - p13 * math.exp(-3 * 20 / 180), rel=1e-12)
    assert short < 0.8
    assert with_shrinkage(figures.agents, 0.3) == 20


def test_occupancy_cap_adds_agents() -> None:
    # 10 erlangs at most 70 % busy needs 15 agents (10/15 = 66.7 %), although 14 meet the SL.
    assert agents_needed(100, 1800, 180, 0.8, 20, occupancy_cap=0.7).agents == 15


@given(agents=st.integers(1, 40), traffic=st.floats(0.05, 39.0))
@settings(max_examples=60, deadline=None)
def test_erlang_c_matches_the_factorial_formula(agents: int, traffic: float) -> None:
    if agents <= traffic:
        assert erlang_c(agents, traffic) == 1.0
    else:
        assert erlang_c(agents, traffic) == pytest.approx(
            erlang_c_by_factorials(agents, traffic), rel=1e-9
        )


def test_erlang_b_stays_finite_where_factorials_overflow() -> None:
    # Erlang B is the Poisson(a) pmf at n over its cdf up to n: a reference with no recursion.
    for agents, traffic in ((2000, 1950.0), (5000, 4800.0), (171, 150.0)):
        reference = poisson.pmf(agents, traffic) / poisson.cdf(agents, traffic)
        assert erlang_b(agents, traffic) == pytest.approx(reference, rel=1e-9)
    assert 0 < erlang_c(2000, 1950.0) < 1


def test_no_contacts_need_no_agents() -> None:
    figures = agents_needed(0, 3600, 300, 0.8, 20)
    assert (figures.agents, figures.service_level, figures.p_wait) == (0, 1.0, 0.0)


def ctmc_reference(
    agents: int,
    contacts: float,
    interval: float,
    handle: float,
    answer: float,
    patience: float,
    depth: int = 250,
) -> tuple[float, float, float]:
    """Solve M/M/n+M as a truncated birth-death chain; return P(wait), P(abandon), SL."""
    lam, mu, theta = contacts / interval, 1 / handle, 1 / patience
    size = agents + depth
    q = np.zeros((size, size))
    for k in range(size):
        if k + 1 < size:
            q[k, k + 1] = lam
        if k > 0:
            q[k, k - 1] = min(k, agents) * mu + max(k - agents, 0) * theta
        q[k, k] = -q[k].sum()
    system = np.vstack([q.T, np.ones(size)])
    target = np.zeros(size + 1)
    target[-1] = 1.0
    pi = np.linalg.lstsq(system, target, rcond=None)[0]
    p_wait = pi[agents:].sum()
    queue = np.arange(size) - agents
    p_abandon = theta * float(np.dot(pi[agents:], queue[agents:])) / lam
    # A tagged arrival with j ahead: states j..0 ahead, then served (absorbing) or abandoned.
    ahead = depth - 1
    g = np.zeros((ahead + 3, ahead + 3))
    served, left = ahead + 1, ahead + 2
    for j in range(ahead + 1):
        g[j, j - 1 if j > 0 else served] = agents * mu + j * theta
        g[j, left] = theta
        g[j, j] = -g[j].sum()
    reach = expm(g * answer)[: ahead + 1, served]
    service_level = pi[:agents].sum() + float(np.dot(pi[agents : agents + ahead + 1], reach))
    return float(p_wait), p_abandon, float(service_level)


@pytest.mark.parametrize(
    ("agents", "contacts", "handle", "patience"),
    [(12, 100, 180, 120), (8, 100, 180, 60), (3, 20, 600, 300), (25, 900, 100, 30)],
)
def test_erlang_a_matches_a_birth_death_chain(
    agents: int, contacts: float, handle: float, patience: float
) -> None:
    interval = 1800.0 if contacts < 900 else 3600.0
    figures = erlang_a_figures(agents, contacts, interval, handle, 20, patience)
    p_wait, p_abandon, service_level = ctmc_reference(
        agents, contacts, interval, handle, 20, patience
    )
    assert figures.p_wait == pytest.approx(p_wait, abs=1e-7)
    assert figures.p_abandon == pytest.approx(p_abandon, abs=1e-7)
    assert figures.service_level == pytest.approx(service_level, abs=1e-7)


def test_erlang_a_tends_to_erlang_c_as_patience_grows() -> None:
    c = erlang_c_figures(14, 100, 1800, 180, 20)
    a = erlang_a_figures(14, 100, 1800, 180, 20, patience_seconds=1e7)
    assert a.p_wait == pytest.approx(c.p_wait, rel=1e-4)
    assert a.service_level == pytest.approx(c.service_level, rel=1e-4)
    assert a.asa_seconds == pytest.approx(c.asa_seconds, rel=1e-3)


def test_abandonment_lowers_the_agents_needed() -> None:
    patient = agents_needed(100, 1800, 180, 0.8, 20)
    impatient = agents_needed(100, 1800, 180, 0.8, 20, patience_seconds=60)
    assert impatient.model == "erlang-a"
    assert impatient.agents < patient.agents
    assert impatient.service_level >= 0.8
    fewer = erlang_a_figures(impatient.agents - 1, 100, 1800, 180, 20, 60)
    assert fewer.service_level < 0.8


def test_intervals_are_staffed_to_the_target_raised_to_the_minimum() -> None:
    hours = configured_hours(weekly_open_spans("Mon 09:00-12:00"), "UTC", 60)
    arrivals = [0.0] * 168
    arrivals[9] = 200.0  # Monday 09:00: 200 contacts in the hour, 180 s each = 10 erlangs
    arrivals[13] = 5.0  # closed
    carried = [0.0] * 168
    carried[10] = 1.0
    target = ServiceTarget(0.8, 20, 1.0, 0.3)
    rows = staff_intervals(arrivals, carried, hours, 180, target, min_agents=2)
    assert (rows[9].required, rows[9].agents, rows[9].heads) == (14, 14, 20)
    # One carried contact needs one agent; the minimum raises it to two (heads 2 / 0.7 -> 3).
    assert (rows[10].tickets, rows[10].required, rows[10].agents, rows[10].heads) == (1, 1, 2, 3)
    assert rows[10].figures is not None
    assert rows[10].figures.occupancy == pytest.approx(180 / 3600 / 2)
    assert rows[11].figures is not None
    assert (rows[11].required, rows[11].agents, rows[11].figures.occupancy) == (0, 2, 0.0)
    assert rows[13].agents == rows[13].heads == 0 and rows[13].figures is None
    totals = staffing_totals(rows, 2)
    assert totals.work_hours == pytest.approx(10 + 0.05)
    assert totals.staffed_hours == 14 + 2 + 2 and totals.scheduled_hours == 20 + 3 + 3
    assert totals.minimum_added_hours == 1 + 2
    assert (totals.floor_intervals, totals.floor_staffed_hours) == (2, 4)
    assert totals.occupancy == pytest.approx(10.05 / 18)
    with pytest.raises(ValueError):
        staff_intervals(arrivals[:24], carried, hours, 180, target, 1)


@pytest.mark.parametrize("patience", [None, 30.0, 600.0])
@pytest.mark.parametrize(("contacts", "cap"), [(3.0, 0.85), (150.0, 1.0), (900.0, 0.9)])
def test_agents_needed_is_the_smallest_count_that_meets_the_targets(
    contacts: float, cap: float, patience: float | None
) -> None:
    found = agents_needed(
        contacts, 3600, 300, 0.8, 20, occupancy_cap=cap, patience_seconds=patience
    )
    assert found.service_level >= 0.8 and found.occupancy <= cap + 1e-12
    below = (
        erlang_a_figures(found.agents - 1, contacts, 3600, 300, 20, patience)
        if patience
        else erlang_c_figures(found.agents - 1, contacts, 3600, 300, 20)
    )
    assert below.service_level < 0.8 or below.occupancy > cap


def test_overloaded_erlang_a_stays_finite() -> None:
    # 100 erlangs on 5 agents with hour-long patience: almost everyone who waits gives up, and
    # the agents carry what they can (fluid limit: P(abandon) -> 1 - n/a = 0.95).
    figures = erlang_a_figures(5, 1000, 3600, 360, 20, patience_seconds=3600)
    assert figures.p_abandon == pytest.approx(0.95, abs=1e-3)
    assert figures.occupancy == pytest.approx(1.0, abs=1e-3)
    assert 0 <= figures.service_level < 0.01
