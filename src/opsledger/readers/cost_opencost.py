"""OpenCost allocation API responses (``/allocation`` and ``/allocation/compute``).

The response is ``{"code": 200, "data": [{name: allocation, ...}, ...]}``: one map per step
of the query window, each allocation with ``start``/``end`` (or ``window``), per-resource
costs (``cpuCost``, ``ramCost``, ``pvCost``, ``networkCost``, ``gpuCost``, ``sharedCost``),
``totalCost``, efficiencies and ``properties`` (cluster, namespace, controller, ``labels``).
A bare list of such maps (``data`` alone) is accepted too. OpenCost writes label keys in
Prometheus form (``app.kubernetes.io/name`` becomes ``app_kubernetes_io_name``), so tag keys
are matched in both forms.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from opsledger.model.cost import Allocation
from opsledger.problems import ReadResult, shown
from opsledger.readers.cost_focus import DEFAULT_TAG_KEYS, TagKeys
from opsledger.readers.fields import parse_datetime
from opsledger.readers.textfile import json_path

FORMAT = "opencost-allocation"
COSTS = ("cpuCost", "ramCost", "pvCost", "networkCost", "gpuCost", "sharedCost")


def detect(data: Any) -> bool:
    steps = data.get("data") if isinstance(data, dict) else data
    if not isinstance(steps, list) or not steps:
        return False
    first = next((s for s in steps if isinstance(s, dict) and s), None)
    return first is not None and all(
        isinstance(a, dict) and "totalCost" in a for a in list(first.values())[:5]
    )


def parse(data: Any, result: ReadResult[Allocation], tag_keys: TagKeys = DEFAULT_TAG_KEYS
          ) -> None:
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
                                     tag_keys)
            if allocation is not None:
                result.records.append(allocation)


def _allocation(
    name: str, item: Any, where: str, result: ReadResult[Allocation], tag_keys: TagKeys
) -> Allocation | None:
    if not isinstance(item, dict):
        result.quarantine(where, "allocation is not an object", "an object", type(item).__name__)
        return None
    window = _mapping(item.get("window"))
    start = _time(item.get("start", window.get("start")))
    end = _time(item.get("end", window.get("end")))
    if start is None or end is None or end < start:
        result.quarantine(f"{where}.start", "allocation has no usable time window",
                          "ISO 8601 start and end", shown((item.get("start"), item.get("end"))))
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
    labels = _mapping(properties.get("labels"))
    service = _label(labels, tag_keys.service) or _text(properties.get("controller"))
    return Allocation(
        name=name,
        start=start,
        end=end,
        service=None if name.startswith("__") else service,
        team=_label(labels, tag_keys.team),
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
    except ValueError:
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


def _label(labels: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        for form in (key, key.replace(".", "_").replace("/", "_").replace("-", "_"),
                     "label_" + key.replace(".", "_").replace("/", "_").replace("-", "_")):
            value = labels.get(form)
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None
