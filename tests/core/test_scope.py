"""Which records a team's or a service's view keeps, and what it says it left out."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from opsledger.core.catalog import configured_services, known_services, open_scoped, teams
from opsledger.core.errors import InputError
from opsledger.core.inputs import Context
from opsledger.core.scope import (
    EVERYTHING,
    LeftOut,
    Scope,
    place,
    resolve_scope,
    services_named,
    team_services,
)
from opsledger.core.workspace import InputKey, Workspace

PAYMENTS = Scope(team="payments", services=frozenset({"checkout", "payments-api"}),
                 known=frozenset({"checkout", "payments-api", "payments", "search"}))
CHECKOUT = Scope(team="payments", service="checkout", services=frozenset({"checkout"}),
                 known=PAYMENTS.known)


@dataclass(frozen=True)
class _Record:
    service: str | None
    team: str | None = None


@dataclass(frozen=True)
class _Owned:
    service: str | None
    owner: str | None


@dataclass(frozen=True)
class _Reported:
    reported_in: tuple[str, ...]


@dataclass(frozen=True)
class _NotAboutServices:
    name: str


def test_the_whole_workspace_covers_everything() -> None:
    assert EVERYTHING.whole and EVERYTHING.label == "all services"
    assert place(EVERYTHING, _Record(None)) is True
    assert EVERYTHING.covers("anything") is True


@pytest.mark.parametrize(
    ("record", "team_view", "service_view"),
    [
        (_Record("checkout"), True, True),
        (_Record("payments-api"), True, False),
        (_Record("search"), False, False),
        (_Record(None, team="payments"), True, None),  # a team's incident: not one service's
        (_Record(None, team="storefront"), False, None),
        (_Record(None), None, None),
        (_Owned(None, owner="payments"), True, None),
        (_Owned(None, owner="ana@example.com"), None, None),
        (_NotAboutServices("junit"), True, True),
    ],
)
def test_a_record_is_placed_by_its_service_then_its_team(
        record: object, team_view: bool | None, service_view: bool | None) -> None:
    assert place(PAYMENTS, record) is team_view
    assert place(CHECKOUT, record) is service_view


def test_a_finding_is_placed_by_the_files_and_images_that_reported_it() -> None:
    assert place(PAYMENTS, _Reported(("security/checkout/trivy.json",))) is True
    assert place(PAYMENTS, _Reported(("grype-search-image.json",))) is False
    assert place(PAYMENTS, _Reported(("pip-audit.json",))) is None
    # a shared image scanned once for two services is in both teams' views
    assert place(PAYMENTS, _Reported(("registry/search:1", "registry/checkout:2"))) is True


def test_service_names_are_matched_as_whole_words_and_the_longest_wins() -> None:
    known = {"payments", "payments-api", "api", "checkout", "web"}
    assert services_named(["trivy-payments-api.json"], known) == ("payments-api",)
    assert services_named(["security/payments/osv.json"], known) == ("payments",)
    assert services_named(["checkouts.json", "webhook.sarif"], known) == ()
    assert services_named(["Registry.io/Checkout:1.4"], known) == ("checkout",)
    assert services_named(["web/package-lock.json", "checkout"], known) == ("checkout", "web")
    # an image's tag or digest is no part of its name
    numbered = {"checkout", "checkout-2"}
    assert services_named(["registry.io/shop/checkout:2.14.0"], numbered) == ("checkout",)
    assert services_named(["checkout@sha256:2abc"], numbered) == ("checkout",)
    assert services_named(["trivy-checkout-2.json"], numbered) == ("checkout-2",)


def test_teams_take_the_configured_owner_before_the_catalog() -> None:
    found = team_services([("checkout", "payments"), ("search", None), ("checkout", "web"),
                           ("search", "storefront"), ("orphan", None)])
    assert found == {"payments": frozenset({"checkout"}), "storefront": frozenset({"search"})}


def test_unknown_names_are_refused_with_the_closest_known_one() -> None:
    groups = {"payments": frozenset({"checkout"}), "storefront": frozenset({"search"})}
    with pytest.raises(InputError, match="unknown team 'payment'; did you mean 'payments'"):
        resolve_scope("payment", None, groups, {"checkout", "search"})
    with pytest.raises(InputError, match="unknown service 'serch'; did you mean 'search'"):
        resolve_scope(None, "serch", groups, {"checkout", "search"})
    with pytest.raises(InputError, match="alternatives"):
        resolve_scope("payments", "checkout", groups, {"checkout", "search"})
    scope = resolve_scope(None, "search", groups, {"checkout", "search", "lonely"})
    assert (scope.team, scope.services, scope.label) == ("storefront", {"search"},
                                                         "service search")
    assert resolve_scope(None, None, groups, {"checkout"}).whole


def test_left_out_counts_add_up() -> None:
    assert LeftOut(2, 3) + LeftOut(1, 0) == LeftOut(3, 3)
    assert (LeftOut(2, 3) + LeftOut(1, 0)).total == 6


def _workspace(root: Path) -> Workspace:
    config = {
        "version": 1,
        "services": [
            {"name": "checkout", "owner": "payments", "tier": 0},
            {"name": "payments-api", "owner": "payments", "tier": 1},
            {"name": "search", "owner": "storefront"},
        ],
    }
    (root / "opsledger.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    handover = root / "handover"
    handover.mkdir()
    rows = [
        ("T-1", "checkout"), ("T-2", "search"), ("T-3", ""), ("T-4", "payments-api"),
        ("T-5", "checkout"), ("T-6", "search"), ("T-7", ""),
    ]
    with (handover / "ticket-history.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "created_at", "resolved_at", "queue", "category", "priority",
                         "title", "handle_minutes", "service", "channel"])
        for number, (ticket, service) in enumerate(rows, start=1):
            writer.writerow([ticket, f"2026-11-0{number}T10:00:00Z", "", "billing", "other",
                             "P3", "a title", "5", service, "email"])
    from opsledger import open_workspace

    return open_workspace(root)


def test_a_team_view_reads_each_input_once_and_counts_what_it_left_out(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    whole = Context.open(workspace)
    assert teams(whole) == {"payments": frozenset({"checkout", "payments-api"}),
                            "storefront": frozenset({"search"})}
    payments = open_scoped(workspace, whole.now, team="payments")
    kept = [t.id for t in payments.inputs.records(InputKey.TICKETS)]
    # by hand: T-1 and T-5 are checkout's, T-4 payments-api's; T-2 and T-6 are search's;
    # T-3 and T-7 name no service
    assert kept == ["T-1", "T-4", "T-5"]
    assert payments.inputs.left_out[InputKey.TICKETS] == LeftOut(other=2, unplaced=2)
    assert [s.name for s in configured_services(payments)] == ["checkout", "payments-api"]
    assert set(known_services(payments)) == {"checkout", "payments-api"}
    assert payments.scope.label == "team payments"
    # a second team's view reads through the same whole inputs, not the file again
    storefront = payments.scoped(resolve_scope("storefront", None, teams(whole),
                                               {"checkout", "search", "payments-api"}))
    assert storefront.inputs.source is payments.inputs.source
    assert [t.id for t in storefront.inputs.records(InputKey.TICKETS)] == ["T-2", "T-6"]
    assert payments.inputs.source is not None
    assert InputKey.TICKETS in payments.inputs.source.cache
    # the whole view is untouched
    assert len(Context.open(workspace).inputs.records(InputKey.TICKETS)) == 7
    assert whole.scoped(EVERYTHING) is not whole and whole.scoped(EVERYTHING).scope.whole


def test_an_unknown_team_is_an_input_error(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    with pytest.raises(InputError, match="did you mean 'storefront'"):
        open_scoped(workspace, team="storefrnt")
