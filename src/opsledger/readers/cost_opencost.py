"""OpenCost allocation API responses (``/allocation`` and ``/allocation/compute``).

The response is ``{"code": 200, "data": [{name: allocation, ...}, ...]}``: one map per step
of the query window, each allocation with ``start``/``end`` (or ``window``), per-resource
costs (``cpuCost``, ``ramCost``, ``pvCost``, ``networkCost``, ``gpuCost``, ``sharedCost``),
``totalCost``, efficiencies and ``properties`` (cluster, namespace, controller, ``labels``).
A bare list of such maps (``data`` alone) is accepted too.

The service and team come from the workspace's ``cost_mapping`` rules: a ``tag`` rule reads
the allocation's labels (OpenCost writes label keys in Prometheus form,
``app.kubernetes.io/name`` becomes ``app_kubernetes_io_name``, so both forms match), a
``column`` rule one of its properties (``namespace``, ``controller``, ``cluster`` …). When no
rule names the service, the controller does.

Allocations split a cluster's bill that FOCUS rows already hold, so with a FOCUS export they
never add to spend. Without one, :func:`allocation_ledger` spreads them over the UTC days they
cover and they are the spend (Kubernetes workloads only, in OpenCost's configured currency).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from opsledger.core.problems import ReadResult, shown
from opsledger.formats.fields import DATE_RANGE, parse_datetime
from opsledger.formats.textfile import json_path
from opsledger.model.cost import LEDGER_COLUMNS, Allocation, ChargeCategory, CostLedger
from opsledger.readers.cost_mapping import DEFAULT_MAPPING, ServiceMapping

FORMAT = "opencost-allocation"
COSTS = ("cpuCost", "ramCost", "pvCost", "networkCost", "gpuCost", "sharedCost")
PROVIDER_SERVICE = "Kubernetes (OpenCost)"
CONTROLLER_SOURCE = "OpenCost controller"


def detect(data: Any) -> bool:
    steps = data.get("data") if isinstance(data, dict) else data
    if not isinstance(steps, list) or not steps:
        return False
    first = next((s for s in steps if isinstance(s, dict) and s), None)
    return first is not None and all(
        isinstance(a, dict) and "totalCost" in a for a in list(first.values())[:5]
    )


def other_api(data: Any) -> str | None:
    """Return which other OpenCost API answered (``/cloudCost``, ``/assets``), if one did:
    their costs are the provider's bill by service or the cluster's machines, not workloads.
    """
    body = data.get("data") if isinstance(data, dict) else None
    if isinstance(body, dict) and isinstance(body.get("sets"), list) and any(
            isinstance(s, dict) and "cloudCosts" in s for s in body["sets"]):
        return "/cloudCost"
    steps = body if isinstance(body, list) else data if isinstance(data, list) else []
    first = next((s for s in steps if isinstance(s, dict) and s), None)
    items = list(first.values())[:5] if first else []
    if items and all(isinstance(a, dict) and "type" in a and "totalCost" in a for a in items):
        return "/assets"
    return None


def parse(data: Any, result: ReadResult[Allocation],
          mapping: ServiceMapping = DEFAULT_MAPPING) -> None:
    """Append the allocations in an OpenCost response to ``result``."""
    wrapped = isinstance(data, dict)
    steps = data.get("data") if isinstance(data, dict) else data
    if wrapped and data.get("code") not in (None, 200):
        result.fail("$.code", "the response is an error", "code 200", shown(data.get("code")))
        return
    for step_index, step in enumerate(steps or []):
        if step is None:
            continue  # OpenCost answers null for a step without data
        base = ("data", step_index) if wrapped else (step_index,)
        if not isinstance(step, dict):
            result.quarantine(json_path(*base), "step is not a map of allocations",
                              "an object", type(step).__name__)
            continue
        for name, item in step.items():
            allocation = _allocation(str(name), item, json_path(*base, str(name)), result,
                                     mapping)
            if allocation is not None:
                result.records.append(allocation)


def _allocation(
    name: str, item: Any, where: str, result: ReadResult[Allocation], mapping: ServiceMapping
) -> Allocation | None:
    if not isinstance(item, dict):
        result.quarantine(where, "allocation is not an object", "an object", type(item).__name__)
        return None
    window = _mapping(item.get("window"))
    start = _time(item.get("start", window.get("start")))
    end = _time(item.get("end", window.get("end")))
    if start is None or end is None or end < start:
        result.quarantine(f"{where}.start", "allocation has no usable time window",
                          f"ISO 8601 start and end from {DATE_RANGE}, start first",
                          shown((item.get("start"), item.get("end"))))
        return None
    costs: dict[str, float] = {}
    for key in (*COSTS, "totalCost"):
        value = item.get(key, 0.0)
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            result.quarantine(f"{where}.{key}", f"'{key}' is not a number", "a number",
                              shown(value))
            return None
        costs[key] = float(value)
    properties = _mapping(item.get("properties"))
    labels = {str(k).lower(): v for k, v in _mapping(properties.get("labels")).items()}
    values = {column: _text(_property(properties, column)) for column in mapping.columns}
    named = mapping.resolve(labels, values)
    service, source = named.service, named.source
    if service is None:
        service, source = _text(properties.get("controller")), CONTROLLER_SOURCE
    unallocated = name.startswith("__")  # __idle__, __unallocated__, __unmounted__
    return Allocation(
        name=name,
        start=start,
        end=end,
        service=None if unallocated or service is None else service,
        service_source=None if unallocated or service is None else source,
        team=named.team,
        namespace=_text(properties.get("namespace")),
        cluster=_text(properties.get("cluster")),
        cpu_cost=costs["cpuCost"],
        ram_cost=costs["ramCost"],
        pv_cost=costs["pvCost"],
        network_cost=costs["networkCost"],
        gpu_cost=costs["gpuCost"],
        shared_cost=costs["sharedCost"],
        total_cost=costs["totalCost"],
        cpu_efficiency=_ratio(item, "cpuEfficiency", "cpuCoreUsageAverage",
                              "cpuCoreRequestAverage"),
        ram_efficiency=_ratio(item, "ramEfficiency", "ramByteUsageAverage",
                              "ramByteRequestAverage"),
        total_efficiency=_number(item.get("totalEfficiency")),
        idle=name == "__idle__" or name.endswith("/__idle__"),
    )


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return parse_datetime(value)
    except (ValueError, OverflowError, OSError):
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    return float(value)


def _ratio(item: dict[str, Any], direct: str, used: str, requested: str) -> float | None:
    value = _number(item.get(direct))
    if value is not None:
        return value
    usage, request = _number(item.get(used)), _number(item.get(requested))
    if usage is None or not request:
        return None
    return usage / request


def _text(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _property(properties: dict[str, Any], name: str) -> Any:
    wanted = name.strip().lower()
    return next((v for k, v in properties.items() if str(k).lower() == wanted), None)


def allocation_ledger(allocations: Sequence[Allocation]) -> CostLedger:
    """Return the allocations as charge lines: each allocation's cost spread over the UTC
    days its window covers, in proportion to the time on each day."""
    rows: list[dict[str, Any]] = []
    for item in allocations:
        seconds = (item.end - item.start).total_seconds()
        for day, share in _day_shares(item.start, item.end, seconds):
            cost = item.total_cost * share
            rows.append({
                "day": day, "billing_period": day.replace(day=1),
                "category": ChargeCategory.USAGE.value, "correction": False,
                "billed_cost": cost, "effective_cost": cost,
                "list_cost": float("nan"), "contracted_cost": float("nan"), "currency": "",
                "service": item.service, "team": item.team, "resource_id": item.name,
                "resource_name": item.name, "provider_service": PROVIDER_SERVICE,
                "sub_account": item.cluster, "rows": 1, "service_source": item.service_source,
            })
    frame = pd.DataFrame(rows, columns=list(LEDGER_COLUMNS))
    for column in ("day", "billing_period"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    frame["correction"] = frame["correction"].astype(bool)
    frame["rows"] = frame["rows"].astype("int64")
    for column in ("billed_cost", "effective_cost", "list_cost", "contracted_cost"):
        frame[column] = frame[column].astype(float)
    return CostLedger(frame)


def _day_shares(start: datetime, end: datetime, seconds: float
                ) -> list[tuple[datetime, float]]:
    """Return each UTC day in [start, end) with the share of the window it holds."""
    start, end = _utc(start), _utc(end)
    first = datetime(start.year, start.month, start.day, tzinfo=UTC)
    if seconds <= 0:
        return [(first.replace(tzinfo=None), 1.0)]
    shares = []
    day = first
    while day < end:
        following = day + timedelta(days=1)
        overlap = (min(following, end) - max(day, start)).total_seconds()
        if overlap > 0:
            shares.append((day.replace(tzinfo=None), overlap / seconds))
        day = following
    return shares


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
