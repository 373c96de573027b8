"""Demo handover folder: closure package, ownership record, knowledge gaps, observability
baseline, postmortems, performance backlog and tech-debt register.

The files agree with the world: every service is in the handover record (the world's
ownerless service with a null owner), every major incident with a postmortem has one here,
and the closure package holds runbooks for the critical services plus copies of the other
handover documents. Zip timestamps come from the world's clock, so the same seed and
``now`` give the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from pathlib import Path

from opsledger.core.fileio import atomic_write_bytes, atomic_write_text, dumps_json
from opsledger.core.workspace import HANDOVER_FILES, InputKey
from opsledger.demo.handover_items import (
    perf_backlog_json,
    postmortem_files,
    tech_debt_markdown,
)
from opsledger.demo.world import DemoService, World
from opsledger.render.sections import md_table

HANDOVER_DIR = "handover"
BASELINE_AGE_DAYS = 20
HANDOVER_AGE_DAYS = 45
# SLA per tier: (response minutes, resolution hours, availability %, support hours).
TIER_SLA = {
    0: (15, 4, 99.95, "24x7"),
    1: (30, 8, 99.9, "24x7"),
    2: (60, 24, 99.5, "Mon-Fri 08:00-20:00 Europe/Berlin"),
    3: (240, 72, 99.0, "Mon-Fri 09:00-17:00 Europe/Berlin"),
}
KT_TOPICS = (
    "Failover procedure for {service} has never been rehearsed by the new team",
    "How {service} credentials are rotated is undocumented",
    "Capacity limits of {service} under peak load are unknown to operators",
    "Batch jobs of {service} and their schedules are not in the runbook",
    "Data retention rules for {service} were explained verbally only",
    "Alert routing for {service} still points at the delivery team",
    "Release procedure for {service} depends on one engineer's laptop setup",
    "Dependency contracts of {service} with upstream teams are unclear",
)


def write_handover(world: World, root: Path) -> list[Path]:
    """Write every handover document of the world into ``root/handover/``; return the paths."""
    folder = root / HANDOVER_DIR
    documents: dict[InputKey, str] = {
        InputKey.HANDOVER_RECORD: handover_record_json(world),
        InputKey.KT_FEEDBACK: kt_feedback_json(world),
        InputKey.OBSERVABILITY_BASELINE: observability_baseline_markdown(world),
        InputKey.PERF_BACKLOG: perf_backlog_json(world),
        InputKey.TECH_DEBT: tech_debt_markdown(world),
    }
    written = []
    for key, text in documents.items():
        path = folder / HANDOVER_FILES[key]
        atomic_write_text(path, text)
        written.append(path)
    postmortem_dir = folder / HANDOVER_FILES[InputKey.POSTMORTEMS]
    postmortem_dir.mkdir(parents=True, exist_ok=True)
    for name, text in postmortem_files(world).items():
        path = postmortem_dir / name
        atomic_write_text(path, text)
        written.append(path)
    package = folder / HANDOVER_FILES[InputKey.CLOSURE_PACKAGE]
    atomic_write_bytes(package, closure_package_bytes(world, documents))
    written.append(package)
    return sorted(written)


def _handover_date(world: World) -> date:
    return world.now.date() - timedelta(days=HANDOVER_AGE_DAYS)


def handover_record_json(world: World) -> str:
    """Return operational-handover-record.json: every service, its owner and SLA."""
    services = []
    for service in world.services:
        response, resolution, availability, hours = TIER_SLA[min(service.tier, 3)]
        services.append(
            {
                "service": service.name,
                "owner": service.owner,
                "team": service.team,
                "tier": service.tier,
                "oncall_rotation": service.oncall,
                "escalation_contact": world.team_lead(service.team).email,
                "support_hours": hours,
                "sla": {
                    "response_minutes": response,
                    "resolution_hours": resolution,
                    "availability": availability,
                },
            }
        )
    document = {
        "schema_version": "1",
        "handover_date": _handover_date(world).isoformat(),
        "from": "Delivery programme",
        "to": "Operations and SRE",
        "services": services,
    }
    return dumps_json(document)


def kt_feedback_json(world: World) -> str:
    """Return knowledge-transfer-feedback.json with a handful of open and closed gaps."""
    rng = world.rng("knowledge-transfer")
    count = max(5, min(40, len(world.services) // 6))
    today = world.now.date()
    gaps = []
    for number in range(count):
        service = rng.choice(world.services)
        status = rng.choices(("open", "in_progress", "closed"), weights=(0.45, 0.2, 0.35))[0]
        severity = rng.choices(("high", "medium", "low"), weights=(0.3, 0.5, 0.2))[0]
        owner = service.owner or world.team_lead(service.team).name
        gaps.append(
            {
                "id": f"KT-{number + 1:02d}",
                "topic": rng.choice(KT_TOPICS).format(service=service.name),
                "service": service.name,
                "owner": owner,
                "severity": severity,
                "status": status,
                "due_date": (today + timedelta(days=rng.randint(-15, 60))).isoformat(),
                "follow_up": rng.choice(
                    (
                        "Pairing session with the delivery team",
                        "Write the runbook section and review it in the ops sync",
                        "Record a walkthrough and link it from the service catalog",
                        "Shadow the next on-call shift",
                    )
                ),
            }
        )
    document = {
        "schema_version": "1",
        "collected": (_handover_date(world) + timedelta(days=7)).isoformat(),
        "gaps": gaps,
    }
    return dumps_json(document)


def _alert_name(service: DemoService, suffix: str) -> str:
    return "".join(part.capitalize() for part in service.name.split("-")) + suffix


def observability_baseline_markdown(world: World) -> str:
    """Return OBSERVABILITY-BASELINE.md, measured 20 days before the world's clock.

    A few services have no dashboard and a few others no alert, for the baseline review.
    """
    rng = world.rng("observability-baseline")
    measured = world.now.date() - timedelta(days=BASELINE_AGE_DAYS)
    gaps = max(1, len(world.services) // 10)
    names = sorted(s.name for s in world.services)
    shuffled = rng.sample(names, k=len(names))
    no_dashboard = set(shuffled[:gaps])
    no_alert = set(shuffled[gaps : 2 * gaps])
    rows = []
    for service in world.services:
        availability = TIER_SLA[min(service.tier, 3)][2]
        p95 = round(rng.lognormvariate(4.8 + 0.15 * service.tier, 0.3))
        error_rate = round(rng.uniform(0.0005, 0.004) * 100, 2)
        dashboard = (
            None
            if service.name in no_dashboard
            else f"https://grafana.example.com/d/{service.name}/overview"
        )
        figures = (
            ("availability", f"{min(99.999, availability + rng.uniform(0.01, 0.04)):.3f}%",
             f"below {availability}%", "SLOAvailabilityBurn"),
            ("p95 latency", f"{p95} ms", f"above {p95 * 2} ms", "LatencyP95High"),
            ("error rate", f"{error_rate}%", "above 1%", "ErrorRateHigh"),
        )
        for metric, baseline, threshold, alert in figures:
            rows.append(
                (
                    service.name,
                    metric,
                    baseline,
                    threshold,
                    dashboard or "—",
                    "—" if service.name in no_alert else _alert_name(service, alert),
                )
            )
    table = md_table(["Service", "Metric", "Baseline", "Threshold", "Dashboard", "Alert"], rows)
    return (
        "# Observability baseline\n\n"
        f"Measured: {measured.isoformat()}\n\n"
        "Baselines are 28-day medians from the production metrics store at handover; "
        "thresholds are the alerting conditions in force.\n\n"
        "## Services\n\n" + table
    )


def _runbook(world: World, service: DemoService) -> str:
    lead = world.team_lead(service.team)
    deps = ", ".join(service.dependencies) or "none"
    endpoints = "\n".join(f"- `{e}`" for e in service.endpoints)
    return f"""# Runbook: {service.name}

- Team: {service.team} (escalation: {lead.name} <{lead.email}>)
- Tier: {service.tier}; deployment: {service.deployment}; on-call: {service.oncall}
- Dependencies: {deps}

## Endpoints

{endpoints}

## First response

1. Check the service dashboard and the error-budget burn alerts.
2. If a deploy happened in the last hour, roll it back.
3. Check the dependencies above for an ongoing incident.
4. Page the escalation contact if not mitigated within 30 minutes.
"""


def _architecture(world: World) -> str:
    rows = [
        (s.name, s.team, s.tier, s.deployment, ", ".join(s.dependencies) or "—")
        for s in world.services
    ]
    return (
        "# Architecture overview\n\n"
        f"{len(world.services)} services in {len(world.teams)} teams.\n\n"
        + md_table(["Service", "Team", "Tier", "Deployment", "Depends on"], rows)
    )


def closure_package_bytes(world: World, documents: dict[InputKey, str]) -> bytes:
    """Return CLOSURE-PACKAGE.zip: index, architecture, runbooks and the handover documents."""
    entries: dict[str, str] = {}
    critical = [s for s in world.services if s.tier <= 1]
    for service in critical:
        entries[f"runbooks/{service.name}.md"] = _runbook(world, service)
    entries["architecture/overview.md"] = _architecture(world)
    for key, text in documents.items():
        entries[f"handover-documents/{HANDOVER_FILES[key]}"] = text
    index = ["# Closure package", "", f"Handover date: {_handover_date(world).isoformat()}", ""]
    index += [f"- {name}" for name in sorted(entries)]
    entries["README.md"] = "\n".join(index) + "\n"
    stamp = world.now - timedelta(days=HANDOVER_AGE_DAYS)
    date_time = (stamp.year, stamp.month, stamp.day, 12, 0, 0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, so the permission bits below are meaningful
            info.external_attr = 0o100644 << 16
            archive.writestr(info, entries[name].encode("utf-8"))
    return buffer.getvalue()
