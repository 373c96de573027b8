"""Headline KPIs from typed results, checked against hand calculations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from opsledger.core.config import SloBudget
from opsledger.incidents.kpis import Period
from opsledger.incidents.kpis import incident_kpis as incident_analysis
from opsledger.model.handover import Ticket
from opsledger.model.health import ProbeResult
from opsledger.model.incidents import Incident
from opsledger.review.kpis import (
    Better,
    CostFigures,
    Kpi,
    SkippedKpi,
    Target,
    availability_kpis,
    cost_kpis,
    format_value,
    incident_kpis,
    kpi_gaps,
    kpi_set,
    ticket_kpis,
)
from opsledger.slo.health import service_health

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def computed(results: list[Kpi | SkippedKpi]) -> dict[str, Kpi]:
    """Return the KPIs by name, failing if any was skipped."""
    assert all(isinstance(r, Kpi) for r in results), results
    return {r.name: r for r in results if isinstance(r, Kpi)}


def probes(service: str, total: int, failing: int) -> list[ProbeResult]:
    start = NOW - timedelta(days=2)
    return [ProbeResult(start + timedelta(minutes=5 * i), service, "http", i >= failing, 50.0)
            for i in range(total)]


def test_availability_pools_probes_so_a_busier_service_weighs_more() -> None:
    records = probes("checkout", 100, 1) + probes("search", 300, 3) + probes("idle", 4, 0)
    results = service_health(records, NOW - timedelta(days=30), NOW,
                             lambda _: SloBudget(availability=0.99), ["idle"])
    found = computed(availability_kpis(results))
    # (99 + 297) / 400 probes; the service with 4 probes is not assessed.
    assert found["availability"].value == pytest.approx(396 / 400)
    assert found["availability:checkout"].value == pytest.approx(0.99)
    assert found["availability:search"].value == pytest.approx(0.99)
    assert "availability:idle" not in found
    assert found["availability"].better is Better.HIGHER


def test_availability_without_any_assessed_service_is_skipped_with_a_reason() -> None:
    results = service_health(probes("idle", 4, 0), NOW - timedelta(days=30), NOW,
                             lambda _: SloBudget())
    [only] = availability_kpis(results)
    assert isinstance(only, SkippedKpi) and "enough probes" in only.reason


def incident(ident: str, created: datetime, ack: float | None, resolve: float | None
             ) -> Incident:
    return Incident(ident, "t", "checkout", "SEV2", "resolved", created,
                    acknowledged_at=created + timedelta(minutes=ack) if ack else None,
                    resolved_at=created + timedelta(minutes=resolve) if resolve else None)


def test_incident_kpis_are_the_means_over_incidents_created_in_the_window() -> None:
    period = Period(NOW - timedelta(days=30), NOW)
    records = [
        incident("a", NOW - timedelta(days=3), 4, 60),
        incident("b", NOW - timedelta(days=10), 10, 120),
        incident("c", NOW - timedelta(days=20), None, 30),
        incident("old", NOW - timedelta(days=45), 1, 1000),  # before the window
    ]
    found = computed(incident_kpis(incident_analysis(records, period, NOW)))
    assert found["incidents_per_month"].value == 3
    assert found["mtta_minutes"].value == pytest.approx((4 + 10) / 2)
    assert found["mttr_minutes"].value == pytest.approx((60 + 120 + 30) / 3)
    assert found["mttr_minutes"].better is Better.LOWER


def test_cost_is_the_spend_of_targeted_services_against_their_targets() -> None:
    figures = CostFigures("2026-10", "EUR", 5000.0,
                          [("checkout", 100.0, 120.0), ("search", 200.0, 150.0)])
    found = computed(cost_kpis(figures))
    assert found["cost_vs_target"].value == pytest.approx(270 / 300)
    assert found["cost_targets_over"].value == 1
    assert found["cost_month"].value == 5000.0 and found["cost_month"].unit == "EUR"
    empty = {k.name: k for k in cost_kpis(CostFigures("2026-10", "EUR", None, []))}
    assert all(isinstance(k, SkippedKpi) for k in empty.values())


def test_ticket_volume_counts_the_half_open_window() -> None:
    start, end = NOW - timedelta(days=30), NOW
    tickets = [Ticket(str(i), when, None, "q", "c", None, "t", None, None)
               for i, when in enumerate([start, start + timedelta(days=1), end,
                                         start - timedelta(seconds=1)])]
    assert computed(ticket_kpis(tickets, start, end))["ticket_volume"].value == 2


def test_gaps_follow_the_direction_and_name_unknown_targets() -> None:
    kpis = kpi_set(NOW, [[
        Kpi("availability", "Availability", 0.998, "ratio", Better.HIGHER, "health"),
        Kpi("mttr_minutes", "MTTR", 45.0, "minutes", Better.LOWER, "incidents"),
        Kpi("action_items_overdue", "Overdue", 3.0, "count", Better.LOWER, "postmortems"),
        SkippedKpi("cost_vs_target", "Cost", "ratio", Better.LOWER, "cost", "no cost exports"),
    ]])
    gaps = {g.name: g for g in kpi_gaps(kpis, {
        "availability": Target(0.999, "growth target"),
        "mttr_minutes": Target(60.0, "growth target"),
        "action_items_overdue": Target(0.0, "action-item SLA"),
        "cost_vs_target": Target(1.0, "cost targets"),
        "nps": Target(40.0, "growth target"),
    })}
    assert gaps["availability"].gap == pytest.approx(0.001) and gaps["availability"].met is False
    assert gaps["mttr_minutes"].gap == pytest.approx(-15.0) and gaps["mttr_minutes"].met
    assert gaps["action_items_overdue"].gap == 3.0
    assert gaps["cost_vs_target"].met is None and gaps["cost_vs_target"].reason == \
        "no cost exports"
    assert gaps["nps"].met is None and "no such KPI" in gaps["nps"].reason
    assert "mttr_minutes" in gaps["nps"].reason
    order = [g.name for g in kpi_gaps(kpis, {
        "mttr_minutes": Target(60.0, "g"), "availability": Target(0.999, "g"),
        "cost_vs_target": Target(1.0, "c")})]
    assert order == ["availability", "cost_vs_target", "mttr_minutes"]  # shortfall, n/a, met


def test_a_kpi_computed_twice_is_an_error() -> None:
    twice = Kpi("x", "x", 1.0, "count", Better.LOWER, "s")
    with pytest.raises(ValueError, match="computed twice"):
        kpi_set(NOW, [[twice], [twice]])


@pytest.mark.parametrize(("value", "unit", "text"), [
    (0.99913, "ratio", "99.913%"), (0.4545, "ratio", "45.45%"), (12.0, "count", "12"),
    (68.45, "minutes", "68.5 min"), (1234.5, "EUR", "1,234.50 EUR"), (None, "count", "n/a"),
])
def test_values_are_formatted_for_people(value: float | None, unit: str, text: str) -> None:
    assert format_value(value, unit) == text
