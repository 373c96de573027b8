from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest

from opsledger.backlog.scoring import (
    Sources,
    consolidate,
    reach_points,
    score_item,
    similarity,
    time_criticality,
)
from opsledger.core.config import SeverityDays
from opsledger.model.common import ItemStatus, Severity
from opsledger.model.handover import ActionItem, Postmortem, WorkItem

TODAY = date(2026, 11, 1)
SLA = SeverityDays(critical=14, high=30, medium=90, low=180)


def work(id: str, title: str, **kw: object) -> WorkItem:
    base: dict[str, object] = {
        "source": "tech-debt",
        "service": "checkout",
        "owner": "ana",
        "severity": Severity.HIGH,
        "status": ItemStatus.OPEN,
        "due_date": date(2026, 11, 11),
    }
    base.update(kw)
    return WorkItem(id=id, title=title, **base)  # type: ignore[arg-type]


def test_scores_match_a_hand_calculation() -> None:
    item = work(
        "TD-1",
        "Replace the retry library",
        impact=4,
        likelihood=3,
        effort_days=2,
        created=date(2026, 10, 20),
    )
    scored = score_item(item, {"checkout": 0}, TODAY, SLA)
    s = scored.scores
    # risk = 3 x 4 = 12 -> P2 (10 <= risk < 15)
    assert (s.risk, scored.priority) == (12, "P2")
    # RICE = reach 10 (tier 0) x impact 2.0 (4 on RICE's scale) x confidence 1.0 / 2 days
    assert s.rice == 10.0
    # WSJF: value fib(4*5/2=10)=13, time (10 days left)=8, risk fib(12*20/25=9.6)=13 -> 34
    # job size fib(2)=2 -> 17.0
    assert (s.cost_of_delay, s.job_size, s.wsjf) == (34, 2, 17.0)
    # SLA: high = 30 days from 2026-10-20 -> 2026-11-19; due 11-11 is inside it.
    assert scored.sla_due == date(2026, 11, 19) and scored.sla_aligned is True
    assert "WSJF 17.00" in s.rationale


def test_reach_from_request_counts_is_on_the_tier_scale() -> None:
    busy = score_item(work("P1", "Cut tail latency", impact=4, likelihood=3, effort_days=2,
                           reach=20_000_000), {"checkout": 0}, TODAY, SLA)
    # log10(2e7) = 7.30 points: RICE = 7.30 x 2.0 x 1.0 / 2 = 7.30, comparable with others.
    assert busy.scores.rice == pytest.approx(7.3, abs=0.01)
    assert reach_points(5) == 1.0 and reach_points(1e12) == 10.0


def test_estimates_lower_confidence_and_are_said() -> None:
    scored = score_item(work("X", "Thing", severity=Severity.CRITICAL), {}, TODAY, SLA)
    assert scored.scores.confidence == 0.5
    assert "impact from severity" in scored.scores.rationale
    assert scored.scores.risk == 4 * 5


def test_time_criticality_bands() -> None:
    assert time_criticality(date(2026, 10, 31), TODAY) == 20
    assert time_criticality(date(2026, 11, 5), TODAY) == 13
    assert time_criticality(None, TODAY) == 2
    assert time_criticality(date(2027, 6, 1), TODAY) == 1


def test_duplicates_fold_across_sources_keeping_the_strictest_terms() -> None:
    security = work(
        "SR-1",
        "Upgrade openssl on checkout hosts",
        source="security",
        reference="CVE-2026-1234",
        severity=Severity.CRITICAL,
        due_date=date(2026, 11, 8),
        owner=None,
        compliance=("PCI-DSS",),
    )
    debt = work("TD-9", "Upgrade OpenSSL on the checkout hosts", due_date=date(2026, 12, 1))
    other = work("TD-10", "Refactor the pricing cache", service="pricing")
    backlog = consolidate(Sources(tech_debt=[debt, other], security=[security]), TODAY, SLA)
    assert backlog.duplicates_folded == 1
    merged = next(i for i in backlog.items if "openssl" in i.title.lower())
    assert merged.source == "security+tech-debt"
    assert merged.severity is Severity.CRITICAL
    assert merged.due_date == date(2026, 11, 8)
    assert merged.owner == "ana"
    assert merged.compliance == ("PCI-DSS",)
    assert similarity("Upgrade openssl", "Refactor cache") == 0.0


def test_postmortem_action_items_get_policy_due_dates_and_severity() -> None:
    pm = Postmortem(
        "INC-1",
        "Outage",
        "checkout",
        "SEV1",
        datetime(2026, 10, 1, tzinfo=UTC),
        None,
        "published",
        (),
        {},
        (
            ActionItem(
                "AI-1", "Add alert on pool saturation", "bo", None, ItemStatus.OPEN, None, "INC-1"
            ),
            ActionItem(
                "AI-2", "Write runbook", None, date(2026, 10, 30), ItemStatus.DONE, "P3", "INC-1"
            ),
        ),
    )
    backlog = consolidate(Sources(postmortems=[pm], action_item_days={"SEV1": 15}), TODAY, SLA)
    ai1 = next(i for i in backlog.items if i.id == "AI-1")
    assert ai1.due_date == date(2026, 10, 16) and ai1.severity is Severity.CRITICAL
    ai2 = next(i for i in backlog.items if i.id == "AI-2")
    assert ai2.severity is Severity.MEDIUM and not ai2.status.is_open


def test_gate_and_halt_lists() -> None:
    items = [
        work("A", "no owner", owner=None),
        work("B", "no due", due_date=None, severity=Severity.CRITICAL),
        work("C", "unrated", severity=None),
        work("D", "fine"),
        work("E", "closed without owner", owner=None, status=ItemStatus.DONE),
    ]
    backlog = consolidate(Sources(tech_debt=items), TODAY, SLA)
    assert {i.id for i in backlog.lacking_owner_or_severity()} == {"A", "C"}
    assert {i.id for i in backlog.critical_incomplete()} == {"A", "B"}


def test_capacity_and_sla_conflicts() -> None:
    items = [
        work(
            f"P{i}",
            f"urgent task {'abcd'[i] * 3}",
            severity=Severity.CRITICAL,
            impact=5,
            likelihood=4,
            due_date=date(2026, 11, 5),
        )
        for i in range(4)
    ]
    late = work("L", "late high item", due_date=date(2027, 3, 1), created=date(2026, 10, 1))
    backlog = consolidate(Sources(tech_debt=[*items, late]), TODAY, SLA)
    kinds = {c.kind: c for c in backlog.conflicts}
    assert set(kinds["capacity"].items) == {"P0", "P1", "P2", "P3"}
    assert kinds["sla"].items == ("L",)


def test_an_item_joins_the_first_similar_group_of_its_own_service() -> None:
    first = work("TD-1", "Rotate the checkout signing keys")
    elsewhere = work("TD-2", "Rotate the checkout signing keys", service="pricing")
    second = work("TD-3", "Rotate checkout signing keys now")
    # Jaccard of {rotate, checkout, signing, keys} and {..., now} is 4/5 = 0.8: a duplicate.
    late = work("TD-4", "Rotate checkout signing keys now", service="pricing")
    unowned = work("TD-5", "Rotate the checkout signing keys", service=None)
    backlog = consolidate(Sources(tech_debt=[first, elsewhere, second, late, unowned]),
                          TODAY, SLA)
    groups = {tuple(sorted((i.id, *i.merged_ids))) for i in backlog.items}
    assert groups == {("TD-1", "TD-3"), ("TD-2", "TD-4"), ("TD-5",)}
    assert backlog.duplicates_folded == 2


def test_grouping_grows_with_the_backlog_not_its_square() -> None:
    # One item per service: each title is compared with its own service's groups only. Were
    # every item compared with every earlier group, this would take 200 million steps.
    items = [work(f"TD-{n}", f"Retire legacy endpoint {n}", service=f"svc-{n}")
             for n in range(20_000)]
    started = time.process_time()
    backlog = consolidate(Sources(tech_debt=items), TODAY, SLA)
    assert time.process_time() - started < 10
    assert len(backlog.items) == 20_000 and backlog.duplicates_folded == 0
