"""Demo alert history: PagerDuty and Opsgenie exports that agree with the world's incidents.

Every incident in the alert history's span raised an alert when it was detected (two for a
major incident: the error-rate alert and the SLO burn alert), acknowledged and resolved by
its responder. Around them, realistic noise with known answers for the noise analysis:

- two flapping alerts (a disk-space check and a queue-depth check) that re-fire within
  minutes of resolving themselves;
- a nightly batch alert that fires while everybody sleeps and nobody ever acts on;
- occasional short CPU alerts that close themselves.

Teams ``payments`` and ``messaging`` page through Opsgenie, everyone else through PagerDuty.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from opsledger.core.fileio import atomic_write_text, dumps_json
from opsledger.demo.world import DemoIncident, DemoService, World

ALERTS_DIR = "incidents/alerts"
PAGERDUTY_FILE = "pagerduty-alerts.json"
OPSGENIE_FILE = "opsgenie-alerts.json"
OPSGENIE_TEAMS = frozenset({"payments", "messaging"})
MONITOR = "Prometheus"  # the integration that closes alerts by itself


@dataclass(frozen=True)
class _Firing:
    key: str
    alert: str
    service: DemoService
    created: datetime
    acknowledged: datetime | None
    resolved: datetime | None
    by_person: bool
    incident: str | None
    severity: str  # critical | error | warning | info
    responder: str | None = None
    count: int = 1


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _open_at(world: World, moment: datetime | None) -> datetime | None:
    """Return ``moment`` if it already happened, else None (still open at ``world.now``)."""
    return moment if moment is not None and moment <= world.now else None


def _incident_firings(world: World, start: datetime) -> list[_Firing]:
    firings = []
    for incident in world.incidents:
        if not start <= incident.detected_at < world.now:
            continue
        service = world.service(incident.service)
        firings.append(_from_incident(world, incident, service, "HighErrorRate", "error"))
        if incident.major:
            firings.append(
                _from_incident(world, incident, service, "SLOErrorBudgetBurnPage", "critical")
            )
    return firings


def _from_incident(
    world: World, incident: DemoIncident, service: DemoService, alert: str, severity: str
) -> _Firing:
    return _Firing(
        key=f"{incident.id}-{alert}",
        alert=alert,
        service=service,
        created=incident.detected_at,
        acknowledged=_open_at(world, incident.acknowledged_at),
        resolved=_open_at(world, incident.resolved_at),
        by_person=True,
        incident=incident.id,
        severity=severity,
        responder=incident.responder,
    )


def _flapping(
    rng: random.Random, world: World, service: DemoService, alert: str, start: datetime
) -> list[_Firing]:
    """Return bursts of short, self-resolving firings that re-fire within minutes."""
    firings = []
    days = max(1, (world.now - start).days)
    for burst in range(max(4, days // 6)):
        moment = start + timedelta(minutes=rng.randrange(0, days * 1440 - 600))
        for repeat in range(rng.randint(3, 6)):
            length = timedelta(minutes=rng.randint(1, 4))
            firings.append(
                _Firing(
                    key=f"{alert}-{burst}-{repeat}",
                    alert=alert,
                    service=service,
                    created=moment,
                    acknowledged=None,
                    resolved=_open_at(world, moment + length),
                    by_person=False,
                    incident=None,
                    severity="warning",
                    count=rng.choice([1, 1, 2, 3]),
                )
            )
            moment += length + timedelta(minutes=rng.randint(2, 12))
    return firings


def _nightly(
    rng: random.Random, world: World, service: DemoService, start: datetime
) -> list[_Firing]:
    """Return a nightly batch alert at about 02:00 UTC that nobody ever acknowledges."""
    firings = []
    day = start.replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while day < world.now - timedelta(hours=1):
        if rng.random() < 0.8:
            created = day + timedelta(minutes=rng.randint(0, 25))
            firings.append(
                _Firing(
                    key=f"nightly-{day:%Y%m%d}",
                    alert="NightlyExportSlow",
                    service=service,
                    created=created,
                    acknowledged=None,
                    resolved=created + timedelta(minutes=rng.randint(20, 45)),
                    by_person=False,
                    incident=None,
                    severity="warning",
                )
            )
        day += timedelta(days=1)
    return firings


def _cpu(rng: random.Random, world: World, start: datetime) -> list[_Firing]:
    """Return occasional short CPU alerts; one in four is acknowledged by someone."""
    firings = []
    minutes = int((world.now - start).total_seconds() // 60)
    for number in range(max(6, minutes // (2 * 1440))):
        service = rng.choice(world.services)
        created = start + timedelta(minutes=rng.randrange(0, minutes - 60))
        acked = rng.random() < 0.25
        firings.append(
            _Firing(
                key=f"cpu-{number}",
                alert="HighCPU",
                service=service,
                created=created,
                acknowledged=created + timedelta(minutes=rng.randint(2, 9)) if acked else None,
                resolved=created + timedelta(minutes=rng.randint(3, 25)),
                by_person=False,
                incident=None,
                severity="warning",
            )
        )
    return firings


def _noise_services(world: World) -> tuple[DemoService, DemoService, DemoService]:
    """Return the services carrying the two flapping alerts and the nightly one."""
    opsgenie = [s for s in world.services if s.team in OPSGENIE_TEAMS]
    pagerduty = [s for s in world.services if s.team not in OPSGENIE_TEAMS]
    vm = [s for s in pagerduty if s.deployment == "vm-package"] or pagerduty
    data = [s for s in pagerduty if s.team == "data"] or pagerduty
    queue = [s for s in opsgenie if s.team == "messaging"] or opsgenie or pagerduty
    return vm[0], queue[0], data[-1]


def firings(world: World) -> list[_Firing]:
    """Return every firing of the demo alert history, ordered by time."""
    rng = world.rng("alerts")
    start = world.history_start
    disk_service, queue_service, batch_service = _noise_services(world)
    found = _incident_firings(world, start)
    found += _flapping(rng, world, disk_service, "DiskSpaceLow", start)
    found += _flapping(rng, world, queue_service, "QueueDepthHigh", start)
    found += _nightly(rng, world, batch_service, start)
    found += _cpu(rng, world, start)
    found = [f for f in found if f.created < world.now]
    found.sort(key=lambda f: (f.created, f.key))
    return found


def _pagerduty(world: World, items: list[_Firing]) -> dict[str, Any]:
    alerts, entries = [], []
    for number, firing in enumerate(items):
        # PagerDuty opens an incident per alert; incident-backed alerts share the incident.
        incident = firing.incident or f"Q{number:05d}"
        alerts.append(
            {
                "id": f"PA{number:05d}",
                "type": "alert",
                "summary": f"[FIRING:1] {firing.alert} {firing.service.name}",
                "created_at": _iso(firing.created),
                "status": "resolved" if firing.resolved else "triggered",
                "alert_key": f"{firing.alert}-{firing.service.name}",
                "severity": firing.severity,
                "suppressed": False,
                "service": {
                    "id": f"PS{world.services.index(firing.service):04d}",
                    "type": "service_reference",
                    "summary": firing.service.name,
                },
                "incident": {"id": incident, "type": "incident_reference"},
                "body": {
                    "type": "alert_body",
                    "details": {"alertname": firing.alert, "service": firing.service.name},
                },
            }
        )
        person = {"type": "user_reference", "summary": firing.responder or "on-call"}
        if firing.acknowledged:
            entries.append(
                {
                    "id": f"LA{number:05d}",
                    "type": "acknowledge_log_entry",
                    "created_at": _iso(firing.acknowledged),
                    "incident": {"id": incident, "type": "incident_reference"},
                    "agent": person,
                }
            )
        if firing.resolved:
            agent = (
                person
                if firing.by_person
                else {
                    "type": "service_reference",
                    "summary": firing.service.name,
                }
            )
            entries.append(
                {
                    "id": f"LR{number:05d}",
                    "type": "resolve_log_entry",
                    "created_at": _iso(firing.resolved),
                    "incident": {"id": incident, "type": "incident_reference"},
                    "agent": agent,
                }
            )
    return {"alerts": alerts, "log_entries": entries, "limit": len(alerts), "more": False}


def _email(world: World, name: str | None) -> str:
    person = next((p for p in world.people if p.name == name), None)
    return person.email if person else "oncall@example.com"


def _opsgenie(world: World, items: list[_Firing]) -> dict[str, Any]:
    alerts = []
    for number, firing in enumerate(items):
        report: dict[str, Any] = {}
        if firing.acknowledged:
            report["ackTime"] = int((firing.acknowledged - firing.created).total_seconds() * 1000)
            report["acknowledgedBy"] = _email(world, firing.responder)
        if firing.resolved:
            report["closeTime"] = int((firing.resolved - firing.created).total_seconds() * 1000)
            report["closedBy"] = _email(world, firing.responder) if firing.by_person else MONITOR
        tags = [f"service:{firing.service.name}", f"team:{firing.service.team}"]
        if firing.incident:
            tags.append(f"incident:{firing.incident}")
        updated = firing.resolved or firing.acknowledged or firing.created
        alerts.append(
            {
                "id": f"og-{number:05d}",
                "tinyId": str(number + 1),
                "alias": f"{firing.alert}-{firing.service.name}",
                "message": firing.alert,
                "status": "closed" if firing.resolved else "open",
                "acknowledged": firing.acknowledged is not None,
                "isSeen": firing.acknowledged is not None,
                "tags": tags,
                "snoozed": False,
                "count": firing.count,
                "lastOccurredAt": _iso(firing.created),
                "createdAt": _iso(firing.created),
                "updatedAt": _iso(updated),
                "source": MONITOR,
                "owner": _email(world, firing.responder) if firing.acknowledged else "",
                "priority": {"critical": "P1", "error": "P2", "warning": "P3"}.get(
                    firing.severity, "P5"
                ),
                "report": report,
            }
        )
    return {"data": alerts, "took": 0.0, "requestId": "demo"}


def write_alert_history(world: World, root: Path) -> list[Path]:
    """Write the PagerDuty and Opsgenie alert exports under ``incidents/alerts``."""
    everything = firings(world)
    opsgenie = [f for f in everything if f.service.team in OPSGENIE_TEAMS]
    pagerduty = [f for f in everything if f.service.team not in OPSGENIE_TEAMS]
    folder = root / ALERTS_DIR
    paths = [folder / PAGERDUTY_FILE, folder / OPSGENIE_FILE]
    atomic_write_text(paths[0], dumps_json(_pagerduty(world, pagerduty)))
    atomic_write_text(paths[1], dumps_json(_opsgenie(world, opsgenie)))
    return paths
