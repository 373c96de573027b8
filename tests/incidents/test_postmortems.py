"""Postmortem requirement, timeliness, action items and the p09 gate, checked by hand."""

from __future__ import annotations

from datetime import date

import pytest

from opsledger.core.config import PostmortemPolicy
from opsledger.core.incident_policy import IncidentPolicy
from opsledger.incidents.postmortems import (
    PostmortemReview,
    add_business_days,
    requirement_reasons,
    review_deadline,
    review_postmortems,
)
from opsledger.model.common import ItemStatus
from opsledger.model.handover import ActionItem, Postmortem

from .fixtures import ALL, NOW, PERIOD, A, B, C, D, E


def item(
    identifier: str,
    incident: str,
    status: ItemStatus,
    due: date | None = None,
    priority: str = "P2",
    owner: str = "ann",
) -> ActionItem:
    return ActionItem(identifier, f"fix {identifier}", owner, due, status, priority, incident)


def postmortem(
    incident: str, review: date | None, items: tuple[ActionItem, ...], path: str = ""
) -> Postmortem:
    return Postmortem(
        incident,
        f"postmortem {incident}",
        None,
        None,
        None,
        review,
        "published",
        ("ann",),
        {},
        items,
        path or f"/pm/{incident}.md",
    )


POSTMORTEMS = [
    postmortem(
        "A",
        date(2026, 2, 5),
        (
            item("A1", "A", ItemStatus.DONE, date(2026, 2, 10)),
            item("A2", "A", ItemStatus.OPEN, date(2026, 2, 20), priority="P0"),
            item("A3", "A", ItemStatus.IN_PROGRESS, None, owner="bob"),
        ),
    ),
    postmortem("B", date(2026, 2, 10), (item("B1", "B", ItemStatus.DONE, priority="P1"),)),
    postmortem(
        "C",
        date(2026, 3, 12),
        (
            item("C1", "C", ItemStatus.WONT_DO),
            item("C2", "C", ItemStatus.OPEN, date(2026, 4, 15)),
        ),
    ),
    # An unfinished generated draft for E: not a postmortem yet.
    postmortem("E", None, (), path="/pm/drafts/E.md"),
]
BUDGETS = {"A": 0.5, "B": 0.25, "C": 0.05}


@pytest.fixture(scope="module")
def review() -> PostmortemReview:
    return review_postmortems(ALL, POSTMORTEMS, PERIOD, NOW, budget_fractions=BUDGETS)


def test_business_days_skip_weekends() -> None:
    # Thursday + 5 working days: Fri, Mon, Tue, Wed, Thu.
    assert add_business_days(date(2026, 3, 5), 5) == date(2026, 3, 12)
    # Saturday + 5: Mon..Fri of the next week.
    assert add_business_days(date(2026, 2, 7), 5) == date(2026, 2, 13)
    assert add_business_days(date(2026, 2, 7), 0) == date(2026, 2, 7)


def test_which_incidents_require_a_postmortem() -> None:
    policy, incidents = PostmortemPolicy(), IncidentPolicy()
    assert requirement_reasons(A, policy, None, incidents) == ("severity SEV1",)
    # B is SEV3 but consumed 25% of a budget (over 20%).
    assert requirement_reasons(B, policy, 0.25, incidents) == (
        "consumed 25.0% of an error budget (over 20%)",
    )
    assert requirement_reasons(B, policy, 0.2, incidents) == ()
    assert requirement_reasons(D, policy, None, incidents) == ("data loss",)
    # Intervention counts only when the policy asks for it.
    assert "on-call intervention" in requirement_reasons(
        B, policy, None, IncidentPolicy(postmortem_on_intervention=True)
    )


def test_review_deadlines() -> None:
    policy = PostmortemPolicy()
    # SEV1 A resolved Mon 2026-02-02: + 3 calendar days.
    assert review_deadline(A, policy) == date(2026, 2, 5)
    # SEV2 C resolved Tue 2026-03-03: + 5 business days = Tue 2026-03-10.
    assert review_deadline(C, policy) == date(2026, 3, 10)
    # SEV2 E is unresolved: from its creation, Fri 2026-03-20 -> Fri 2026-03-27.
    assert review_deadline(E, policy) == date(2026, 3, 27)


def test_required_present_missing_late(review: PostmortemReview) -> None:
    states = {c.incident.id: c.state for c in review.checks}
    # A on time (reviewed 02-05, due 02-05); B on time (02-10, due Fri 02-13);
    # C late (03-12, due 03-10); D (data loss) and E missing.
    assert states == {"A": "on_time", "B": "on_time", "C": "late", "D": "missing", "E": "missing"}
    data = review.to_json()
    assert (data["required"], data["present"]) == (5, 3)
    assert data["missing"] == ["D", "E"]
    assert data["late"] == ["C"]
    assert next(c for c in review.checks if c.incident.id == "E").draft_started


def test_pending_until_the_deadline_passes() -> None:
    early = review_postmortems(
        [C], [postmortem("C", None, ())], PERIOD, NOW.replace(month=3, day=9)
    )
    assert early.checks[0].state == "pending"
    late = review_postmortems(
        [C], [postmortem("C", None, ())], PERIOD, NOW.replace(month=3, day=11)
    )
    assert late.checks[0].state == "late"
    # A review scheduled on 03-10 (the deadline) is pending on 03-09; one on 03-11 is late.
    on_time = review_postmortems([C], [postmortem("C", date(2026, 3, 10), ())], PERIOD,
                                 NOW.replace(month=3, day=9))
    assert on_time.checks[0].state == "pending"
    too_late = review_postmortems([C], [postmortem("C", date(2026, 3, 11), ())], PERIOD,
                                  NOW.replace(month=3, day=9))
    assert too_late.checks[0].state == "late"


def test_action_items(review: PostmortemReview) -> None:
    items = review.action_items
    # A3 has no due date: A (SEV1) was created 2026-02-02, + 15 days = 2026-02-17.
    a3 = next(t for t in items.items if t.item.id == "A3")
    assert a3.due == date(2026, 2, 17) and a3.due_defaulted
    # Open past due on 2026-04-01: A3 (02-17) then A2 (02-20); C2 is due 04-15.
    assert [t.item.id for t in items.overdue] == ["A3", "A2"]
    # Closed: A1 done, B1 done, C1 won't do -> 3 of 6.
    assert items.closure_rate == pytest.approx(3 / 6)
    # Open ages: A2, A3 from 2026-02-02 = 58 days; C2 from 2026-03-03 = 29 days.
    assert items.median_open_age_days == pytest.approx(58.0)
    assert list(items.overdue_by_owner()) == ["ann", "bob"]


def test_sev2_default_due_is_thirty_days() -> None:
    pm = postmortem("C", None, (item("X", "C", ItemStatus.OPEN),))
    tracked = review_postmortems([C], [pm], PERIOD, NOW).action_items.items[0]
    # C created 2026-03-03 + 30 days.
    assert tracked.due == date(2026, 4, 2)
    assert not tracked.overdue


def test_gate_lists_each_breach_and_why(review: PostmortemReview) -> None:
    gate = review.gate
    assert not gate.passed
    assert gate.checked == 5
    reasons = [(b.incident, b.reason) for b in gate.breaches]
    assert reasons == [
        # B consumed 25% and its postmortem has only a P1 item.
        ("B", "no P0 action item"),
        ("C", "postmortem late"),
        ("D", "postmortem missing"),
        ("E", "unresolved"),
        ("E", "postmortem missing"),
    ]
    assert "only an unfinished draft exists" in gate.breaches[-1].detail
    assert "reviewed 2026-03-12, due by 2026-03-10" in gate.breaches[1].detail


def test_gate_passes_when_everything_is_followed_up() -> None:
    result = review_postmortems([A], POSTMORTEMS[:1], PERIOD, NOW, budget_fractions={"A": 0.5})
    # A consumed 50% and its postmortem has the P0 item A2, reviewed on time.
    assert result.gate.passed
    assert result.gate.to_json()["status"] == "pass"
