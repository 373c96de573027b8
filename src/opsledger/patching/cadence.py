"""Patch cadence: when each vulnerability must be fixed, and when each group of dependency
updates ships, in which change window.

Pure functions over findings, outdated packages and the configuration; no I/O.

- Due date = first seen + the SLA days of the finding's band (``policies.vulnerability_sla_days``;
  an unknown band takes the medium SLA). The band is the rating that
  ``vulnerability_sla_days.rated_by`` names (by default the vendor's for OS packages, the
  CVSS band for language packages); the due basis lists every rating the finding has. A
  finding in CISA's KEV catalog is due by the earliest of that date, the catalog's due date
  and first seen + 14 days (CISA BOD 22-01 gives agencies two weeks for newly added entries).
- Targets: the lowest fixed version above the installed one, compared by the ecosystem's
  own version rules; a pre-release is a target only when the installed version is one.
  Without an installed version (npm audit, Dependabot without a lockfile) each release line
  the advisories fix gets its own target, the highest fix on that line. A fix that comes by
  updating another package (npm's ``fix available via``) is an update of that package.
- Groups: security fixes by SLA band (KEV entries in their own group), patch and minor
  updates monthly, major updates quarterly. Each group goes in the earliest occurrence of a
  change window (5-field cron read as wall-clock time in the window's IANA zone, so a
  02:00 Europe/Berlin window is 01:00 UTC in winter and 00:00 UTC in summer) that is not
  inside a freeze which stops that kind of change. An error-budget freeze (services, or
  all) lets only security and P0 changes through. A group that no window can take before
  its due date is flagged for an emergency change or a waiver.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Literal
from zoneinfo import ZoneInfo

from croniter import croniter

from opsledger.core.config import ChangeWindow, Freeze, SeverityDays, VulnerabilitySla
from opsledger.model.common import Severity
from opsledger.model.security import Finding, OutdatedPackage, UpdateKind
from opsledger.readers.findings import (
    DEFAULT_RATING,
    apply_rating,
    compare_versions,
    is_package_url,
    is_prerelease,
    package_identity,
    parse_purl,
    ratings_summary,
    sort_versions,
    version_scheme,
)

KEV_MAX_DAYS = 14
DUE_SOON_DAYS = 14
HORIZON_DAYS = 400
MAX_SLOTS_PER_WINDOW = 2000
CADENCE_DAYS = {"monthly": 31, "quarterly": 92}
SECURITY_BANDS = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.UNKNOWN)

ErrorBudgetFreeze = Sequence[str] | Literal["all"] | None


# --- due dates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class DueFinding:
    """A finding with the date it must be fixed by, and why that date."""

    finding: Finding
    first_seen: date
    first_seen_known: bool  # False: the reports gave no date, so counted from today
    sla_days: int
    due_date: date
    basis: str
    days_left: int  # negative when overdue

    @property
    def overdue(self) -> bool:
        return self.days_left < 0


@dataclass(frozen=True)
class Posture:
    """Every open finding with its due date, as of one day."""

    as_of: date
    items: tuple[DueFinding, ...]
    due_soon_days: int

    @property
    def overdue(self) -> tuple[DueFinding, ...]:
        return tuple(i for i in self.items if i.overdue)

    @property
    def due_soon(self) -> tuple[DueFinding, ...]:
        return tuple(i for i in self.items if 0 <= i.days_left <= self.due_soon_days)

    @property
    def kev(self) -> tuple[DueFinding, ...]:
        return tuple(i for i in self.items if i.finding.kev)

    def counts_by_band(self) -> dict[str, int]:
        counts = {s.value: 0 for s in SECURITY_BANDS}
        for item in self.items:
            counts[item.finding.severity.value] += 1
        return counts


def sla_days_for(severity: Severity, sla: SeverityDays) -> int:
    """Return the SLA days of a band; an unrated finding is given the medium SLA."""
    return {
        Severity.CRITICAL: sla.critical,
        Severity.HIGH: sla.high,
        Severity.MEDIUM: sla.medium,
        Severity.LOW: sla.low,
    }.get(severity, sla.medium)


def finding_due(finding: Finding, sla: SeverityDays, today: date) -> DueFinding:
    """Return the finding's due date: first seen + SLA, tightened for KEV entries."""
    first_seen = finding.first_seen or today
    days = sla_days_for(finding.severity, sla)
    band = finding.severity.value
    if finding.severity is Severity.UNKNOWN:
        band = "unknown (as medium)"
    due, basis = first_seen + timedelta(days=days), f"{band} SLA {days} days"
    if finding.severity_basis not in ("", "none"):
        basis += f" by {finding.severity_basis}"
    summary = ratings_summary(finding)
    if summary:
        basis += f" (ratings: {summary})"
    if finding.kev:
        kev_limit = first_seen + timedelta(days=KEV_MAX_DAYS)
        if kev_limit < due:
            due, basis = kev_limit, f"known exploited: {KEV_MAX_DAYS} days"
        if finding.kev_due is not None and finding.kev_due < due:
            due, basis = finding.kev_due, "known exploited: CISA KEV due date"
    return DueFinding(finding, first_seen, finding.first_seen is not None, days, due, basis,
                      (due - today).days)


def assess_posture(
    findings: Iterable[Finding],
    sla: SeverityDays,
    now: datetime,
    due_soon_days: int = DUE_SOON_DAYS,
) -> Posture:
    """Return every finding with its due date, earliest due first.

    Each finding is banded by the rating the SLA policy names (``rated_by``) first.
    """
    today = now.astimezone(UTC).date()
    rated_by = sla.rated_by if isinstance(sla, VulnerabilitySla) else DEFAULT_RATING
    items = sorted(
        (finding_due(apply_rating(f, rated_by), sla, today) for f in findings),
        key=lambda d: (d.due_date, -d.finding.severity.rank, package_identity(d.finding),
                       d.finding.id),
    )
    return Posture(today, tuple(items), due_soon_days)


# --- change windows and freezes ------------------------------------------------------------


@dataclass(frozen=True)
class WindowSlot:
    """One occurrence of a change window."""

    window: str
    start: datetime  # aware, in the window's zone
    end: datetime
    timezone: str
    services: tuple[str, ...]  # empty: every service

    def label(self) -> str:
        return f"{self.window} {self.start:%Y-%m-%d %H:%M %Z}"


def window_slots(window: ChangeWindow, after: datetime, until: datetime) -> Iterator[WindowSlot]:
    """Yield the window's occurrences that start after ``after`` and before ``until``.

    The cron runs on naive wall-clock time in the window's zone and each start is then
    placed in the zone, so the window keeps its local time across DST changes; a start in
    the spring-forward gap moves forward by the gap (02:30 becomes 03:30), as cron does.
    """
    zone = ZoneInfo(window.timezone)
    start_local = after.astimezone(zone).replace(tzinfo=None)
    schedule = croniter(window.cron, start_local)
    for _ in range(MAX_SLOTS_PER_WINDOW):
        wall: datetime = schedule.get_next(datetime)
        start = wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)
        if start <= after:
            continue
        if start >= until:
            return
        end = (start.astimezone(UTC) + timedelta(minutes=window.duration_minutes)).astimezone(zone)
        yield WindowSlot(window.name, start, end, window.timezone, tuple(window.services))


def freeze_interval(freeze: Freeze, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the freeze as an aware [start, end) interval.

    A date (or a date-time at exactly midnight without a zone, which is how a bare date in
    YAML arrives) means the whole local day in the window's zone, the end day included.
    """
    return _bound(freeze.start, zone, end=False), _bound(freeze.end, zone, end=True)


def _bound(value: datetime | date, zone: ZoneInfo, end: bool) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value
        if value.time() != time(0, 0):
            return value.replace(tzinfo=zone)
        value = value.date()
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(0, 0)).replace(tzinfo=zone)


# --- groups and placement ------------------------------------------------------------------


class PlacementStatus(StrEnum):
    SCHEDULED = "scheduled"
    EMERGENCY = "emergency-change-or-waiver"  # no window meets the due date
    NO_FIX = "no-fix-available"  # nothing to install yet: mitigate or waive
    HELD = "held-by-error-budget-freeze"
    NO_WINDOW = "no-window"


@dataclass(frozen=True)
class PlannedUpdate:
    package: str
    ecosystem: str
    current: str | None
    target: str | None
    kind: str  # "security", or the update kind: patch / minor / major / unknown
    advisories: tuple[str, ...] = ()
    due_date: date | None = None
    fixes: tuple[str, ...] = ()  # the vulnerable packages, when the update is another package's


@dataclass(frozen=True)
class UpdateGroup:
    key: str
    title: str
    cadence: str  # "SLA", "monthly", "quarterly"
    change_kinds: frozenset[str]  # matched against a freeze's ``allow`` list
    due_date: date | None
    updates: tuple[PlannedUpdate, ...]

    @property
    def security(self) -> bool:
        return "security" in self.change_kinds


@dataclass(frozen=True)
class Placement:
    group: UpdateGroup
    status: PlacementStatus
    slot: WindowSlot | None
    reason: str
    passed_over: tuple[str, ...] = ()
    excluded_services: tuple[str, ...] = ()

    @property
    def flagged(self) -> bool:
        return self.status in (PlacementStatus.EMERGENCY, PlacementStatus.NO_FIX,
                               PlacementStatus.NO_WINDOW)


@dataclass(frozen=True)
class UpdatePlan:
    as_of: datetime
    placements: tuple[Placement, ...]
    error_budget_freeze: tuple[str, ...]  # ("all",) or the frozen services; () for none

    @property
    def flagged(self) -> tuple[Placement, ...]:
        return tuple(p for p in self.placements if p.flagged)


def security_groups(posture: Posture) -> list[UpdateGroup]:
    """Return security fix groups: KEV first, then one per band; unfixable ones apart.

    A package's fixable findings all go to the most urgent group any of them belongs to, so
    that the package is updated once, to a version that fixes every one of them.
    """
    order = ["security-kev", "security-overdue", *(f"security-{b.value}" for b in SECURITY_BANDS),
             "security-no-fix"]
    by_package: dict[tuple[tuple[str, str], str | None], list[DueFinding]] = defaultdict(list)
    for item in posture.items:
        by_package[(package_identity(item.finding), item.finding.installed)].append(item)
    buckets: dict[str, list[DueFinding]] = defaultdict(list)
    for found in by_package.values():
        fixable = [i for i in found if own_targets(i.finding) or parent_fixes(i.finding)]
        buckets["security-no-fix"] += [i for i in found if i not in fixable]
        if fixable:
            buckets[min((_bucket(i) for i in fixable), key=order.index)] += fixable
    groups = []
    for key in order:
        items = buckets.get(key)
        if not items:
            continue
        p0 = key == "security-kev" or any(i.finding.severity is Severity.CRITICAL for i in items)
        title = {"security-kev": "Known exploited vulnerabilities (CISA KEV)",
                 "security-overdue": "Overdue security fixes",
                 "security-no-fix": "Vulnerabilities without a fixed version"}.get(
            key, f"Security fixes: {key.removeprefix('security-')}")
        groups.append(UpdateGroup(
            key, title, "SLA",
            frozenset({"security", "p0"} if p0 else {"security"}),
            min(i.due_date for i in items),
            tuple(_security_updates(items)),
        ))
    return groups


def _bucket(item: DueFinding) -> str:
    if item.finding.kev:
        return "security-kev"
    if item.overdue:
        return "security-overdue"
    return f"security-{item.finding.severity.value}"


def _security_updates(items: Sequence[DueFinding]) -> list[PlannedUpdate]:
    by_package: dict[tuple[tuple[str, str], str | None], list[DueFinding]] = defaultdict(list)
    for item in items:
        by_package[(package_identity(item.finding), item.finding.installed)].append(item)
    updates: list[PlannedUpdate] = []
    ordered = sorted(by_package.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
    for (_, installed), group in ordered:
        first = group[0].finding
        scheme = version_scheme(first.ecosystem)
        own = [i for i in group if not parent_fixes(i.finding)]
        if own:
            targets: dict[str | None, list[str]] = defaultdict(list)
            for item in own:
                for current, target in own_targets(item.finding):
                    targets[current].append(target)
            lines = sorted(targets.items(), key=lambda kv: kv[0] or "") or [(installed, [])]
            for current, found in lines:
                updates.append(PlannedUpdate(
                    first.package, first.ecosystem, current,
                    sort_versions(found, scheme)[-1] if found else None,
                    "security", _advisories(own), min(i.due_date for i in own),
                ))
        parents: dict[str, list[tuple[str, DueFinding]]] = defaultdict(list)
        for item in group:
            for parent, version in parent_fixes(item.finding):
                parents[parent].append((version, item))
        for parent, versions in sorted(parents.items()):
            fixed_by = [i for _, i in versions]
            updates.append(PlannedUpdate(
                parent, first.ecosystem, None,
                sort_versions((v for v, _ in versions), scheme)[-1],
                "security", _advisories(fixed_by), min(i.due_date for i in fixed_by),
                fixes=(first.package,),
            ))
    return updates


def _advisories(items: Sequence[DueFinding]) -> tuple[str, ...]:
    return tuple(sorted({i.finding.id for i in items}))


def own_targets(finding: Finding) -> list[tuple[str | None, str]]:
    """Return ``(current, target)`` pairs for the finding's own package.

    With an installed version: the lowest fixed version above it (the least disruptive
    fix). Without one: one target per release line the fixes are on, the highest fix on
    the line, with the line (``6.x``) as the current version. A pre-release is a target
    only when the installed version is one.
    """
    scheme = version_scheme(finding.ecosystem)
    installed = finding.installed
    allow_pre = installed is not None and is_prerelease(installed, scheme)
    candidates = [v for v in finding.fixed if not is_package_url(v)
                  and (allow_pre or not is_prerelease(v, scheme))]
    if installed is not None:
        # A fix that cannot be compared with the installed version is kept, not dropped.
        above = [v for v in candidates if (compare_versions(v, installed, scheme) or 1) > 0]
        return [(installed, sort_versions(above, scheme)[0])] if above else []
    lines: dict[str, list[str]] = defaultdict(list)
    for version in candidates:
        lines[release_line(version)].append(version)
    return [(line, sort_versions(found, scheme)[-1]) for line, found in sorted(lines.items())]


def parent_fixes(finding: Finding) -> list[tuple[str, str]]:
    """Return ``(package, version)`` of other packages whose update carries the fix."""
    found = []
    for entry in finding.fixed:
        parts = parse_purl(entry) if is_package_url(entry) else None
        if parts is not None and parts.version:
            name = f"{parts.namespace}/{parts.name}" if parts.namespace else parts.name
            found.append((name, parts.version))
    return found


_MAJOR = re.compile(r"^\D*?(\d+)")


def release_line(version: str) -> str:
    """Return a version's release line by its major number (``6.x``); the version itself
    when it starts with no number."""
    match = _MAJOR.match(version.strip())
    return f"{int(match.group(1))}.x" if match else version


def cadence_groups(outdated: Iterable[OutdatedPackage], today: date) -> list[UpdateGroup]:
    """Return the monthly patch-and-minor group and the quarterly major group."""
    monthly: list[PlannedUpdate] = []
    quarterly: list[PlannedUpdate] = []
    for package in sorted(outdated, key=lambda p: (p.ecosystem, p.name.lower(), p.current or "")):
        kind = package.update_kind
        update = PlannedUpdate(package.name, package.ecosystem, package.current, package.latest,
                               kind.value)
        # An unclassifiable jump is treated as major: it gets the slower, reviewed cadence.
        (monthly if kind in (UpdateKind.PATCH, UpdateKind.MINOR) else quarterly).append(update)
    groups = []
    if monthly:
        groups.append(UpdateGroup(
            "patch-minor", "Patch and minor updates", "monthly", frozenset({"patch", "minor"}),
            today + timedelta(days=CADENCE_DAYS["monthly"]), tuple(monthly)))
    if quarterly:
        groups.append(UpdateGroup(
            "major", "Major updates", "quarterly", frozenset({"major"}),
            today + timedelta(days=CADENCE_DAYS["quarterly"]), tuple(quarterly)))
    return groups


def plan_updates(
    posture: Posture,
    outdated: Iterable[OutdatedPackage],
    windows: Sequence[ChangeWindow],
    freezes: Sequence[Freeze],
    now: datetime,
    error_budget_freeze: ErrorBudgetFreeze = None,
    freeze_allows: Sequence[str] = ("security", "p0"),
    horizon_days: int = HORIZON_DAYS,
    services: frozenset[str] | None = None,
) -> UpdatePlan:
    """Return each update group placed in the earliest change window it may use.

    ``services`` are the services the plan is for (a team's view; None: every service): a
    window limited to other services is not theirs to use.
    """
    today = now.astimezone(UTC).date()
    until = now + timedelta(days=horizon_days)
    if services is not None:
        windows = [w for w in windows if not w.services or services & set(w.services)]
    # Groups are workspace-wide: a window limited to some services can carry them only when
    # no window covers every service.
    usable = [w for w in windows if not w.services] or list(windows)
    slots = sorted(
        (s for w in usable for s in window_slots(w, now, until)),
        key=lambda s: (s.start.astimezone(UTC), s.window),
    )
    frozen = _frozen(error_budget_freeze)
    groups = security_groups(posture) + cadence_groups(outdated, today)
    placements = tuple(
        _place(g, slots, freezes, frozen, frozenset(freeze_allows), today) for g in groups
    )
    return UpdatePlan(now, placements, frozen)


def _frozen(error_budget_freeze: ErrorBudgetFreeze) -> tuple[str, ...]:
    if error_budget_freeze is None:
        return ()
    if isinstance(error_budget_freeze, str):
        return ("all",)
    return tuple(sorted(set(error_budget_freeze)))


def _place(
    group: UpdateGroup,
    slots: Sequence[WindowSlot],
    freezes: Sequence[Freeze],
    frozen: tuple[str, ...],
    freeze_allows: frozenset[str],
    today: date,
) -> Placement:
    budget_blocks = bool(frozen) and not (group.change_kinds & freeze_allows)
    if budget_blocks and frozen == ("all",):
        return Placement(group, PlacementStatus.HELD, None,
                         "error budget exhausted: only security and P0 changes until it recovers")
    passed: list[str] = []
    chosen: WindowSlot | None = None
    excluded: tuple[str, ...] = ()
    for slot in slots:
        blocking = _blocking_freeze(slot, group, freezes)
        if blocking is not None:
            passed.append(f"{slot.label()}: freeze '{blocking}'")
            continue
        if budget_blocks:
            if slot.services and set(slot.services) <= set(frozen):
                passed.append(f"{slot.label()}: error-budget freeze on all its services")
                continue
            scope = set(slot.services) if slot.services else set(frozen)
            excluded = tuple(sorted(scope & set(frozen)))
        chosen = slot
        break
    if group.key == "security-no-fix":
        return Placement(group, PlacementStatus.NO_FIX, chosen,
                         "no fixed version published: mitigate, or record a waiver",
                         tuple(passed), excluded)
    if group.due_date is not None and group.due_date < today:
        return Placement(group, PlacementStatus.EMERGENCY, chosen,
                         f"overdue since {group.due_date}: emergency change or waiver",
                         tuple(passed), excluded)
    if chosen is None:
        return Placement(group, PlacementStatus.NO_WINDOW, None,
                         "no change window in the planning horizon that this change may use",
                         tuple(passed), excluded)
    if group.due_date is not None and chosen.end.astimezone(UTC).date() > group.due_date:
        return Placement(group, PlacementStatus.EMERGENCY, chosen,
                         f"earliest usable window ends after the due date {group.due_date}: "
                         "emergency change or waiver", tuple(passed), excluded)
    return Placement(group, PlacementStatus.SCHEDULED, chosen, "", tuple(passed), excluded)


def _blocking_freeze(slot: WindowSlot, group: UpdateGroup, freezes: Sequence[Freeze]) -> str | None:
    zone = ZoneInfo(slot.timezone)
    for freeze in freezes:
        start, end = freeze_interval(freeze, zone)
        if slot.start < end and start < slot.end and not (group.change_kinds & set(freeze.allow)):
            return freeze.name
    return None
