"""The names ``opsledger.yaml`` uses, checked against the names the workspace declares.

``cost_targets: {web-apii: ...}`` is a valid target for a service that does not exist: it
applies to nothing, and nothing says so. Once the configuration and the service catalogs
are read, every service, team, on-call rotation, owner and gate the configuration *uses*
(as a key or as a value) is looked up among those the workspace *declares*:

- services: ``services[].name`` in ``opsledger.yaml``, and every entry of the service
  catalog and the Backstage catalog;
- teams: ``services[].owner``, and the catalogs' teams;
- on-call rotations: ``services[].oncall``, the catalogs' on-call, and the rotation assumed
  for a service that names none (``<team>-oncall``, else ``<service>-oncall``), as the
  escalation matrix assumes it; plus ``unrouted``, the receiver of alerts no route takes;
- owners of KPI reviews: a role, or a stakeholder's name or email;
- gates: the procedures' gates (the gates a waiver can be granted for).

Roles written where only a role fits (``stakeholders[].role``, ``approvals``) are checked
by the schema itself (``RoleName`` in :mod:`opsledger.core.config`).

An unknown name is a problem located at its line, with the closest declared name as a
suggestion. It is a *row* problem: listed by ``opsledger validate`` and the review's
inventory (which then warns), and a failure under ``--strict``. When nothing of a kind is
declared, or a catalog could not be read, names of that kind cannot be checked: one warning
says so instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from opsledger.core.config import DEFAULT_BUDGET, Config, Role
from opsledger.core.errors import ConfigError
from opsledger.core.problems import Level, Problem, ReadResult, closest, shown
from opsledger.core.workspace import InputKey
from opsledger.core.yamlfile import Key, LineMap, load_yaml
from opsledger.model.handover import CatalogService

# The catalogs services are declared in, the service catalog file first.
CATALOG_INPUTS: tuple[InputKey, ...] = (InputKey.SERVICE_CATALOG, InputKey.BACKSTAGE)

# The rotation whose receiver takes alerts no service route matches.
UNROUTED_ROTATION = "unrouted"

# The procedures' gates, as ``opsledger.protocols`` defines them (the kernel cannot import
# the procedures; a test holds the two lists equal).
PROCEDURE_GATES: tuple[str, ...] = (
    "p18-backlog-integrity",
    "p18-stakeholder-approval",
    "p18-governance-cadence",
    "p09-slos-met",
    "p09-incidents-postmortems",
    "p09-charter-approved",
)

# Up to this many declared names are listed when none is close.
LISTED_NAMES = 8


class NameKind(StrEnum):
    SERVICE = "service"
    TEAM = "team"
    ROTATION = "on-call rotation"
    OWNER = "owner"
    GATE = "gate"


# Where the names of each kind are declared, as a problem's "expected" says it.
DECLARED_IN: dict[NameKind, str] = {
    NameKind.SERVICE: "a service listed under 'services' or in the service catalog",
    NameKind.TEAM: "a team owning a service ('owner' under 'services', or a catalog team)",
    NameKind.ROTATION: "an on-call rotation of a service ('oncall' under 'services' or in "
    "the service catalog, else '<team>-oncall')",
    NameKind.OWNER: "a role or the name or email of one of the stakeholders",
    NameKind.GATE: "a gate of a procedure (" + ", ".join(PROCEDURE_GATES) + ")",
}

# The kinds whose names the catalogs declare (not checked when a catalog is unreadable).
FROM_CATALOGS = (NameKind.SERVICE, NameKind.TEAM, NameKind.ROTATION)


@dataclass(frozen=True)
class NameUse:
    """One place in ``opsledger.yaml`` that names a service, team, rotation, owner or gate."""

    loc: tuple[Key, ...]  # the key path, as pydantic and the line map spell it
    kind: NameKind
    name: str


@dataclass(frozen=True)
class KnownNames:
    """The names a workspace declares, by kind; a kind in ``unchecked`` cannot be checked."""

    names: Mapping[NameKind, frozenset[str]]
    unchecked: Mapping[NameKind, str]  # kind -> why its names cannot be checked


def merge_catalogs(listings: Iterable[Iterable[object]]) -> list[CatalogService]:
    """Return the catalog entries of every listing, the first listing's first; a later
    listing adds only the names no earlier one has."""
    entries: list[CatalogService] = []
    for listing in listings:
        seen = {entry.name for entry in entries}
        entries.extend(record for record in listing
                       if isinstance(record, CatalogService) and record.name not in seen)
    return entries


def name_uses(config: Config) -> list[NameUse]:
    """Return every place the configuration names a service, team, rotation, owner or gate."""
    uses = [NameUse(("slo_budgets", name), NameKind.SERVICE, name)
            for name in config.slo_budgets if name != DEFAULT_BUDGET]
    uses += [NameUse(("cost_targets", name), NameKind.SERVICE, name)
             for name in config.cost_targets]
    for w, window in enumerate(config.change_windows):
        uses += [NameUse(("change_windows", w, "services", s), NameKind.SERVICE, name)
                 for s, name in enumerate(window.services)]
    for field, kind in (("service", NameKind.SERVICE), ("team", NameKind.TEAM)):
        for r, rule in enumerate(getattr(config.cost_mapping, field)):
            uses += [NameUse(("cost_mapping", field, r, "lookup", value), kind, name)
                     for value, name in rule.lookup.items()]
    uses += [NameUse(("incidents", "service_mapping", key), NameKind.SERVICE, name)
             for key, name in config.incidents.service_mapping.items()]
    uses += [NameUse(("incidents", "escalation", "receivers", name), NameKind.ROTATION, name)
             for name in config.incidents.escalation.receivers]
    uses += [NameUse(("team_capacity", "people", name), NameKind.TEAM, name)
             for name in config.team_capacity.people]
    uses += [NameUse(("kpi_reviews", k, "owner"), NameKind.OWNER, review.owner)
             for k, review in enumerate(config.kpi_reviews)]
    uses += [NameUse(("policies", "waivers", "gates", name), NameKind.GATE, name)
             for name in config.policies.waivers.gates]
    exclusions = config.error_budget_exclusions
    for section, items in (("maintenance", exclusions.maintenance),
                           ("corrections", exclusions.corrections)):
        for i, item in enumerate(items):
            uses += [NameUse(("error_budget_exclusions", section, i, "services", s),
                             NameKind.SERVICE, name) for s, name in enumerate(item.services)]
    return uses


def known_names(
    config: Config, catalog: Iterable[CatalogService], unreadable: Iterable[str] = ()
) -> KnownNames:
    """Return the names the configuration and the catalog entries declare.

    ``unreadable`` names catalogs present but not readable: the names they would declare
    are unknown, so service, team and rotation names are not checked.
    """
    entries = list(catalog)
    listed = {entry.name: entry for entry in entries}
    services = {s.name for s in config.services} | set(listed)
    teams = {s.owner for s in config.services if s.owner}
    teams |= {entry.team for entry in entries if entry.team}
    rotations = {UNROUTED_ROTATION}
    for name in services:
        configured, entry = config.service(name), listed.get(name)
        team = (configured.owner if configured else None) or (entry.team if entry else None)
        rotations.add((configured.oncall if configured else None)
                      or (entry.oncall if entry else None) or f"{team or name}-oncall")
    owners = {role.value for role in Role}
    owners |= {s.name for s in config.stakeholders} | {s.email for s in config.stakeholders}
    names = {
        NameKind.SERVICE: frozenset(services),
        NameKind.TEAM: frozenset(teams),
        NameKind.ROTATION: frozenset(rotations) if services else frozenset(),
        NameKind.OWNER: frozenset(owners),
        NameKind.GATE: frozenset(PROCEDURE_GATES),
    }
    unchecked: dict[NameKind, str] = {}
    missing = ", ".join(unreadable)
    for kind in FROM_CATALOGS:
        if missing:
            unchecked[kind] = f"{missing} could not be read"
        elif not names[kind]:
            unchecked[kind] = f"no {kind.value} is declared ({DECLARED_IN[kind]})"
    return KnownNames(names, unchecked)


def unknown_names(config: Config, known: KnownNames, lines: LineMap, path: str) -> list[Problem]:
    """Return one problem per name the configuration uses that the workspace does not
    declare, located at its line, and one warning per kind that could not be checked."""
    found: list[tuple[int, Problem]] = []
    unchecked: dict[NameKind, list[NameUse]] = {}
    for use in name_uses(config):
        if use.kind in known.unchecked:
            unchecked.setdefault(use.kind, []).append(use)
            continue
        declared = known.names[use.kind]
        if use.name in declared:
            continue
        close = closest(use.name, declared)
        message = f"{_dotted(use.loc)}: unknown {use.kind.value} {shown(use.name)}"
        if close is not None:
            message += f"; did you mean '{close}'?"
        elif len(declared) <= LISTED_NAMES:
            message += "; known: " + ", ".join(sorted(declared))
        line = _line(lines, use.loc)
        found.append((line or 0, Problem(path, _location(line), message,
                                         expected=DECLARED_IN[use.kind], level=Level.ROW)))
    for kind, uses in unchecked.items():
        places = ", ".join(_dotted(u.loc) for u in uses[:3]) + (", …" if len(uses) > 3 else "")
        line = _line(lines, uses[0].loc)
        found.append((line or 0, Problem(
            path, _location(line),
            f"{len(uses)} {kind.value} name(s) not checked ({places}): {known.unchecked[kind]}",
            level=Level.WARNING,
        )))
    return [problem for _, problem in sorted(found, key=lambda item: item[0])]


def config_name_problems(
    result: ReadResult[Any], read: Callable[[InputKey], ReadResult[Any]]
) -> list[Problem]:
    """Return the problems of the names in the configuration ``result`` holds, the catalogs
    read through ``read``; none when the configuration itself could not be read."""
    config = next((r for r in result.records if isinstance(r, Config)), None)
    if config is None or result.fatal:
        return []
    try:
        _, lines = load_yaml(Path(result.path))
    except ConfigError:  # the reader read it a moment ago; a file changed since is its problem
        return []
    listings = [read(key) for key in CATALOG_INPUTS]
    unreadable = [str(listing.path) for listing in listings if listing.fatal]
    catalog = merge_catalogs(listing.records for listing in listings)
    return unknown_names(config, known_names(config, catalog, unreadable), lines,
                         str(result.path))


def _dotted(loc: tuple[Key, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _line(lines: LineMap, loc: tuple[Key, ...]) -> int | None:
    """Return the line of the key path, also when the schema normalised its last key
    (``incidents.service_mapping`` keys are lower-cased), else of its nearest parent."""
    line = lines.lines.get(loc)
    if line is None and loc and isinstance(loc[-1], str):
        folded = _folded_key(loc[-1])
        line = next((n for path, n in lines.lines.items()
                     if len(path) == len(loc) and path[:-1] == loc[:-1]
                     and isinstance(path[-1], str) and _folded_key(path[-1]) == folded), None)
    return line if line is not None else lines.line_of(loc)


def _location(line: int | None) -> str:
    return f"line {line}" if line else ""


def _folded_key(key: str) -> str:
    kind, colon, name = key.partition(":")
    return f"{kind.strip()}{colon}{name.strip()}".casefold()
