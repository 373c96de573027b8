"""Demo writers for the operational records: health history, perf runs, gates, incidents.

Each writer renders the seeded :class:`World` into workspace files and returns the paths it
wrote. Output depends only on the world (seed, size, ``now``), never on the clock.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from opsledger.core.fileio import atomic_write_text, csv_text, dumps_json
from opsledger.demo.world import DemoIncident, DemoService, World

HEALTH_DIR = "reports/health"
# Probes of critical services (tier 0-1) run at the world's interval; the rest, and the
# journey check of tier-0 services, at this multiple of it. This keeps the medium
# workspace (40 services, 90 days, 5-minute probes) under 600,000 rows.
SPARSE_EVERY = 5
# Every n-th service is probed by a second tool that writes JSON Lines.
JSONL_EVERY = 8
# A probe that fails by refusing the connection has no latency; a timeout reports this one.
PROBE_TIMEOUT_MS = 10_000.0
BACKGROUND_FAILURE = 0.0004


def _numpy_rng(world: World, purpose: str) -> np.random.Generator:
    return np.random.default_rng(world.rng(purpose).getrandbits(64))


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def probe_plan(service: DemoService, interval_minutes: int) -> list[tuple[str, int]]:
    """Return the (check, interval in minutes) pairs probed for ``service``."""
    if service.tier <= 1:
        plan = [("http", interval_minutes)]
        if service.tier == 0:
            plan.append(("synthetic-journey", interval_minutes * SPARSE_EVERY))
        return plan
    return [("http", interval_minutes * SPARSE_EVERY)]


def _base_latency_ms(service: DemoService) -> float:
    # Edge and critical services answer faster; deep back-office services are slower.
    return 35.0 + 25.0 * service.tier + (len(service.name) % 7) * 6.0


def _probe_series(
    world: World,
    service: DemoService,
    check: str,
    interval: int,
    incidents: list[DemoIncident],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (minute offsets, ok flags, latency in ms with NaN for none) for one check."""
    rng = _numpy_rng(world, f"health:{service.name}:{check}")
    total_minutes = world.scale.health_days * 24 * 60
    offsets = np.arange(0, total_minutes, interval, dtype=np.int64)
    # Start-of-history minute of day, to place the diurnal peak in the afternoon (UTC).
    start = world.history_start
    minute_of_day = (offsets + start.hour * 60 + start.minute) % (24 * 60)
    diurnal = 1.0 + 0.35 * np.sin(2 * math.pi * (minute_of_day / 1440.0 - 0.375))
    base = _base_latency_ms(service) * (1.6 if check == "synthetic-journey" else 1.0)
    latency = base * diurnal * rng.lognormal(0.0, 0.25, offsets.size)
    fail_probability = np.full(offsets.size, BACKGROUND_FAILURE)
    for incident in incidents:
        first = (incident.started_at - start).total_seconds() / 60
        last = (incident.resolved_at - start).total_seconds() / 60
        inside = (offsets >= first) & (offsets < last)
        if not inside.any():
            continue
        fail_probability[inside] = np.maximum(fail_probability[inside], incident.error_fraction)
        latency[inside] *= 1.5 + 6.0 * incident.error_fraction
    ok = rng.random(offsets.size) >= fail_probability
    failed = ~ok
    refused = failed & (rng.random(offsets.size) < 0.4)
    timed_out = failed & ~refused & (rng.random(offsets.size) < 0.5)
    latency[timed_out] = PROBE_TIMEOUT_MS
    latency[refused] = np.nan
    return offsets, ok, np.round(latency, 1)


def write_health(world: World, root: Path) -> list[Path]:
    """Write the probe history: a CSV per team, a JSONL file per service of the second tool."""
    folder = root / HEALTH_DIR
    interval = world.scale.health_interval_minutes
    start = world.history_start
    by_service: dict[str, list[DemoIncident]] = {}
    for incident in world.incidents:
        by_service.setdefault(incident.service, []).append(incident)
    stamps: dict[int, str] = {}

    def stamp(offset: int) -> str:
        text = stamps.get(offset)
        if text is None:
            text = stamps[offset] = _iso(start + timedelta(minutes=offset))
        return text

    team_rows: dict[str, list[str]] = {}
    written: list[Path] = []
    for index, service in enumerate(world.services):
        jsonl = index % JSONL_EVERY == JSONL_EVERY - 1
        lines: list[str] = []
        for check, every in probe_plan(service, interval):
            offsets, ok, latency = _probe_series(
                world, service, check, every, by_service.get(service.name, [])
            )
            for offset, passed, millis in zip(offsets.tolist(), ok.tolist(), latency.tolist(),
                                              strict=True):
                word = "true" if passed else "false"
                if jsonl:
                    shown = "null" if math.isnan(millis) else repr(millis)
                    lines.append(
                        f'{{"timestamp": "{stamp(offset)}", "service": "{service.name}", '
                        f'"check": "{check}", "success": {word}, "duration_ms": {shown}}}'
                    )
                else:
                    shown = "" if math.isnan(millis) else repr(millis)
                    lines.append(f"{stamp(offset)},{service.name},{check},{word},{shown}")
        if jsonl:
            path = folder / f"{service.name}.jsonl"
            atomic_write_text(path, "\n".join(lines) + "\n")
            written.append(path)
        else:
            team_rows.setdefault(service.team, []).extend(lines)
    for team in sorted(team_rows):
        path = folder / f"{team}.csv"
        atomic_write_text(path, "time,service,check,ok,latency_ms\n" + "\n".join(team_rows[team])
                          + "\n")
        written.append(path)
    return written


def health_row_count(world: World) -> int:
    """Return how many probe rows :func:`write_health` writes for ``world``."""
    minutes = world.scale.health_days * 24 * 60
    return sum(
        math.ceil(minutes / every)
        for service in world.services
        for _, every in probe_plan(service, world.scale.health_interval_minutes)
    )


PERF_FILE = "reports/perf.json"
PERF_SERVICES = 6
PERF_DURATION_S = 600
P95_REGRESSIONS = 3


def _endpoint_baseline(
    service: DemoService, endpoint: str, rng: np.random.Generator
) -> dict[str, float | int | str]:
    write_factor = 1.35 if endpoint.split()[0] in ("POST", "PUT", "DELETE") else 1.0
    p50 = _base_latency_ms(service) * write_factor * float(rng.lognormal(0.0, 0.2))
    p95 = p50 * float(rng.uniform(2.2, 2.8))
    p99 = p95 * float(rng.uniform(1.6, 2.0))
    # The load test drives each endpoint at half again its share of mean traffic.
    rps = service.requests_per_minute / 60 / len(service.endpoints) * 1.5
    return {
        "endpoint": endpoint,
        "p50_ms": round(p50, 1),
        "p95_ms": round(p95, 1),
        "p99_ms": round(p99, 1),
        "rps": round(rps, 2),
        "error_rate": round(float(rng.uniform(0.0002, 0.003)), 5),
        "requests": round(rps * PERF_DURATION_S),
    }


def write_perf(world: World, root: Path) -> list[Path]:
    """Write ``reports/perf.json``: a baseline and a current run of the busiest endpoints.

    The current run drifts a little everywhere, regresses p95 clearly on three endpoints
    and raises the error rate of one other endpoint.
    """
    rng = _numpy_rng(world, "perf")
    busiest = sorted(world.services, key=lambda s: (-s.requests_per_minute, s.name))
    baseline: list[dict[str, float | int | str]] = []
    seen: set[str] = set()
    for service in busiest[:PERF_SERVICES]:
        for endpoint in service.endpoints:
            if endpoint not in seen:
                seen.add(endpoint)
                baseline.append(_endpoint_baseline(service, endpoint, rng))
    order = rng.permutation(len(baseline)).tolist()
    regressed = set(order[:P95_REGRESSIONS])
    erroring = order[P95_REGRESSIONS] if len(order) > P95_REGRESSIONS else None
    current = []
    for index, before in enumerate(baseline):
        drift = float(rng.uniform(0.95, 1.08))
        after = dict(before)
        for key in ("p50_ms", "p95_ms", "p99_ms"):
            after[key] = round(float(before[key]) * drift, 1)
        if index in regressed:
            after["p95_ms"] = round(float(before["p95_ms"]) * float(rng.uniform(1.45, 1.9)), 1)
            after["p99_ms"] = round(
                max(float(after["p95_ms"]) * 1.4, float(before["p99_ms"]) * 1.3), 1
            )
        if index == erroring:
            after["error_rate"] = round(float(rng.uniform(0.02, 0.04)), 5)
        current.append(after)
    started = world.now.replace(hour=2, minute=0, second=0, microsecond=0)
    document = {
        "baseline": {
            "started_at": _iso(started - timedelta(days=30)),
            "tool": "k6",
            "duration_s": PERF_DURATION_S,
            "endpoints": baseline,
        },
        "current": {
            "started_at": _iso(started - timedelta(days=1)),
            "tool": "k6",
            "duration_s": PERF_DURATION_S,
            "endpoints": current,
        },
    }
    path = root / PERF_FILE
    atomic_write_text(path, dumps_json(document))
    return [path]


GATES_FILE = "gates_config.yaml"
GATES_YAML = """\
# Numeric quality gates. A gate passes when `value <operator> threshold` holds; between the
# threshold and warn_threshold it passes with a warning. A failed gate fails the check
# unless it is marked `advisory: true`, which makes its failure a warning.
version: 1
gates:
  - name: availability
    metric: worst_critical_availability  # worst tier-0/1 service: ok probes / probes, 0-1
    operator: ">="
    threshold: 0.999
    warn_threshold: 0.9995
    weight: 3
    description: Every tier-0/1 service meets its availability objective.
  - name: latency-p95
    metric: latency_p95_ms          # worst endpoint p95 in the current perf run
    operator: "<="
    threshold: 500
    warn_threshold: 400
    weight: 2
  - name: error-rate
    metric: error_rate              # worst endpoint error rate in the current perf run
    operator: "<="
    threshold: 0.01
    warn_threshold: 0.005
    weight: 2
  - name: critical-vulnerabilities
    metric: critical_vulnerabilities_overdue  # open critical findings past their SLA
    operator: "=="
    threshold: 0
    weight: 3
  - name: test-pass-rate
    metric: test_pass_rate
    operator: ge
    threshold: 0.98
    warn_threshold: 0.995
    weight: 2
  - name: coverage
    metric: coverage                # line coverage, 0-1
    operator: ge
    threshold: 0.75
    warn_threshold: 0.8
    weight: 1
    advisory: true                  # tracked, not blocking a release
  - name: overdue-action-items
    metric: overdue_action_items    # postmortem action items past due
    operator: le
    threshold: 5
    warn_threshold: 2
    weight: 1
  - name: mttr-major
    metric: mttr_minutes_major      # mean time to resolve SEV1/SEV2 incidents
    operator: "<="
    threshold: 240
    warn_threshold: 120
    weight: 1
"""


def write_gates(world: World, root: Path) -> list[Path]:
    """Write ``gates_config.yaml`` (the same gates for every world)."""
    path = root / GATES_FILE
    atomic_write_text(path, GATES_YAML)
    return [path]


INCIDENTS_DIR = "incidents"
PAGERDUTY_FILE = "pagerduty-incidents.csv"
PAGERDUTY_COLUMNS = (
    "id", "incident_number", "description", "service_name", "escalation_policy_name",
    "created_on", "resolved_on", "seconds_to_first_ack", "seconds_to_resolve",
    "auto_resolved", "urgency", "priority", "status", "teams", "assigned_to",
)
NATIVE_COLUMNS = (
    "id", "title", "service", "severity", "status", "created_at", "acknowledged_at",
    "resolved_at", "detected_at", "started_at", "team", "urgency", "escalation_policy",
    "assignee", "postmortem_required", "data_loss", "tags",
)


def native_incident_team(world: World) -> str:
    """Return the team that keeps its own incident log (native CSV) instead of PagerDuty."""
    teams = {world.service(i.service).team for i in world.incidents}
    return "payments" if "payments" in teams else sorted(teams)[0]


def _urgency(severity: str) -> str:
    return "high" if severity in ("SEV1", "SEV2", "SEV3") else "low"


def _pagerduty_row(world: World, incident: DemoIncident) -> list[object]:
    service = world.service(incident.service)
    resolved = incident.resolved_at <= world.now
    return [
        incident.id,
        int(incident.id.split("-")[1]),
        incident.title,
        incident.service,
        f"{service.team}-escalation",
        _iso(incident.detected_at),
        _iso(incident.resolved_at) if resolved else "",
        int((incident.acknowledged_at - incident.detected_at).total_seconds()),
        int((incident.resolved_at - incident.detected_at).total_seconds()) if resolved else "",
        "false",
        _urgency(incident.severity),
        "P" + incident.severity[-1],
        "resolved" if resolved else "acknowledged",
        service.team,
        incident.responder,
    ]


def _native_row(world: World, incident: DemoIncident) -> list[object]:
    service = world.service(incident.service)
    resolved = incident.resolved_at <= world.now
    return [
        incident.id,
        incident.title,
        incident.service,
        incident.severity,
        "resolved" if resolved else "acknowledged",
        _iso(incident.detected_at),
        _iso(incident.acknowledged_at),
        _iso(incident.resolved_at) if resolved else "",
        _iso(incident.detected_at),
        _iso(incident.started_at),
        service.team,
        _urgency(incident.severity),
        f"{service.team}-escalation",
        incident.responder,
        "true" if incident.major else "false",
        "false",
        f"{service.deployment};tier-{service.tier}",
    ]


def write_incidents(world: World, root: Path) -> list[Path]:
    """Write the incidents: a PagerDuty export for most teams, a native CSV for one team.

    Planted for the checks to find: one native row has an impossible date (30 February),
    and the team's first incident was also exported from PagerDuty (a duplicate to fold).
    """
    team = native_incident_team(world)
    native = [i for i in world.incidents if world.service(i.service).team == team]
    paged = [i for i in world.incidents if world.service(i.service).team != team]
    if len(native) >= 2:
        paged = sorted([*paged, native[0]], key=lambda i: (i.detected_at, i.id))
    native_rows = [_native_row(world, incident) for incident in native]
    if native_rows:
        # Break a minor incident's row, so the other planted gaps (a major incident without
        # its postmortem, the folded duplicate) stay visible.
        minor = [k for k, incident in enumerate(native) if not incident.major and k > 0]
        index = minor[-1] if minor else len(native) - 1
        broken = native[index].acknowledged_at
        native_rows[index][NATIVE_COLUMNS.index("acknowledged_at")] = (
            f"{broken.year}-02-30T{broken:%H:%M}:00Z"
        )
    folder = root / INCIDENTS_DIR
    pagerduty_path = folder / PAGERDUTY_FILE
    native_path = folder / f"{team}-incidents.csv"
    atomic_write_text(
        pagerduty_path,
        csv_text(PAGERDUTY_COLUMNS, [_pagerduty_row(world, i) for i in paged]),
    )
    atomic_write_text(native_path, csv_text(NATIVE_COLUMNS, native_rows))
    return [pagerduty_path, native_path]
