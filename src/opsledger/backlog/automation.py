"""Automation candidates: recurring toil in the ticket history and manual work in the backlog.

Tickets are grouped in two passes. First every title is normalised (case, punctuation and the
parts that differ between otherwise identical tickets: numbers, ids, hosts, addresses), which
folds tickets raised from the same template into one *template*. Then, within each category,
templates whose TF-IDF vectors are close (cosine distance below a threshold, average linkage)
are merged by agglomerative clustering, which needs no number of clusters up front. A cluster
that recurs is a candidate; it is ranked by the agent hours per month automation would save.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

import numpy as np

from opsledger.model import schema
from opsledger.model.handover import Ticket, WorkItem

# Share of a cluster's tickets an automation is assumed to take off agents' hands: deflection
# and auto-remediation rarely cover every variant, so half is a deliberately cautious default.
DEFAULT_AUTOMATION_RATE = 0.5
DEFAULT_DISTANCE = 0.5  # cosine distance under which two templates are the same task
MIN_TICKETS = 5
MAX_TEMPLATES_PER_CATEGORY = 1500  # bounds the pairwise distance matrix (1500² floats)
DAYS_PER_MONTH = 365.25 / 12

_PLACEHOLDERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"https?://\S+"), " _url_ "),
    (re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+"), " _email_ "),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), " _id_ "),
    (re.compile(r"\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b"), " _ip_ "),
    (re.compile(r"\b[a-z][a-z0-9]*-\d+\b"), " _key_ "),  # JIRA-123, web-01
    (re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{7,}\b"), " _hex_ "),  # commit shas, request ids
    (re.compile(r"\d+([.,:]\d+)*"), " _num_ "),
)
_NON_WORD = re.compile(r"[^\w]+")

SELF_SERVICE_WORDS = (
    "password", "reset", "unlock", "access", "permission", "invite", "onboard", "offboard",
    "license", "quota", "request", "how to", "how do", "account", "vpn", "token", "api key",
    "export", "report", "refund", "change email",
)
SELF_HEALING_WORDS = (
    "disk full", "disk space", "restart", "crash", "oom", "out of memory", "memory", "cpu",
    "stuck", "hung", "timeout", "timed out", "unresponsive", "down", "unavailable", "expired",
    "certificate", "cert", "queue backlog", "lag", "health check", "503", "502", "failed job",
    "retry",
)
TOIL_WORDS = (
    "manual", "manually", "by hand", "toil", "runbook", "repetitive", "recurring", "every week",
    "every day", "each release", "copy-paste", "spreadsheet", "ad hoc", "automate", "script",
)


def normalise_title(title: str) -> str:
    """Return ``title`` with case, punctuation and variable parts (ids, numbers) folded."""
    text = title.lower()
    for pattern, token in _PLACEHOLDERS:
        text = pattern.sub(token, text)
    return " ".join(_NON_WORD.sub(" ", text).split())


@dataclass(frozen=True)
class SuggestedKind:
    kind: str  # runbook-automation | self-service | self-healing
    reasons: tuple[str, ...]


def suggest_kind(titles: Sequence[str], category: str) -> SuggestedKind:
    """Return the kind of automation that fits tickets with these titles, and why."""
    text = " ".join([category, *titles]).lower()
    service = sorted({w for w in SELF_SERVICE_WORDS if w in text})
    healing = sorted({w for w in SELF_HEALING_WORDS if w in text})
    if healing and len(healing) >= len(service):
        return SuggestedKind("self-healing", (
            "titles describe a system symptom (" + ", ".join(healing) + ") that monitoring can "
            "detect and a remediation can fix without a person",
        ))
    if service:
        return SuggestedKind("self-service", (
            "titles describe a user request (" + ", ".join(service) + ") that a portal or bot "
            "can fulfil without an agent",
        ))
    return SuggestedKind("runbook-automation", (
        "a repeated operational procedure with no user-request or symptom wording: script the "
        "runbook steps agents follow",
    ))


@dataclass(frozen=True)
class TicketCluster:
    """A group of tickets that are the same task, and what automating it would save."""

    key: str
    category: str
    label: str
    tickets: int
    tickets_per_month: float
    monthly_volume: tuple[tuple[str, int], ...]
    mean_handle_minutes: float | None
    handle_source: str
    hours_saved_per_month: float
    trend: str
    trend_per_month: float | None
    example_titles: tuple[str, ...]
    queues: tuple[str, ...]
    services: tuple[str, ...]
    kind: SuggestedKind

    def to_json(self, rank: int) -> dict[str, object]:
        return {
            "rank": rank,
            "id": self.key,
            "category": self.category,
            "label": self.label,
            "tickets": self.tickets,
            "tickets_per_month": round(self.tickets_per_month, 2),
            "volume_per_month": dict(self.monthly_volume),
            "mean_handle_minutes": (None if self.mean_handle_minutes is None
                                    else round(self.mean_handle_minutes, 2)),
            "handle_minutes_source": self.handle_source,
            "hours_saved_per_month": round(self.hours_saved_per_month, 2),
            "trend": self.trend,
            "trend_tickets_per_month": (None if self.trend_per_month is None
                                        else round(self.trend_per_month, 3)),
            "example_titles": list(self.example_titles),
            "queues": list(self.queues),
            "services": list(self.services),
            "suggested_automation": self.kind.kind,
            "reasons": list(self.kind.reasons),
        }


def cluster_titles(
    titles: Sequence[str], distance: float = DEFAULT_DISTANCE
) -> list[int]:
    """Return a cluster number per title: same template, or TF-IDF cosine distance < threshold.

    The titles are expected to be of one category. Clustering runs on distinct normalised
    titles; beyond ``MAX_TEMPLATES_PER_CATEGORY`` the rarest templates stay on their own.
    """
    templates = [normalise_title(t) for t in titles]
    counts = Counter(templates)
    ranked = [t for t, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    merged = ranked[:MAX_TEMPLATES_PER_CATEGORY]
    group_of: dict[str, int] = {}
    if len(merged) >= 2:
        from sklearn.cluster import AgglomerativeClustering
        from sklearn.feature_extraction.text import TfidfVectorizer

        try:
            # Placeholders (_num_, _ip_...) and stop words say nothing about the task.
            vectors = TfidfVectorizer(token_pattern=r"(?u)\b[a-z][a-z0-9]+\b",
                                      stop_words="english", sublinear_tf=True
                                      ).fit_transform(merged)
        except ValueError:  # every template empty: nothing to compare
            vectors = None
        if vectors is not None:
            similarity = (vectors @ vectors.T).toarray()
            distances = np.clip(1.0 - similarity, 0.0, 2.0)
            np.fill_diagonal(distances, 0.0)
            labels = AgglomerativeClustering(
                n_clusters=None, metric="precomputed", linkage="average",
                distance_threshold=distance,
            ).fit_predict(distances)
            group_of = {t: int(label) for t, label in zip(merged, labels, strict=True)}
    next_label = max(group_of.values(), default=-1) + 1
    for template in ranked:
        if template not in group_of:
            group_of[template] = next_label
            next_label += 1
    return [group_of[t] for t in templates]


def _months(first: date, last: date) -> list[str]:
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _trend(counts: Sequence[int]) -> tuple[str, float | None]:
    """Return rising/falling/steady from the least-squares slope of full monthly counts."""
    if len(counts) < 3:
        return "unknown (fewer than 3 full months)", None
    x = np.arange(len(counts), dtype=float)
    slope = float(np.polyfit(x, np.asarray(counts, dtype=float), 1)[0])
    mean = float(np.mean(counts))
    relative = slope / mean if mean else 0.0
    # A change of a tenth of the mean per month is what a reader would call a trend.
    label = "rising" if relative > 0.1 else "falling" if relative < -0.1 else "steady"
    return label, slope


def ticket_clusters(
    tickets: Sequence[Ticket],
    *,
    automation_rate: float = DEFAULT_AUTOMATION_RATE,
    default_handle_minutes: float | None = None,
    min_tickets: int = MIN_TICKETS,
    distance: float = DEFAULT_DISTANCE,
) -> tuple[TicketCluster, ...]:
    """Return recurring ticket clusters, most agent hours saved per month first."""
    if not tickets:
        return ()
    first = min(t.created_at for t in tickets).date()
    last = max(t.created_at for t in tickets).date()
    span_months = max(((last - first).days + 1) / DAYS_PER_MONTH, 1.0 / DAYS_PER_MONTH)
    months = _months(first, last)
    # Only whole months give a fair trend: the first and last are usually partial.
    full_months = months[1:-1]
    by_category: dict[str, list[Ticket]] = {}
    for ticket in tickets:
        by_category.setdefault(ticket.category, []).append(ticket)
    clusters = []
    for category in sorted(by_category):
        members = by_category[category]
        labels = cluster_titles([t.title for t in members], distance)
        groups: dict[int, list[Ticket]] = {}
        for ticket, label in zip(members, labels, strict=True):
            groups.setdefault(label, []).append(ticket)
        for group in groups.values():
            if len(group) < min_tickets:
                continue
            clusters.append(_describe(group, category, span_months, months, full_months,
                                      automation_rate, default_handle_minutes))
    clusters.sort(key=lambda c: (-c.hours_saved_per_month, -c.tickets, c.key))
    return tuple(clusters)


def _describe(
    group: Sequence[Ticket],
    category: str,
    span_months: float,
    months: Sequence[str],
    full_months: Sequence[str],
    automation_rate: float,
    default_handle_minutes: float | None,
) -> TicketCluster:
    per_month = Counter(t.created_at.strftime("%Y-%m") for t in group)
    timed = [t.handle_minutes for t in group if t.handle_minutes is not None]
    if timed:
        handle: float | None = sum(timed) / len(timed)
        source = f"mean of {len(timed)} timed tickets"
    else:
        handle = default_handle_minutes
        source = "support policy default" if handle is not None else "unknown"
    rate = len(group) / span_months
    hours = rate * (handle or 0.0) * automation_rate / 60.0
    trend, slope = _trend([per_month.get(m, 0) for m in full_months])
    titles = Counter(t.title for t in group)
    examples = tuple(t for t, _ in sorted(titles.items(), key=lambda kv: (-kv[1], kv[0]))[:3])
    templates = Counter(normalise_title(t.title) for t in group)
    label = sorted(templates.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    key = "tc-" + re.sub(r"[^a-z0-9]+", "-", f"{category} {label}".lower()).strip("-")[:60]
    return TicketCluster(
        key=key,
        category=category,
        label=label,
        tickets=len(group),
        tickets_per_month=rate,
        monthly_volume=tuple((m, per_month.get(m, 0)) for m in months),
        mean_handle_minutes=handle,
        handle_source=source,
        hours_saved_per_month=hours,
        trend=trend,
        trend_per_month=slope,
        example_titles=examples,
        queues=tuple(sorted({t.queue for t in group})),
        services=tuple(sorted({t.service for t in group if t.service})),
        kind=suggest_kind(list(titles), category),
    )


@dataclass(frozen=True)
class BacklogCandidate:
    """A backlog item whose own words say it is manual, repeated work."""

    item: WorkItem
    matched: tuple[str, ...]
    kind: SuggestedKind

    def to_json(self, rank: int) -> dict[str, object]:
        item = self.item
        return {
            "rank": rank,
            "id": item.id,
            "title": item.title,
            "source": item.source,
            "service": item.service,
            "owner": item.owner,
            "severity": None if item.severity is None else item.severity.value,
            "due_date": None if item.due_date is None else item.due_date.isoformat(),
            "matched_words": list(self.matched),
            "suggested_automation": self.kind.kind,
            "reasons": [f"the item mentions {', '.join(self.matched)}", *self.kind.reasons],
        }


def backlog_candidates(items: Sequence[WorkItem]) -> tuple[BacklogCandidate, ...]:
    """Return backlog items that describe toil, most severe first."""
    found = []
    for item in items:
        text = f"{item.title} {item.description}".lower()
        matched = tuple(w for w in TOIL_WORDS if re.search(rf"\b{re.escape(w)}\b", text))
        if matched:
            found.append(BacklogCandidate(item, matched,
                                          suggest_kind([item.title, item.description],
                                                       item.category or "")))
    # Unrated items sort with "unknown", after every rated one.
    found.sort(key=lambda c: (-(c.item.severity.rank if c.item.severity else 0), c.item.id))
    return tuple(found)


def automation_candidates(
    tickets: Sequence[Ticket],
    items: Sequence[WorkItem] = (),
    *,
    now: datetime,
    automation_rate: float = DEFAULT_AUTOMATION_RATE,
    default_handle_minutes: float | None = None,
    min_tickets: int = MIN_TICKETS,
    inputs: dict[str, str] | None = None,
) -> dict[str, object]:
    """Return the content of ``automation-candidates.json``."""
    if not 0 < automation_rate <= 1:
        raise ValueError("automation_rate must be in (0, 1]")
    clusters = ticket_clusters(
        tickets, automation_rate=automation_rate,
        default_handle_minutes=default_handle_minutes, min_tickets=min_tickets,
    )
    backlog = backlog_candidates(items)
    total_hours = sum(c.hours_saved_per_month for c in clusters)
    return {
        "schema_version": schema.AUTOMATION_CANDIDATES,
        "generated_at": now.isoformat(),
        "inputs": dict(sorted((inputs or {}).items())),
        "assumptions": {
            "automation_rate": automation_rate,
            "automation_rate_meaning": "share of a cluster's tickets the automation removes "
                                       "from agents' queues",
            "min_tickets_per_cluster": min_tickets,
            "clustering": f"normalised titles per category; TF-IDF cosine distance < "
                          f"{DEFAULT_DISTANCE} (average linkage)",
        },
        "summary": {
            "tickets": len(tickets),
            "clusters": len(clusters),
            "tickets_in_clusters": sum(c.tickets for c in clusters),
            "hours_saved_per_month": round(total_hours, 2),
            "backlog_candidates": len(backlog),
        },
        "ticket_candidates": [c.to_json(rank) for rank, c in enumerate(clusters, start=1)],
        "backlog_candidates": [c.to_json(rank) for rank, c in enumerate(backlog, start=1)],
    }
