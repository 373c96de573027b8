"""Where approvers stand on one version: approved, awaited, refused, lapsed, unanswered."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsledger.approvals.decisions import Decision, approval_ledger, record_approval
from opsledger.approvals.people import acting_stakeholder, check_justification
from opsledger.approvals.review import review_approvals
from opsledger.core.config import Config, JustificationPolicy, Role
from opsledger.core.errors import InputError

NOW = datetime(2026, 11, 1, tzinfo=UTC)
OPS, SUPPORT, SECURITY = Role.OPERATIONS_DIRECTOR, Role.SUPPORT_LEAD, Role.SECURITY_LEAD
CONFIG = Config.model_validate({"stakeholders": [
    {"name": "Olu Ops", "email": "olu@example.com", "role": "operations-director"},
    {"name": "Sue Support", "email": "sue@example.com", "role": "support-lead"},
    {"name": "Sam Sec", "email": "sam@example.com", "role": "security-lead"},
    {"name": "Sam Sec", "email": "sam@example.com", "role": "sre-manager"},
]})


def decide(folder: Path, role: Role, decision: Decision, digest: str, why: str = "") -> None:
    record_approval(approval_ledger(folder), CONFIG, "p18", "3.2-approvals", role, decision,
                    why, digest, NOW)


def test_each_role_stands_where_its_decisions_put_it(tmp_path: Path) -> None:
    decide(tmp_path, OPS, Decision.APPROVED, "v1")
    decide(tmp_path, SUPPORT, Decision.APPROVED, "v1")
    decide(tmp_path, SECURITY, Decision.REJECTED, "v1", "patch first")
    decide(tmp_path, SUPPORT, Decision.APPROVED, "v2")
    review = review_approvals(approval_ledger(tmp_path), "p18", "3.2-approvals",
                              (OPS, SUPPORT, SECURITY), "v2")
    # On v2 only support decided: ops' approval of v1 lapsed; security's rejection of v1
    # stays unanswered until security approves a later version.
    assert [r.stakeholder for r in review.approved_by] == ["Sue Support"]
    assert review.awaited == [OPS, SECURITY]
    assert [(r.stakeholder, r.digest) for r in review.lapsed] == [("Olu Ops", "v1")]
    assert [(r.stakeholder, r.conditions) for r in review.unanswered] == [
        ("Sam Sec", "patch first")]
    assert review.count() == "1 of 3 approved" and not review.approved
    assert review.disagreement
    decide(tmp_path, SECURITY, Decision.APPROVED, "v2")
    review = review_approvals(approval_ledger(tmp_path), "p18", "3.2-approvals",
                              (OPS, SUPPORT, SECURITY), "v2")
    assert review.unanswered == [] and review.awaited == [OPS]


def test_a_rejection_of_the_current_version_is_refused_not_awaited(tmp_path: Path) -> None:
    decide(tmp_path, OPS, Decision.APPROVED, "v1")
    decide(tmp_path, SECURITY, Decision.DEFERRED, "v1", "after the audit")
    review = review_approvals(approval_ledger(tmp_path), "p18", "3.2-approvals",
                              (OPS, SECURITY), "v1")
    assert [(r.role, r.decision) for r in review.refused] == [(SECURITY, Decision.DEFERRED)]
    assert review.awaited == [] and review.lapsed == [] and review.unanswered == []


def test_rejecting_without_conditions_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="needs --conditions"):
        decide(tmp_path, SECURITY, Decision.REJECTED, "v1")
    assert not (tmp_path / "approval-log.csv").exists()


def test_the_acting_person_is_found_by_email_and_role() -> None:
    assert acting_stakeholder(CONFIG, None, "OLU@example.com").role is OPS
    assert acting_stakeholder(CONFIG, SECURITY, "sam@example.com").role is SECURITY
    with pytest.raises(InputError, match="several roles"):
        acting_stakeholder(CONFIG, None, "sam@example.com")
    # Among the roles allowed, Sam holds one: that one is meant.
    assert acting_stakeholder(CONFIG, None, "sam@example.com", (SECURITY,)).role is SECURITY
    with pytest.raises(InputError, match="may not waive"):
        acting_stakeholder(CONFIG, SUPPORT, None, (OPS,), "waive g1")
    with pytest.raises(InputError, match="no stakeholder with email"):
        acting_stakeholder(CONFIG, None, "nobody@example.com")
    with pytest.raises(InputError, match="--by EMAIL"):
        acting_stakeholder(CONFIG, None, None)


@pytest.mark.parametrize(("text", "ok"), [
    ("x", False),
    ("vendor late", False),  # 2 words, 11 characters
    ("alerts ship next sprint", True),  # 4 words, 23 characters
    ("supercalifragilisticexpialidocious", False),  # 1 word, 34 characters
])
def test_a_justification_must_say_enough(text: str, ok: bool) -> None:
    policy = JustificationPolicy()
    if ok:
        assert check_justification(f"  {text} ", policy, "the reason") == text
    else:
        with pytest.raises(InputError, match="at least 3 words and 20 characters"):
            check_justification(text, policy, "the reason")
