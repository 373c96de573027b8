"""Independent re-computation of a coverage plan's figures from its own JSON document.

Erlang C here is the textbook one, built from scipy's Poisson distribution rather than the
product's recursion: Erlang B is the Poisson(A) probability of N over its probability of at
most N, and C(N, A) = N·B / (N − A·(1 − B)); the service level is
1 − C·exp(−(N − A)·T / AHT) (Koole, "Call Center Optimization", ch. on the Erlang C model).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from scipy.stats import poisson


def p_wait(agents: int, erlangs: float) -> float:
    if erlangs <= 0:
        return 0.0
    if agents <= erlangs:
        return 1.0
    blocking = poisson.pmf(agents, erlangs) / poisson.cdf(agents, erlangs)
    return float(agents * blocking / (agents - erlangs * (1 - blocking)))


def service_level(agents: int, erlangs: float, answer: float, handle: float) -> float:
    if erlangs <= 0:
        return 1.0
    if agents <= erlangs:
        return 0.0
    return 1 - p_wait(agents, erlangs) * math.exp(-(agents - erlangs) * answer / handle)


def fewest_agents(erlangs: float, target: float, answer: float, handle: float,
                  cap: float) -> int:
    """The smallest N meeting the target and the occupancy cap, by counting up."""
    if erlangs <= 0:
        return 0
    agents = max(1, math.floor(erlangs))
    while (service_level(agents, erlangs, answer, handle) < target
           or erlangs / agents > cap + 1e-12):
        agents += 1
    return agents


def check_plan(document: dict[str, Any]) -> dict[str, float]:
    """Assert every interval's figures and every total; return the plan-wide totals."""
    policy = document["policy"]
    target, answer = policy["service_level"], policy["answer_seconds"]
    shrinkage, cap = policy["shrinkage"], policy["occupancy_cap"]
    interval_hours = policy["interval_minutes"] / 60
    work = staffed = scheduled = 0.0
    for group in document["skill_groups"]:
        handle = group["handle_minutes"] * 60
        minimum = group["min_agents"]
        sums = {"work": 0.0, "staffed": 0.0, "scheduled": 0.0, "tickets": 0.0, "in_time": 0.0}
        for row in group["intervals"]:
            if not row["open"]:
                assert row["agents"] == row["heads"] == 0
                continue
            tickets = row["arrivals"] + row["carried"]
            assert row["tickets"] == pytest.approx(tickets, abs=2e-4)
            erlangs = tickets * handle / (interval_hours * 3600)
            assert row["traffic_erlangs"] == pytest.approx(erlangs, rel=1e-3, abs=1e-5)
            agents = row["agents"]
            required = fewest_agents(row["traffic_erlangs"], target, answer, handle, cap)
            assert row["required_agents"] == required, row
            assert agents == max(required, minimum), row
            assert row["service_level"] == pytest.approx(
                service_level(agents, row["traffic_erlangs"], answer, handle), abs=1e-4)
            assert row["p_wait"] == pytest.approx(p_wait(agents, row["traffic_erlangs"]),
                                                  abs=1e-4)
            assert row["occupancy"] == pytest.approx(
                row["traffic_erlangs"] / agents if agents else 0.0, abs=1e-4)
            assert row["heads"] == math.ceil(agents / (1 - shrinkage) - 1e-9)
            sums["work"] += row["traffic_erlangs"] * interval_hours
            sums["staffed"] += agents * interval_hours
            sums["scheduled"] += row["heads"] * interval_hours
            sums["tickets"] += tickets
            sums["in_time"] += tickets * row["service_level"]
        totals = group["totals"]
        assert totals["work_hours"] == pytest.approx(sums["work"], rel=1e-4, abs=1e-3)
        assert totals["staffed_agent_hours"] == pytest.approx(sums["staffed"])
        assert totals["scheduled_head_hours"] == pytest.approx(sums["scheduled"])
        if sums["staffed"]:
            assert totals["occupancy"] == pytest.approx(sums["work"] / sums["staffed"],
                                                        abs=1e-3)
        if sums["tickets"]:
            assert totals["service_level"] == pytest.approx(sums["in_time"] / sums["tickets"],
                                                            abs=1e-3)
        work += sums["work"]
        staffed += sums["staffed"]
        scheduled += sums["scheduled"]
    sanity = document["sanity"]
    assert sanity["work_hours"] == pytest.approx(work, rel=1e-4, abs=1e-3)
    assert sanity["staffed_agent_hours"] == pytest.approx(staffed)
    assert sanity["scheduled_head_hours"] == pytest.approx(scheduled)
    first = sanity["text"][0]
    assert f"{work:.1f} work hours" in first and f"{staffed:.1f} staffed agent-hours" in first
    assert f"{scheduled:.1f} head-hours are scheduled" in first
    rotation = document["rotation"]
    if rotation:
        paid = sum(line["hours"] for line in rotation["roster"])
        assert rotation["rostered_hours"] == pytest.approx(paid)
        assert f"the roster pays {paid:.1f} hours ({len(rotation['roster'])} agents)" in first
        assert rotation["covered"] and not rotation["gaps"]
    return {"work": work, "staffed": staffed, "scheduled": scheduled}
