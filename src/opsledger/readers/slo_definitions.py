"""The ``slos/`` folder: SLO definitions in OpenSLO, Sloth, slo-generator or native YAML.

Formats, detected per document:

- OpenSLO ``apiVersion: openslo/v1`` or ``openslo/v1alpha`` (``kind`` SLO, SLI, DataSource);
- Sloth ``version: prometheus/v1`` (and the ``sloth.slok.dev/v1`` PrometheusServiceLevel CRD):
  objectives in percent, ``error_query``/``total_query`` with ``{{.window}}``, 30-day window;
- slo-generator v2 ``apiVersion: sre.google.com/v2`` ``kind: ServiceLevelObjective`` with
  ``goal`` (0-1), ``backend: prometheus``, ``method: good_bad_ratio`` or ``query_sli``; and its
  shared ``config.yaml`` whose ``error_budget_policies`` steps give each SLO its window;
- native: ``slos:`` list (see :func:`_native`).

One bad SLO is quarantined with file and line; the others stand.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from opsledger.errors import ConfigError
from opsledger.model.slo import (
    MINUTE,
    BudgetingMethod,
    DuckDbSource,
    ErrorBudgetPolicyStep,
    HealthSource,
    IndicatorSource,
    PrometheusSource,
    PromQuery,
    PromQueryKind,
    Slo,
    SloWindow,
)
from opsledger.problems import Level, Problem, ReadResult
from opsledger.readers import slo_openslo
from opsledger.readers.slo_documents import (
    Doc,
    Invalid,
    Key,
    documents,
    duration,
    mapping,
    objective,
    text,
    window_text,
)

SUFFIXES = (".yaml", ".yml", ".json")
SLOTH_WINDOW = SloWindow(days=30)  # Sloth's default SLO period
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
    catalog = slo_openslo.Catalog()
    policies: Policies = {}
    kinds = [_detect(doc.data) for doc in docs]
    for doc, kind in zip(docs, kinds, strict=True):
        if kind == "openslo":
            slo_openslo.collect(doc, catalog)
        elif kind == "slo-generator-config":
            _collect_policies(doc, policies, result)
    formats = set()
    for doc, kind in zip(docs, kinds, strict=True):
        if kind in ("slo-generator-config", "openslo-other"):
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
        result.records.extend(_read_doc(doc, kind, catalog, policies, result))
    _reject_duplicates(result)
    result.detected_format = ", ".join(sorted(formats))
    return result


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
    if api.startswith("openslo/"):
        return "openslo" if data.get("kind") in ("SLO", "SLI", "DataSource") else "openslo-other"
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
    doc: Doc, kind: str, catalog: slo_openslo.Catalog, policies: Policies, result: ReadResult[Slo]
) -> list[Slo]:
    if kind in ("sloth", "sloth-crd", "native"):
        keys: tuple[Key, ...] = ("spec",) if kind == "sloth-crd" else ()
        body = doc.data.get("spec") if kind == "sloth-crd" else doc.data
        if not isinstance(body, dict) or not isinstance(body.get("slos"), list):
            _quarantine(result, doc, Invalid((*keys,), "no 'slos' list", "slos: [...]"))
            return []
        slos = []
        for index, item in enumerate(body["slos"]):
            try:
                if kind == "native":
                    slos.append(_native(doc, item, (*keys, "slos", index)))
                else:
                    slos.append(_sloth(doc, body, item, (*keys, "slos", index), kind))
            except Invalid as bad:
                _quarantine(result, doc, bad)
        return slos
    try:
        if kind == "openslo":
            return slo_openslo.read_slo(doc, catalog)
        return [_slo_generator(doc, policies)]
    except Invalid as bad:
        _quarantine(result, doc, bad)
        return []


def _quarantine(result: ReadResult[Slo], doc: Doc, bad: Invalid) -> None:
    dotted = ".".join(str(k) for k in bad.keys)
    message = f"{dotted}: {bad.message}" if dotted else bad.message
    result.problems.append(
        Problem(str(doc.path), doc.location(bad.keys), message, bad.expected, bad.found)
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


# --- Sloth -------------------------------------------------------------------------------


def _sloth(doc: Doc, body: dict[str, Any], raw: Any, keys: Sequence[Key], kind: str) -> Slo:
    item = mapping(raw, keys, "an SLO")
    service = text(body, "service", ("spec",) if kind == "sloth-crd" else ())
    name = text(item, "name", keys)
    target = objective(item.get("objective"), (*keys, "objective"), percent=True)
    sli = mapping(item.get("sli"), (*keys, "sli"), "sli")
    source: IndicatorSource
    if "events" in sli:
        events = mapping(sli["events"], (*keys, "sli", "events"), "sli.events")
        ekeys = (*keys, "sli", "events")
        source = PrometheusSource(
            bad=PromQuery(text(events, "error_query", ekeys), PromQueryKind.RATE_TEMPLATE),
            total=PromQuery(text(events, "total_query", ekeys), PromQueryKind.RATE_TEMPLATE),
        )
    elif "raw" in sli:
        rawsli = mapping(sli["raw"], (*keys, "sli", "raw"), "sli.raw")
        ratio = text(rawsli, "error_ratio_query", (*keys, "sli", "raw"))
        source = PrometheusSource(ratio=PromQuery(f"1 - ({ratio})", PromQueryKind.COUNT_TEMPLATE))
    else:
        raise Invalid((*keys, "sli"), "unsupported SLI", "sli.events or sli.raw", sorted(sli))
    labels = {**(body.get("labels") or {}), **(item.get("labels") or {})}
    return Slo(
        service=service,
        name=name,
        objective=target,
        window=SLOTH_WINDOW,
        indicator=source,
        description=str(item.get("description") or ""),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        source_format="sloth",
        source_path=str(doc.path),
        source_line=doc.line(keys),
    )


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


def _generator_query(expr: str) -> PromQuery:
    # slo-generator appends the window to a bare selector, or fills a '[window]' placeholder.
    if "[window" in expr:
        return PromQuery(expr.replace("[window]", "[{{.window}}]"), PromQueryKind.COUNT_TEMPLATE)
    return PromQuery(expr, PromQueryKind.COUNTER)


def _slo_generator(doc: Doc, policies: Policies) -> Slo:
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
            good=_generator_query(good) if good else None,
            bad=_generator_query(bad) if bad else None,
            total=_generator_query(valid) if valid else None,
        )
    elif method == "query_sli":
        source = PrometheusSource(ratio=_generator_query(text(sli, "expression", skeys)))
    else:
        raise Invalid(
            ("spec", "method"), "unsupported method", "good_bad_ratio or query_sli", method
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
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
        source_format="slo-generator/v2",
        source_path=str(doc.path),
        source_line=doc.line(()),
    )


# --- native ------------------------------------------------------------------------------


def _native(doc: Doc, raw: Any, keys: Sequence[Key]) -> Slo:
    """Return one SLO from the native format.

    ``{service, name, objective (0.999 or 99.9), window (30d, 28d, calendar month),
    budgeting (occurrences | timeslices | ratio_timeslices), timeslice_target, timeslice,
    indicator: {duckdb: {path, timestamp, good, bad, total}
                | prometheus: {good, bad, total, ratio} | health: {service, check}}}``
    """
    item = mapping(raw, keys, "an SLO")
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
        indicator=_native_indicator(item.get("indicator"), (*keys, "indicator")),
        description=str(item.get("description") or ""),
        budgeting=budgeting,
        timeslice_target=slice_target,
        timeslice_size=slice_size if budgeting is not BudgetingMethod.OCCURRENCES else MINUTE,
        source_format="native",
        source_path=str(doc.path),
        source_line=doc.line(keys),
    )


def _native_indicator(raw: Any, keys: tuple[Key, ...]) -> IndicatorSource:
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
            return PrometheusSource(ratio=_generator_query(ratio))
        if not (good or bad) or not (total or (good and bad)):
            raise Invalid(skeys, "incomplete ratio", "good or bad, with total")
        return PrometheusSource(
            good=_generator_query(good) if good else None,
            bad=_generator_query(bad) if bad else None,
            total=_generator_query(total) if total else None,
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
