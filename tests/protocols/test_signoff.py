"""Halts say which approvals lapsed and what changed since, keep rejections and their
conditions in view until answered, and list each disagreement with what settles it."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from opsledger.approvals.decisions import Decision
from opsledger.core.config import Role
from opsledger.protocols.model import HaltKind
from opsledger.protocols.runner import run_procedure
from tests.protocols.toy import NOW, PROCEDURE, TICKETS, ctx_of, decide, toy_workspace

OPS, SUPPORT = Role.OPERATIONS_DIRECTOR, Role.SUPPORT_LEAD


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = toy_workspace(tmp_path)
    run_procedure(PROCEDURE, ctx_of(root))
    return root


def change_owner_of_t2(root: Path) -> None:
    (root / "handover/ticket-history.csv").write_text(TICKETS.replace("T-2,access,Ben",
                                                                      "T-2,access,Cleo"))


def test_lapsed_approvals_are_named_with_what_changed(ws: Path) -> None:
    decide(ws, OPS, Decision.APPROVED)
    decide(ws, SUPPORT, Decision.APPROVED)
    assert run_procedure(PROCEDURE, ctx_of(ws)).complete
    change_owner_of_t2(ws)
    outcome = run_procedure(PROCEDURE, ctx_of(ws, NOW + timedelta(days=3)))
    halt = outcome.halts[0]
    assert halt.kind is HaltKind.APPROVAL_AWAITED
    assert "2 earlier approval(s) lapsed" in halt.reason
    assert "lapsed: Olu Ops (operations-director) approved it on 2026-11-01; it has changed " \
           "since" in halt.details
    assert "lapsed: Sue Support (support-lead) approved it on 2026-11-01; it has changed " \
           "since" in halt.details
    # Only the owner of T-2 changed; the new "Generated" stamp is not a change.
    changes = halt.details[halt.details.index("changed since then:") + 1:]
    assert changes[0] == "  Queues, T-2: Owner Ben → Cleo"
    assert not changes[1].startswith("  ")  # one change, then the commands
    # The copy of the approved version sits in the evidence folder, keyed by its digest.
    assert len(list((ws / ".artifacts/toy/approved-versions").glob("*/plan.md"))) == 1


def test_a_rejection_stays_in_view_until_that_role_approves_a_later_version(ws: Path) -> None:
    decide(ws, OPS, Decision.APPROVED)
    decide(ws, SUPPORT, Decision.REJECTED, "give T-2 to someone on the access team")
    outcome = run_procedure(PROCEDURE, ctx_of(ws))
    refused = outcome.halts[0]
    assert refused.kind is HaltKind.APPROVAL_REFUSED
    assert refused.reason == "Sue Support (support-lead) rejected plan.md on 2026-11-01"
    assert refused.details[0] == "conditions: give T-2 to someone on the access team"
    # The plan is revised to answer it: the rejection (and its conditions) is still shown,
    # with what changed since, until support approves the new version.
    change_owner_of_t2(ws)
    outcome = run_procedure(PROCEDURE, ctx_of(ws))
    awaited = outcome.halts[0]
    assert awaited.kind is HaltKind.APPROVAL_AWAITED
    assert awaited.details[0] == (
        "unanswered: Sue Support (support-lead) rejected an earlier version on 2026-11-01; "
        "conditions: give T-2 to someone on the access team; it stands until support-lead "
        "approves a later version")
    assert "  Queues, T-2: Owner Ben → Cleo" in awaited.details
    decide(ws, SUPPORT, Decision.APPROVED)
    outcome = run_procedure(PROCEDURE, ctx_of(ws))
    assert not any("unanswered" in d for h in outcome.halts for d in h.details)
    assert outcome.halts[0].reason.startswith("awaiting approval of plan.md from: "
                                              "operations-director (1 earlier approval")


def test_each_disagreement_is_listed_with_what_settles_it(ws: Path) -> None:
    decide(ws, OPS, Decision.APPROVED)
    decide(ws, SUPPORT, Decision.DEFERRED, "wait for the new rota")
    outcome = run_procedure(PROCEDURE, ctx_of(ws))
    assert [h.kind for h in outcome.halts] == [HaltKind.APPROVAL_REFUSED]
    details = outcome.halts[0].details
    assert "disagreement: approved by Olu Ops (operations-director); Sue Support " \
           "(support-lead) deferred" in details
    assert ("decided by support-lead: revise plan.md to meet the conditions, run again, then "
            "support-lead approves the revised version") in details
    assert outcome.exit_code == 1 and not outcome.waits_for_approval


def test_an_approval_by_a_role_the_step_does_not_ask_is_refused(ws: Path) -> None:
    from opsledger.core.errors import InputError

    with pytest.raises(InputError, match="may not decide on step 'plan'"):
        decide(ws, Role.SECURITY_LEAD, Decision.APPROVED)
