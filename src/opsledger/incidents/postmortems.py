"""Postmortem follow-up: which incidents need one, which lack one, timeliness, action items.

Rules (defaults from ``policies.postmortems`` and ``policies.action_item_sla_days``):

- an incident requires a postmortem when its severity is in ``required_severities`` (SEV1,
  SEV2), it lost data, it consumed more than ``budget_fraction`` (20%) of an SLO's error
  budget, the export flags it (``postmortem_required``), or, when the incident policy says
  so, a responder had to intervene;
- a postmortem is on time when reviewed within ``review_calendar_days_sev1`` calendar days
  (SEV1) or ``review_business_days_sev2`` business days (Monday-Friday; SEV2 and every
  other required incident) of the incident's resolution date (its creation date while
  unresolved); a review not yet held (no date, or a date still to come) is pending until
  the deadline passes, and late at once when it is scheduled after the deadline;
- an unfinished draft written by ``opsledger incidents postmortem-drafts`` (a file under a
  ``drafts`` folder) does not count as a postmortem;
- an action item without a due date is due ``action_item_sla_days`` after the incident
  (15 days for SEV1, 30 for SEV2); it is overdue when still open after its due date;
- closure rate = closed items (done or won't do) / all items; age of an open item = days
  from the incident to now.

The p09 gate "incidents resolved with postmortems" passes when every incident of the period
that requires a postmortem is resolved, has one, had it reviewed on time, and — when it
consumed more than the budget fraction — has at least one P0 action item (the SRE
Workbook's example error budget policy).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import PurePath
from statistics import median
from typing import Any

from opsledger.core.config import ActionItemSla, PostmortemPolicy
from opsledger.core.incident_policy import IncidentPolicy
from opsledger.incidents.kpis import Period
from opsledger.model.handover import ActionItem, Postmortem
from opsledger.model.incidents import Incident
from opsledger.readers.incident_fields import normalise_severity

DRAFTS_FOLDER = "drafts"


def add_business_days(start: date, days: int) -> date:
    """Return the date ``days`` working days (Monday-Friday) after ``start``."""
    current = start
    left = days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def is_draft_file(postmortem: Postmortem) -> bool:
    return DRAFTS_FOLDER in PurePath(postmortem.path).parts[:-1]


def requirement_reasons(
    incident: Incident,
    policy: PostmortemPolicy,
    budget_fraction: float | None,
    incident_policy: IncidentPolicy,
) -> tuple[str, ...]:
    """Return why the incident requires a postmortem (empty when it does not)."""
    reasons = []
    if incident.severity in policy.required_severities:
        reasons.append(f"severity {incident.severity}")
    if incident.data_loss:
        reasons.append("data loss")
    if budget_fraction is not None and budget_fraction > policy.budget_fraction:
        reasons.append(f"consumed {budget_fraction:.1%} of an error budget "
                       f"(over {policy.budget_fraction:.0%})")
    if incident.postmortem_required:
        reasons.append("flagged as requiring a postmortem")
    if incident_policy.postmortem_on_intervention and incident.oncall_intervention:
        reasons.append("on-call intervention")
    return tuple(reasons)


def review_deadline(incident: Incident, policy: PostmortemPolicy) -> date:
    """Return the last day the postmortem review may take place."""
    anchor = (incident.resolved_at or incident.created_at).date()
    if incident.severity == "SEV1":
        return anchor + timedelta(days=policy.review_calendar_days_sev1)
    return add_business_days(anchor, policy.review_business_days_sev2)


@dataclass(frozen=True)
class PostmortemCheck:
    """One incident that requires a postmortem, and where its postmortem stands."""

    incident: Incident
    reasons: tuple[str, ...]
    postmortem: Postmortem | None
    deadline: date
    budget_fraction: float | None
    state: str  # on_time | late | pending | missing
    draft_started: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "incident": self.incident.id,
            "severity": self.incident.severity,
            "service": self.incident.service,
            "reasons": list(self.reasons),
            "state": self.state,
            "deadline": self.deadline.isoformat(),
            "review_date": (self.postmortem.review_date.isoformat()
                            if self.postmortem and self.postmortem.review_date else None),
            "budget_fraction": self.budget_fraction,
            "draft_started": self.draft_started,
        }


def _timeliness(postmortem: Postmortem | None, deadline: date, today: date) -> str:
    if postmortem is None:
        return "missing"
    review = postmortem.review_date
    if review is not None and review <= today:
        return "on_time" if review <= deadline else "late"
    if review is not None:  # scheduled, not held yet
        return "late" if review > deadline or today > deadline else "pending"
    return "late" if today > deadline else "pending"


@dataclass(frozen=True)
class TrackedActionItem:
    item: ActionItem
    due: date | None
    due_defaulted: bool
    incident_date: date | None
    overdue: bool
    age_days: int | None  # open items only

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.item.id, "title": self.item.title, "owner": self.item.owner,
            "incident": self.item.incident_id, "status": self.item.status.value,
            "priority": self.item.priority,
            "due": self.due.isoformat() if self.due else None,
            "due_defaulted": self.due_defaulted, "overdue": self.overdue,
            "age_days": self.age_days,
        }


@dataclass(frozen=True)
class ActionItemSummary:
    items: tuple[TrackedActionItem, ...]

    @property
    def open(self) -> list[TrackedActionItem]:
        return [t for t in self.items if t.item.status.is_open]

    @property
    def overdue(self) -> list[TrackedActionItem]:
        return [t for t in self.items if t.overdue]

    @property
    def closure_rate(self) -> float | None:
        if not self.items:
            return None
        return sum(1 for t in self.items if not t.item.status.is_open) / len(self.items)

    @property
    def median_open_age_days(self) -> float | None:
        ages = [t.age_days for t in self.open if t.age_days is not None]
        return float(median(ages)) if ages else None

    def overdue_by_owner(self) -> dict[str, list[TrackedActionItem]]:
        out: dict[str, list[TrackedActionItem]] = {}
        for tracked in self.overdue:
            out.setdefault(tracked.item.owner or "unowned", []).append(tracked)
        return dict(sorted(out.items()))

    def to_json(self) -> dict[str, Any]:
        rate = self.closure_rate
        age = self.median_open_age_days
        return {
            "total": len(self.items),
            "open": len(self.open),
            "overdue": [t.item.id for t in self.overdue],
            "closure_rate": None if rate is None else round(rate, 4),
            "median_open_age_days": age,
        }


def track_action_items(
    postmortems: Iterable[Postmortem],
    incidents: Mapping[str, Incident],
    sla: ActionItemSla,
    today: date,
) -> ActionItemSummary:
    """Return every action item with its due date (defaulted by severity) and state."""
    tracked = []
    for postmortem in postmortems:
        if is_draft_file(postmortem):
            continue
        incident = incidents.get(postmortem.incident_id)
        severity = (incident.severity if incident
                    else normalise_severity(postmortem.severity) or "SEV3")
        when = incident.created_at if incident else postmortem.incident_date
        incident_day = when.date() if when else None
        for item in postmortem.action_items:
            due, defaulted = item.due_date, False
            if due is None and incident_day is not None:
                due = incident_day + timedelta(days=getattr(sla, severity.lower()))
                defaulted = True
            is_open = item.status.is_open
            tracked.append(TrackedActionItem(
                item, due, defaulted, incident_day,
                overdue=is_open and due is not None and due < today,
                age_days=(today - incident_day).days if is_open and incident_day else None,
            ))
    tracked.sort(key=lambda t: (t.due or date.max, t.item.id))
    return ActionItemSummary(tuple(tracked))


@dataclass(frozen=True)
class GateBreach:
    incident: str
    reason: str  # unresolved | postmortem missing | postmortem late | no P0 action item
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"incident": self.incident, "reason": self.reason, "detail": self.detail}


@dataclass(frozen=True)
class PostmortemGate:
    """The p09 gate "incidents resolved with postmortems"."""

    checked: int
    breaches: tuple[GateBreach, ...]

    @property
    def passed(self) -> bool:
        return not self.breaches

    def to_json(self) -> dict[str, Any]:
        return {"gate": "incidents resolved with postmortems",
                "status": "pass" if self.passed else "fail",
                "checked": self.checked,
                "breaches": [b.to_json() for b in self.breaches]}


def has_p0_item(postmortem: Postmortem) -> bool:
    return any((item.priority or "").strip().upper() == "P0" for item in postmortem.action_items)


def gate(checks: Sequence[PostmortemCheck], policy: PostmortemPolicy) -> PostmortemGate:
    breaches = []
    for check in checks:
        incident = check.incident
        if incident.resolved_at is None:
            breaches.append(GateBreach(incident.id, "unresolved",
                                       f"{incident.severity} incident is {incident.status}"))
        if check.state == "missing":
            detail = ", ".join(check.reasons)
            if check.draft_started:
                detail += "; only an unfinished draft exists"
            breaches.append(GateBreach(incident.id, "postmortem missing", detail))
        elif check.state == "late":
            review = check.postmortem.review_date if check.postmortem else None
            breaches.append(GateBreach(
                incident.id, "postmortem late",
                f"reviewed {review.isoformat()}, due by {check.deadline.isoformat()}"
                if review else f"not reviewed, due by {check.deadline.isoformat()}",
            ))
        fraction = check.budget_fraction
        if (fraction is not None and fraction > policy.budget_fraction
                and check.postmortem is not None and not has_p0_item(check.postmortem)):
            breaches.append(GateBreach(
                incident.id, "no P0 action item",
                f"consumed {fraction:.1%} of the error budget; the postmortem has no P0 item",
            ))
    return PostmortemGate(len(checks), tuple(breaches))


@dataclass(frozen=True)
class PostmortemReview:
    period: Period
    checks: tuple[PostmortemCheck, ...]
    action_items: ActionItemSummary
    gate: PostmortemGate
    orphans: tuple[str, ...]  # postmortems naming an incident not in the records

    @property
    def missing(self) -> list[PostmortemCheck]:
        return [c for c in self.checks if c.state == "missing"]

    @property
    def late(self) -> list[PostmortemCheck]:
        return [c for c in self.checks if c.state == "late"]

    @property
    def present(self) -> list[PostmortemCheck]:
        return [c for c in self.checks if c.postmortem is not None]

    def to_json(self) -> dict[str, Any]:
        return {
            "required": len(self.checks),
            "present": len(self.present),
            "missing": [c.incident.id for c in self.missing],
            "late": [c.incident.id for c in self.late],
            "checks": [c.to_json() for c in self.checks],
            "orphans": list(self.orphans),
        }


def review_postmortems(
    incidents: Sequence[Incident],
    postmortems: Sequence[Postmortem],
    period: Period,
    now: datetime,
    policy: PostmortemPolicy | None = None,
    sla: ActionItemSla | None = None,
    incident_policy: IncidentPolicy | None = None,
    budget_fractions: Mapping[str, float] | None = None,
) -> PostmortemReview:
    """Return the postmortem checks for the period's incidents, action items and the gate."""
    policy = policy or PostmortemPolicy()
    sla = sla or ActionItemSla()
    incident_policy = incident_policy or IncidentPolicy()
    fractions = budget_fractions or {}
    today = now.date()
    written: dict[str, Postmortem] = {}
    drafts: set[str] = set()
    for postmortem in postmortems:
        if is_draft_file(postmortem):
            drafts.add(postmortem.incident_id)
        else:
            written.setdefault(postmortem.incident_id, postmortem)
    checks = []
    for incident in sorted(incidents, key=lambda i: (i.created_at, i.id)):
        if not period.contains(incident.created_at):
            continue
        fraction = fractions.get(incident.id)
        reasons = requirement_reasons(incident, policy, fraction, incident_policy)
        if not reasons:
            continue
        found = written.get(incident.id)
        deadline = review_deadline(incident, policy)
        checks.append(PostmortemCheck(
            incident, reasons, found, deadline, fraction,
            _timeliness(found, deadline, today),
            draft_started=found is None and incident.id in drafts,
        ))
    by_id = {i.id: i for i in incidents}
    items = track_action_items(postmortems, by_id, sla, today)
    orphans = tuple(sorted(pid for pid in written if pid not in by_id))
    return PostmortemReview(period, tuple(checks), items, gate(checks, policy), orphans)
