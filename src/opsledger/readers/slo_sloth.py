"""Sloth service level specs: ``prometheus/v1`` files and the ``PrometheusServiceLevel`` CRD.

Specification: https://sloth.dev/specs/ (``prometheus/v1``) and the Kubernetes CRD
``sloth.slok.dev/v1`` (same fields, spelled in camelCase: ``errorQuery``, ``pageAlert``...).
Read as Sloth reads them: objectives in percent, a 30-day period, labels of the service
merged with the SLO's, the ``alerting`` block kept for the rules (alert name, labels and
annotations, per-severity labels and annotations, ``disable``). A key Sloth does not know is
ignored by Sloth too, so it is reported as a warning; a feature opsledger does not implement
(SLI plugins, some SLO plugins) is named in a warning or refusal.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from opsledger.model.slo import (
    AlertOptions,
    IndicatorSource,
    Labels,
    PrometheusSource,
    PromQuery,
    PromQueryKind,
    RuleOptions,
    Slo,
    SloWindow,
)
from opsledger.readers.slo_documents import (
    Doc,
    Invalid,
    Key,
    duration,
    label_pairs,
    mapping,
    objective,
    ratio_indicator,
    text,
)

SLOTH_WINDOW = SloWindow(days=30)  # Sloth's default SLO period
Warn = Callable[[Invalid], None]

# Plugins whose work opsledger does anyway (Sloth's own rule generation and validation) or
# that only log: the rules are the same with or without them.
NO_EFFECT_PLUGINS = {
    "sloth.dev/core/debug/v1",
    "sloth.dev/core/noop/v1",
    "sloth.dev/core/validate/v1",
    "sloth.dev/core/sli_rules/v1",
    "sloth.dev/core/metadata_rules/v1",
    "sloth.dev/core/alert_rules/v1",
}
CORE_RULE_PLUGINS = (
    "sloth.dev/core/sli_rules/v1",
    "sloth.dev/core/metadata_rules/v1",
    "sloth.dev/core/alert_rules/v1",
)
INFO_LABELS = "sloth.dev/contrib/info_labels/v1"
# Label names Prometheus 2 accepts (Prometheus 3 accepts any UTF-8 name).
_LEGACY_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
RULE_INTERVALS = "sloth.dev/contrib/rule_intervals/v1"
VALIDATE_VICTORIA_METRICS = "sloth.dev/contrib/validate_victoria_metrics/v1"


@dataclass(frozen=True)
class Dialect:
    """How one Sloth format spells its fields."""

    spec: str  # the sloth_spec label Sloth writes for this format
    error_query: str
    total_query: str
    error_ratio_query: str
    page_alert: str
    ticket_alert: str
    slo_plugins: str

    def other(self) -> Dialect:
        return CRD if self is PROMETHEUS_V1 else PROMETHEUS_V1


PROMETHEUS_V1 = Dialect(
    "prometheus/v1",
    "error_query",
    "total_query",
    "error_ratio_query",
    "page_alert",
    "ticket_alert",
    "slo_plugins",
)
CRD = Dialect(
    "sloth.slok.dev/v1",
    "errorQuery",
    "totalQuery",
    "errorRatioQuery",
    "pageAlert",
    "ticketAlert",
    "sloPlugins",
)


def read_service(doc: Doc, crd: bool, warn: Warn, quarantine: Warn) -> list[Slo]:
    """Return the SLOs of one Sloth document; bad SLOs go to ``quarantine``, one by one."""
    dialect = CRD if crd else PROMETHEUS_V1
    keys: tuple[Key, ...] = ("spec",) if crd else ()
    body = doc.data.get("spec") if crd else doc.data
    if crd:
        _unknown_keys(doc.data, (), {"apiVersion", "kind", "metadata", "spec", "status"}, warn)
    if not isinstance(body, dict) or not isinstance(body.get("slos"), list):
        quarantine(Invalid(keys, "no 'slos' list", "slos: [...]"))
        return []
    top = {"service", "labels", dialect.slo_plugins, "slos"} | (set() if crd else {"version"})
    _unknown_keys(body, keys, top, warn, dialect)
    service = text(body, "service", keys)
    group_labels = label_pairs(body.get("labels"), (*keys, "labels"))
    group_plugins = body.get(dialect.slo_plugins)
    slos = []
    for index, item in enumerate(body["slos"]):
        try:
            slos.append(
                _slo(
                    doc,
                    service,
                    group_labels,
                    group_plugins,
                    item,
                    (*keys, "slos", index),
                    dialect,
                    warn,
                )
            )
        except Invalid as bad:
            quarantine(bad)
    return slos


def _slo(
    doc: Doc,
    service: str,
    group_labels: Labels,
    group_plugins: Any,
    raw: Any,
    keys: tuple[Key, ...],
    dialect: Dialect,
    warn: Warn,
) -> Slo:
    item = mapping(raw, keys, "an SLO")
    known = {"name", "description", "objective", "plugins", "labels", "sli", "alerting"}
    _unknown_keys(item, keys, known, warn, dialect)
    name = text(item, "name", keys)
    target = objective(item.get("objective"), (*keys, "objective"), percent=True)
    source = _sli(item.get("sli"), (*keys, "sli"), dialect, warn)
    labels = dict(group_labels)
    labels.update(label_pairs(item.get("labels"), (*keys, "labels")))
    group_keys = (*keys[:-2], dialect.slo_plugins)
    options = _plugins(group_plugins, group_keys, item.get("plugins"), keys, dialect, warn)
    options = _alerting(item.get("alerting"), (*keys, "alerting"), dialect, warn, options)
    return Slo(
        service=service,
        name=name,
        objective=target,
        window=SLOTH_WINDOW,
        indicator=source,
        description=str(item.get("description") or ""),
        labels=tuple(sorted(labels.items())),
        source_format="sloth",
        source_path=str(doc.path),
        source_line=doc.line(keys),
        rules=options,
    )


def _sli(raw: Any, keys: tuple[Key, ...], dialect: Dialect, warn: Warn) -> IndicatorSource:
    sli = mapping(raw, keys, "sli")
    _unknown_keys(sli, keys, {"events", "raw", "plugin"}, warn, dialect)
    if "plugin" in sli:
        plugin = sli["plugin"] if isinstance(sli["plugin"], dict) else {}
        raise Invalid(
            (*keys, "plugin"),
            f"Sloth SLI plugins are not supported (plugin '{plugin.get('id', '?')}' is Go code "
            "that Sloth runs to build the query)",
            "sli.events or sli.raw with the query the plugin would build",
        )
    if "events" in sli:
        ekeys = (*keys, "events")
        events = mapping(sli["events"], ekeys, "sli.events")
        _unknown_keys(events, ekeys, {dialect.error_query, dialect.total_query}, warn, dialect)
        return PrometheusSource(
            bad=PromQuery(text(events, dialect.error_query, ekeys), PromQueryKind.RATE_TEMPLATE),
            total=PromQuery(text(events, dialect.total_query, ekeys), PromQueryKind.RATE_TEMPLATE),
        )
    if "raw" in sli:
        rkeys = (*keys, "raw")
        rawsli = mapping(sli["raw"], rkeys, "sli.raw")
        _unknown_keys(rawsli, rkeys, {dialect.error_ratio_query}, warn, dialect)
        query = text(rawsli, dialect.error_ratio_query, rkeys)
        # The query is the error ratio over {{.window}}; the good ratio is its complement.
        written = PromQuery(f"1 - ({query})", PromQueryKind.COUNT_TEMPLATE)
        return ratio_indicator(query, written, True, (*rkeys, dialect.error_ratio_query), warn)
    raise Invalid(keys, "unsupported SLI", "sli.events or sli.raw", sorted(sli))


def _alerting(
    raw: Any, keys: tuple[Key, ...], dialect: Dialect, warn: Warn, options: RuleOptions
) -> RuleOptions:
    node = mapping(raw if raw is not None else {}, keys, "alerting")
    known = {"name", "labels", "annotations", dialect.page_alert, dialect.ticket_alert}
    _unknown_keys(node, keys, known, warn, dialect)
    page = _alert(node.get(dialect.page_alert), (*keys, dialect.page_alert), dialect, warn)
    ticket = _alert(node.get(dialect.ticket_alert), (*keys, dialect.ticket_alert), dialect, warn)
    return RuleOptions(
        sloth_alerts=True,
        alert_name=text(node, "name", keys, required=False),
        alert_labels=label_pairs(node.get("labels"), (*keys, "labels")),
        alert_annotations=label_pairs(node.get("annotations"), (*keys, "annotations")),
        page=page,
        ticket=ticket,
        info_metric=options.info_metric,
        info_labels=options.info_labels,
        sli_interval=options.sli_interval,
        metadata_interval=options.metadata_interval,
        alert_interval=options.alert_interval,
        spec=dialect.spec,
    )


def _alert(raw: Any, keys: tuple[Key, ...], dialect: Dialect, warn: Warn) -> AlertOptions:
    node = mapping(raw if raw is not None else {}, keys, "an alert")
    _unknown_keys(node, keys, {"disable", "labels", "annotations"}, warn, dialect)
    disable = node.get("disable", False)
    if not isinstance(disable, bool):
        raise Invalid((*keys, "disable"), "disable must be true or false", "true or false", disable)
    return AlertOptions(
        disabled=disable,
        labels=label_pairs(node.get("labels"), (*keys, "labels")),
        annotations=label_pairs(node.get("annotations"), (*keys, "annotations")),
    )


# --- plugins -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Plugin:
    id: str
    config: dict[str, Any]
    keys: tuple[Key, ...]


def _chain(raw: Any, keys: tuple[Key, ...]) -> tuple[bool, list[_Plugin]]:
    if raw is None:
        return False, []
    node = mapping(raw, keys, "plugins")
    override = node.get("overridePrevious", False) is True
    chain = node.get("chain") or []
    if not isinstance(chain, list):
        raise Invalid((*keys, "chain"), "chain must be a list", "a list of plugins", chain)
    plugins = []
    for index, entry in enumerate(chain):
        pkeys = (*keys, "chain", index)
        plugin = mapping(entry, pkeys, "a plugin")
        config = mapping(plugin.get("config") or {}, (*pkeys, "config"), "plugin config")
        plugins.append(_Plugin(text(plugin, "id", pkeys), config, pkeys))
    return override, plugins


def _plugins(
    group_raw: Any,
    group_keys: tuple[Key, ...],
    slo_raw: Any,
    keys: tuple[Key, ...],
    dialect: Dialect,
    warn: Warn,
) -> RuleOptions:
    """Return the rule options the plugins of an SLO ask for; warn about the others by name."""
    group_override, group_chain = _chain(group_raw, group_keys)
    slo_override, slo_chain = _chain(slo_raw, (*keys, "plugins"))
    chain = slo_chain if slo_override else group_chain + slo_chain
    ids = {plugin.id for plugin in chain}
    if group_override or slo_override:
        # Overriding drops Sloth's default chain; rules Sloth would then not write are named.
        for core in CORE_RULE_PLUGINS:
            if core not in ids:
                warn(
                    Invalid(
                        (*keys, "plugins") if slo_override else group_keys,
                        f"the plugin chain overrides Sloth's defaults without '{core}'; "
                        "opsledger writes those rules anyway",
                    )
                )
    info_metric, info_labels = "sloth_slo_info", dict[str, str]()
    intervals = {"sliError": "", "metadata": "", "alert": ""}
    for plugin in chain:
        if plugin.id in NO_EFFECT_PLUGINS:
            continue
        if plugin.id == INFO_LABELS:
            pairs = label_pairs(plugin.config.get("labels"), (*plugin.keys, "config"))
            for name, _ in pairs:
                if not _LEGACY_LABEL_NAME.match(name):
                    warn(
                        Invalid(
                            (*plugin.keys, "config", "labels", name),
                            f"label name '{name}' is valid only from Prometheus 3 (UTF-8 "
                            "names): Prometheus 2 refuses the whole rule file; it is written "
                            "as given, as Sloth does",
                            "letters, digits and underscores, not starting with a digit",
                        )
                    )
            info_labels.update(pairs)
            info_metric = str(plugin.config.get("metricName") or info_metric)
        elif plugin.id == RULE_INTERVALS:
            intervals = _intervals(plugin)
        elif plugin.id == VALIDATE_VICTORIA_METRICS:
            warn(
                Invalid(
                    (*plugin.keys, "id"),
                    f"Sloth plugin '{plugin.id}' is not run: opsledger does not check "
                    "VictoriaMetrics (MetricsQL) queries; they are written into the rules as given",
                )
            )
        else:
            warn(
                Invalid(
                    (*plugin.keys, "id"),
                    f"Sloth SLO plugin '{plugin.id}' is not supported: opsledger writes the "
                    "rules without it",
                    f"{INFO_LABELS} or {RULE_INTERVALS}",
                )
            )
    return RuleOptions(
        info_metric=info_metric,
        info_labels=tuple(sorted(info_labels.items())),
        sli_interval=intervals["sliError"],
        metadata_interval=intervals["metadata"],
        alert_interval=intervals["alert"],
    )


def _intervals(plugin: _Plugin) -> dict[str, str]:
    keys = (*plugin.keys, "config", "interval")
    node = mapping(plugin.config.get("interval"), keys, "interval")
    default = node.get("default")
    if default is None:
        raise Invalid((*keys, "default"), "rule_intervals needs a default interval", "default: 1m")
    found = {}
    for name in ("default", "sliError", "metadata", "alert"):
        value = node.get(name)
        if value is not None:
            duration(value, (*keys, name))  # refused here, not by Prometheus later
            found[name] = str(value).strip()
    return {name: found.get(name, found["default"]) for name in ("sliError", "metadata", "alert")}


def _unknown_keys(
    node: dict[str, Any],
    keys: Sequence[Key],
    known: set[str],
    warn: Warn,
    dialect: Dialect | None = None,
) -> None:
    """Warn about keys Sloth does not know (it ignores them, so their intent is lost)."""
    for key in node:
        if str(key) in known:
            continue
        hint = ""
        if dialect is not None:
            other = dialect.other()
            for field in (
                "error_query",
                "total_query",
                "error_ratio_query",
                "page_alert",
                "ticket_alert",
                "slo_plugins",
            ):
                if str(key) == getattr(other, field):
                    hint = f" (this format spells it '{getattr(dialect, field)}')"
        warn(
            Invalid(
                (*keys, str(key)),
                f"'{key}' is not a field of a Sloth {dialect.spec if dialect else 'CRD'} spec "
                f"and is ignored, as Sloth ignores it{hint}",
            )
        )
