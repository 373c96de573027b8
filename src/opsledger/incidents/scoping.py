"""Which incidents and postmortems a team's or a service's view holds, and which it leaves out.

Incidents are placed after the incident policy has named their service (an alert that
``incidents.service_mapping`` gives to ``checkout`` is checkout's) and after duplicates
across exports were folded (one incident is counted once, in one view). The service an
incident names places it when the workspace knows that service; ``(unknown service)`` or a
name that no configuration or catalog lists does not, and the team the export names places
it instead, so an alert routed to the payments team with no service is in the payments view.
An incident naming neither a known service nor a team cannot be placed.

A postmortem, and the action items in it, goes with its incident; a postmortem whose
incident is not on record goes with the service it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from opsledger.core.scope import LeftOut, Scope
from opsledger.incidents.kpis import Period
from opsledger.model.handover import Postmortem
from opsledger.model.incidents import UNKNOWN_SERVICE, Incident


def place_incident(scope: Scope, incident: Incident) -> bool | None:
    """Return whether the incident is in the view (True), another's (False), or cannot be
    placed (None)."""
    return scope.covers(None if incident.service == UNKNOWN_SERVICE else incident.service,
                        incident.team)


@dataclass(frozen=True)
class IncidentSplit:
    """The incidents on record, split by one view: those in it and those left out."""

    kept: tuple[Incident, ...]
    other: tuple[Incident, ...]  # of other services or teams
    unplaced: tuple[Incident, ...]  # naming no known service and no team

    @property
    def left_out(self) -> LeftOut:
        return LeftOut(len(self.other), len(self.unplaced))


def split_incidents(scope: Scope, incidents: Iterable[Incident]) -> IncidentSplit:
    """Return the incidents in ``scope`` and those it leaves out, each in record order."""
    kept: list[Incident] = []
    other: list[Incident] = []
    unplaced: list[Incident] = []
    for incident in incidents:
        where = place_incident(scope, incident)
        (kept if where else unplaced if where is None else other).append(incident)
    return IncidentSplit(tuple(kept), tuple(other), tuple(unplaced))


def left_out_in(incidents: Sequence[Incident], period: Period) -> int:
    """Return how many of ``incidents`` were created in ``period``."""
    return sum(1 for incident in incidents if period.contains(incident.created_at))


def split_postmortems(
    scope: Scope, postmortems: Iterable[Postmortem], incidents: IncidentSplit
) -> tuple[list[Postmortem], LeftOut]:
    """Return the postmortems in ``scope`` (those of its incidents) and what was left out."""
    kept_ids = {i.id for i in incidents.kept}
    other_ids = {i.id for i in incidents.other}
    unplaced_ids = {i.id for i in incidents.unplaced}
    kept: list[Postmortem] = []
    other = unplaced = 0
    for postmortem in postmortems:
        key = postmortem.incident_id
        if key in kept_ids:
            where: bool | None = True
        elif key in other_ids:
            where = False
        elif key in unplaced_ids:
            where = None
        else:  # its incident is not on record: the service it names decides
            where = scope.covers(postmortem.service)
        if where:
            kept.append(postmortem)
        elif where is None:
            unplaced += 1
        else:
            other += 1
    return kept, LeftOut(other, unplaced)
