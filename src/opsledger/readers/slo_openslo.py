"""OpenSLO ``v1`` and ``v1alpha`` SLO, SLI and DataSource documents, normalised to :class:`Slo`.

Specification: https://github.com/OpenSLO/OpenSLO (README, "SLO", "SLI", "DataSource",
"Notes (Composite SLO)").
Metric sources understood: ``type: prometheus`` (``spec.query``, PromQL over counters, or a
gauge for threshold metrics) and ``type: duckdb`` (``spec.path`` file or glob, ``spec.timestamp``
column, ``spec.filter`` SQL predicate; threshold metrics add ``spec.column``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from opsledger.model.slo import (
    MINUTE,
    BudgetingMethod,
    CompositeComponent,
    CompositeMethod,
    CompositeSource,
    DuckDbSource,
    IndicatorSource,
    PrometheusSource,
    PromQuery,
    RuleOptions,
    Slo,
    SloWindow,
    Threshold,
)
from opsledger.readers.slo_documents import (
    Doc,
    Invalid,
    Key,
    calendar_anchor,
    calendar_time_zone,
    duration,
    mapping,
    objective,
    ratio_indicator,
    text,
    window_from_shorthand,
    window_query,
)

OPS = {"lt", "lte", "gt", "gte"}


@dataclass
class Catalog:
    """Named OpenSLO objects collected from every file, so references resolve across files."""

    slis: dict[str, tuple[Doc, dict[str, Any]]] = field(default_factory=dict)
    data_sources: dict[str, tuple[Doc, dict[str, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Part:
    """One metric source (good, bad, total, raw or threshold) resolved to its type and spec."""

    kind: str  # prometheus | duckdb
    spec: dict[str, Any]
    keys: tuple[Key, ...]
    url: str | None


def collect(doc: Doc, catalog: Catalog) -> None:
    """Remember an SLI or DataSource document by name."""
    data = doc.data
    name = str((data.get("metadata") or {}).get("name") or "")
    if data.get("kind") == "SLI" and name:
        catalog.slis[name] = (doc, data.get("spec") or {})
    elif data.get("kind") == "DataSource" and name:
        catalog.data_sources[name] = (doc, data.get("spec") or {})


def read_slo(doc: Doc, catalog: Catalog, warn: Callable[[Invalid], None]) -> list[Slo]:
    """Return the SLOs of one OpenSLO ``kind: SLO`` document (one per objective, and for a
    composite SLO the composite of them, last); what they lose in meaning goes to ``warn``."""
    data = doc.data
    alpha = str(data.get("apiVersion", "")).endswith("v1alpha")
    meta = mapping(data.get("metadata") or {}, ("metadata",), "metadata")
    name = text(meta, "name", ("metadata",))
    spec = mapping(data.get("spec"), ("spec",), "spec")
    service = text(spec, "service", ("spec",))
    window = _window(spec, alpha)
    budgeting = BudgetingMethod.parse(spec.get("budgetingMethod", "Occurrences"))
    if budgeting is None:
        raise Invalid(
            ("spec", "budgetingMethod"),
            "unknown budgeting method",
            "Occurrences, Timeslices or RatioTimeslices",
            spec.get("budgetingMethod"),
        )
    objectives = spec.get("objectives")
    if not isinstance(objectives, list) or not objectives:
        raise Invalid(("spec", "objectives"), "no objectives", "a list of objectives", objectives)
    composite = not alpha and _is_composite(spec, objectives)
    if not alpha and not composite:
        for index, item in enumerate(objectives):
            if isinstance(item, dict) and "compositeWeight" in item:
                warn(Invalid(("spec", "objectives", index, "compositeWeight"),
                             "compositeWeight applies only to a composite SLO (objectives "
                             "with their own indicator or indicatorRef); it is ignored"))
    slo_indicator = None if alpha or composite else _indicator_spec(spec, ("spec",), catalog)
    slos = []
    for index, raw in enumerate(objectives):
        keys: tuple[Key, ...] = ("spec", "objectives", index)
        item = mapping(raw, keys, "an objective")
        if "targetPercent" in item:
            target = objective(item["targetPercent"], (*keys, "targetPercent"), percent=True)
        else:
            target = objective(item.get("target"), (*keys, "target"), percent=False)
        threshold = _threshold(item, keys)
        if alpha:
            indicator = _alpha_indicator(spec, item, keys, threshold)
        else:
            sli = _indicator_spec(item, keys, catalog) if composite else slo_indicator
            assert sli is not None
            indicator = _v1_indicator(sli, threshold, catalog, warn)
        slice_target, slice_size = _timeslices(item, keys, budgeting)
        # Unnamed objectives are numbered from 0, as Sloth numbers them in its rules.
        label = str(item.get("displayName") or item.get("name") or index)
        slos.append(
            Slo(
                service=service,
                name=name if len(objectives) == 1 else f"{name}-{_slug(label)}",
                objective=target,
                window=window,
                indicator=indicator,
                description=str(spec.get("description") or ""),
                budgeting=budgeting,
                timeslice_target=slice_target,
                timeslice_size=slice_size,
                source_format=f"openslo/{'v1alpha' if alpha else 'v1'}",
                source_path=str(doc.path),
                source_line=doc.line(keys),
                display_name=str(meta.get("displayName") or ""),
                rules=RuleOptions(
                    rule_slo_name=f"{name}-{index}", spec=str(data.get("apiVersion", ""))
                ),
            )
        )
    if composite and len(slos) > 1:
        slos.append(_composite(doc, name, slos, objectives))
    return slos


# --- composite SLOs ----------------------------------------------------------------------


def _is_composite(spec: dict[str, Any], objectives: list[Any]) -> bool:
    """Return True for a v1 composite SLO: objectives with an indicator of their own.

    As the specification and go-sdk have it, the indicator then sits in every objective and
    not in the SLO.
    """
    own = [
        index
        for index, item in enumerate(objectives)
        if isinstance(item, dict) and {"indicator", "indicatorRef"} & set(item)
    ]
    if not own:
        return False
    for key in ("indicator", "indicatorRef"):
        if key in spec:
            raise Invalid(
                ("spec", key),
                f"a composite SLO has no {key} of its own: its objectives carry one each",
                "indicator or indicatorRef in each objective, or only in spec",
            )
    for index in range(len(objectives)):
        if index not in own:
            raise Invalid(
                ("spec", "objectives", index),
                "in a composite SLO every objective has its own indicator or indicatorRef",
                "indicator or indicatorRef",
            )
    return True


def _composite(doc: Doc, name: str, components: list[Slo], objectives: list[Any]) -> Slo:
    """Return the composite of an OpenSLO v1 composite SLO's objectives (each one an SLO).

    The specification's rules, per budgeting method: Occurrences, the composite burns at
    the sum of the objectives' burn rates, each multiplied by its ``compositeWeight``;
    Timeslices, a slice is bad when it is bad for any objective; RatioTimeslices, the
    slice's missing parts add up, each multiplied by its weight (and divided by its error
    budget, so that objectives with different targets burn the composite alike). OpenSLO
    gives the composite no target of its own: it takes the strictest objective's.
    """
    first = components[0]
    parts: list[CompositeComponent] = []
    for index, (slo, raw) in enumerate(zip(components, objectives, strict=True)):
        keys: tuple[Key, ...] = ("spec", "objectives", index)
        if slo.key in {c.key for c in parts}:
            raise Invalid(
                (*keys, "displayName"),
                f"two objectives of the composite SLO are both named '{slo.name}'",
                "a distinct displayName per objective",
            )
        if slo.timeslice_size != first.timeslice_size:
            raise Invalid(
                (*keys, "timeSliceWindow"),
                "the objectives of a composite SLO share one timeSliceWindow",
                f"{first.timeslice_size // MINUTE}m, as the first objective's",
                raw.get("timeSliceWindow"),
            )
        parts.append(CompositeComponent(slo.key, _weight(raw, keys), doc.line(keys)))
    method = {
        BudgetingMethod.OCCURRENCES: CompositeMethod.WEIGHTED_SUM,
        BudgetingMethod.TIMESLICES: CompositeMethod.ALL_SUCCEED,
        BudgetingMethod.RATIO_TIMESLICES: CompositeMethod.WEIGHTED_SUM,
    }[first.budgeting]
    per_slice = first.budgeting is not BudgetingMethod.OCCURRENCES
    source = CompositeSource(tuple(parts), method, per_slice)
    return replace(
        first,
        name=name,
        objective=max(slo.objective for slo in components),
        indicator=source,
        timeslice_target=None,
        source_line=doc.line(("metadata", "name")),
        rules=RuleOptions(spec=first.rules.spec),
    )


def _weight(item: dict[str, Any], keys: tuple[Key, ...]) -> float:
    value = item.get("compositeWeight", 1)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise Invalid((*keys, "compositeWeight"), "compositeWeight must be a number above 0",
                      "a number such as 1 or 0.5", value)
    return float(value)


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-") or "objective"


def _window(spec: dict[str, Any], alpha: bool) -> SloWindow:
    key = "timeWindows" if alpha else "timeWindow"
    windows = spec.get(key)
    if not isinstance(windows, list) or not windows:
        raise Invalid(("spec", key), "no time window", "a list with one time window", windows)
    keys: tuple[Key, ...] = ("spec", key, 0)
    item = mapping(windows[0], keys, "a time window")
    rolling = item.get("isRolling", True) is not False
    calendar, calendar_keys = item.get("calendar"), (*keys, "calendar")
    time_zone = calendar_time_zone(calendar, calendar_keys)
    anchor = calendar_anchor(calendar, calendar_keys, time_zone)
    if alpha:
        count, unit = item.get("count"), str(item.get("unit", "")).lower()
        letters = {"second": "s", "minute": "m", "hour": "h", "day": "d", "week": "w"}
        letters |= {"month": "M", "quarter": "Q", "year": "Y"}
        if not isinstance(count, int) or unit.rstrip("s") not in letters:
            raise Invalid(keys, "time window needs count and unit", "count: 28, unit: Day", item)
        shorthand = f"{count}{letters[unit.rstrip('s')]}"
    else:
        shorthand = text(item, "duration", keys)
    return window_from_shorthand(
        shorthand, (*keys, "count" if alpha else "duration"), rolling, anchor, time_zone
    )


def _threshold(item: dict[str, Any], keys: tuple[Key, ...]) -> Threshold | None:
    # An objective of a ratio metric may carry `op` with no `value`: it compares nothing.
    if "op" not in item or "value" not in item:
        return None
    op = str(item["op"]).lower()
    if op not in OPS:
        raise Invalid((*keys, "op"), "unknown operator", "lt, lte, gt or gte", item["op"])
    value = item.get("value")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid((*keys, "value"), "threshold value must be a number", "a number", value)
    return Threshold(op, float(value))


def _timeslices(
    item: dict[str, Any], keys: tuple[Key, ...], budgeting: BudgetingMethod
) -> tuple[float | None, timedelta]:
    if budgeting is BudgetingMethod.OCCURRENCES:
        return None, MINUTE
    size = duration(item.get("timeSliceWindow", "1m"), (*keys, "timeSliceWindow"))
    if size.total_seconds() % 60:
        raise Invalid((*keys, "timeSliceWindow"), "time slices must be whole minutes", "1m, 5m")
    if budgeting is BudgetingMethod.RATIO_TIMESLICES:
        return None, size
    if "timeSliceTarget" not in item:
        raise Invalid(keys, "Timeslices needs timeSliceTarget", "timeSliceTarget: 0.95")
    target = objective(item["timeSliceTarget"], (*keys, "timeSliceTarget"), percent=None)
    return target, size


# --- indicators --------------------------------------------------------------------------


def _indicator_spec(
    node: dict[str, Any], keys: tuple[Key, ...], catalog: Catalog
) -> tuple[dict[str, Any], tuple[Key, ...]]:
    """Return the SLI spec that ``node`` (an SLO's spec, or a composite's objective at
    ``keys``) names with ``indicatorRef`` or holds inline as ``indicator``."""
    if "indicatorRef" in node:
        ref = str(node["indicatorRef"])
        if ref not in catalog.slis:
            raise Invalid((*keys, "indicatorRef"), "no SLI with this name", "an SLI document", ref)
        return catalog.slis[ref][1], (*keys, "indicatorRef")
    indicator = mapping(node.get("indicator"), (*keys, "indicator"), "indicator")
    inline = (*keys, "indicator", "spec")
    return mapping(indicator.get("spec"), inline, "indicator spec"), inline


def _v1_indicator(
    sli: tuple[dict[str, Any], tuple[Key, ...]],
    threshold: Threshold | None,
    catalog: Catalog,
    warn: Callable[[Invalid], None],
) -> IndicatorSource:
    spec, keys = sli
    if "ratioMetric" in spec:
        ratio = mapping(spec["ratioMetric"], (*keys, "ratioMetric"), "ratioMetric")
        rkeys = (*keys, "ratioMetric")
        if "raw" in ratio:
            raw = _part(ratio["raw"], (*rkeys, "raw"), catalog)
            failure = str(ratio.get("rawType", "success")).lower() == "failure"
            return _ratio_source(raw, failure, warn)
        parts: dict[str, _Part] = {
            name: _part(ratio[name], (*rkeys, name), catalog)
            for name in ("good", "bad", "total")
            if name in ratio
        }
        return _counts_source(parts, rkeys)
    if "thresholdMetric" in spec:
        part = _part(spec["thresholdMetric"], (*keys, "thresholdMetric"), catalog)
        if threshold is None:
            raise Invalid(
                keys, "a threshold metric needs op and value in the objective", "op/value"
            )
        return _threshold_source(part, threshold)
    raise Invalid(keys, "indicator has no metric", "ratioMetric or thresholdMetric", spec)


def _alpha_indicator(
    spec: dict[str, Any], item: dict[str, Any], keys: tuple[Key, ...], threshold: Threshold | None
) -> IndicatorSource:
    if "ratioMetrics" in item:
        ratio = mapping(item["ratioMetrics"], (*keys, "ratioMetrics"), "ratioMetrics")
        parts: dict[str, _Part] = {
            name: _alpha_part(ratio[name], (*keys, "ratioMetrics", name))
            for name in ("good", "bad", "total")
            if name in ratio
        }
        return _counts_source(parts, (*keys, "ratioMetrics"))
    indicator = mapping(spec.get("indicator"), ("spec", "indicator"), "indicator")
    if "thresholdMetric" in indicator and threshold is not None:
        part = _alpha_part(indicator["thresholdMetric"], ("spec", "indicator", "thresholdMetric"))
        return _threshold_source(part, threshold)
    raise Invalid(keys, "objective has no metric", "ratioMetrics, or thresholdMetric with op/value")


def _alpha_part(node: Any, keys: tuple[Key, ...]) -> _Part:
    item = mapping(node, keys, "a metric")
    kind = str(item.get("source", "")).lower()
    if kind not in ("prometheus", "duckdb"):
        raise Invalid((*keys, "source"), "unsupported metric source", "prometheus or duckdb", kind)
    return _Part(kind, item, keys, None)


def _part(node: Any, keys: tuple[Key, ...], catalog: Catalog) -> _Part:
    item = mapping(node, keys, "a metric")
    source = mapping(item.get("metricSource"), (*keys, "metricSource"), "metricSource")
    skeys = (*keys, "metricSource")
    kind = str(source.get("type", "")).lower()
    url = None
    ref = source.get("metricSourceRef")
    if ref is not None:
        if str(ref) not in catalog.data_sources:
            raise Invalid((*skeys, "metricSourceRef"), "no DataSource with this name", "", ref)
        ds = catalog.data_sources[str(ref)][1]
        kind = kind or str(ds.get("type", "")).lower()
        details = ds.get("connectionDetails") or {}
        if isinstance(details, list):
            # go-sdk and the spec examples write the details as a list of one-key mappings.
            merged: dict[str, Any] = {}
            for entry in details:
                if isinstance(entry, dict):
                    merged.update(entry)
            details = merged
        url = str(details.get("url")) if isinstance(details, dict) and details.get("url") else None
    if kind not in ("prometheus", "duckdb"):
        raise Invalid(
            (*skeys, "type"), "unsupported metric source type", "prometheus or duckdb", kind
        )
    return _Part(
        kind, mapping(source.get("spec"), (*skeys, "spec"), "metricSource spec"), skeys, url
    )


def _query(part: _Part) -> PromQuery:
    return window_query(text(part.spec, "query", (*part.keys, "spec")))


def _duck(part: _Part) -> tuple[str, str, str]:
    keys = (*part.keys, "spec")
    path = text(part.spec, "path", keys)
    timestamp = text(part.spec, "timestamp", keys, required=False) or "ts"
    where = text(part.spec, "filter", keys, required=False) or "TRUE"
    return path, timestamp, where


def _counts_source(parts: Mapping[str, _Part], keys: tuple[Key, ...]) -> IndicatorSource:
    if "total" not in parts and not ("good" in parts and "bad" in parts):
        raise Invalid(
            keys, "a ratio metric needs total with good or bad", "good/total or bad/total"
        )
    if "good" not in parts and "bad" not in parts:
        raise Invalid(keys, "a ratio metric needs good or bad", "good/total or bad/total")
    kinds = {p.kind for p in parts.values()}
    if len(kinds) > 1:
        raise Invalid(keys, "good, bad and total must use the same source type", "", sorted(kinds))
    if kinds == {"prometheus"}:
        url = next((p.url for p in parts.values() if p.url), None)
        queries = {name: _query(part) for name, part in parts.items()}
        return PrometheusSource(
            good=queries.get("good"), bad=queries.get("bad"), total=queries.get("total"), url=url
        )
    specs = {name: _duck(part) for name, part in parts.items()}
    paths = {(p, t) for p, t, _ in specs.values()}
    if len(paths) > 1:
        raise Invalid(
            keys, "good, bad and total must read the same files", "one path", sorted(paths)
        )
    (path, timestamp) = paths.pop()
    good = specs["good"][2] if "good" in specs else None
    bad = specs["bad"][2] if "bad" in specs else None
    total = specs["total"][2] if "total" in specs else f"({good}) OR ({bad})"
    return DuckDbSource(path=path, timestamp=timestamp, good=good, bad=bad, total=total)


def _ratio_source(part: _Part, failure: bool, warn: Callable[[Invalid], None]) -> IndicatorSource:
    if part.kind != "prometheus":
        raise Invalid(part.keys, "a raw ratio needs a prometheus source", "type: prometheus")
    query = _query(part)
    written = PromQuery(f"1 - ({query.expr})", query.kind) if failure else query
    keys = (*part.keys, "spec", "query")
    return ratio_indicator(query.expr, written, failure, keys, warn, part.url)


def _threshold_source(part: _Part, threshold: Threshold) -> IndicatorSource:
    if part.kind == "prometheus":
        return PrometheusSource(ratio=_query(part), threshold=threshold, url=part.url)
    path, timestamp, where = _duck(part)
    column = text(part.spec, "column", (*part.keys, "spec"))
    return DuckDbSource(path=path, timestamp=timestamp, good=threshold.sql(column), total=where)
