"""Demo postmortems, performance backlog and tech-debt register, rendered from the world.

Planted defects (so that the backlog gates have something real to find): one Critical
tech-debt item has no due date and one High item has no owner; some postmortem action
items are open past their due date.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from opsledger.core.fileio import dumps_json
from opsledger.demo.world import DemoIncident, DemoService, World
from opsledger.render.sections import md_table

# Corrective actions are due this many days after a major incident (by severity).
ACTION_DUE_DAYS = {"SEV1": 15, "SEV2": 30}
ACTION_TEMPLATES = (
    ("prevent", "Add a pre-deploy check for {cause} on {service}"),
    ("prevent", "Load-test {service} at twice peak traffic before each release"),
    ("detect", "Alert on {service} error-budget burn rate (fast and slow windows)"),
    ("detect", "Add a synthetic probe for the {service} user journey"),
    ("mitigate", "Document and rehearse the {service} failover runbook"),
    ("mitigate", "Add automatic rollback to the {service} deploy pipeline"),
    ("process", "Review on-call escalation path for {team}"),
    ("process", "Add {service} dependency map to the service catalog"),
)
DEBT_TEMPLATES = (
    ("dependency", "Upgrade {service} runtime to a supported major version"),
    ("dependency", "Replace unmaintained HTTP client library in {service}"),
    ("architecture", "Split the {service} monolith module into bounded services"),
    ("architecture", "Remove synchronous call chain from {service} to its dependencies"),
    ("testing", "Raise {service} integration test coverage of failure paths"),
    ("testing", "Make {service} contract tests part of the release gate"),
    ("observability", "Replace log-based metrics in {service} with native histograms"),
    ("observability", "Add tracing context propagation to {service}"),
    ("operations", "Automate {service} certificate rotation"),
    ("operations", "Move {service} configuration out of the container image"),
    ("data", "Add missing index and archive policy for {service} tables"),
    ("security", "Rotate long-lived {service} credentials into the secrets manager"),
)
PERF_METRICS = (
    ("p95_ms", "Reduce p95 latency of {endpoint}"),
    ("p99_ms", "Cut tail latency (p99) of {endpoint}"),
    ("error_rate", "Lower timeout errors on {endpoint}"),
    ("rps", "Raise sustainable throughput of {endpoint}"),
)
SEVERITIES = ("Critical", "High", "Medium", "Low")


def _owner(world: World, service: DemoService) -> str:
    """Return the service owner, or its team lead for the ownerless service."""
    return service.owner or world.team_lead(service.team).name


def postmortem_incidents(world: World) -> list[DemoIncident]:
    """Return the incidents that get a postmortem file."""
    return [i for i in world.incidents if i.major and i.has_postmortem]


def postmortem_files(world: World) -> dict[str, str]:
    """Return ``file name -> Markdown`` for every postmortem of the world."""
    rng = world.rng("postmortems")
    files: dict[str, str] = {}
    overdue_open = 0
    incidents = postmortem_incidents(world)
    for number, incident in enumerate(incidents):
        items = _action_items(world, rng, incident)
        is_last = number == len(incidents) - 1
        overdue_open += sum(1 for item in items if _is_overdue(world, item))
        if is_last and overdue_open == 0:
            # Every demo has at least one corrective action open past its due date.
            past = [item for item in items if item.due < world.now.date()]
            target = past[0] if past else items[0]
            target.due = min(target.due, world.now.date() - timedelta(days=3))
            target.status = "Open"
        name = f"{incident.started_at:%Y-%m-%d}-{incident.id}.md"
        files[name] = _postmortem_text(world, rng, incident, items)
    return files


@dataclass
class _Action:
    id: str
    action: str
    owner: str
    due: date
    status: str
    priority: str
    kind: str


def _is_overdue(world: World, item: _Action) -> bool:
    return item.due < world.now.date() and item.status != "Done"


def _action_items(world: World, rng: random.Random, incident: DemoIncident) -> list[_Action]:
    service = world.service(incident.service)
    members = [p.name for p in world.people if p.team == service.team]
    base_due = incident.started_at.date() + timedelta(days=ACTION_DUE_DAYS[incident.severity])
    cause = incident.title.split(": ", 1)[-1]
    items = []
    for k, (kind, template) in enumerate(rng.sample(ACTION_TEMPLATES, k=rng.randint(2, 5))):
        due = base_due + timedelta(days=rng.randint(-2, 3))
        if due < world.now.date():
            done = rng.random() < 0.75
            status = "Done" if done else rng.choice(("Open", "In progress"))
        else:
            status = rng.choice(("Open", "Open", "In progress", "Done"))
        first_of_sev1 = incident.severity == "SEV1" and k == 0
        priority = "P1" if first_of_sev1 else rng.choice(("P2", "P2", "P3"))
        items.append(
            _Action(
                id=f"{incident.id}-A{k + 1}",
                action=template.format(service=service.name, team=service.team, cause=cause),
                owner=rng.choice(members),
                due=due,
                status=status,
                priority=priority,
                kind=kind,
            )
        )
    return items


def _postmortem_text(
    world: World, rng: random.Random, incident: DemoIncident, items: list[_Action]
) -> str:
    service = world.service(incident.service)
    review = incident.started_at.date() + timedelta(days=rng.randint(3, 9))
    if review > world.now.date():
        status = "draft"
    elif (world.now.date() - review).days < 21:
        status = rng.choice(("in_review", "published"))
    else:
        status = "published"
    authors = sorted({incident.responder, _owner(world, service)})
    duration = incident.resolved_at - incident.started_at
    minutes = round(duration.total_seconds() / 60)
    cause = incident.title.split(": ", 1)[-1]
    front = [
        "---",
        f"incident_id: {incident.id}",
        f"title: {json.dumps(incident.title)}",
        f"service: {service.name}",
        f"severity: {incident.severity}",
        f"date: {_iso(incident.started_at)}",
        f"review_date: {review.isoformat()}",
        f"status: {status}",
        "authors:",
        *[f"  - {json.dumps(a)}" for a in authors],
        "---",
    ]
    timeline = md_table(
        ["Time (UTC)", "Event"],
        [
            (_clock(incident.started_at), "Impact starts"),
            (_clock(incident.detected_at), "Alert fires"),
            (_clock(incident.acknowledged_at), f"{incident.responder} acknowledges the page"),
            (_clock(incident.resolved_at), "Service recovered; incident resolved"),
        ],
    )
    actions = md_table(
        ["ID", "Action", "Owner", "Due", "Status", "Priority", "Kind"],
        [(i.id, i.action, i.owner, i.due.isoformat(), i.status, i.priority, i.kind) for i in items],
    )
    share = f"{incident.error_fraction * 100:.1f}%"
    body = f"""
# {incident.title}

## Summary

{service.name} ({service.team}, tier {service.tier}) was degraded for {minutes} minutes:
{cause}. About {share} of requests failed until the on-call engineer recovered the service.

## Impact

- Duration: {minutes} minutes ({_clock(incident.started_at)} to {_clock(incident.resolved_at)} UTC)
- Error rate during impact: {share} of requests
- Time to detect: {_minutes(incident.detected_at - incident.started_at)} minutes;
  time to acknowledge: {_minutes(incident.acknowledged_at - incident.detected_at)} minutes

## Timeline

{timeline}
## Root cause

{cause.capitalize()} on {service.name}; the failure spread to callers because requests were
retried without a budget.

## What went well

- The alert fired within minutes and paged the right rotation ({service.oncall}).
- Rollback and recovery steps were known to the responder.

## What went wrong

- No early warning: the condition built up for hours without a symptom-based alert.
- The runbook did not cover this failure mode.

## Action items

{actions}"""
    return "\n".join(front) + "\n" + body


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _clock(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M")


def _minutes(delta: timedelta) -> int:
    return round(delta.total_seconds() / 60)


def perf_backlog_json(world: World) -> str:
    """Return PERFORMANCE-IMPROVEMENT-BACKLOG.json (about 15 items at medium size)."""
    rng = world.rng("performance-backlog")
    count = max(6, min(150, round(15 * len(world.services) / 40)))
    busiest = sorted(world.services, key=lambda s: (-s.requests_per_minute, s.name))
    pool = busiest[: max(count, len(busiest) // 2)]
    today = world.now.date()
    items = []
    for number in range(count):
        service = pool[number % len(pool)] if number < len(pool) else rng.choice(pool)
        endpoint = rng.choice(service.endpoints)
        metric, template = rng.choice(PERF_METRICS)
        baseline, target = _perf_figures(rng, metric, service)
        severity = rng.choices(SEVERITIES, weights=(0.05, 0.3, 0.45, 0.2))[0]
        status = rng.choices(("open", "in_progress", "done"), weights=(0.6, 0.25, 0.15))[0]
        created = today - timedelta(days=rng.randint(20, 150))
        items.append(
            {
                "id": f"PERF-{101 + number}",
                "title": template.format(endpoint=endpoint),
                "service": service.name,
                "endpoint": endpoint,
                "metric": metric,
                "baseline": baseline,
                "target": target,
                "owner": _owner(world, service),
                "priority": severity.lower(),
                "status": status,
                "due_date": (created + timedelta(days=rng.choice((30, 45, 60, 90)))).isoformat(),
                "effort_days": rng.choice((1, 2, 3, 5, 8, 13)),
                "impact": rng.randint(2, 5),
                "reach": round(service.requests_per_minute * 60 * 24 * 30),
                "category": "latency" if metric.startswith("p9") else metric.replace("_", "-"),
                "created": created.isoformat(),
            }
        )
    document = {
        "schema_version": "1",
        "generated": today.isoformat(),
        "items": items,
    }
    return dumps_json(document)


def _perf_figures(rng: random.Random, metric: str, service: DemoService) -> tuple[float, float]:
    if metric in ("p95_ms", "p99_ms"):
        latency = float(round(rng.uniform(180, 900) * (1.6 if metric == "p99_ms" else 1.0)))
        return latency, float(round(latency * rng.uniform(0.45, 0.7)))
    if metric == "error_rate":
        baseline = round(rng.uniform(0.004, 0.03), 4)
        return baseline, round(baseline / 4, 4)
    baseline = round(service.requests_per_minute / 60 * rng.uniform(2, 4), 1)
    return baseline, round(baseline * 2, 1)


DEBT_COLUMNS = (
    "ID", "Title", "Service", "Owner", "Severity", "Status", "Due", "Effort (days)", "Impact",
    "Likelihood", "Category", "Created", "Compliance", "Notes",
)


def tech_debt_markdown(world: World) -> str:
    """Return TECH-DEBT-REGISTER.md (about 25 items at medium size, two planted defects)."""
    rng = world.rng("tech-debt")
    count = max(8, min(200, round(25 * len(world.services) / 40)))
    today = world.now.date()
    rows: list[list[object]] = []
    for number in range(count):
        service = rng.choice(world.services)
        category, template = rng.choice(DEBT_TEMPLATES)
        severity = rng.choices(SEVERITIES, weights=(0.06, 0.24, 0.45, 0.25))[0]
        created = today - timedelta(days=rng.randint(30, 400))
        done = rng.random() < 0.2
        status = "Done" if done else rng.choice(("Open", "Open", "In progress", "Blocked"))
        due: date | None = today + timedelta(days=rng.randint(-20, 120))
        if severity in ("Medium", "Low") and rng.random() < 0.4:
            due = None  # lower-severity debt is often unscheduled
        compliance = "PCI-DSS" if service.team == "payments" and category == "security" else ""
        rows.append(
            [
                f"TD-{number + 1:03d}",
                template.format(service=service.name),
                service.name,
                _owner(world, service),
                severity,
                status,
                due,
                rng.choice((0.5, 1, 2, 3, 5, 8, 13)),
                rng.randint(1, 5),
                rng.randint(1, 5),
                category,
                created.isoformat(),
                compliance,
                "",
            ]
        )
    _plant_defects(rng, rows)
    _plant_ux_debt(world, rows)
    active = [r for r in rows if r[5] != "Done"]
    resolved = [r for r in rows if r[5] == "Done"]

    def table(selected: list[list[object]]) -> str:
        return md_table(
            DEBT_COLUMNS,
            [[c.isoformat() if isinstance(c, date) else ("—" if c in (None, "") and i in (3, 6)
              else c) for i, c in enumerate(r)] for r in selected],
        )

    text = (
        "# Technical debt register\n\n"
        f"Last reviewed: {today.isoformat()}. Severity follows the risk matrix; effort is in "
        "engineer-days.\n\n"
        "## Active\n\n" + table(active)
    )
    if resolved:
        text += "\n## Resolved\n\n" + table(resolved)
    return text


UX_TEMPLATES = (
    "Fix keyboard navigation and screen-reader labels in {service} pages (accessibility)",
    "Replace raw error codes shown to users by {service} with actionable messages (usability)",
    "Remove the legacy {service} frontend bundle and its duplicate UI components",
)


def _plant_ux_debt(world: World, rows: list[list[object]]) -> None:
    """Turn a few open items into UX debt (about one in ten, at least two).

    A separate generator keeps every other row as it was; the planted defects and the
    operations/security items (automation and compliance candidates) are left alone.
    """
    rng = world.rng("ux-debt")
    spared = ("operations", "security", "dependency")
    eligible = [r for r in rows if r[5] != "Done" and r[3] is not None and r[6] is not None
                and r[10] not in spared]
    chosen = rng.sample(eligible, k=min(len(eligible), max(2, len(rows) // 10)))
    for number, row in enumerate(chosen):
        row[1] = UX_TEMPLATES[number % len(UX_TEMPLATES)].format(service=row[2])
        row[10] = "ux"


def _plant_defects(rng: random.Random, rows: list[list[object]]) -> None:
    """Leave exactly one open Critical item undated and one open High item unowned."""
    open_rows = [r for r in rows if r[5] != "Done"]
    critical = open_rows[rng.randrange(len(open_rows))]
    critical[4], critical[6] = "Critical", None
    critical[13] = "Due date to be agreed with the product owner"
    high = next(r for r in open_rows if r is not critical)
    high[4], high[3] = "High", None
    if high[6] is None:
        high[6] = date.fromisoformat(str(high[11])) + timedelta(days=90)
