"""A team's or a service's view keeps the probes of its services, counted by column as
:func:`opsledger.core.scope.split` counts records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from opsledger.core.inputs import ScopesItself
from opsledger.core.problems import ReadResult
from opsledger.core.scope import EVERYTHING, LeftOut, Scope, split
from opsledger.model.health import ProbeHistory, ProbeResult
from opsledger.readers.health import HealthReadResult, probe_history

T0 = datetime(2026, 10, 1, tzinfo=UTC)
KNOWN = frozenset({"checkout", "payments", "search", "auth"})


def probes() -> list[ProbeResult]:
    services = ["checkout", "search", "retired", "payments", "checkout", "auth", "retired"]
    return [ProbeResult(T0 + timedelta(minutes=i), name, "http", i % 2 == 0, float(i))
            for i, name in enumerate(services * 3)]


SCOPES = {
    "a team": Scope(team="payments", services=frozenset({"checkout", "payments"}), known=KNOWN),
    "a service": Scope(team="payments", service="search", services=frozenset({"search"}),
                       known=KNOWN),
    "a team, every service known": Scope(team="core", services=frozenset({"auth", "retired"})),
    "a team with no probes": Scope(team="none", services=frozenset({"billing"}), known=KNOWN),
    "every service": EVERYTHING,
}


@pytest.mark.parametrize("scope", SCOPES.values(), ids=SCOPES.keys())
def test_the_probes_kept_and_left_out_are_those_split_gives(scope: Scope) -> None:
    records = probes()
    result = HealthReadResult(Path("health"), history=ProbeHistory.from_records(records))
    scoped, left_out = result.in_scope(scope)
    kept, expected = split(scope, records)
    assert list(scoped.history) == kept
    assert left_out == expected and scoped.record_count == len(kept)
    assert scoped.records == [] and result.record_count == len(records)  # the whole unchanged


def test_a_retired_service_the_workspace_does_not_list_is_unplaced() -> None:
    result = HealthReadResult(Path("health"), history=ProbeHistory.from_records(probes()))
    _, left_out = result.in_scope(SCOPES["a team"])
    assert left_out == LeftOut(other=6, unplaced=6)  # search and auth; retired


def test_a_scoped_run_leaves_the_scoping_to_the_health_result() -> None:
    assert isinstance(HealthReadResult(Path("health")), ScopesItself)
    assert not isinstance(ReadResult(Path("other")), ScopesItself)


def test_an_empty_history_scopes_to_an_empty_history() -> None:
    scoped, left_out = HealthReadResult(Path("health")).in_scope(SCOPES["a team"])
    assert scoped.record_count == 0 and left_out == LeftOut()


def test_the_history_of_any_result() -> None:
    records = probes()
    history = ProbeHistory.from_records(records)
    assert probe_history(HealthReadResult(Path("h"), history=history)) is history
    assert list(probe_history(ReadResult(Path("h"), list(records)))) == records
    assert len(probe_history(ReadResult(Path("h")))) == 0
