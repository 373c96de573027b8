"""Prometheus recording and burn-rate alerting rules, with Sloth-compatible names.

The recording rules use Sloth's conventions (``slo:sli_error:ratio_rate<window>``,
``slo:objective:ratio``, ``slo:error_budget:ratio``, ``slo:time_period:days``,
``slo:current_burn_rate:ratio``, ``slo:period_burn_rate:ratio``,
``slo:period_error_budget_remaining:ratio``, ``sloth_slo_info``; labels ``sloth_id``,
``sloth_service``, ``sloth_slo``, ``sloth_window``) so dashboards built for Sloth keep
working. Alerting rules follow the Workbook's multi-window multi-burn-rate form, each
window's condition joined as Sloth joins them (``max(...) without (sloth_window)``), so a
firing alert keeps one identity whichever condition holds. For Sloth definitions the alerts
are Sloth's (its ``alerting`` name, labels and annotations; disabled alerts absent); for the
other formats page and ticket alerts get distinct names (``...Page``/``...Ticket``) so each
can be routed, silenced and unit-tested on its own, with ``severity`` and ``sloth_severity``.

An SLI is given as PromQL with a ``{{.window}}`` placeholder (Sloth's convention), as
good/total or bad/total event queries, or as a ratio (Sloth ``sli.raw``, OpenSLO raw ratio
metrics, slo-generator ``query_sli``) whose error ratio is windowed the same way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from opsledger.model.slo import (
    AlertOptions,
    PrometheusSource,
    PromQuery,
    PromQueryKind,
    RuleOptions,
    Slo,
    Threshold,
)
from opsledger.model.status import SkippedResult
from opsledger.slo.alerting import (
    AlertPolicy,
    AlertSeverity,
    BurnCondition,
    window_label,
    workbook_policy,
)

# The windows Sloth records for every SLO, whatever its alerts use.
SLOTH_WINDOWS = (5, 30, 60, 120, 360, 1440, 4320)
_PLACEHOLDER = re.compile(r"\{\{\s*\.window\s*\}\}")
_SELECTOR = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*\s*(\{[^{}]*\})?$")
GENERATOR = "opsledger"


@dataclass(frozen=True)
class RuleTarget:
    """What the rules need to know about one SLO."""

    service: str
    slo: str
    objective: float  # 0-1
    window_days: int
    error_ratio: str  # PromQL yielding the bad/total ratio, with a {{.window}} placeholder
    labels: tuple[tuple[str, str], ...] = ()
    alert_name: str = ""
    spec: str = "native"
    options: RuleOptions = field(default_factory=RuleOptions)

    @property
    def sloth_id(self) -> str:
        return f"{self.service}-{self.slo}"

    @property
    def alert_base(self) -> str:
        if self.alert_name:
            return self.alert_name
        words = re.split(r"[^A-Za-z0-9]+", f"{self.service} {self.slo}")
        return "".join(w[:1].upper() + w[1:] for w in words if w) + "SLO"


@dataclass(frozen=True)
class SkippedRules(SkippedResult):
    """An SLO for which no Prometheus rules can be written, and why."""

    slo: str
    reason: str
    where: str = ""  # file:line of the definition
    # False when Prometheus rules do not apply at all (an SLI counted by another engine):
    # that is the design, not a problem to report.
    applies: bool = True


def error_ratio_query(total: str, good: str | None = None, bad: str | None = None) -> str:
    """Return the bad/total ratio PromQL from good/total or bad/total queries (Sloth's text)."""
    if bad is not None:
        return f"({bad})\n/\n({total})\n"
    if good is not None:
        return f"(\n  1 - (\n    (\n      {good}\n    )\n    /\n    (\n      {total}\n    )\n  )\n)"
    raise ValueError("an SLI needs a good or a bad query besides the total")


def _complement(expr: str) -> str:
    """Return ``1 - (expr)``, or ``q`` itself when ``expr`` is already ``1 - (q)``.

    A Sloth raw SLI is read as the good ratio ``1 - (error ratio)``; taking the complement
    again gives back the user's error-ratio query as written, as Sloth puts it in its rules.
    """
    text = expr.strip()
    if text.startswith("1 - (") and text.endswith(")"):
        inner = text[len("1 - (") : -1]
        depth = 0
        for char in inner:
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth < 0:
                break
        else:
            if depth == 0:
                return inner
    return f"1 - ({text})"


def _ratio_error(ratio: PromQuery, threshold: Threshold | None) -> str | None:
    """Return the windowed error ratio of a ratio or gauge SLI, or None when it has none.

    A query with ``{{.window}}`` computes the good ratio over the window itself (slo-generator
    ``query_sli``, Sloth raw); a plain ratio gauge or a threshold metric is sampled once a
    minute, as the engines count it, and averaged over the window.
    """
    expr = ratio.expr.strip()
    if ratio.kind is not PromQueryKind.COUNTER:
        if threshold is not None or not _PLACEHOLDER.search(expr):
            return None
        return f"({_complement(expr)})"
    if threshold is not None:
        symbol = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[threshold.op]
        good = f"(({expr}) {symbol} bool {number_text(threshold.bound)})"
        return f"1 - avg_over_time({good}[{{{{.window}}}}:1m])"
    return f"1 - avg_over_time(({expr})[{{{{.window}}}}:1m])"


def _windowed(query: PromQuery | None) -> str | None:
    """Return the query with a window placeholder, or None when it cannot carry one."""
    if query is None:
        return None
    if query.kind in (PromQueryKind.RATE_TEMPLATE, PromQueryKind.COUNT_TEMPLATE):
        return query.expr.strip() if _PLACEHOLDER.search(query.expr) else None
    if _SELECTOR.match(query.expr.strip()):
        return f"sum(rate({query.expr.strip()}[{{{{.window}}}}]))"
    return None


def target_for(slo: Slo) -> RuleTarget | SkippedRules:
    """Return the rule target of an SLO, or why it has none."""
    if not isinstance(slo.indicator, PrometheusSource):
        return SkippedRules(slo.key, "its SLI is not a Prometheus query", slo.where, applies=False)
    found = _error_ratio(slo)
    if not isinstance(found, str):
        return SkippedRules(slo.key, found[0], slo.where)
    return RuleTarget(
        slo.service,
        slo.rules.rule_slo_name or slo.name,
        slo.objective,
        slo.window.days,
        found,
        slo.labels,
        spec=slo.rules.spec or slo.source_format,
        options=slo.rules,
    )


def _error_ratio(slo: Slo) -> str | tuple[str]:
    """Return the error-ratio PromQL with ``{{.window}}``, or (why there is none,)."""
    source = slo.indicator
    assert isinstance(source, PrometheusSource)
    if source.ratio is not None:
        ratio = _ratio_error(source.ratio, source.threshold)
        if ratio is None:
            return ("its ratio query has no {{.window}} (or [window]) range to evaluate over",)
        return ratio
    if source.good is None and source.bad is None:
        return ("its SLI has neither a good nor a bad query",)
    good, bad, total = _windowed(source.good), _windowed(source.bad), _windowed(source.total)
    if bad is None and good is None:
        return ("its good/bad query cannot take a {{.window}} range",)
    if total is None:
        if source.total is not None:
            return ("its total query cannot take a {{.window}} range",)
        if good is None or bad is None:
            return ("it has no total query",)
        total = f"({good}) + ({bad})"
    return error_ratio_query(total, good=None if bad else good, bad=bad)


def number_text(value: float) -> str:
    """Return a float as short PromQL text (``0.001``, not ``0.0010000000000000009``)."""
    return format(value, ".15g")


def _selector(target: RuleTarget) -> str:
    return (
        f'{{sloth_id="{target.sloth_id}", sloth_service="{target.service}", '
        f'sloth_slo="{target.slo}"}}'
    )


def _labels(target: RuleTarget, **extra: str) -> dict[str, str]:
    labels = dict(target.labels)
    labels.update(
        sloth_id=target.sloth_id, sloth_service=target.service, sloth_slo=target.slo, **extra
    )
    return dict(sorted(labels.items()))


def recording_windows(target: RuleTarget, policy: AlertPolicy) -> tuple[int, ...]:
    period = target.window_days * 24 * 60
    return tuple(sorted({*SLOTH_WINDOWS, *policy.windows} - {period}))


def rule_groups(target: RuleTarget, policy: AlertPolicy | None = None) -> list[dict[str, Any]]:
    """Return the SLI, metadata and alert rule groups of one SLO (Sloth's group layout)."""
    policy = policy or workbook_policy(target.window_days)
    sel = _selector(target)
    period = f"{target.window_days}d"
    sli_rules: list[dict[str, Any]] = [
        {
            "record": f"slo:sli_error:ratio_rate{window_label(minutes)}",
            "expr": _PLACEHOLDER.sub(window_label(minutes), target.error_ratio) + "\n",
            "labels": _labels(target, sloth_window=window_label(minutes)),
        }
        for minutes in recording_windows(target, policy)
    ]
    # The period ratio is the mean of the 5m ratios, as Sloth records it (cheap over 30d).
    sli_rules.append(
        {
            "record": f"slo:sli_error:ratio_rate{period}",
            "expr": (
                f"sum_over_time(slo:sli_error:ratio_rate5m{sel}[{period}])\n"
                f"/ ignoring (sloth_window)\n"
                f"count_over_time(slo:sli_error:ratio_rate5m{sel}[{period}])\n"
            ),
            "labels": _labels(target, sloth_window=period),
        }
    )
    on = "on(sloth_id, sloth_slo, sloth_service) group_left"
    meta_rules: list[dict[str, Any]] = [
        {"record": "slo:objective:ratio", "expr": f"vector({number_text(target.objective)})"},
        {"record": "slo:error_budget:ratio", "expr": f"vector(1-{number_text(target.objective)})"},
        {"record": "slo:time_period:days", "expr": f"vector({target.window_days})"},
        {
            "record": "slo:current_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate5m{sel}\n/ {on}\nslo:error_budget:ratio{sel}\n",
        },
        {
            "record": "slo:period_burn_rate:ratio",
            "expr": f"slo:sli_error:ratio_rate{period}{sel}\n/ {on}\nslo:error_budget:ratio{sel}\n",
        },
        {
            "record": "slo:period_error_budget_remaining:ratio",
            "expr": f"1 - slo:period_burn_rate:ratio{sel}",
        },
    ]
    for rule in meta_rules:
        rule["labels"] = _labels(target)
    info_labels = _labels(
        target,
        sloth_mode=f"{GENERATOR}-gen-prom",
        sloth_spec=target.spec,
        sloth_version=GENERATOR,
        sloth_objective=number_text(target.objective * 100),
    )
    info_labels.update(target.options.info_labels)  # Sloth's info_labels plugin
    meta_rules.append(
        {
            "record": target.options.info_metric,
            "expr": "vector(1)",
            "labels": dict(sorted(info_labels.items())),
        }
    )
    options = target.options
    groups = [
        _group(f"sloth-slo-sli-recordings-{target.sloth_id}", sli_rules, options.sli_interval),
        _group(
            f"sloth-slo-meta-recordings-{target.sloth_id}", meta_rules, options.metadata_interval
        ),
    ]
    alerts = [
        _alert_rule(target, policy, severity, sel)
        for severity in policy.severities()
        if not _alert_options(target, severity).disabled
    ]
    if alerts:
        groups.append(_group(f"sloth-slo-alerts-{target.sloth_id}", alerts, options.alert_interval))
    return groups


def _group(name: str, rules: list[dict[str, Any]], interval: str) -> dict[str, Any]:
    group: dict[str, Any] = {"name": name}
    if interval:
        group["interval"] = interval
    group["rules"] = rules
    return group


def _alert_options(target: RuleTarget, severity: AlertSeverity) -> AlertOptions:
    return target.options.page if severity is AlertSeverity.PAGE else target.options.ticket


def alert_name(target: RuleTarget, severity: AlertSeverity) -> str:
    """Return the alert's name: the definition's (Sloth: one for both), else ``...Page``."""
    if target.options.sloth_alerts and target.options.alert_name:
        return target.options.alert_name
    return f"{target.alert_base}{severity.value.capitalize()}"


def _condition_expr(condition: BurnCondition, objective: float, sel: str) -> str:
    # max(...) without (sloth_window) drops the window label, as Sloth does, so the alert has
    # the same labels whichever condition (and window) makes it fire.
    threshold = f"({number_text(condition.burn_rate)} * {number_text(1 - objective)})"
    windows = [condition.short_minutes, condition.long_minutes]
    parts = [
        f"max(slo:sli_error:ratio_rate{window_label(w)}{sel} > {threshold}) without (sloth_window)"
        for w in windows
        if w is not None
    ]
    return "(\n    " + "\n    and\n    ".join(parts) + "\n)"


def alert_labels(target: RuleTarget, severity: AlertSeverity) -> dict[str, str]:
    """Return the labels the alert rule sets (the recordings' labels come on top)."""
    options = target.options
    if not options.sloth_alerts:
        return {"severity": severity.value, "sloth_severity": severity.value}
    labels = {"sloth_severity": severity.value}
    labels.update(options.alert_labels)
    labels.update(_alert_options(target, severity).labels)
    return dict(sorted(labels.items()))


def alert_annotations(
    target: RuleTarget, policy: AlertPolicy, severity: AlertSeverity
) -> dict[str, str]:
    """Return the alert's annotations (templates unexpanded)."""
    title = (
        f"({severity.value}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} "
        "SLO error budget burn rate is too fast."
    )
    options = target.options
    if not options.sloth_alerts:
        conditions = [c for c in policy.conditions if c.severity is severity]
        return {
            "summary": f"{target.service} {target.slo}: error budget burning too fast",
            "title": title,
            "policy": f"{policy.name}: {', '.join(c.label for c in conditions)}",
        }
    annotations = {
        "summary": "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn "
        "rate is over expected.",
        "title": title,
    }
    annotations.update(options.alert_annotations)
    annotations.update(_alert_options(target, severity).annotations)
    return dict(sorted(annotations.items()))


def _alert_rule(
    target: RuleTarget, policy: AlertPolicy, severity: AlertSeverity, sel: str
) -> dict[str, Any]:
    conditions = [c for c in policy.conditions if c.severity is severity]
    expr = "\nor\n".join(_condition_expr(c, target.objective, sel) for c in conditions)
    return {
        "alert": alert_name(target, severity),
        "expr": expr + "\n",
        "labels": alert_labels(target, severity),
        "annotations": alert_annotations(target, policy, severity),
    }


class _Dumper(yaml.SafeDumper):
    """Writes multi-line strings as literal blocks, like hand-written rule files."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(document: Any) -> str:
    return yaml.dump(document, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=1000)


def rules_document(
    targets: Sequence[RuleTarget], policy: AlertPolicy | None = None
) -> dict[str, Any]:
    """Return the rule file as data: ``{"groups": [...]}`` for every target."""
    groups: list[dict[str, Any]] = []
    for target in targets:
        groups.extend(rule_groups(target, policy))
    return {"groups": groups}


def rules_yaml(slos: Sequence[Slo | RuleTarget], policy: AlertPolicy | None = None) -> str:
    """Return the Prometheus rule file for ``slos`` (see :func:`rules_file`)."""
    return rules_file(slos, policy)[0]


def rules_file(
    slos: Sequence[Slo | RuleTarget], policy: AlertPolicy | None = None
) -> tuple[str, list[SkippedRules]]:
    """Return the Prometheus rule file for ``slos`` and the SLOs it has no rules for.

    ``policy`` None: the Workbook policy rescaled to each SLO's window. The skipped SLOs are
    also named in the file's header, for whoever reads the file alone.
    """
    targets: list[RuleTarget] = []
    skipped: list[SkippedRules] = []
    for item in slos:
        found = item if isinstance(item, RuleTarget) else target_for(item)
        where = "" if isinstance(item, RuleTarget) else item.where
        if isinstance(found, RuleTarget) and found.sloth_id in {t.sloth_id for t in targets}:
            # Prometheus refuses a rule file with a group name twice.
            skipped.append(
                SkippedRules(found.sloth_id, "an SLO with the same id comes first", where)
            )
        elif isinstance(found, RuleTarget):
            targets.append(found)
        else:
            skipped.append(found)
    header = [
        "# Generated by opsledger from the workspace's SLO definitions. DO NOT EDIT.",
        "# Recording names follow Sloth's conventions (slo:sli_error:ratio_rate<window>).",
    ]
    header += [f"# skipped {s.slo}: {s.reason}" for s in skipped]
    return "\n".join(header) + "\n" + dump_yaml(rules_document(targets, policy)), skipped
