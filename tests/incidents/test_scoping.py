"""Placing incidents and postmortems in a team's or a service's view (pure functions)."""

from __future__ import annotations

import pytest

from opsledger.core.config import Config
from opsledger.core.scope import EVERYTHING, LeftOut, Scope
from opsledger.incidents.escalation import escalation_matrix
from opsledger.incidents.scoping import (
    place_incident,
    split_incidents,
    split_postmortems,
)
from opsledger.model.handover import Postmortem
from opsledger.model.incidents import UNKNOWN_SERVICE
from tests.incidents.fixtures import incident

KNOWN = frozenset({"checkout", "payments-api", "search"})
PAYMENTS = Scope(team="payments", services=frozenset({"checkout", "payments-api"}), known=KNOWN)
CHECKOUT = Scope(team="payments", service="checkout", services=frozenset({"checkout"}),
                 known=KNOWN)


@pytest.mark.parametrize(
    ("service", "team", "team_view", "service_view"),
    [
        ("checkout", None, True, True),
        ("payments-api", "payments", True, False),
        ("search", "payments", False, False),  # a known service decides, whatever the team
        (UNKNOWN_SERVICE, "payments", True, None),  # routed to the team, names no service
        (UNKNOWN_SERVICE, "storefront", False, None),
        (UNKNOWN_SERVICE, None, None, None),
        ("legacy-batch", "payments", True, None),  # a service no catalog lists: its team
        ("legacy-batch", None, None, None),
    ],
)
def test_an_incident_is_placed_by_a_known_service_else_by_its_team(
        service: str, team: str | None, team_view: bool | None,
        service_view: bool | None) -> None:
    record = incident("X", service, "SEV3", "2026-03-01 10:00", team=team)
    assert place_incident(PAYMENTS, record) is team_view
    assert place_incident(CHECKOUT, record) is service_view
    assert place_incident(EVERYTHING, record) is True


def _postmortem(incident_id: str, service: str | None) -> Postmortem:
    return Postmortem(incident_id, "t", service, "SEV2", None, None, "published", (), {}, ())


def test_a_postmortem_goes_with_its_incident_else_with_the_service_it_names() -> None:
    split = split_incidents(PAYMENTS, [
        incident("P", "checkout", "SEV2", "2026-03-01 10:00"),
        incident("S", "search", "SEV2", "2026-03-01 11:00"),
        incident("U", UNKNOWN_SERVICE, "SEV2", "2026-03-01 12:00"),
    ])
    assert [i.id for i in split.kept] == ["P"] and split.left_out == LeftOut(1, 1)
    kept, left = split_postmortems(PAYMENTS, [
        _postmortem("P", "search"),  # its incident is checkout's: the incident wins
        _postmortem("S", None),
        _postmortem("U", "checkout"),  # its incident cannot be placed
        _postmortem("gone-1", "payments-api"),  # no incident on record: its service
        _postmortem("gone-2", "search"),
        _postmortem("gone-3", None),
    ], split)
    assert [p.incident_id for p in kept] == ["P", "gone-1"]
    assert left == LeftOut(other=2, unplaced=2)


def test_files_of_a_view_are_named_after_it() -> None:
    assert EVERYTHING.file_name("escalation-matrix.md") == "escalation-matrix.md"
    assert PAYMENTS.file_name("escalation-matrix.md") == "escalation-matrix.team-payments.md"
    assert CHECKOUT.file_name("alertmanager.yml") == "alertmanager.service-checkout.yml"


def test_the_escalation_matrix_of_a_view_lists_its_services_only() -> None:
    config = Config.model_validate({"services": [
        {"name": "checkout", "owner": "payments", "tier": 0},
        {"name": "search", "owner": "storefront", "tier": 1},
    ]})
    assert [s.service for s in escalation_matrix(config).services] == ["checkout", "search"]
    assert [s.service for s in escalation_matrix(config, scope=PAYMENTS).services] == [
        "checkout"]
