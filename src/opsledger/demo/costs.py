"""Demo cost exports and utilisation series, consistent with the world's services.

``write_costs`` renders about six months of daily FOCUS charges (two resources per service,
a compute savings plan bought monthly and amortised into the usage it covers, monthly tax,
one promotional credit, one correction of an invoiced month, some untagged network spend)
with ONE anomaly: a compute resource whose daily cost jumps about fourfold for four days in
the last three weeks. It also writes an OpenCost allocation response for the Kubernetes
services over the last week. ``write_utilisation`` renders cpu, memory and disk utilisation
twice a day for 13 weeks, with a weekly shape and slow growth, and ONE service whose cpu
runs out of headroom (its weekday peak reaches 80 % about five weeks after ``world.now``).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from opsledger.core.fileio import atomic_write_text, csv_text
from opsledger.demo.config import config_document
from opsledger.demo.world import DemoService, World

FOCUS_FILE = "costs/focus-daily.csv"
OPENCOST_FILE = "costs/opencost-allocation.json"
UTILISATION_FILE = "telemetry/utilisation/utilisation.csv"
HISTORY_MONTHS = 6
ANOMALY_DAYS = 4
ANOMALY_START = 12  # days before world.now
ANOMALY_FACTOR = 4.0
TAX_RATE = 0.08
CLUSTER = "prod-eu-1"
UTILISATION_DAYS = 91
CROSSING_DAYS = 35  # the running-out service's weekday peak reaches 80 % this many days ahead
FOCUS_HEADER = [
    "BillingAccountId", "BillingAccountName", "BillingPeriodStart", "BillingPeriodEnd",
    "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "BilledCost", "EffectiveCost", "ListCost", "ContractedCost",
    "BillingCurrency", "ProviderName", "ServiceName", "ResourceId", "ResourceName",
    "ResourceType", "RegionId", "SubAccountId", "SubAccountName", "Tags",
]
RESOURCE_KINDS = {
    "kubernetes": ("node-pool", "Kubernetes Service", "Compute"),
    "helm": ("node-pool", "Kubernetes Service", "Compute"),
    "vm-package": ("vm", "Virtual Machines", "Compute"),
    "serverless": ("function", "Functions", "Compute"),
    "database-migration": ("db", "Managed Database", "Databases"),
}


@dataclass(frozen=True)
class CostPlan:
    """Which services play the demo's roles (shared by the writers and the tests)."""

    anomaly_service: str
    over_target_service: str
    committed: tuple[str, ...]  # compute covered by the savings plan
    running_out_service: str
    idle_service: str


def cost_plan(world: World) -> CostPlan:
    services = world.services
    targets = config_document(world)["cost_targets"]
    by_traffic = sorted(services, key=lambda s: (-s.requests_per_minute, s.name))
    kube = [s for s in by_traffic if s.deployment in ("kubernetes", "helm")]
    anomaly = next(s for s in by_traffic[2:] if s.name in targets)
    over = next(s for s in by_traffic[3:] if s.name in targets and s.name != anomaly.name)
    committed = tuple(s.name for s in services if s.tier == 0 and s.deployment == "kubernetes")
    running = next(s for s in kube if s.tier == 1)
    idle = max(services, key=lambda s: (s.tier, -s.requests_per_minute, s.name))
    return CostPlan(anomaly.name, over.name, committed, running.name, idle.name)


def _monthly_cost(targets: dict[str, dict[str, float]], service: DemoService,
                  rng: random.Random, plan: CostPlan) -> float:
    target = targets.get(service.name, {}).get("monthly")
    if service.name == plan.over_target_service and target:
        return float(target) * 1.12
    if target:
        return float(target) * rng.uniform(0.5, 0.7)
    return max(service.requests_per_minute * rng.uniform(8, 20), 90.0)


def _stamp(day: date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _money(value: float) -> str:
    return f"{value:.6f}"


def write_costs(world: World, root: Path) -> list[Path]:
    """Write the FOCUS CSV and the OpenCost allocation JSON; return their paths."""
    plan = cost_plan(world)
    targets = config_document(world)["cost_targets"]
    rng = world.rng("costs")
    last = (world.now - timedelta(days=1)).date()
    first = _month_start(last)
    for _ in range(HISTORY_MONTHS - 1):
        first = _month_start(first - timedelta(days=1))
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    anomaly_days = {(world.now - timedelta(days=ANOMALY_START - i)).date()
                    for i in range(ANOMALY_DAYS)}
    rows: list[list[str]] = []
    billed: dict[date, float] = {}  # billing month -> BilledCost before tax
    effective: dict[date, float] = {}
    committed: dict[date, float] = {}
    for service in world.services:
        monthly = _monthly_cost(targets, service, rng, plan)
        growth = rng.uniform(0.0, 0.0008)
        kind, provider_service, _ = RESOURCE_KINDS.get(service.deployment,
                                                       RESOURCE_KINDS["kubernetes"])
        tags = json.dumps({"service": service.name, "team": service.team, "env": "prod"},
                          sort_keys=True)
        resources = (
            (f"{kind}-{service.name}", kind, provider_service, 0.75, True),
            (f"storage-{service.name}", "bucket", "Object Storage", 0.25, False),
        )
        for resource, resource_type, offering, share, weekly in resources:
            for index, day in enumerate(days):
                shape = 0.8 if weekly and day.weekday() >= 5 else 1.0
                cost = (monthly / 30.4375 * share * shape * (1 + growth) ** index
                        * max(rng.gauss(1.0, 0.03), 0.5))
                if weekly and service.name == plan.anomaly_service and day in anomaly_days:
                    cost *= ANOMALY_FACTOR
                covered = weekly and service.name in plan.committed
                bill = 0.0 if covered else cost
                month = _month_start(day)
                billed[month] = billed.get(month, 0.0) + bill
                effective[month] = effective.get(month, 0.0) + cost
                if covered:
                    committed[month] = committed.get(month, 0.0) + cost
                rows.append(_row(day, day + timedelta(days=1), "Usage", "",
                                 f"{offering} usage", bill, cost, cost * 1.35, cost * 1.2,
                                 offering, f"/prod/{resource_type}/{resource}", resource,
                                 resource_type, tags,
                                 "Covered by savings plan" if covered else ""))
    for day in days:  # shared network without tags: ownership gap
        cost = 38.0 * max(rng.gauss(1.0, 0.03), 0.5)
        month = _month_start(day)
        billed[month] = billed.get(month, 0.0) + cost
        effective[month] = effective.get(month, 0.0) + cost
        rows.append(_row(day, day + timedelta(days=1), "Usage", "", "NAT gateway hours", cost,
                         cost, cost, cost, "Networking", "/prod/network/nat-gateway-shared",
                         "nat-gateway-shared", "nat-gateway", "{}", ""))
    months = sorted(billed)
    for month in months:
        end = _next_month(month)
        if committed.get(month):
            amount = committed[month]
            billed[month] += amount
            rows.append(_row(month, end, "Purchase", "", "Compute savings plan, monthly",
                             amount, 0.0, amount * 1.35, amount, "Savings Plans",
                             "/prod/savings-plan/sp-compute-1", "sp-compute-1",
                             "savings-plan", "{}", ""))
        if end <= last + timedelta(days=1):  # tax posts when the month closes
            rows.append(_row(month, end, "Tax", "", "VAT", billed[month] * TAX_RATE,
                             effective[month] * TAX_RATE, 0.0, 0.0, "Tax", "", "", "", "{}", ""))
    credit_month = months[2]
    rows.append(_row(credit_month, _next_month(credit_month), "Credit", "",
                     "Promotional credit", -250.0, -250.0, 0.0, 0.0, "Credits", "", "", "",
                     "{}", ""))
    # A refund for a month already invoiced: billed in the last month, for the month before.
    corrected = world.services[0]
    charge_day = _month_start(months[-2]) + timedelta(days=9)
    rows.append(_row(charge_day, charge_day + timedelta(days=1), "Usage", "Correction",
                     "Refund: duplicate node-pool metering", -180.0, -180.0, -180.0, -180.0,
                     "Kubernetes Service", f"/prod/node-pool/node-pool-{corrected.name}",
                     f"node-pool-{corrected.name}", "node-pool",
                     json.dumps({"service": corrected.name, "team": corrected.team,
                                 "env": "prod"}, sort_keys=True), "", billing=months[-1]))
    rows.sort(key=lambda r: (r[4], r[6], r[16]))
    focus = root / FOCUS_FILE
    atomic_write_text(focus, csv_text(FOCUS_HEADER, rows))
    opencost = root / OPENCOST_FILE
    atomic_write_text(opencost, json.dumps(_opencost(world, plan), indent=1, sort_keys=True)
                      + "\n")
    return [focus, opencost]


def _row(start: date, end: date, category: str, charge_class: str, description: str,
         billed: float, effective: float, list_cost: float, contracted: float, offering: str,
         resource_id: str, resource_name: str, resource_type: str, tags: str, note: str,
         billing: date | None = None) -> list[str]:
    period = billing or _month_start(start)
    return [
        "ba-1001", "Example Retail", _stamp(period), _stamp(_next_month(period)), _stamp(start),
        _stamp(end), category, charge_class, (description + (f" ({note})" if note else "")),
        _money(billed), _money(effective), _money(list_cost), _money(contracted), "USD",
        "ExampleCloud", offering, resource_id, resource_name, resource_type,
        "eu-west-1" if resource_id else "", "sa-prod", "prod", tags,
    ]


def _opencost(world: World, plan: CostPlan) -> dict[str, object]:
    rng = world.rng("opencost")
    kube = [s for s in world.services if s.deployment in ("kubernetes", "helm")]
    steps = []
    for offset in range(7, 0, -1):
        start = world.now - timedelta(days=offset)
        end = start + timedelta(days=1)
        step: dict[str, object] = {}
        for service in kube:
            cpu_request = round(max(service.requests_per_minute / 150, 0.5), 3)
            ram_request = cpu_request * 4 * 2**30
            efficiency = 0.1 if service.name == plan.idle_service else rng.uniform(0.45, 0.85)
            cpu_cost = cpu_request * 24 * 0.031
            ram_cost = ram_request / 2**30 * 24 * 0.004
            pv_cost = rng.uniform(0.2, 1.5)
            total = cpu_cost + ram_cost + pv_cost
            step[service.name] = {
                "name": service.name,
                "properties": {"cluster": CLUSTER, "namespace": service.team,
                               "controller": service.name, "controllerKind": "deployment",
                               "labels": {"app": service.name, "team": service.team}},
                "window": {"start": _iso(start), "end": _iso(end)},
                "start": _iso(start), "end": _iso(end), "minutes": 1440.0,
                "cpuCoreRequestAverage": cpu_request,
                "cpuCoreUsageAverage": round(cpu_request * efficiency, 4),
                "ramByteRequestAverage": ram_request,
                "ramByteUsageAverage": round(ram_request * efficiency),
                "cpuCost": round(cpu_cost, 5), "ramCost": round(ram_cost, 5),
                "pvCost": round(pv_cost, 5), "networkCost": 0.0, "gpuCost": 0.0,
                "sharedCost": 0.0, "externalCost": 0.0, "loadBalancerCost": 0.0,
                "cpuEfficiency": round(efficiency, 4), "ramEfficiency": round(efficiency, 4),
                "totalEfficiency": round(efficiency, 4), "totalCost": round(total, 5),
            }
        step["__idle__"] = {
            "name": "__idle__", "properties": {"cluster": CLUSTER},
            "start": _iso(start), "end": _iso(end), "minutes": 1440.0,
            "cpuCost": 14.2, "ramCost": 5.1, "pvCost": 0.0, "totalCost": 19.3,
        }
        steps.append(step)
    return {"code": 200, "data": steps}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_utilisation(world: World, root: Path) -> list[Path]:
    """Write twice-daily cpu, memory and disk utilisation (used and capacity) per service."""
    plan = cost_plan(world)
    rng = world.rng("utilisation")
    today = world.now.date()
    rows: list[list[str]] = []
    for service in world.services:
        cores = max(round(service.requests_per_minute / 60), 2)
        shapes = {
            "cpu": (float(cores), rng.uniform(0.25, 0.55), rng.uniform(0.0, 0.0006), True),
            "memory": (float(cores * 4), rng.uniform(0.35, 0.6), rng.uniform(0.0, 0.0005), True),
            "disk": (float(cores * 50), rng.uniform(0.3, 0.6), rng.uniform(0.0, 0.0008), False),
        }
        if service.name == plan.idle_service:
            shapes["cpu"] = (float(cores), 0.08, 0.0, True)
            shapes["memory"] = (float(cores * 4), 0.12, 0.0, True)
        for resource, (capacity, level, slope, weekly) in shapes.items():
            running_out = service.name == plan.running_out_service and resource == "cpu"
            for back in range(UTILISATION_DAYS, 0, -1):
                day = today - timedelta(days=back)
                if running_out:
                    # Weekday peak reaches 80 % CROSSING_DAYS days after today.
                    peak = 0.8 - 0.004 * (CROSSING_DAYS + back)
                else:
                    peak = level + slope * (UTILISATION_DAYS - back)
                if weekly and day.weekday() >= 5:
                    peak *= 0.85
                for hour, share in ((3, 0.55 if weekly else 0.97), (15, 1.0)):
                    value = min(max(peak * share * rng.gauss(1.0, 0.015), 0.0), 1.0)
                    stamp = datetime(day.year, day.month, day.day, hour).isoformat() + "Z"
                    rows.append([stamp, service.name, resource,
                                 f"{value * capacity:.4f}", f"{capacity:g}"])
    path = root / UTILISATION_FILE
    atomic_write_text(path, csv_text(["time", "service", "resource", "used", "capacity"], rows))
    return [path]


def crossing_day(world: World) -> date:
    """Return the day the running-out service's weekday cpu peak reaches 80 % (by design)."""
    return world.now.date() + timedelta(days=CROSSING_DAYS)

