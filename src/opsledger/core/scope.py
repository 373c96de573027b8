"""Which part of a workspace a run looks at: every service, one team's services, or one service.

A team's services are those ``opsledger.yaml`` gives it as ``owner``, else those its catalogs
(the service catalog, Backstage) list under the team. A record is in a scope when the service
it is about is one of the scope's services; a record that names no service but names a team
(an incident routed to a team, a work item owned by one) is in the scope of that team. A
record that names neither cannot be placed: a scoped run leaves it out and counts it, so the
report says what it did not look at (:class:`LeftOut`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opsledger.core.errors import InputError
from opsledger.core.problems import closest

R = TypeVar("R")


@dataclass(frozen=True)
class Scope:
    """The services a run looks at; ``services is None`` means every service."""

    team: str | None = None
    service: str | None = None
    services: frozenset[str] | None = None
    # Every service the workspace knows, for placing records by the names they mention.
    known: frozenset[str] = field(default=frozenset(), compare=False)

    @property
    def whole(self) -> bool:
        return self.services is None

    @property
    def label(self) -> str:
        if self.service:
            return f"service {self.service}"
        if self.team:
            return f"team {self.team}"
        return "all services"

    @property
    def slug(self) -> str:
        """Return a name fit for a folder: the team's or the service's name."""
        name = self.service or self.team or "all"
        return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "unnamed"

    def file_name(self, name: str) -> str:
        """Return the name of a file written for this view: ``name`` for every service, else
        ``name`` with the view before its suffix (``escalation-matrix.team-payments.md``), so
        a team's or a service's file never replaces the whole workspace's."""
        if self.whole:
            return name
        stem, dot, suffix = name.rpartition(".")
        view = f"{'service' if self.service else 'team'}-{self.slug}"
        return f"{stem}.{view}.{suffix}" if dot else f"{name}.{view}"

    def known_service(self, service: str | None) -> str | None:
        """Return ``service`` when it can place a record: the workspace lists it (or the
        scope does not know the workspace's services); else None, so that the record's team
        decides (an export's "unknown service" marker, a retired service's charges)."""
        if not service:
            return None
        if not self.known or service in self.known or service in (self.services or ()):
            return service
        return None

    def covers(self, service: str | None, team: str | None = None) -> bool | None:
        """Return whether a record about ``service`` (owned by ``team``) is in the scope:
        True, False (another service's or team's), or None when it names neither. A service
        the workspace does not list places nothing: the team decides."""
        if self.services is None:
            return True
        service = self.known_service(service)
        if service:
            return service in self.services
        if team and not self.service:
            return team == self.team
        return None  # names no service, or only a team where the scope is one service

    def covers_any(self, services: Iterable[str]) -> bool | None:
        """Return whether a record about several services (a finding in a shared image, a
        journey across services) touches the scope; None when it names none."""
        names = [s for s in services if s]
        if self.services is None:
            return True
        if not names:
            return None
        return any(name in self.services for name in names)

    def to_json(self) -> dict[str, Any]:
        return {
            "team": self.team,
            "service": self.service,
            "services": sorted(self.services) if self.services is not None else None,
        }


EVERYTHING = Scope()

_TOKEN = re.compile(r"[^a-z0-9]+")


def services_named(texts: Iterable[str], known: Iterable[str]) -> tuple[str, ...]:
    """Return the known services that ``texts`` (scan file paths, image names, manifests)
    name as whole words: ``security/checkout/trivy.json`` and ``grype-checkout-image.json``
    name ``checkout``. Where one name is part of another that is also named
    (``payments`` in ``payments-api``), only the longer counts."""
    words = [_TOKEN.sub(" ", _without_tag(text).casefold()).split() for text in texts]
    found: set[str] = set()
    for name in known:
        needle = _TOKEN.sub(" ", name.casefold()).split()
        if not needle:
            continue
        size = len(needle)
        if any(w[i:i + size] == needle for w in words for i in range(len(w) - size + 1)):
            found.add(name)
    return tuple(sorted(n for n in found
                        if not any(n != m and _contains(m, n) for m in found)))


def _without_tag(text: str) -> str:
    """Return ``text`` without an image's digest (``@sha256:…``) or tag (``:2.14.0`` after
    the last ``/``), whose numbers are no part of a name: ``checkout:2.1`` is not
    ``checkout-2``."""
    text = text.split("@", 1)[0]
    name, colon, tag = text.rpartition(":")
    return name if colon and "/" not in tag and name and not name.endswith(("/", "\\")) else text


def _contains(longer: str, shorter: str) -> bool:
    outer = _TOKEN.sub(" ", longer.casefold()).split()
    inner = _TOKEN.sub(" ", shorter.casefold()).split()
    return len(outer) > len(inner) and any(
        outer[i:i + len(inner)] == inner for i in range(len(outer) - len(inner) + 1))


def place(scope: Scope, record: object) -> bool | None:
    """Return whether ``record`` is in ``scope`` (True), another's (False), or cannot be
    placed (None). A record of a kind that is not about services (a test run, a gate) is
    in every scope.

    The service comes from the record's ``service`` (a catalog entry's ``name``), or from
    the files and artifacts it was reported in (``reported_in``); the team from ``team``,
    else ``owner`` when the owner is the scope's team.
    """
    if scope.whole:
        return True
    reported_in = getattr(record, "reported_in", None)
    if isinstance(reported_in, tuple):
        return scope.covers_any(services_named(reported_in, scope.known))
    if hasattr(record, "service"):
        service = record.service
    elif hasattr(record, "team") and hasattr(record, "name"):  # a catalog entry
        service = record.name
    else:
        return True
    team = getattr(record, "team", None)
    if not team and getattr(record, "owner", None) == scope.team:
        team = scope.team
    return scope.covers(service if isinstance(service, str) else None,
                        team if isinstance(team, str) else None)


@dataclass(frozen=True)
class LeftOut:
    """What a scoped run did not look at in one input: records of other services or teams,
    and records that name no service or team."""

    other: int = 0
    unplaced: int = 0

    def __add__(self, other: LeftOut) -> LeftOut:
        return LeftOut(self.other + other.other, self.unplaced + other.unplaced)

    @property
    def total(self) -> int:
        return self.other + self.unplaced


def team_services(owners: Iterable[tuple[str, str | None]]) -> dict[str, frozenset[str]]:
    """Return each team's services from (service, team) pairs; the first pair naming a
    service decides its team (pass the configuration's owners before the catalogs')."""
    team_of: dict[str, str | None] = {}
    for service, team in owners:
        if service and (service not in team_of or team_of[service] is None):
            team_of[service] = team or team_of.get(service)
    teams: dict[str, set[str]] = {}
    for service, team in team_of.items():
        if team:
            teams.setdefault(team, set()).add(service)
    return {team: frozenset(names) for team, names in sorted(teams.items())}


def resolve_scope(team: str | None, service: str | None,
                  teams: Mapping[str, frozenset[str]], known: Iterable[str]) -> Scope:
    """Return the scope of ``--team`` or ``--service`` (neither: every service).

    An unknown name raises :class:`InputError` (exit 2) naming the known ones, with the
    closest as a "did you mean".
    """
    names = frozenset(known) | frozenset(s for group in teams.values() for s in group)
    if team and service:
        raise InputError("--team and --service are alternatives: give one of them")
    if team is not None:
        if team not in teams:
            raise InputError(_unknown("team", team, teams))
        return Scope(team=team, services=teams[team], known=names)
    if service is not None:
        if service not in names:
            raise InputError(_unknown("service", service, names))
        owner = next((t for t, group in teams.items() if service in group), None)
        return Scope(team=owner, service=service, services=frozenset({service}), known=names)
    return Scope(known=names)


def _unknown(kind: str, name: str, known: Iterable[str]) -> str:
    names = sorted(known)
    if not names:
        return (f"unknown {kind} {name!r}: the workspace names no {kind}s (owners come from "
                "'services' in opsledger.yaml and from the service catalogs)")
    guess = closest(name, names)
    hint = f"; did you mean {guess!r}?" if guess else ""
    listed = ", ".join(names[:20]) + (f" and {len(names) - 20} more" if len(names) > 20 else "")
    return f"unknown {kind} {name!r}{hint} (known {kind}s: {listed})"


def split(scope: Scope, records: Iterable[R]) -> tuple[list[R], LeftOut]:
    """Return the records in ``scope`` (by :func:`place`), and how many were another's or
    could not be placed."""
    kept: list[R] = []
    other = unplaced = 0
    for record in records:
        where = place(scope, record)
        if where:
            kept.append(record)
        elif where is None:
            unplaced += 1
        else:
            other += 1
    return kept, LeftOut(other, unplaced)
