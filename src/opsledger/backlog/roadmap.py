"""The next phase's plan from the scored backlog: themes, UX debt and a capacity check.

Pure functions over :class:`~opsledger.backlog.scoring.BacklogItem`:

- **Themes** group open items by what kind of work they are (their category, else their
  source), with the total effort and the best WSJF of each; themes are ordered by their
  best WSJF, so the theme holding the most urgent-per-effort item comes first.
- **UX debt** is every open item whose category, title or description speaks of UX,
  usability, accessibility or the frontend.
- **Capacity** compares the effort of the planned themes with what each team can give to
  planned work over the horizon: people x days per person per month x months x the share
  of time not taken by on-call, support and interrupts. Items whose effort is unknown count
  at the backlog's own assumption (3 days) and are flagged.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opsledger.backlog.scoring import BacklogItem

ASSUMED_EFFORT_DAYS = 3.0  # the backlog scoring's assumption for an item without an estimate
UNASSIGNED = "(no team)"

# Category (or source) -> theme. Kinds of work that people plan together share a theme.
THEMES: dict[str, str] = {
    "dependency": "Security and dependency hygiene",
    "security": "Security and dependency hygiene",
    "scanner": "Security and dependency hygiene",
    "prevent": "Incident follow-up",
    "detect": "Incident follow-up",
    "mitigate": "Incident follow-up",
    "process": "Incident follow-up",
    "corrective-action": "Incident follow-up",
    "postmortem": "Incident follow-up",
    "latency": "Performance",
    "rps": "Performance",
    "error-rate": "Performance",
    "performance": "Performance",
    "observability": "Observability",
    "knowledge-transfer": "Knowledge transfer",
    "knowledge-gap": "Knowledge transfer",
    "testing": "Test and release safety",
    "architecture": "Architecture",
    "operations": "Operational toil",
    "data": "Data management",
    "ux": "UX debt",
}
# Which KPIs a theme moves, so the charter can say which gap each theme closes.
THEME_KPIS: dict[str, tuple[str, ...]] = {
    "Security and dependency hygiene": ("vulnerabilities_overdue", "vulnerabilities_critical"),
    "Incident follow-up": ("action_items_overdue", "mttr_minutes", "incidents_per_month"),
    "Performance": ("slos_met_share", "error_budget_remaining_min", "availability"),
    "Observability": ("mtta_minutes", "mttr_minutes"),
    "Knowledge transfer": ("mttr_minutes",),
    "Test and release safety": ("incidents_per_month", "availability"),
    "Architecture": ("availability", "incidents_per_month"),
    "Operational toil": ("ticket_volume",),
    "UX debt": ("ticket_volume",),
}
UX_PATTERN = re.compile(
    r"\b(ux|ui|usability|user experience|accessib\w*|a11y|wcag|frontend|front-end|"
    r"screen reader|keyboard navigation)\b",
    re.IGNORECASE,
)


def theme_of(item: BacklogItem) -> str:
    """Return the theme of ``item``: UX first, then its category, then its source."""
    if is_ux(item):
        return "UX debt"
    if item.category:
        key = item.category.lower()
        return THEMES.get(key, key.replace("-", " ").replace("_", " ").capitalize())
    source = item.source.split("+")[0]
    return THEMES.get(source, source.replace("-", " ").capitalize())


def is_ux(item: BacklogItem) -> bool:
    text = " ".join((item.category or "", item.title, item.description))
    return bool(UX_PATTERN.search(text))


def effort_of(item: BacklogItem) -> float:
    return item.effort_days if item.effort_days and item.effort_days > 0 else ASSUMED_EFFORT_DAYS


@dataclass(frozen=True)
class Theme:
    name: str
    items: tuple[BacklogItem, ...]  # highest WSJF first

    @property
    def effort_days(self) -> float:
        return sum(effort_of(i) for i in self.items)

    @property
    def assumed(self) -> int:
        """Return how many items count at the assumed effort."""
        return sum(1 for i in self.items if not i.effort_days or i.effort_days <= 0)

    @property
    def top(self) -> BacklogItem:
        return self.items[0]

    @property
    def high_or_critical(self) -> int:
        return sum(1 for i in self.items if i.high_or_critical)

    @property
    def services(self) -> list[str]:
        return sorted({i.service for i in self.items if i.service})

    @property
    def kpis(self) -> tuple[str, ...]:
        return THEME_KPIS.get(self.name, ())


def _rank(item: BacklogItem) -> tuple[float, int, str]:
    return (-item.scores.wsjf, -item.scores.risk, item.id)


def themes(items: Sequence[BacklogItem]) -> list[Theme]:
    """Return the open items grouped into themes, best top WSJF first."""
    grouped: dict[str, list[BacklogItem]] = defaultdict(list)
    for item in items:
        if item.status.is_open:
            grouped[theme_of(item)].append(item)
    out = [Theme(name, tuple(sorted(members, key=_rank))) for name, members in grouped.items()]
    return sorted(out, key=lambda t: (-t.top.scores.wsjf, -t.effort_days, t.name))


def ux_items(items: Sequence[BacklogItem]) -> list[BacklogItem]:
    """Return the open UX items, highest WSJF first."""
    return sorted((i for i in items if i.status.is_open and is_ux(i)), key=_rank)


def ux_wave(item: BacklogItem) -> int:
    """Return the month (1-3) in which a UX item is planned: by its risk priority."""
    return {"P1": 1, "P2": 1, "P3": 2}.get(item.priority, 3)


@dataclass(frozen=True)
class TeamLoad:
    team: str
    people: int | None  # None for work no team owns
    people_source: str
    capacity_days: float
    demand_days: float
    items: int

    @property
    def utilisation(self) -> float | None:
        return self.demand_days / self.capacity_days if self.capacity_days > 0 else None

    @property
    def over(self) -> float:
        return max(0.0, self.demand_days - self.capacity_days)


@dataclass(frozen=True)
class CapacityCheck:
    horizon_months: int
    days_per_person_per_month: float
    roadmap_share: float
    teams: tuple[TeamLoad, ...]
    planned: tuple[str, ...]  # themes that fit, in plan order
    deferred: tuple[str, ...]  # themes that do not fit in the horizon

    @property
    def capacity_days(self) -> float:
        return sum(t.capacity_days for t in self.teams)

    @property
    def demand_days(self) -> float:
        return sum(t.demand_days for t in self.teams)

    @property
    def fits(self) -> bool:
        return all(t.over == 0 for t in self.teams)


def team_of_items(items: Sequence[BacklogItem], service_teams: Mapping[str, str]) -> dict[
        str, str]:
    """Return item id -> team: the team owning its service, else the team its owner mostly
    works for (from the owner's items on services), else :data:`UNASSIGNED`."""
    owner_teams: dict[str, Counter[str]] = defaultdict(Counter)
    for item in items:
        team = service_teams.get(item.service or "")
        if team and item.owner:
            owner_teams[item.owner][team] += 1
    out = {}
    for item in items:
        team = service_teams.get(item.service or "")
        if team is None and item.owner in owner_teams:
            team = sorted(owner_teams[item.owner].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        out[item.id] = team or UNASSIGNED
    return out


def people_per_team(items: Sequence[BacklogItem], item_teams: Mapping[str, str],
                    named: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Return the distinct people the workspace names per team: owners of the team's backlog
    items plus ``named`` (e.g. catalog owners by team)."""
    people: dict[str, set[str]] = defaultdict(set)
    for item in items:
        team = item_teams.get(item.id, UNASSIGNED)
        if item.owner and team != UNASSIGNED:
            people[team].add(item.owner)
    for team, names in named.items():
        people[team].update(n for n in names if n)
    return {team: len(names) for team, names in people.items()}


def capacity_check(
    plan: Sequence[Theme],
    item_teams: Mapping[str, str],
    people: Mapping[str, int],
    people_source: Mapping[str, str],
    days_per_person_per_month: float,
    roadmap_share: float,
    horizon_months: int,
) -> CapacityCheck:
    """Return each team's planned effort against its capacity over the horizon, and which
    themes fit when they are taken in plan order (a theme that would overload a team is
    deferred; later, smaller themes may still fit)."""
    per_person = days_per_person_per_month * horizon_months * roadmap_share
    capacity = {team: count * per_person for team, count in people.items()}
    demand: dict[str, float] = defaultdict(float)  # every theme: the whole ask
    committed: dict[str, float] = defaultdict(float)  # the themes that fit
    counts: Counter[str] = Counter()
    planned, deferred = [], []
    for theme in plan:
        need: dict[str, float] = defaultdict(float)
        for item in theme.items:
            need[item_teams.get(item.id, UNASSIGNED)] += effort_of(item)
        # Work no team owns has no capacity to check against; it is reported apart.
        fits = all(team == UNASSIGNED or committed[team] + days <= capacity.get(team, 0.0)
                   for team, days in need.items())
        if fits:
            planned.append(theme.name)
            for team, days in need.items():
                committed[team] += days
        else:
            deferred.append(theme.name)
        for item in theme.items:
            counts[item_teams.get(item.id, UNASSIGNED)] += 1
        for team, days in need.items():
            demand[team] += days
    teams = sorted(set(demand) | set(capacity), key=lambda t: (t == UNASSIGNED, t))
    loads = tuple(
        TeamLoad(team, None if team == UNASSIGNED else people.get(team, 0),
                 people_source.get(team, "no team owns this work" if team == UNASSIGNED
                                   else "no people named"),
                 capacity.get(team, 0.0), demand.get(team, 0.0), counts.get(team, 0))
        for team in teams
    )
    return CapacityCheck(horizon_months, days_per_person_per_month, roadmap_share, loads,
                         tuple(planned), tuple(deferred))
