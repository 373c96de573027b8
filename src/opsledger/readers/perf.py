"""Performance runs from ``reports/perf.json``: the native format or a k6 summary export.

Native format (documented in ``docs/formats.md``)::

    {"baseline": {"started_at": "...", "tool": "k6", "endpoints": [
        {"endpoint": "GET /items", "p50_ms": 40, "p95_ms": 120, "p99_ms": 210,
         "rps": 55.2, "error_rate": 0.001, "requests": 33120}]},
     "current": {...}}

k6 ``--summary-export`` output (and the ``handleSummary`` data object, whose metrics nest
their statistics under ``values``) is read as the *current* run: ``http_req_duration`` gives
``med``/``p(50)``, ``p(95)``, ``p(99)`` (present only when ``--summary-trend-stats`` asks for
it), ``http_reqs`` gives ``count`` and ``rate``, and ``http_req_failed`` gives the failure
``value`` (or ``rate``). Per-endpoint figures come from sub-metrics tagged with ``name``
(``http_req_duration{name:GET /items}``), falling back to ``url``; without any, the run has
one endpoint named ``all``. A baseline may sit beside the file as ``perf-baseline.json``, in
either format.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from opsledger.core.problems import ReadResult
from opsledger.formats.fields import Fields
from opsledger.formats.textfile import json_path, load_json
from opsledger.model.health import EndpointPerf, PerfReport, PerfRun

BASELINE_FILE = "perf-baseline.json"
ALL_ENDPOINTS = "all"
_SUBMETRIC = re.compile(r"^(?P<metric>[A-Za-z0-9_]+)\{(?P<tags>.*)\}$")


def read(path: Path) -> ReadResult[PerfReport]:
    """Return one :class:`PerfReport` from ``path`` (and a baseline file beside it)."""
    result: ReadResult[PerfReport] = ReadResult(path)
    document = load_json(path, result)
    if result.fatal:
        return result
    kind, baseline, current = _runs(document, result, "current")
    if result.fatal:
        return result
    formats = [kind]
    sidecar = path.with_name(BASELINE_FILE)
    if sidecar.is_file():
        side: ReadResult[PerfReport] = ReadResult(sidecar)
        side_document = load_json(sidecar, side)
        if not side.fatal:
            side_kind, side_baseline, side_current = _runs(side_document, side, "baseline")
            if baseline is not None:
                side.warn("", f"ignored: {path.name} already holds a baseline run")
            else:
                baseline = side_baseline or side_current
                formats.append(f"baseline {side_kind}")
        result.extend(side.problems)
    if baseline is None and current is None:
        return result.fail("$", "no performance run found", "a baseline or current run")
    result.records.append(PerfReport(baseline, current))
    result.detected_format = ", ".join(formats)
    return result


def _runs(
    document: Any, result: ReadResult[PerfReport], k6_label: str
) -> tuple[str, PerfRun | None, PerfRun | None]:
    """Return (format, baseline, current) read from a parsed document."""
    if isinstance(document, dict) and isinstance(document.get("metrics"), dict):
        k6_run = _k6_run(document["metrics"], result, k6_label)
        if k6_label == "baseline":
            return "k6 summary", k6_run, None
        return "k6 summary", None, k6_run
    if isinstance(document, dict) and ("baseline" in document or "current" in document):
        baseline = _native_run(document.get("baseline"), "baseline", result)
        current = _native_run(document.get("current"), "current", result)
        return "native", baseline, current
    if isinstance(document, dict) and "endpoints" in document:
        run = _native_run(document, k6_label, result, root=True)
        return "native run", None, run
    result.fail(
        "$",
        "not a performance report",
        'native {"baseline": ..., "current": ...} or a k6 --summary-export document',
        type(document).__name__
        if not isinstance(document, dict)
        else "keys " + ", ".join(sorted(map(str, document))[:8]),
    )
    return "unknown", None, None


def _native_run(
    value: Any, label: str, result: ReadResult[PerfReport], root: bool = False
) -> PerfRun | None:
    prefix: tuple[str, ...] = () if root else (label,)
    if value is None:
        return None
    if not isinstance(value, dict):
        result.fail(
            json_path(*prefix), f"'{label}' is not an object", "an object", type(value).__name__
        )
        return None
    endpoints_value = value.get("endpoints")
    if not isinstance(endpoints_value, list):
        result.fail(
            json_path(*prefix, "endpoints"),
            "missing or invalid 'endpoints'",
            "a list of endpoint objects",
            type(endpoints_value).__name__,
        )
        return None
    where = str(result.path)
    head = Fields(where, value, lambda name: json_path(*prefix, name))
    started = head.timestamp("started_at", required=False)
    tool = head.text("tool", required=False, default="native") or "native"
    result.extend(head.problems)
    endpoints: list[EndpointPerf] = []
    for index, item in enumerate(endpoints_value):
        location = json_path(*prefix, "endpoints", index)
        if not isinstance(item, dict):
            result.quarantine(location, "not an endpoint object", "an object", type(item).__name__)
            continue
        fields = Fields(where, item, _endpoint_locator(prefix, index))
        endpoint = fields.text("endpoint")
        perf = EndpointPerf(
            endpoint=endpoint or "",
            p50_ms=fields.number("p50_ms", required=False, minimum=0),
            p95_ms=fields.number("p95_ms", required=False, minimum=0),
            p99_ms=fields.number("p99_ms", required=False, minimum=0),
            rps=fields.number("rps", required=False, minimum=0),
            error_rate=fields.number("error_rate", required=False, minimum=0, maximum=1),
            requests=fields.integer("requests", required=False),
        )
        if not fields.ok:
            result.extend(fields.problems)
            continue
        _check_order(perf, location, result)
        endpoints.append(perf)
    return PerfRun(label, tuple(endpoints), started, tool)


def _endpoint_locator(prefix: tuple[str, ...], index: int) -> Callable[[str], str]:
    return lambda name: json_path(*prefix, "endpoints", index, name)


def _check_order(perf: EndpointPerf, location: str, result: ReadResult[PerfReport]) -> None:
    values = [v for v in (perf.p50_ms, perf.p95_ms, perf.p99_ms) if v is not None]
    if values != sorted(values):
        result.warn(
            location,
            "percentiles are not in increasing order",
            "p50 <= p95 <= p99",
            ", ".join(f"{v:g}" for v in values),
        )


def _statistics(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, dict):
        return None
    inner = value.get("values")
    return inner if isinstance(inner, dict) else value


def _endpoint_name(tags: str) -> str | None:
    """Return the endpoint named by a sub-metric's tags, or ``None`` for other sub-metrics."""
    pairs = {}
    for part in tags.split(","):
        key, _, val = part.partition(":")
        pairs[key.strip()] = val.strip()
    return pairs.get("name") or pairs.get("url")


def _k6_run(metrics: dict[str, Any], result: ReadResult[PerfReport], label: str) -> PerfRun:
    """Return the run described by a k6 summary's ``metrics`` object."""
    grouped: dict[str, dict[str, dict[str, Any]]] = {}
    for key, value in metrics.items():
        stats = _statistics(value)
        if stats is None:
            result.warn(json_path("metrics", key), "metric is not an object; ignored")
            continue
        match = _SUBMETRIC.match(key)
        if match is None:
            grouped.setdefault(ALL_ENDPOINTS, {})[key] = stats
            continue
        endpoint = _endpoint_name(match.group("tags"))
        if endpoint is not None:
            grouped.setdefault(endpoint, {})[match.group("metric")] = stats
    if "http_req_duration" not in grouped.get(ALL_ENDPOINTS, {}):
        result.fail(
            json_path("metrics", "http_req_duration"),
            "k6 summary has no http_req_duration metric",
            "an http_req_duration trend",
            "keys " + ", ".join(sorted(metrics)[:8]),
        )
        return PerfRun(label, (), None, "k6")
    named = sorted(
        name
        for name, group in grouped.items()
        if name != ALL_ENDPOINTS and "http_req_duration" in group
    )
    endpoints = []
    for name in named or [ALL_ENDPOINTS]:
        perf = _k6_endpoint(name, grouped[name], result)
        if perf is not None:
            endpoints.append(perf)
    return PerfRun(label, tuple(endpoints), None, "k6")


def _k6_endpoint(
    name: str, group: dict[str, dict[str, Any]], result: ReadResult[PerfReport]
) -> EndpointPerf | None:
    suffix = "" if name == ALL_ENDPOINTS else "{name:" + name + "}"
    where = str(result.path)
    trend = Fields(
        where,
        group["http_req_duration"],
        lambda stat: json_path("metrics", "http_req_duration" + suffix, stat),
    )
    p50 = trend.number("p(50)", required=False, minimum=0)
    if p50 is None and trend.ok:
        p50 = trend.number("med", required=False, minimum=0)
    p95 = trend.number("p(95)", required=False, minimum=0)
    p99 = trend.number("p(99)", required=False, minimum=0)
    counter = Fields(
        where,
        group.get("http_reqs", {}),
        lambda stat: json_path("metrics", "http_reqs" + suffix, stat),
    )
    rps = counter.number("rate", required=False, minimum=0)
    requests = counter.integer("count", required=False)
    failed_stats = group.get("http_req_failed", {})
    failed = Fields(
        where, failed_stats, lambda stat: json_path("metrics", "http_req_failed" + suffix, stat)
    )
    # --summary-export writes a rate metric's share as "value"; handleSummary as "rate".
    # Without either, "passes" counts the true samples (failed requests) and "fails" the rest.
    if "value" in failed_stats or "rate" in failed_stats:
        error_rate = failed.number(
            "value" if "value" in failed_stats else "rate", required=False, minimum=0, maximum=1
        )
    else:
        passes = failed.number("passes", required=False, minimum=0)
        fails = failed.number("fails", required=False, minimum=0)
        total = (passes or 0) + (fails or 0)
        error_rate = passes / total if passes is not None and total else None
    problems = trend.problems + counter.problems + failed.problems
    if problems:
        result.extend(problems)
        return None
    return EndpointPerf(name, p50, p95, p99, rps, error_rate, requests)
