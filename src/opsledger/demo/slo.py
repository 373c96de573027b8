"""Demo SLO definitions and request events, consistent with the world's incidents.

``write_telemetry`` renders request events for the services that have SLOs: a steady,
diurnal traffic pattern with a small background error rate, and outages during each
incident's impact (from ``started_at`` to ``resolved_at``) at the incident's error fraction.
``write_slos`` defines their SLOs in the formats teams use: OpenSLO v1 over the event files
(DuckDB), a native file over the health history, and Sloth and slo-generator files for
Prometheus-scraped services. The SLOs the demo computes use only what it ships (the events
up to the world's ``now``, the health history); the PromQL ones are examples of those formats,
which ``opsledger slo rules`` turns into Prometheus rules and which a review computes only
when given a Prometheus server.

One planned maintenance (:func:`planned_maintenance`) also fails part of the most critical
service's requests; ``opsledger.yaml`` declares it under ``error_budget_exclusions``, so the
report shows that SLO's budget with and without it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from opsledger.core.fileio import atomic_write_bytes, atomic_write_text
from opsledger.demo.world import DemoService, Size, World

TELEMETRY_DAYS = 35  # a 30-day window plus the 3-day burn lookback and some slack
TARGET_EVENTS = {Size.SMALL: 400_000, Size.MEDIUM: 3_000_000, Size.LARGE: 8_000_000}
SLO_SERVICES = {Size.SMALL: 5, Size.MEDIUM: 12, Size.LARGE: 20}
REQUESTS_FILE = "telemetry/requests/requests.parquet"
ERROR_STATUSES = np.array([500, 502, 503, 504], dtype=np.int16)
OK_STATUSES = np.array([200, 200, 200, 200, 201, 204, 404], dtype=np.int16)
LATENCY_THRESHOLD_MS = 300


def slo_services(world: World) -> list[DemoService]:
    """Return the services with SLOs: the most critical ones (lowest tier), then by traffic."""
    ranked = sorted(world.services, key=lambda s: (s.tier, -s.requests_per_minute, s.name))
    return ranked[: SLO_SERVICES[world.size]]


@dataclass(frozen=True)
class PlannedMaintenance:
    """A maintenance that failed part of one service's requests, declared as excluded."""

    name: str
    service: str
    start: datetime
    end: datetime
    error_fraction: float
    reason: str


def planned_maintenance(world: World) -> PlannedMaintenance:
    """Return the demo's planned maintenance: ten days before ``now``, 01:00-02:15 UTC, the
    most critical SLO service's database moved, a third of its requests failing meanwhile."""
    start = (world.now - timedelta(days=10)).replace(hour=1, minute=0, second=0, microsecond=0)
    return PlannedMaintenance(
        "database-migration",
        slo_services(world)[0].name,
        start,
        start + timedelta(minutes=75),
        0.35,
        "primary database moved to the new cluster; downtime announced to customers",
    )


def maintenance_exclusion(world: World, approver: str) -> dict[str, object]:
    """Return the planned maintenance as an ``error_budget_exclusions.maintenance`` entry."""
    maintenance = planned_maintenance(world)
    return {
        "name": maintenance.name,
        "start": maintenance.start.isoformat(),
        "end": maintenance.end.isoformat(),
        "reason": maintenance.reason,
        "approved_by": approver,
        "services": [maintenance.service],
    }


def _generator(world: World, purpose: str) -> np.random.Generator:
    digest = hashlib.sha256(f"{world.seed}:{purpose}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def write_telemetry(world: World, root: Path) -> list[Path]:
    """Write request events (ts, service, endpoint, status, latency_ms) as one Parquet file."""
    services = slo_services(world)
    rng = _generator(world, "telemetry")
    end = world.now.replace(second=0, microsecond=0)
    start = end - timedelta(days=TELEMETRY_DAYS)
    minutes = TELEMETRY_DAYS * 1440
    weight = np.array([s.requests_per_minute for s in services])
    per_minute = weight / weight.sum() * TARGET_EVENTS[world.size] / minutes
    per_minute = np.maximum(per_minute, 1.0)
    minute_of_day = np.arange(minutes) % 1440
    diurnal = 1.0 + 0.5 * np.sin(2 * np.pi * (minute_of_day - 6 * 60) / 1440)
    error_fraction = _outages(world, services, start, minutes)
    background = np.linspace(0.0004, 0.002, num=len(services))
    path = root / REQUESTS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    names = pa.array([s.name for s in services])
    endpoints = sorted({e for s in services for e in s.endpoints})
    endpoint_index = {e: i for i, e in enumerate(endpoints)}
    service_endpoints = [np.array([endpoint_index[e] for e in s.endpoints]) for s in services]
    schema = pa.schema(
        [
            ("ts", pa.timestamp("us", tz="UTC")),
            ("service", pa.dictionary(pa.int16(), pa.string())),
            ("endpoint", pa.dictionary(pa.int16(), pa.string())),
            ("status", pa.int16()),
            ("latency_ms", pa.float32()),
        ]
    )
    sink = pa.BufferOutputStream()
    start_us = int(start.timestamp() * 1_000_000)
    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for day in range(TELEMETRY_DAYS):
            window = slice(day * 1440, (day + 1) * 1440)
            counts = rng.poisson(np.outer(per_minute, diurnal[window]))  # services x minutes
            service_ids = np.repeat(np.arange(len(services)), counts.sum(axis=1))
            minute_ids = (
                np.concatenate([np.repeat(np.arange(1440), row) for row in counts]) + day * 1440
            )
            ts = start_us + minute_ids * 60_000_000 + rng.integers(0, 60_000_000, minute_ids.size)
            failing = error_fraction[service_ids, minute_ids] + background[service_ids]
            error = rng.random(ts.size) < failing
            status = np.where(
                error,
                ERROR_STATUSES[rng.integers(0, ERROR_STATUSES.size, ts.size)],
                OK_STATUSES[rng.integers(0, OK_STATUSES.size, ts.size)],
            )
            slow = 1.0 + 4.0 * (error_fraction[service_ids, minute_ids] > 0)
            latency = rng.lognormal(np.log(60.0), 0.6, ts.size) * slow
            endpoint = _pick_endpoints(service_endpoints, service_ids, rng)
            order = np.argsort(ts, kind="stable")
            batch = pa.record_batch(
                [
                    pa.array(ts[order], type=pa.timestamp("us", tz="UTC")),
                    pa.DictionaryArray.from_arrays(
                        pa.array(service_ids[order].astype(np.int16)), names
                    ),
                    pa.DictionaryArray.from_arrays(pa.array(endpoint[order]), pa.array(endpoints)),
                    pa.array(status[order].astype(np.int16)),
                    pa.array(latency[order].astype(np.float32)),
                ],
                schema=schema,
            )
            writer.write_batch(batch, row_group_size=1_000_000)
    atomic_write_bytes(path, sink.getvalue().to_pybytes())
    return [path]


def _pick_endpoints(
    service_endpoints: list[np.ndarray], service_ids: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    table = np.stack([np.resize(e, 3) for e in service_endpoints])  # services x 3
    return table[service_ids, rng.integers(0, 3, service_ids.size)].astype(np.int16)


def _outages(
    world: World, services: list[DemoService], start: datetime, minutes: int
) -> np.ndarray:
    """Return the failing share of requests per service and minute from the incidents and
    the planned maintenance."""
    fractions = np.zeros((len(services), minutes))
    index = {s.name: i for i, s in enumerate(services)}
    maintenance = planned_maintenance(world)
    outages = [(i.service, i.started_at, i.resolved_at, i.error_fraction) for i in world.incidents]
    outages.append((maintenance.service, maintenance.start, maintenance.end,
                    maintenance.error_fraction))
    for service, began, ended, error_fraction in outages:
        row = index.get(service)
        if row is None:
            continue
        first = int((began - start) // timedelta(minutes=1))
        last = int(-(-(ended - start) // timedelta(minutes=1)))
        first, last = max(first, 0), min(last, minutes)
        if first < last:
            fractions[row, first:last] = np.maximum(fractions[row, first:last], error_fraction)
    return fractions


# --- definitions -------------------------------------------------------------------------


def _duck_part(where: str) -> dict[str, object]:
    return {
        "metricSource": {
            "metricSourceRef": "request-events",
            "type": "duckdb",
            "spec": {"path": REQUESTS_FILE, "timestamp": "ts", "filter": where},
        }
    }


def _openslo_documents(world: World) -> list[dict[str, object]]:
    docs: list[dict[str, object]] = [
        {
            "apiVersion": "openslo/v1",
            "kind": "DataSource",
            "metadata": {"name": "request-events"},
            "spec": {"type": "duckdb", "connectionDetails": {"path": "telemetry/requests"}},
        }
    ]
    for i, service in enumerate(slo_services(world)):
        mine = f"service = '{service.name}'"
        objective = 0.999 if service.tier == 0 else 0.995
        window = "28d" if i % 3 == 2 else "30d"
        availability: dict[str, object] = {
            "apiVersion": "openslo/v1",
            "kind": "SLO",
            "metadata": {"name": "availability", "displayName": f"{service.name} availability"},
            "spec": {
                "description": f"{objective:.1%} of {service.name} requests do not fail (5xx)",
                "service": service.name,
                "indicator": {
                    "metadata": {"name": f"{service.name}-availability"},
                    "spec": {
                        "ratioMetric": {
                            "counter": True,
                            "good": _duck_part(f"{mine} AND status < 500"),
                            "total": _duck_part(mine),
                        }
                    },
                },
                "timeWindow": [{"duration": window, "isRolling": True}],
                "budgetingMethod": "Occurrences",
                "objectives": [{"displayName": "availability", "target": objective}],
            },
        }
        docs.append(availability)
        if i % 2 == 0:
            budgeting = "Timeslices" if i % 4 == 0 else "Occurrences"
            objective_item: dict[str, object] = {"displayName": "latency", "target": 0.99}
            if budgeting == "Timeslices":
                objective_item |= {"timeSliceTarget": 0.9, "timeSliceWindow": "5m"}
            docs.append(
                {
                    "apiVersion": "openslo/v1",
                    "kind": "SLO",
                    "metadata": {"name": "latency"},
                    "spec": {
                        "description": f"requests served within {LATENCY_THRESHOLD_MS} ms",
                        "service": service.name,
                        "indicator": {
                            "metadata": {"name": f"{service.name}-latency"},
                            "spec": {
                                "ratioMetric": {
                                    "counter": True,
                                    "good": _duck_part(
                                        f"{mine} AND status < 500 AND "
                                        f"latency_ms < {LATENCY_THRESHOLD_MS}"
                                    ),
                                    "total": _duck_part(mine),
                                }
                            },
                        },
                        "timeWindow": [{"duration": "30d", "isRolling": True}],
                        "budgetingMethod": budgeting,
                        "objectives": [objective_item],
                    },
                }
            )
    return docs


def _prometheus_services(world: World) -> list[DemoService]:
    chosen = {s.name for s in slo_services(world)}
    return [s for s in world.services if s.name not in chosen][:3]


def _sloth(service: DemoService) -> dict[str, object]:
    job = f'job="{service.name}"'
    return {
        "version": "prometheus/v1",
        "service": service.name,
        "labels": {"owner": service.team, "tier": str(service.tier)},
        "slos": [
            {
                "name": "requests-availability",
                "objective": 99.5,
                "description": "Common SLO based on availability for HTTP request responses.",
                "sli": {
                    "events": {
                        "error_query": "sum(rate(http_requests_total{"
                        + job
                        + ',code=~"(5..|429)"}[{{.window}}]))',
                        "total_query": "sum(rate(http_requests_total{" + job + "}[{{.window}}]))",
                    }
                },
                "alerting": {
                    "name": f"{service.name.title().replace('-', '')}HighErrorRate",
                    "page_alert": {"labels": {"severity": "critical"}},
                    "ticket_alert": {"labels": {"severity": "warning"}},
                },
            }
        ],
    }


SLO_GENERATOR_CONFIG = {
    "backends": {"prometheus": {"url": "http://prometheus:9090"}},
    "exporters": {},
    "error_budget_policies": {
        "default": {
            "steps": [
                {
                    "name": "1 hour",
                    "burn_rate_threshold": 9,
                    "alert": True,
                    "window": 3600,
                    "message_alert": "Page to defend the SLO",
                    "message_ok": "Last hour on track",
                },
                {
                    "name": "12 hours",
                    "burn_rate_threshold": 3,
                    "alert": True,
                    "window": 43200,
                    "message_alert": "Page to defend the SLO",
                    "message_ok": "Last 12 hours on track",
                },
                {
                    "name": "7 days",
                    "burn_rate_threshold": 1.5,
                    "alert": False,
                    "window": 604800,
                    "message_alert": "Dedicate engineers to the reliability backlog",
                    "message_ok": "Last week on track",
                },
                {
                    "name": "28 days",
                    "burn_rate_threshold": 1,
                    "alert": False,
                    "window": 2419200,
                    "message_alert": "Freeze releases, unless related to reliability or security",
                    "message_ok": "Unfreeze releases",
                },
            ]
        }
    },
}


def _slo_generator(service: DemoService) -> dict[str, object]:
    selector = f'http_requests_total{{job="{service.name}"'
    return {
        "apiVersion": "sre.google.com/v2",
        "kind": "ServiceLevelObjective",
        "metadata": {
            "name": f"{service.name}-availability",
            "labels": {"service_name": service.name, "slo_name": "availability"},
        },
        "spec": {
            "description": f"99.9% of {service.name} requests return a good HTTP code",
            "backend": "prometheus",
            "method": "good_bad_ratio",
            "exporters": [],
            "service_level_indicator": {
                "filter_good": selector + ', code=~"2.."}',
                "filter_valid": selector + "}",
            },
            "goal": 0.999,
        },
    }


def write_slos(world: World, root: Path) -> list[Path]:
    """Write SLO definitions: OpenSLO over the event files, Sloth, slo-generator and native."""
    folder = root / "slos"
    written = []
    openslo = folder / "openslo-requests.yaml"
    requests = _openslo_documents(world)
    atomic_write_text(openslo, _dump_all(requests))
    written.append(openslo)
    journey = _checkout_journey(requests)
    if journey is not None:
        atomic_write_text(folder / "journeys.yaml", _dump_all([journey]))
        written.append(folder / "journeys.yaml")
    prometheus = _prometheus_services(world)
    for service in prometheus[:2]:
        path = folder / "sloth" / f"{service.name}.yaml"
        atomic_write_text(path, _dump_all([_sloth(service)]))
        written.append(path)
    if len(prometheus) > 2:
        config = folder / "slo-generator" / "config.yaml"
        atomic_write_text(config, _dump_all([SLO_GENERATOR_CONFIG]))
        spec = folder / "slo-generator" / f"slo_{prometheus[2].name}_availability.yaml"
        atomic_write_text(spec, _dump_all([_slo_generator(prometheus[2])]))
        written += [config, spec]
    native = folder / "health-checks.yaml"
    checks: dict[str, object] = {
        "slos": [
            {
                "service": service.name,
                "name": "health-checks",
                "description": "share of health probes that pass",
                "objective": 99.0,
                "window": "28d",
                "indicator": {"health": {"service": service.name}},
            }
            for service in slo_services(world)[:3]
        ]
    }
    atomic_write_text(native, _dump_all([checks]))
    written.append(native)
    return written


JOURNEY = ("api-gateway", "checkout", "payments-api")  # browse, fill a cart, pay
JOURNEY_WINDOW = [{"duration": "30d", "isRolling": True}]


def _checkout_journey(requests: list[dict[str, object]]) -> dict[str, object] | None:
    """Return the native composite SLO 'checkout works': a checkout needs every step to work,
    each step judged by its service's first 30-day, event-budgeted request SLO."""
    steps = []
    for name in JOURNEY:
        for doc in requests:
            spec, meta = doc.get("spec"), doc.get("metadata")
            if (isinstance(spec, dict) and isinstance(meta, dict) and doc.get("kind") == "SLO"
                    and spec.get("service") == name and spec.get("timeWindow") == JOURNEY_WINDOW
                    and spec.get("budgetingMethod") == "Occurrences"):
                steps.append(f"{name}/{meta['name']}")
                break
    if len(steps) < 2:
        return None
    return {
        "slos": [
            {
                "service": "checkout",
                "name": "checkout-works",
                "description": "a shopper can browse, fill a cart and pay: "
                "every step's requests succeed",
                "objective": 99.0,
                "window": "30d",
                "composite": {"method": "all-succeed", "components": steps},
            }
        ]
    }


def _dump_all(docs: list[dict[str, object]]) -> str:

    return yaml.safe_dump_all(docs, sort_keys=False, allow_unicode=True, width=100)
