"""The ``slos/`` folder: SLO definitions in OpenSLO, Sloth, slo-generator or native YAML.

Formats, detected per document:

- OpenSLO ``apiVersion: openslo/v1`` or ``openslo/v1alpha`` (``kind`` SLO, SLI, DataSource);
- Sloth ``version: prometheus/v1`` (and the ``sloth.slok.dev/v1`` PrometheusServiceLevel CRD):
  objectives in percent, ``error_query``/``total_query`` with ``{{.window}}``, 30-day window;
- slo-generator v2 ``apiVersion: sre.google.com/v2`` ``kind: ServiceLevelObjective`` with
  ``goal`` (0-1), ``backend: prometheus``, ``method: good_bad_ratio`` or ``query_sli``; and its
  shared ``config.yaml`` whose ``error_budget_policies`` steps give each SLO its window;
- native: ``slos:`` list (see :func:`_native`), whose entries may be composites of other SLOs.

Composite SLOs (native ``composite:``, OpenSLO v1 objectives with their own indicator) are
checked once every file is read: a composite naming an SLO that is not defined, was
quarantined, or cannot be combined with the others is quarantined at the line naming it.

One bad SLO is quarantined with file and line; the others stand.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from opsledger.core.errors import ConfigError
from opsledger.core.problems import Level, Problem, ReadResult
from opsledger.model.slo import (
    MINUTE,
    BudgetingMethod,
    DuckDbSource,
    ErrorBudgetPolicyStep,
    HealthSource,
    IndicatorSource,
    PrometheusSource,
    PromQuery,
    Slo,
    SloWindow,
)
from opsledger.readers import slo_openslo, slo_sloth
from opsledger.readers.slo_composite import check_composites, native_composite
from opsledger.readers.slo_documents import (
    Doc,
    Invalid,
    Key,
    documents,
    duration,
    label_value,
    mapping,
    objective,
    ratio_indicator,
    split_ratio,
    text,
    window_query,
    window_text,
)

SUFFIXES = (".yaml", ".yml", ".json")
SLO_GENERATOR_WINDOW = SloWindow(days=28)  # used when no policy step names a longer window

Policies = dict[str, tuple[ErrorBudgetPolicyStep, ...]]


def read(path: Path) -> ReadResult[Slo]:
    """Return every SLO defined in the file or folder ``path``, with problems located."""
    result: ReadResult[Slo] = ReadResult(path)
    files = [path] if path.is_file() else _definition_files(path)
    docs: list[Doc] = []
    for file in files:
        try:
            docs.extend(documents(file))
        except ConfigError as exc:
            where, _, message = str(exc).partition(": ")
            if not where.startswith("line"):
                where, message = "", str(exc)
            result.problems.append(
                Problem(str(file), where, message, "valid YAML", level=Level.FATAL)
            )
    docs = [item for doc in docs for item in _objects(doc)]
    catalog = slo_openslo.Catalog()
    policies: Policies = {}
    kinds = [_detect(doc.data) for doc in docs]
    for doc, kind in zip(docs, kinds, strict=True):
        if kind == "openslo":
            slo_openslo.collect(doc, catalog)
        elif kind == "slo-generator-config":
            _collect_policies(doc, policies, result)
    formats = set()
    quarantined: dict[str, str] = {}  # SLO key -> where it is defined, for composites
    for doc, kind in zip(docs, kinds, strict=True):
        if kind in ("slo-generator-config", "openslo-other"):
            continue  # read for what the SLOs reference (policies) or carry nothing to use
        if kind in _NOT_SUPPORTED:
            result.problems.append(
                Problem(
                    str(doc.path),
                    doc.location(),
                    _NOT_SUPPORTED[kind](doc.data),
                    level=Level.WARNING,
                )
            )
            continue
        if kind == "unknown":
            result.problems.append(
                Problem(
                    str(doc.path),
                    doc.location(),
                    "not an SLO definition in a known format",
                    "OpenSLO, Sloth prometheus/v1, slo-generator v2 or native 'slos:'",
                    _keys_of(doc.data),
                    Level.WARNING,
                )
            )
            continue
        if kind == "openslo" and doc.data.get("kind") != "SLO":
            continue
        formats.add(kind)
        result.records.extend(_read_doc(doc, kind, catalog, policies, result, quarantined))
    _reject_duplicates(result)
    check_composites(result, quarantined)
    result.detected_format = ", ".join(sorted(formats))
    return result


_NOT_SUPPORTED: dict[str, Callable[[dict[str, Any]], str]] = {
    "openslo-version": lambda data: (
        f"OpenSLO {data.get('apiVersion')} {data.get('kind', '')} is not supported "
        "(opsledger reads openslo/v1 and openslo/v1alpha)"
    ),
    "openslo-alerting": lambda data: (
        f"OpenSLO {data.get('kind')} is not used: opsledger writes its own multi-window "
        "burn-rate alerts for every SLO (see 'opsledger slo rules')"
    ),
    "sloth-alert-windows": lambda data: (
        "Sloth AlertWindows (custom alert windows) are not supported: opsledger alerts with "
        "the SRE Workbook windows for each SLO's period; compare other windows with "
        "'opsledger slo backtest --policies'"
    ),
}


def _objects(doc: Doc) -> list[Doc]:
    """Return the objects of a document written as a YAML list of OpenSLO objects (go-sdk and
    oslo decode those), else the document itself."""
    data = doc.data
    if (
        isinstance(data, list)
        and data
        and all(
            isinstance(i, dict) and str(i.get("apiVersion", "")).startswith("openslo") for i in data
        )
    ):
        return doc.items()
    return [doc]


def _definition_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
    )


def _keys_of(data: Any) -> str:
    if isinstance(data, dict):
        return "keys " + ", ".join(sorted(str(k) for k in data)[:6])
    return type(data).__name__


def _detect(data: Any) -> str:
    if (
        isinstance(data, list)
        and data
        and all(isinstance(i, dict) and "measurement_window_seconds" in i for i in data)
    ):
        return "slo-generator-config"
    if not isinstance(data, dict):
        return "unknown"
    api = str(data.get("apiVersion", ""))
    if api.startswith("openslo"):  # openslo/v1, openslo/v1alpha, openslo.com/v2alpha
        if api not in ("openslo/v1", "openslo/v1alpha"):
            return "openslo-version"
        if data.get("kind") in ("SLO", "SLI", "DataSource"):
            return "openslo"
        return (
            "openslo-alerting" if str(data.get("kind", "")).startswith("Alert") else "openslo-other"
        )
    if api.startswith("sloth.slok.dev/") and data.get("kind") == "AlertWindows":
        return "sloth-alert-windows"
    if str(data.get("version", "")) == "prometheus/v1":
        return "sloth"
    if api.startswith("sloth.slok.dev/") and data.get("kind") == "PrometheusServiceLevel":
        return "sloth-crd"
    if api.startswith("sre.google.com/") and data.get("kind") == "ServiceLevelObjective":
        return "slo-generator"
    if "error_budget_policies" in data:
        return "slo-generator-config"
    if isinstance(data.get("slos"), list):
        return "native"
    return "unknown"


def _read_doc(
    doc: Doc,
    kind: str,
    catalog: slo_openslo.Catalog,
    policies: Policies,
    result: ReadResult[Slo],
    quarantined: dict[str, str],
) -> list[Slo]:
    def quarantine(bad: Invalid, item: Any = None) -> None:
        _quarantine(result, doc, bad)
        key = _key_of(kind, doc.data if item is None else item)
        if key:
            quarantined.setdefault(key, f"{doc.path}:{doc.line(bad.keys)}")

    def warn(bad: Invalid) -> None:
        # A warning about a service's shared part would otherwise repeat for each of its SLOs.
        before = len(result.problems)
        _quarantine(result, doc, bad, Level.WARNING)
        if result.problems[-1] in result.problems[:before]:
            result.problems.pop()

    if kind in ("sloth", "sloth-crd"):
        try:
            return slo_sloth.read_service(doc, kind == "sloth-crd", warn, quarantine)
        except Invalid as bad:
            quarantine(bad)
            return []
    if kind == "native":
        if not isinstance(doc.data.get("slos"), list):
            quarantine(Invalid((), "no 'slos' list", "slos: [...]"))
            return []
        slos = []
        for index, item in enumerate(doc.data["slos"]):
            try:
                slos.append(_native(doc, item, ("slos", index), warn))
            except Invalid as bad:
                quarantine(bad, item)
        return slos
    try:
        if kind == "openslo":
            return slo_openslo.read_slo(doc, catalog, warn)
        return [_slo_generator(doc, policies, warn)]
    except Invalid as bad:
        quarantine(bad)
        return []


def _key_of(kind: str, data: Any) -> str:
    """Return the key (``service/name``) a quarantined native or OpenSLO SLO would have had."""
    if not isinstance(data, dict):
        return ""
    if kind == "native":
        service, name = data.get("service"), data.get("name")
    elif kind == "openslo":
        spec, meta = data.get("spec"), data.get("metadata")
        service = spec.get("service") if isinstance(spec, dict) else None
        name = meta.get("name") if isinstance(meta, dict) else None
    else:
        return ""
    if isinstance(service, str) and isinstance(name, str) and service and name:
        return f"{service.strip()}/{name.strip()}"
    return ""


def _quarantine(result: ReadResult[Slo], doc: Doc, bad: Invalid, level: Level = Level.ROW) -> None:
    dotted = ".".join(str(k) for k in bad.keys)
    message = f"{dotted}: {bad.message}" if dotted else bad.message
    result.problems.append(
        Problem(str(doc.path), doc.location(bad.keys), message, bad.expected, bad.found, level)
    )


def _reject_duplicates(result: ReadResult[Slo]) -> None:
    seen: dict[str, Slo] = {}
    kept = []
    for slo in result.records:
        if slo.key in seen:
            first = seen[slo.key]
            result.problems.append(
                Problem(
                    slo.source_path,
                    f"line {slo.source_line}",
                    f"SLO '{slo.key}' is defined twice (first at {first.where})",
                    "one definition per service and SLO name",
                )
            )
            continue
        seen[slo.key] = slo
        kept.append(slo)
    result.records = kept


# --- slo-generator -----------------------------------------------------------------------


def _collect_policies(doc: Doc, policies: Policies, result: ReadResult[Slo]) -> None:
    """Read ``error_budget_policies`` (v2 config) or a v1 policy list into ``policies``."""
    data = doc.data
    try:
        if isinstance(data, list):
            policies["default"] = tuple(_v1_step(doc, s, (i,)) for i, s in enumerate(data))
            return
        named = mapping(data["error_budget_policies"], ("error_budget_policies",), "policies")
        for name, body in named.items():
            keys: tuple[Key, ...] = ("error_budget_policies", str(name))
            steps = mapping(body, keys, "a policy").get("steps")
            if not isinstance(steps, list) or not steps:
                raise Invalid((*keys, "steps"), "a policy needs steps", "a list of steps", steps)
            policies[str(name)] = tuple(
                _v2_step(s, (*keys, "steps", i)) for i, s in enumerate(steps)
            )
    except Invalid as bad:
        _quarantine(result, doc, bad)


def _v2_step(raw: Any, keys: tuple[Key, ...]) -> ErrorBudgetPolicyStep:
    step = mapping(raw, keys, "a policy step")
    threshold = step.get("burn_rate_threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold <= 0:
        raise Invalid((*keys, "burn_rate_threshold"), "not a burn rate", "a number > 0", threshold)
    return ErrorBudgetPolicyStep(
        name=text(step, "name", keys),
        window=duration(step.get("window"), (*keys, "window")),
        burn_rate_threshold=float(threshold),
        alert=bool(step.get("alert", False)),
        message_alert=str(step.get("message_alert") or ""),
        message_ok=str(step.get("message_ok") or ""),
    )


def _v1_step(doc: Doc, raw: Any, keys: tuple[Key, ...]) -> ErrorBudgetPolicyStep:
    step = mapping(raw, keys, "a policy step")
    threshold = step.get("alerting_burn_rate_threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or threshold <= 0:
        raise Invalid(
            (*keys, "alerting_burn_rate_threshold"), "not a burn rate", "a number > 0", threshold
        )
    return ErrorBudgetPolicyStep(
        name=text(step, "error_budget_policy_step_name", keys),
        window=duration(
            step.get("measurement_window_seconds"), (*keys, "measurement_window_seconds")
        ),
        burn_rate_threshold=float(threshold),
        alert=bool(step.get("urgent_notification", False)),
        message_alert=str(step.get("overburned_consequence_message") or ""),
        message_ok=str(step.get("achieved_consequence_message") or ""),
    )


def _query_sli(
    doc: Doc, expr: str, keys: tuple[Key, ...], warn: Callable[[Invalid], None]
) -> PrometheusSource:
    """Return a ``query_sli`` SLI: good over valid events when the expression is ``A / B``
    (bad over valid when it is ``1 - (A / B)``).

    slo-generator evaluates the expression once over the whole window, i.e. as a ratio of
    sums; split into its two sides, the engines count both per minute and the ratio over any
    window stays a ratio of sums. Any other expression is sampled once a minute and averaged.
    """
    parts = split_ratio(expr)
    if isinstance(parts, str):
        warn(
            Invalid(
                keys,
                f"this query_sli expression is not split into good and valid events: {parts}; "
                "its value is sampled once a minute and averaged, not evaluated over the whole "
                "window",
            )
        )
        return PrometheusSource(ratio=window_query(expr))
    numerator, valid = window_query(parts.numerator), window_query(parts.denominator)
    if parts.complement:
        return PrometheusSource(bad=numerator, total=valid)
    return PrometheusSource(good=numerator, total=valid)


def _distribution_cut(sli: dict[str, Any], keys: tuple[Key, ...]) -> PrometheusSource:
    """Return slo-generator's ``distribution_cut`` on a Prometheus histogram.

    As slo-generator counts it: good events are the bucket at ``threshold_bucket`` (its ``le``
    label), valid events the histogram's ``_count`` series.
    """
    expr = text(sli, "expression", keys)
    bound = sli.get("threshold_bucket")
    if isinstance(bound, bool) or not isinstance(bound, int | float | str) or bound == "":
        raise Invalid((*keys, "threshold_bucket"), "not a bucket bound", "e.g. 0.25", bound)
    match = re.fullmatch(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*_bucket)\s*(\{(.*)\})?\s*", expr, re.DOTALL)
    if not match:
        raise Invalid(
            (*keys, "expression"),
            "distribution_cut needs a histogram bucket selector",
            "metric_bucket{labels}",
            expr,
        )
    name, matchers = match.group(1), (match.group(3) or "").strip().rstrip(",")
    bucket = f'{name}{{{matchers + ", " if matchers else ""}le="{label_value(bound)}"}}'
    count = f"{name.removesuffix('_bucket')}_count{{{matchers}}}"
    return PrometheusSource(good=PromQuery(bucket), total=PromQuery(count))


def _slo_generator(doc: Doc, policies: Policies, warn: Callable[[Invalid], None]) -> Slo:
    data = doc.data
    meta = mapping(data.get("metadata") or {}, ("metadata",), "metadata")
    labels = mapping(meta.get("labels") or {}, ("metadata", "labels"), "labels")
    spec = mapping(data.get("spec"), ("spec",), "spec")
    service = str(labels.get("service_name") or labels.get("service") or "").strip()
    if not service:
        raise Invalid(("metadata", "labels"), "no service label", "labels.service_name")
    name = str(labels.get("slo_name") or meta.get("name") or "").strip()
    if not name:
        raise Invalid(("metadata",), "no SLO name", "metadata.name or labels.slo_name")
    backend = str(spec.get("backend", "")).split("/")[0]
    if backend != "prometheus":
        raise Invalid(("spec", "backend"), "unsupported backend", "prometheus", spec.get("backend"))
    sli = mapping(spec.get("service_level_indicator"), ("spec", "service_level_indicator"), "SLI")
    skeys = ("spec", "service_level_indicator")
    method = str(spec.get("method", ""))
    source: IndicatorSource
    if method == "good_bad_ratio":
        good = text(sli, "filter_good", skeys, required=False)
        bad = text(sli, "filter_bad", skeys, required=False)
        valid = text(sli, "filter_valid", skeys, required=False)
        if not (good or bad) or not (valid or (good and bad)):
            raise Invalid(
                skeys, "incomplete good/bad ratio", "filter_good with filter_valid or filter_bad"
            )
        source = PrometheusSource(
            good=window_query(good) if good else None,
            bad=window_query(bad) if bad else None,
            total=window_query(valid) if valid else None,
        )
    elif method == "query_sli":
        source = _query_sli(doc, text(sli, "expression", skeys), (*skeys, "expression"), warn)
    elif method == "distribution_cut":
        source = _distribution_cut(sli, skeys)
    else:
        raise Invalid(
            ("spec", "method"),
            "unsupported method",
            "good_bad_ratio, query_sli or distribution_cut",
            method,
        )
    if method == "good_bad_ratio" and sli.get("operators") not in (None, ["increase", "sum"]):
        raise Invalid(
            (*skeys, "operators"),
            "custom operators are not supported (opsledger counts with increase and sum)",
            "no operators, or [increase, sum]",
            sli.get("operators"),
        )
    policy_name = str(spec.get("error_budget_policy") or "default")
    steps = policies.get(policy_name, ())
    longest = max((s.window for s in steps), default=timedelta(0))
    window = SloWindow(days=longest.days) if longest >= timedelta(days=1) else SLO_GENERATOR_WINDOW
    return Slo(
        service=service,
        name=name,
        objective=objective(spec.get("goal"), ("spec", "goal"), percent=False),
        window=window,
        indicator=source,
        description=str(spec.get("description") or ""),
        error_budget_policy=steps,
        labels=tuple(sorted((str(k), label_value(v)) for k, v in labels.items())),
        source_format="slo-generator/v2",
        source_path=str(doc.path),
        source_line=doc.line(()),
    )


# --- native ------------------------------------------------------------------------------


def _native(doc: Doc, raw: Any, keys: Sequence[Key], warn: Callable[[Invalid], None]) -> Slo:
    """Return one SLO from the native format.

    ``{service, name, objective (0.999 or 99.9), window (30d, 28d, calendar month),
    budgeting (occurrences | timeslices | ratio_timeslices), timeslice_target, timeslice,
    indicator: {duckdb: {path, timestamp, good, bad, total}
                | prometheus: {good, bad, total, ratio} | health: {service, check}}}``,
    or in place of ``indicator`` a ``composite`` of other SLOs
    (:func:`opsledger.readers.slo_composite.native_composite`).
    """
    item = mapping(raw, keys, "an SLO")
    indicator: IndicatorSource
    if "composite" in item:
        if "indicator" in item:
            raise Invalid((*keys, "composite"), "an SLO has an indicator or is a composite",
                          "indicator or composite, not both")
        indicator = native_composite(doc, item["composite"], (*keys, "composite"))
    else:
        indicator = _native_indicator(item.get("indicator"), (*keys, "indicator"), warn)
    budgeting = BudgetingMethod.parse(item.get("budgeting", "occurrences"))
    if budgeting is None:
        raise Invalid(
            (*keys, "budgeting"),
            "unknown budgeting method",
            "occurrences, timeslices or ratio_timeslices",
            item.get("budgeting"),
        )
    slice_size = duration(item.get("timeslice", "1m"), (*keys, "timeslice"))
    if slice_size.total_seconds() % 60:
        raise Invalid((*keys, "timeslice"), "time slices must be whole minutes", "1m, 5m")
    slice_target = None
    if budgeting is BudgetingMethod.TIMESLICES:
        slice_target = objective(
            item.get("timeslice_target"), (*keys, "timeslice_target"), percent=None
        )
    return Slo(
        service=text(item, "service", keys),
        name=text(item, "name", keys),
        objective=objective(item.get("objective"), (*keys, "objective"), percent=None),
        window=window_text(item.get("window", "30d"), (*keys, "window")),
        indicator=indicator,
        description=str(item.get("description") or ""),
        budgeting=budgeting,
        timeslice_target=slice_target,
        timeslice_size=slice_size if budgeting is not BudgetingMethod.OCCURRENCES else MINUTE,
        source_format="native",
        source_path=str(doc.path),
        source_line=doc.line(keys),
    )


def _native_indicator(
    raw: Any, keys: tuple[Key, ...], warn: Callable[[Invalid], None]
) -> IndicatorSource:
    node = mapping(raw, keys, "indicator")
    if len(node) != 1:
        raise Invalid(keys, "indicator needs exactly one source", "duckdb, prometheus or health")
    kind, body = next(iter(node.items()))
    spec = mapping(body, (*keys, kind), f"the {kind} indicator")
    skeys = (*keys, kind)
    good = text(spec, "good", skeys, required=False) or None
    bad = text(spec, "bad", skeys, required=False) or None
    total = text(spec, "total", skeys, required=False) or None
    if kind == "health":
        return HealthSource(text(spec, "service", skeys), text(spec, "check", skeys, False) or None)
    if kind == "prometheus":
        ratio = text(spec, "ratio", skeys, required=False) or None
        if ratio:
            written = window_query(ratio)
            return ratio_indicator(ratio, written, False, (*skeys, "ratio"), warn)
        if not (good or bad) or not (total or (good and bad)):
            raise Invalid(skeys, "incomplete ratio", "good or bad, with total")
        return PrometheusSource(
            good=window_query(good) if good else None,
            bad=window_query(bad) if bad else None,
            total=window_query(total) if total else None,
        )
    if kind == "duckdb":
        if not (good or bad):
            raise Invalid(skeys, "no good or bad predicate", "good: or bad: SQL predicate")
        if total is None and good and bad:
            total = f"({good}) OR ({bad})"
        return DuckDbSource(
            path=text(spec, "path", skeys),
            timestamp=text(spec, "timestamp", skeys, required=False) or "ts",
            good=good,
            bad=bad,
            total=total,
        )
    raise Invalid(keys, "unknown indicator source", "duckdb, prometheus or health", kind)
