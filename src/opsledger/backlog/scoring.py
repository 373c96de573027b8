"""The consolidated maintenance backlog: merge, deduplicate, score, explain.

Scoring follows three public methods, each shown per item so people can argue with it:

* **Risk** = likelihood × impact on the usual 5×5 matrix (1–25); priority bands
  P1 ≥ 15, P2 ≥ 10, P3 ≥ 5, else P4.
* **RICE** (Intercom): reach × impact × confidence ÷ effort, with impact on RICE's scale
  (3 massive, 2 high, 1 medium, 0.5 low, 0.25 minimal). RICE compares items only when
  their reach is in one unit, so reach is in points 1–10 for every item: from the service's
  tier when the item does not say, else log10 of the users or requests it affects a month
  (10 = ten billion, 3 = a thousand).
* **WSJF** (SAFe): cost of delay ÷ job size, cost of delay = user/business value +
  time criticality + risk reduction, each on the modified Fibonacci scale 1–20, job size
  on the same scale from the effort estimate.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from opsledger.core.config import SeverityDays
from opsledger.model.common import ItemStatus, Severity
from opsledger.model.handover import ActionItem, KnowledgeGap, Postmortem, WorkItem

FIBONACCI = (1, 2, 3, 5, 8, 13, 20)
RICE_IMPACT = {5: 3.0, 4: 2.0, 3: 1.0, 2: 0.5, 1: 0.25}
# When an item carries no likelihood/impact, its severity stands in for both.
SEVERITY_IMPACT = {Severity.CRITICAL: 5, Severity.HIGH: 4, Severity.MEDIUM: 3, Severity.LOW: 2,
                   Severity.UNKNOWN: 2}
SEVERITY_LIKELIHOOD = {Severity.CRITICAL: 4, Severity.HIGH: 3, Severity.MEDIUM: 3,
                       Severity.LOW: 2, Severity.UNKNOWN: 2}
INCIDENT_SEVERITY = {"SEV1": Severity.CRITICAL, "SEV2": Severity.HIGH, "SEV3": Severity.MEDIUM,
                     "SEV4": Severity.LOW, "SEV5": Severity.LOW}
ACTION_PRIORITY = {"P0": Severity.CRITICAL, "P1": Severity.CRITICAL, "P2": Severity.HIGH,
                   "P3": Severity.MEDIUM, "P4": Severity.LOW}
TIER_REACH = {0: 10.0, 1: 6.0, 2: 3.0, 3: 1.5, 4: 1.0}
DUPLICATE_SIMILARITY = 0.8
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset({"the", "a", "an", "to", "of", "in", "on", "for", "and", "or", "with", "is"})


@dataclass(frozen=True)
class Scores:
    likelihood: int
    impact: int
    risk: int
    rice: float
    wsjf: float
    cost_of_delay: int
    job_size: int
    time_criticality: int
    confidence: float
    rationale: str


@dataclass(frozen=True)
class BacklogItem:
    """One item of the consolidated backlog, with where it came from and how it scores."""

    id: str
    title: str
    source: str  # the sources, joined with "+" when deduplicated
    service: str | None
    owner: str | None
    severity: Severity | None
    priority: str  # P1..P4 from the risk score
    due_date: date | None
    status: ItemStatus
    scores: Scores
    sla_due: date | None  # latest due date the severity's SLA allows
    sla_aligned: bool | None  # None when there is no due date to compare
    compliance: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    merged_ids: tuple[str, ...] = ()
    source_priority: str | None = None
    category: str | None = None
    effort_days: float | None = None
    description: str = ""

    @property
    def high_or_critical(self) -> bool:
        return self.severity is not None and self.severity.is_high_or_critical

    def as_row(self) -> dict[str, object]:
        """Return the item as a row of maintenance-backlog.csv."""
        return {
            "id": self.id,
            "title": self.title,
            "source": self.source,
            "service": self.service or "",
            "owner": self.owner or "",
            "severity": self.severity.value if self.severity else "",
            "priority": self.priority,
            "due_date": self.due_date.isoformat() if self.due_date else "",
            "status": self.status.value,
            "risk_score": self.scores.risk,
            "rice": f"{self.scores.rice:.2f}",
            "wsjf": f"{self.scores.wsjf:.2f}",
            "sla_due": self.sla_due.isoformat() if self.sla_due else "",
            "sla_aligned": "" if self.sla_aligned is None else str(self.sla_aligned).lower(),
            "compliance": ";".join(self.compliance),
            "merged_ids": ";".join(self.merged_ids),
        }


BACKLOG_COLUMNS = (
    "id", "title", "source", "service", "owner", "severity", "priority", "due_date", "status",
    "risk_score", "rice", "wsjf", "sla_due", "sla_aligned", "compliance", "merged_ids",
)


@dataclass(frozen=True)
class Conflict:
    kind: str  # "capacity" | "priority-disagreement"
    items: tuple[str, ...]
    owner: str | None
    explanation: str


@dataclass(frozen=True)
class Backlog:
    items: tuple[BacklogItem, ...]
    conflicts: tuple[Conflict, ...] = ()
    duplicates_folded: int = 0

    def open_items(self) -> list[BacklogItem]:
        return [i for i in self.items if i.status.is_open]

    def lacking_owner_or_severity(self) -> list[BacklogItem]:
        return [i for i in self.open_items() if not i.owner or i.severity is None]

    def critical_incomplete(self) -> list[BacklogItem]:
        """High/Critical open items without an owner or a due date (the p18 backlog gate)."""
        return [i for i in self.open_items() if i.high_or_critical and (not i.owner
                                                                         or not i.due_date)]


@dataclass(frozen=True)
class Sources:
    tech_debt: Sequence[WorkItem] = ()
    performance: Sequence[WorkItem] = ()
    security: Sequence[WorkItem] = ()
    postmortems: Sequence[Postmortem] = ()
    knowledge_gaps: Sequence[KnowledgeGap] = ()
    findings: Sequence[WorkItem] = ()
    service_tiers: Mapping[str, int] = field(default_factory=dict)
    # Days after an incident that an action item without a due date is due, by severity.
    action_item_days: Mapping[str, int] = field(default_factory=dict)


def action_items_as_work(postmortems: Iterable[Postmortem], days: Mapping[str, int]) -> list[
        WorkItem]:
    """Return each postmortem action item as a work item (due date defaulted by policy)."""
    work = []
    for pm in postmortems:
        incident_severity = (pm.severity or "").upper()
        for item in pm.action_items:
            severity = _action_severity(item, incident_severity)
            due = item.due_date
            if due is None and pm.incident_date is not None and incident_severity in days:
                due = pm.incident_date.date() + timedelta(days=days[incident_severity])
            work.append(
                WorkItem(
                    id=item.id,
                    title=item.title,
                    source="postmortem",
                    service=item.service or pm.service,
                    owner=item.owner,
                    severity=severity,
                    status=item.status,
                    due_date=due,
                    category=item.kind or "corrective-action",
                    reference=pm.incident_id,
                    created=pm.incident_date.date() if pm.incident_date else None,
                    description=f"from the postmortem of {pm.incident_id}",
                )
            )
    return work


def _action_severity(item: ActionItem, incident_severity: str) -> Severity | None:
    if item.priority and item.priority.upper() in ACTION_PRIORITY:
        return ACTION_PRIORITY[item.priority.upper()]
    return INCIDENT_SEVERITY.get(incident_severity)


def gaps_as_work(gaps: Iterable[KnowledgeGap]) -> list[WorkItem]:
    return [
        WorkItem(
            id=gap.id, title=f"Knowledge gap: {gap.topic}", source="knowledge-gap",
            service=gap.service, owner=gap.owner, severity=gap.severity, status=gap.status,
            due_date=gap.due_date, category="knowledge-transfer", description=gap.follow_up,
        )
        for gap in gaps
    ]


def consolidate(sources: Sources, today: date, sla: SeverityDays) -> Backlog:
    """Return the merged, deduplicated and scored backlog, highest WSJF first."""
    work: list[WorkItem] = [
        *sources.tech_debt,
        *sources.performance,
        *sources.security,
        *action_items_as_work(sources.postmortems, sources.action_item_days),
        *gaps_as_work(sources.knowledge_gaps),
        *sources.findings,
    ]
    groups = _duplicate_groups(work)
    items = [
        score_item(_merge(group), sources.service_tiers, today, sla, [w.id for w in group])
        for group in groups
    ]
    items.sort(key=lambda i: (-i.scores.wsjf, -i.scores.risk, i.due_date or date.max, i.id))
    return Backlog(tuple(items), tuple(find_conflicts(items, today)), len(work) - len(groups))


def _tokens(text: str) -> frozenset[str]:
    return frozenset(w for w in _WORD.findall(text.lower()) if w not in _STOP)


def similarity(a: str, b: str) -> float:
    """Return the Jaccard similarity of two titles' words."""
    return _jaccard(_tokens(a), _tokens(b))


def _jaccard(ta: frozenset[str], tb: frozenset[str]) -> float:
    return len(ta & tb) / len(ta | tb) if ta and tb else 0.0


def _duplicate_groups(work: list[WorkItem]) -> list[list[WorkItem]]:
    """Group items that are the same work: same id, same reference, or near-identical title
    on the same service.

    An item joins the first group (in order of creation) that it matches. Titles are compared
    only with the groups of the item's own service, so the work grows with the items and the
    groups per service, not with the square of the whole backlog.
    """
    groups: list[list[WorkItem]] = []
    by_reference: dict[str, int] = {}
    by_id: dict[str, int] = {}
    # service -> (group index, words of the group's first title), in order of creation
    heads: dict[str | None, list[tuple[int, frozenset[str]]]] = {}
    for item in work:
        index = by_id.get(item.id)
        if index is None and item.reference and item.source != "postmortem":
            index = by_reference.get(item.reference.upper())
        if index is None:
            words = _tokens(item.title)
            index = next(
                (i for i, head in heads.get(item.service, ())
                 if _jaccard(head, words) >= DUPLICATE_SIMILARITY),
                None,
            )
            if index is None:
                groups.append([])
                index = len(groups) - 1
                heads.setdefault(item.service, []).append((index, words))
        groups[index].append(item)
        by_id.setdefault(item.id, index)
        if item.reference and item.source != "postmortem":
            by_reference.setdefault(item.reference.upper(), index)
    return groups


def _merge(group: list[WorkItem]) -> WorkItem:
    if len(group) == 1:
        return group[0]
    first = group[0]
    rated = [w.severity for w in group if w.severity is not None]
    dues = [w.due_date for w in group if w.due_date is not None]
    open_status = next((w.status for w in group if w.status.is_open), first.status)
    return replace(
        first,
        source="+".join(sorted({w.source for w in group})),
        owner=next((w.owner for w in group if w.owner), None),
        severity=max(rated, key=lambda s: s.rank) if rated else None,
        due_date=min(dues) if dues else None,
        status=open_status,
        compliance=tuple(sorted({c for w in group for c in w.compliance})),
        effort_days=next((w.effort_days for w in group if w.effort_days), None),
        impact=max((w.impact for w in group if w.impact), default=None),
        likelihood=max((w.likelihood for w in group if w.likelihood), default=None),
    )


def _fibonacci(value: float) -> int:
    """Return the smallest modified-Fibonacci number at or above ``value`` (1..20)."""
    return next((f for f in FIBONACCI if value <= f), FIBONACCI[-1])


def reach_points(per_month: float) -> float:
    """Return reach on the 1–10 point scale from users or requests affected a month."""
    return round(min(10.0, max(1.0, math.log10(max(per_month, 1.0)))), 2)


def time_criticality(due: date | None, today: date) -> int:
    """Return WSJF time criticality from the days left to the due date."""
    if due is None:
        return 2
    days = (due - today).days
    if days < 0:
        return 20
    if days <= 7:
        return 13
    if days <= 30:
        return 8
    if days <= 90:
        return 3
    return 1


def score_item(
    item: WorkItem,
    tiers: Mapping[str, int],
    today: date,
    sla: SeverityDays,
    merged_ids: Sequence[str] = (),
) -> BacklogItem:
    severity = item.severity or Severity.UNKNOWN
    estimated = []
    impact = round(item.impact) if item.impact else SEVERITY_IMPACT[severity]
    if not item.impact:
        estimated.append("impact from severity")
    likelihood = round(item.likelihood) if item.likelihood else SEVERITY_LIKELIHOOD[severity]
    if not item.likelihood:
        estimated.append("likelihood from severity")
    impact, likelihood = min(max(impact, 1), 5), min(max(likelihood, 1), 5)
    risk = likelihood * impact
    tier = tiers.get(item.service or "", 2)
    reach = reach_points(item.reach) if item.reach else TIER_REACH.get(tier, 1.0)
    effort = item.effort_days if item.effort_days and item.effort_days > 0 else None
    if effort is None:
        estimated.append("effort assumed 3 days")
    confidence = 1.0 if not estimated else 0.8 if len(estimated) == 1 else 0.5
    effort_days = effort or 3.0
    rice = reach * RICE_IMPACT[impact] * confidence / effort_days
    business_value = _fibonacci(impact * (5 - min(tier, 4)) / 2)
    criticality = time_criticality(item.due_date, today)
    risk_reduction = _fibonacci(risk * 20 / 25)
    cost_of_delay = business_value + criticality + risk_reduction
    job_size = _fibonacci(effort_days)
    wsjf = cost_of_delay / job_size
    priority = "P1" if risk >= 15 else "P2" if risk >= 10 else "P3" if risk >= 5 else "P4"
    sla_due = None
    created = item.created or today
    if item.severity is not None and item.severity is not Severity.UNKNOWN:
        sla_due = created + timedelta(days=getattr(sla, item.severity.value))
    aligned = None if item.due_date is None or sla_due is None else item.due_date <= sla_due
    due_text = (
        "no due date" if item.due_date is None
        else f"overdue by {(today - item.due_date).days} days" if item.due_date < today
        else f"due in {(item.due_date - today).days} days"
    )
    rationale = (
        f"risk {likelihood}×{impact}={risk} ({priority}); tier {tier} service, reach {reach:g}; "
        f"{due_text} → time criticality {criticality}; cost of delay {cost_of_delay} "
        f"(value {business_value} + time {criticality} + risk {risk_reduction}) ÷ size "
        f"{job_size} = WSJF {wsjf:.2f}; RICE {reach:g}×{RICE_IMPACT[impact]:g}×"
        f"{confidence:g}÷{effort_days:g} = {rice:.2f}"
        + (f"; estimated: {', '.join(estimated)}" if estimated else "")
        + ("" if aligned is not False else f"; due date is after the {severity.value} SLA "
           f"({sla_due.isoformat() if sla_due else ''})")
    )
    return BacklogItem(
        id=item.id,
        title=item.title,
        source=item.source,
        service=item.service,
        owner=item.owner,
        severity=item.severity,
        priority=priority,
        due_date=item.due_date,
        status=item.status,
        scores=Scores(likelihood, impact, risk, round(rice, 4), round(wsjf, 4), cost_of_delay,
                      job_size, criticality, confidence, rationale),
        sla_due=sla_due,
        sla_aligned=aligned,
        compliance=item.compliance,
        references=(item.reference,) if item.reference else (),
        merged_ids=tuple(i for i in merged_ids if i != item.id),
        source_priority=None,
        category=item.category,
        effort_days=item.effort_days,
        description=item.description,
    )


# One owner can carry this many P1 items due in the same two weeks before it is a conflict.
OWNER_P1_CAPACITY = 3


def find_conflicts(items: Sequence[BacklogItem], today: date) -> list[Conflict]:
    """Return prioritisation conflicts that need a stakeholder decision."""
    conflicts = []
    window = today + timedelta(days=14)
    by_owner: dict[str, list[BacklogItem]] = defaultdict(list)
    for item in items:
        if item.status.is_open and item.priority == "P1" and item.owner and item.due_date \
                and item.due_date <= window:
            by_owner[item.owner].append(item)
    for owner, owned in sorted(by_owner.items()):
        if len(owned) > OWNER_P1_CAPACITY:
            conflicts.append(
                Conflict(
                    "capacity",
                    tuple(i.id for i in owned),
                    owner,
                    f"{owner} owns {len(owned)} P1 items due by {window.isoformat()} "
                    f"(more than {OWNER_P1_CAPACITY}): decide the order or move some",
                )
            )
    for item in items:
        if item.status.is_open and item.sla_aligned is False and item.high_or_critical:
            conflicts.append(
                Conflict(
                    "sla",
                    (item.id,),
                    item.owner,
                    f"{item.id} is {item.severity.value if item.severity else ''} but due "
                    f"{item.due_date} after its SLA date {item.sla_due}: accept the risk or "
                    "bring it forward",
                )
            )
    return conflicts
