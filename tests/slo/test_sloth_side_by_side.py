"""Sloth's rules and opsledger's rules for the same example fire alike under ``promtool``.

For every Sloth example opsledger reads, two ``promtool test rules`` files are written: one
loads the rules Sloth generated for the example (``_gen/``), the other opsledger's rules for
it. Both get the same input series and the same expectations, so both pass only when the
two rule sets fire at the same evaluation times with the same labels and annotations.

Input series are the ones the example's queries read: the metric names and label matchers
are parsed out of the queries and concrete label values chosen that match them (a value
generated from a regex for ``code=~"(5..|429)"``; one that fails the error query's matchers
for the good requests). Six hours of clean traffic, then a total outage: every request
fails, every satisfaction ratio drops to 0.

The expectations are worked out here, not read from either rule file:

- the alert name, labels and annotations from the example spec as Sloth documents them
  (SLO labels, ``sloth_id``/``sloth_service``/``sloth_slo``, the alert's labels and
  ``sloth_severity``; the default title and summary, overridden by the spec's annotations);
- the firing minutes from Sloth's default multi-window multi-burn-rate policy (page: 2 % of
  the budget in 1h or 5 % in 6h, ticket: 10 % in 1d or 10 % in 3d, each with a short
  window of 1/12 of the long one; 14.4x/6x/3x/1x over a 30-day period) and the error ratio
  each window holds at each minute of the scenario.

Every evaluation from just before the outage until each alert has fired is checked (a
minute apart; 5 minutes for sampled SLIs, whose 3-day subqueries are slow a minute apart),
except where an error ratio equals a threshold (there Sloth's ``0.0009999999999999432`` and
opsledger's ``0.001`` may legitimately disagree). The rule groups are evaluated in
dependency order (``group_eval_order``), so an alert sees the recordings of its own minute.

Deliberate differences (``docs/formats.md``) are asserted as such: Sloth writes no alerts
for OpenSLO input, and applies the ``denominator_corrected_rules`` SLO plugin, which
opsledger does not. Two things are left out of both rule sets: the ``cmd`` label Sloth's
examples script adds, and label names Prometheus 2 refuses (the info_labels plugin's
``plug-l1``, copied by both into ``sloth_slo_info``).
"""

from __future__ import annotations

import math
import re
import re._parser as regex_parser  # the standard library's regex parser (sre_parse)
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsledger.readers import slo_definitions
from opsledger.slo.prometheus_rules import dump_yaml, rules_file

from .sloth_examples import (
    OPENSLO_ALERTS,
    SLI_PLUGIN,
    UNSUPPORTED_SLO_PLUGIN,
    example_spec,
    examples_with_rules,
    sloth_groups,
)

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
needs_promtool = pytest.mark.skipif(not Path(PROMTOOL).exists(), reason="promtool not installed")

READ_EXAMPLES = [name for name in examples_with_rules() if name not in SLI_PLUGIN]

CLEAN_MINUTES = 360  # clean history before the outage: both page windows full of it
COUNTER_START = 1_000_000  # far from 0, so rate() extrapolates errors and totals alike
PER_MINUTE = 60  # requests a minute
SEARCH_MINUTES = 3 * 24 * 60  # how far after the outage to look for an alert's first firing
# Minutes between samples and between evaluations: counters, and sampled SLIs (gauges read
# by subqueries of up to 3 days, slow in promtool a step a minute).
COUNTER_STEP, SAMPLED_STEP = 1, 5

# Sloth's default alert conditions: (severity, share of the error budget, long window in
# minutes). The short window is 1/12 of the long one; the burn rate is share * period / long
# (14.4, 6, 3 and 1 for a 30-day period).
SLOTH_POLICY = (
    ("page", 0.02, 60),
    ("page", 0.05, 360),
    ("ticket", 0.10, 1440),
    ("ticket", 0.10, 4320),
)
SLOTH_TITLE = (
    "({severity}) {{{{$labels.sloth_service}}}} {{{{$labels.sloth_slo}}}} "
    "SLO error budget burn rate is too fast."
)
SLOTH_SUMMARY = (
    "{{$labels.sloth_service}} {{$labels.sloth_slo}} SLO error budget burn rate is over expected."
)

_PLACEHOLDER = re.compile(r"\{\{\s*\.window\s*\}\}")
_LABEL_TEMPLATE = re.compile(r"\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


# --- the example spec, read as Sloth documents it -------------------------------------------


@dataclass(frozen=True)
class Sli:
    """The queries of one SLI: error or good events over total events, or a raw error ratio."""

    error: str = ""
    good: str = ""
    total: str = ""
    error_ratio: str = ""


@dataclass(frozen=True)
class ExpectedAlert:
    name: str
    severity: str
    labels: dict[str, str]
    annotations: dict[str, str]


@dataclass(frozen=True)
class ExampleSlo:
    sloth_id: str
    objective: float  # 0-1
    period_days: int
    sli: Sli
    alerts: tuple[ExpectedAlert, ...] = ()

    @cached_property
    def sampled(self) -> bool:
        """Whether the SLI samples gauges (else it takes the rate of counters)."""
        queries = (self.sli.error, self.sli.good, self.sli.total, self.sli.error_ratio)
        return any(not s.counter for q in queries for s in selectors(q))


def _key(mapping: dict[str, Any], snake: str) -> Any:
    """Return ``mapping[snake]`` or its camelCase spelling (Sloth's Kubernetes CRD)."""
    head, *rest = snake.split("_")
    camel = head + "".join(word.capitalize() for word in rest)
    return mapping.get(snake, mapping.get(camel))


def _strings(mapping: dict[str, Any] | None) -> dict[str, str]:
    return {str(k): str(v) for k, v in (mapping or {}).items()}


def _expanded(annotations: dict[str, str], labels: dict[str, str]) -> dict[str, str]:
    expanded = {
        k: _LABEL_TEMPLATE.sub(lambda m: labels[m.group(1)], v) for k, v in annotations.items()
    }
    assert not any("{{" in v for v in expanded.values()), expanded
    return expanded


def _sloth_alerts(slo: dict[str, Any], labels: dict[str, str]) -> tuple[ExpectedAlert, ...]:
    """Return the alerts Sloth writes for one SLO of its spec (none for a disabled one)."""
    alerting = slo.get("alerting") or {}
    alerts = []
    for severity in ("page", "ticket"):
        options = _key(alerting, f"{severity}_alert") or {}
        if options.get("disable"):
            continue
        alert_labels = {
            **labels,
            **_strings(alerting.get("labels")),
            **_strings(options.get("labels")),
            "sloth_severity": severity,
        }
        annotations = {
            "title": SLOTH_TITLE.format(severity=severity),
            "summary": SLOTH_SUMMARY,
            **_strings(alerting.get("annotations")),
            **_strings(options.get("annotations")),
        }
        name = alerting["name"]
        alerts.append(
            ExpectedAlert(name, severity, alert_labels, _expanded(annotations, alert_labels))
        )
    return tuple(alerts)


def _sloth_slos(body: dict[str, Any]) -> Iterator[ExampleSlo]:
    service = str(body["service"])
    for slo in body["slos"]:
        sli = slo["sli"]
        events, raw = sli.get("events"), sli.get("raw")
        queries = (
            Sli(error=_key(events, "error_query"), total=_key(events, "total_query"))
            if events
            else Sli(error_ratio=_key(raw, "error_ratio_query"))
        )
        sloth_id = f"{service}-{slo['name']}"
        labels = {
            **_strings(body.get("labels")),
            **_strings(slo.get("labels")),
            "sloth_id": sloth_id,
            "sloth_service": service,
            "sloth_slo": str(slo["name"]),
        }
        alerts = _sloth_alerts(slo, labels)
        yield ExampleSlo(sloth_id, float(slo["objective"]) / 100, 30, queries, alerts)


def _openslo_slos(document: dict[str, Any]) -> Iterator[ExampleSlo]:
    spec, name = document["spec"], document["metadata"]["name"]
    window = spec["timeWindows"][0]
    assert window["unit"] == "Day", window
    for index, objective in enumerate(spec["objectives"]):
        ratio = objective["ratioMetrics"]
        sli = Sli(
            error=(ratio.get("bad") or {}).get("query", ""),
            good=(ratio.get("good") or {}).get("query", ""),
            total=ratio["total"]["query"],
        )
        sloth_id = f"{spec['service']}-{name}-{index}"
        yield ExampleSlo(sloth_id, float(objective["target"]), int(window["count"]), sli)


def example_slos(name: str) -> list[ExampleSlo]:
    """Return the SLOs of a Sloth example, with the alerts Sloth documents for them."""
    slos: list[ExampleSlo] = []
    for document in yaml.safe_load_all(example_spec(name).read_text()):
        if not document:
            continue
        if document.get("kind") == "SLO":
            slos.extend(_openslo_slos(document))
        elif document.get("kind") == "PrometheusServiceLevel":
            slos.extend(_sloth_slos(document["spec"]))
        else:
            slos.extend(_sloth_slos(document))
    return slos


# --- input series from the queries' selectors -----------------------------------------------


@dataclass(frozen=True)
class Selector:
    metric: str
    matchers: tuple[tuple[str, str, str], ...]  # (label, op, value)
    counter: bool  # read by rate()/increase(), else sampled as a gauge
    comparisons: tuple[tuple[str, float], ...] = ()  # `metric < 0.75` filters


class Unfeedable(Exception):
    """The queries read series whose values this scenario cannot choose."""


_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.I)
_NAME = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\{[^{}]*\})?\s*(\[\])?")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"')
_COMPARISON = re.compile(r"\s*(<=|>=|<|>|==|!=)\s*(?!bool\b)(-?[0-9.]+(?:e-?[0-9]+)?)")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan"}
_COUNTER_FUNCTIONS = ("rate", "irate", "increase")


def selectors(query: str) -> list[Selector]:
    """Return the series selectors of a PromQL query (function and keyword names excluded)."""
    text = _GROUPING.sub(" ", _RANGE.sub("[]", _PLACEHOLDER.sub("5m", query)))
    found = []
    for match in _NAME.finditer(text):
        name, braces, ranged = match.groups()
        after = text[match.end() :]
        if name.lower() in _KEYWORDS or (not braces and not ranged and after.startswith("(")):
            continue
        before = text[: match.start()].rstrip()
        counter = bool(ranged) and any(before.endswith(f"{f}(") for f in _COUNTER_FUNCTIONS)
        comparisons = tuple(
            (m.group(1), float(m.group(2))) for m in [_COMPARISON.match(after)] if m
        )
        matchers = tuple(_MATCHER.findall(braces or ""))
        found.append(Selector(name, matchers, counter, comparisons))
    return found


def _regex_example(pattern: str) -> str | None:
    """Return a string the (anchored) regex matches, or None for constructs not handled."""

    def sample(items: Any) -> str:
        text = ""
        for op, arg in items:
            kind = str(op)
            if kind == "LITERAL":
                text += chr(arg)
            elif kind == "NOT_LITERAL":
                text += "x" if chr(arg) != "x" else "y"
            elif kind == "ANY":
                text += "0"
            elif kind == "IN":
                first_kind, first = arg[0]
                if str(first_kind) == "LITERAL":
                    text += chr(first)
                elif str(first_kind) == "RANGE":
                    text += chr(first[0])
                elif str(first_kind) == "CATEGORY":
                    text += {"CATEGORY_DIGIT": "0", "CATEGORY_SPACE": " "}.get(str(first), "a")
                else:
                    raise ValueError(kind)
            elif kind == "BRANCH":
                text += sample(arg[1][0])
            elif kind == "SUBPATTERN":
                text += sample(arg[3])
            elif kind in ("MAX_REPEAT", "MIN_REPEAT"):
                text += sample(arg[2]) * arg[0]
            elif kind != "AT":
                raise ValueError(kind)
        return text

    try:
        return sample(regex_parser.parse(pattern))
    except (ValueError, re.error):
        return None


def _holds(value: str, op: str, expected: str) -> bool:
    if op in ("=", "!="):
        return (value == expected) == (op == "=")
    return bool(re.fullmatch(expected, value)) == (op == "=~")


def _label_values(required: list[tuple[str, str, str]]) -> dict[str, str] | None:
    """Return label values meeting every matcher (absent labels are ``""``), or None."""
    values: dict[str, str] = {}
    for label in sorted({m[0] for m in required}):
        constraints = [(op, v) for name, op, v in required if name == label]
        candidates = ["", "x"]
        for op, expected in constraints:
            example = expected if op in ("=", "!=") else _regex_example(expected)
            candidates += [example] if example is not None else []
        chosen = next(
            (c for c in candidates if all(_holds(c, op, v) for op, v in constraints)), None
        )
        if chosen is None:
            return None
        if chosen:
            values[label] = chosen
    return values


_NEGATED = {"=": "!=", "!=": "=", "=~": "!~", "!~": "=~"}


def _labels_outside(
    required: list[tuple[str, str, str]], excluded: list[Selector]
) -> dict[str, str] | None:
    """Return label values meeting ``required`` that no selector in ``excluded`` selects."""
    choices: list[list[tuple[str, str, str]]] = [[]]
    for selector in excluded:
        own = [m for m in selector.matchers if m not in required]
        choices = [[*c, (n, _NEGATED[op], v)] for c in choices for n, op, v in own]
    for negations in choices:
        found = _label_values(required + negations)
        if found is not None:
            return found
    return None


@dataclass
class Traffic:
    """The input series of the scenario, keyed by their selector text."""

    # counters: which requests (good, bad) each series counts
    counters: dict[str, set[str]] = field(default_factory=dict)
    # gauges: (value while clean, value during the outage)
    gauges: dict[str, tuple[float, float]] = field(default_factory=dict)

    def count(self, metric: str, labels: dict[str, str], requests: Iterable[str]) -> None:
        self.counters.setdefault(series_text(metric, labels), set()).update(requests)

    def gauge(self, metric: str, labels: dict[str, str], clean: float, outage: float) -> None:
        key = series_text(metric, labels)
        if self.gauges.setdefault(key, (clean, outage)) != (clean, outage):
            raise Unfeedable(f"{key} would need two different values")


def series_text(metric: str, labels: dict[str, str]) -> str:
    def quoted(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"')

    inner = ", ".join(f'{k}="{quoted(v)}"' for k, v in sorted(labels.items()))
    return f"{metric}{{{inner}}}" if inner else metric


def _solved(required: list[tuple[str, str, str]], what: str) -> dict[str, str]:
    found = _label_values(required)
    if found is None:
        raise Unfeedable(f"no label values meet {what}'s matchers {required}")
    return found


def _gauge_values(on_side: list[Selector], side: str) -> tuple[float, float]:
    """Return a gauge's (clean, outage) values from the thresholds the error (or good) query
    compares it with (``count(x < 0.75)`` counts bad samples)."""
    comparisons = [c for s in on_side for c in s.comparisons]
    if not on_side:
        return 1.0, 1.0  # read by the total alone, whose count does not depend on it
    ops = {"<": float.__lt__, "<=": float.__le__, ">": float.__gt__, ">=": float.__ge__}
    if not comparisons or any(op not in ops for op, _ in comparisons):
        raise Unfeedable("which values of its gauge are bad is not a threshold comparison")
    bounds = [bound for _, bound in comparisons]
    candidates = [1.0, 0.0, min(bounds) - 1, max(bounds) + 1]
    selected = [v for v in candidates if all(ops[op](v, b) for op, b in comparisons)]
    missed = [v for v in candidates if v not in selected]
    if not selected or not missed:
        raise Unfeedable(f"no value of its gauge is both selected and not by {comparisons}")
    return (missed[0], selected[0]) if side == "bad" else (selected[0], missed[0])


def _feed_events(traffic: Traffic, sli: Sli) -> None:
    side_query, side = (sli.error, "bad") if sli.error else (sli.good, "good")
    other = "good" if side == "bad" else "bad"
    side_selectors, total_selectors = selectors(side_query), selectors(sli.total)
    if not side_selectors or not total_selectors:
        raise Unfeedable("its error (or good) and total queries must each read a series")
    every = side_selectors + total_selectors
    gauges = [s for s in every if not s.counter]
    if gauges:
        if len(gauges) != len(every):
            raise Unfeedable("its queries mix counters and sampled gauges")
        for selector in every:
            on_side = [s for s in side_selectors if s.metric == selector.metric]
            clean, outage = _gauge_values(on_side, side)
            traffic.gauge(
                selector.metric, _solved(list(selector.matchers), "a gauge"), clean, outage
            )
        return
    buckets = [s for s in side_selectors if s.metric.endswith("_bucket")]
    if any("le" in [m[0] for m in s.matchers] for s in buckets):
        # A latency SLI: good requests are observed under every bucket bound, bad ones above.
        for selector in every:
            base = re.sub(r"_(bucket|count|sum)$", "", selector.metric)
            required = [
                m
                for s in every
                if re.sub(r"_(bucket|count|sum)$", "", s.metric) == base
                for m in s.matchers
                if m[0] != "le"
            ]
            labels = _solved(required, base)
            le = dict((m[0], m[2]) for m in selector.matchers).get("le")
            if selector.metric.endswith("_bucket") and le is not None:
                traffic.count(selector.metric, {**labels, "le": le}, ["good"])
            else:
                traffic.count(selector.metric, labels, ["good", "bad"])
        return
    for metric in sorted({s.metric for s in every}):
        on_side = [s for s in side_selectors if s.metric == metric]
        in_total = [s for s in total_selectors if s.metric == metric]
        on_total = [m for s in in_total for m in s.matchers]
        traffic.count(
            metric, _solved([m for s in on_side for m in s.matchers] + on_total, metric), [side]
        )
        if in_total:
            outside = _labels_outside(on_total, on_side)
            if outside is None:
                raise Unfeedable(f"every {metric} series the total reads is an {side} one")
            traffic.count(metric, outside, [other])


def _feed_raw(traffic: Traffic, sli: Sli) -> None:
    found = selectors(sli.error_ratio)
    if not found or any(s.counter or s.comparisons for s in found):
        raise Unfeedable("its raw error ratio does not average sampled ratios")
    # `1 - (...)` turns a good (satisfaction) ratio into the error ratio.
    good_ratio = bool(re.match(r"\s*1\s*-", sli.error_ratio))
    for selector in found:
        values = (1.0, 0.0) if good_ratio else (0.0, 1.0)
        traffic.gauge(selector.metric, _solved(list(selector.matchers), "a ratio"), *values)


def traffic_for(slos: list[ExampleSlo]) -> Traffic:
    """Return the series that make every SLO's error ratio 0, then 1 in the outage."""
    traffic = Traffic()
    for slo in slos:
        if slo.sli.error_ratio:
            _feed_raw(traffic, slo.sli)
        else:
            _feed_events(traffic, slo.sli)
    if traffic.counters and traffic.gauges:
        raise Unfeedable("its SLOs mix counters and sampled gauges")
    return traffic


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _values_text(values: list[float]) -> str:
    """Return promtool's expanding notation for one value a minute (linear runs ``a+bxn``)."""
    parts, start = [], 0
    while start < len(values):
        end = start
        if start + 1 < len(values):
            step = values[start + 1] - values[start]
            end = start + 1
            while end + 1 < len(values) and values[end + 1] - values[end] == step:
                end += 1
            sign = "+" if step >= 0 else "-"
            parts.append(f"{_number(values[start])}{sign}{_number(abs(step))}x{end - start}")
        else:
            parts.append(_number(values[start]))
        start = end + 1
    return " ".join(parts)


def input_series(traffic: Traffic, minutes: int, step: int) -> list[dict[str, str]]:
    """Return the series, a sample every ``step`` minutes from 0 to ``minutes``; the outage
    starts at ``CLEAN_MINUTES``."""
    series = []
    for key, requests in sorted(traffic.counters.items()):
        # The step ending at m counts good requests up to the outage, bad ones after it.
        values = [float(COUNTER_START)]
        for minute in range(step, minutes + 1, step):
            counted = ("good" if minute <= CLEAN_MINUTES else "bad") in requests
            values.append(values[-1] + (PER_MINUTE * step if counted else 0))
        series.append({"series": key, "values": _values_text(values)})
    for key, (clean, outage) in sorted(traffic.gauges.items()):
        values = [clean if m < CLEAN_MINUTES else outage for m in range(0, minutes + 1, step)]
        series.append({"series": key, "values": _values_text(values)})
    return series


# --- when each alert fires ------------------------------------------------------------------


def error_ratio(sampled: bool, window: int, minute: int, step: int) -> float | None:
    """Return the error ratio a ``window``-minute range holds at ``minute`` of the scenario.

    Counted in steps (samples and evaluations are ``step`` minutes apart). Counters:
    ``rate()`` over the samples in ``[minute - window, minute]`` (Prometheus 2 includes both
    ends) counts ``window`` minutes of requests, of which those after the outage started
    failed; a range reaching before the first sample counts from it. Sampled ratios: the
    samples (or subquery steps, one an evaluation interval) in the same closed range, of
    which those from the outage's first minute on are bad.
    """
    now, clean = minute // step, CLEAN_MINUTES // step
    span = min(window // step, now)
    if sampled:
        bad = max(0, now - max(clean, now - span) + 1)
        return bad / (span + 1)
    if span == 0:
        return None  # rate() needs two samples
    return min(max(0, now - clean), span) / span


def alert_state(slo: ExampleSlo, severity: str, minute: int, step: int) -> bool | None:
    """Return whether Sloth's default policy fires ``severity`` at ``minute``, or None when
    an error ratio equals a threshold there."""
    period = slo.period_days * 24 * 60
    fires = False
    for level, share, long in SLOTH_POLICY:
        if level != severity:
            continue
        threshold = share * period / long * (1 - slo.objective)
        ratios = [error_ratio(slo.sampled, w, minute, step) for w in (long // 12, long)]
        if any(r is not None and math.isclose(r, threshold, rel_tol=1e-9) for r in ratios):
            return None
        fires = fires or all(r is not None and r > threshold for r in ratios)
    return fires


def first_firing(slo: ExampleSlo, severity: str, step: int) -> int | None:
    """Return the first minute ``severity`` fires in the outage, None if it never does."""
    for minute in range(CLEAN_MINUTES, CLEAN_MINUTES + SEARCH_MINUTES, step):
        if alert_state(slo, severity, minute, step):
            return minute
    return None


def alert_checks(
    alerts: list[tuple[ExampleSlo, ExpectedAlert]],
    last: int,
    step: int,
    *,
    firing_only: bool = False,
) -> list[dict[str, Any]]:
    """Return ``alert_rule_test`` cases for every alert name at the minutes checked.

    ``firing_only``: after the outage starts, check only minutes at which every alert of the
    name fires (for rules that may fire earlier than the policy says).
    """
    minutes = [60, 180, *range(CLEAN_MINUTES - 5 * step, last + 1, step)]
    cases = []
    for minute in minutes:
        for name in sorted({alert.name for _, alert in alerts}):
            states = [
                (alert, alert_state(slo, alert.severity, minute, step))
                for slo, alert in alerts
                if alert.name == name
            ]
            if any(state is None for _, state in states):
                continue
            if firing_only and minute >= CLEAN_MINUTES and not all(s for _, s in states):
                continue
            expected = [
                {"exp_labels": alert.labels, "exp_annotations": alert.annotations}
                for alert, state in states
                if state
            ]
            cases.append({"eval_time": f"{minute}m", "alertname": name, "exp_alerts": expected})
    return cases


# --- the rule files -------------------------------------------------------------------------


def without_cmd_label(group: dict[str, Any]) -> dict[str, Any]:
    """Return a Sloth group without the ``cmd`` label its examples script adds to every rule."""
    rules = [
        {**rule, "labels": {k: v for k, v in rule["labels"].items() if k != "cmd"}}
        if "labels" in rule
        else rule
        for rule in group["rules"]
    ]
    return {**group, "rules": rules}


_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")


def prometheus2_label_names(groups: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], set[str]]:
    """Return the groups without the rule labels Prometheus 2 refuses, and where they were.

    Sloth's info_labels plugin copies its label names as written (``plug-l1``), which only
    Prometheus 3's UTF-8 label names accept; promtool 2 refuses the whole file for them.
    """
    kept, where = [], set()
    for group in groups:
        rules = []
        for rule in group["rules"]:
            labels = rule.get("labels") or {}
            valid = {k: v for k, v in labels.items() if _LABEL_NAME.fullmatch(k)}
            if valid != labels:
                where.add(rule.get("record") or rule.get("alert"))
                rule = {**rule, "labels": valid}
            rules.append(rule)
        kept.append({**group, "rules": rules})
    return kept, where


def evaluation_order(groups: list[dict[str, Any]]) -> list[str]:
    """Return the group names, each after the groups recording what its rules read."""
    records = {g["name"]: {r["record"] for r in g["rules"] if "record" in r} for g in groups}

    def reads(group: dict[str, Any], other: str) -> bool:
        text = "\n".join(str(r["expr"]) for r in group["rules"])
        return any(re.search(rf"(?<![\w:]){re.escape(n)}(?![\w:])", text) for n in records[other])

    ordered: list[str] = []
    pending = list(groups)
    while pending:
        ready = [
            g
            for g in pending
            if all(o == g["name"] or o in ordered or not reads(g, o) for o in records)
        ]
        # Groups reading each other (Sloth's denominator correction): in file order.
        ready = ready or pending[:1]
        ordered += [g["name"] for g in ready]
        pending = [g for g in pending if g not in ready]
    return ordered


def alert_rules(groups: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """Return the (name, sloth_severity) of every alerting rule."""
    return sorted(
        (r["alert"], r["labels"]["sloth_severity"])
        for g in groups
        for r in g["rules"]
        if "alert" in r
    )


def rule_alerts(
    groups: list[dict[str, Any]], slos: list[ExampleSlo]
) -> list[tuple[ExampleSlo, ExpectedAlert]]:
    """Return the alerts a rule file fires for ``slos``: the SLI recordings' labels (less
    ``sloth_window``), the rule's labels, its annotations with ``$labels`` filled in."""
    recorded = {
        r["labels"]["sloth_id"]: {k: str(v) for k, v in r["labels"].items() if k != "sloth_window"}
        for g in groups
        for r in g["rules"]
        if r.get("record") == "slo:sli_error:ratio_rate5m"
    }
    by_id = {slo.sloth_id: slo for slo in slos}
    alerts = []
    for group in groups:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            sloth_id = re.search(r'sloth_id="([^"]+)"', rule["expr"])
            assert sloth_id, rule
            labels = {**recorded[sloth_id.group(1)], **_strings(rule.get("labels"))}
            annotations = _expanded(_strings(rule.get("annotations")), labels)
            alert = ExpectedAlert(rule["alert"], labels["sloth_severity"], labels, annotations)
            alerts.append((by_id[sloth_id.group(1)], alert))
    return alerts


def promtool_tests(
    rule_file: str,
    groups: list[dict[str, Any]],
    series: list[dict[str, str]],
    alert_cases: list[dict[str, Any]],
    slos: int,
    last: int,
    step: int,
) -> str:
    """Return a ``promtool test rules`` file for one rule file."""
    recordings = [
        # No SLI window holds an error before the outage...
        {
            "expr": 'count({__name__=~"slo:sli_error:ratio_rate.+"} > 0)',
            "eval_time": f"{CLEAN_MINUTES - step}m",
            "exp_samples": [],
        },
        # ...and every SLO's 5-minute window is all errors at the end.
        {
            "expr": "count(slo:sli_error:ratio_rate5m >= 1)",
            "eval_time": f"{last}m",
            "exp_samples": [{"labels": "{}", "value": slos}],
        },
    ]
    return dump_yaml(
        {
            "rule_files": [rule_file],
            "evaluation_interval": f"{step}m",
            "group_eval_order": evaluation_order(groups),
            "tests": [
                {
                    "name": "clean history, then a total outage",
                    "interval": f"{step}m",
                    "input_series": series,
                    "alert_rule_test": alert_cases,
                    "promql_expr_test": recordings,
                }
            ],
        }
    )


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.prometheus
@needs_promtool
@pytest.mark.parametrize("name", READ_EXAMPLES)
def test_sloth_and_opsledger_rules_fire_at_the_same_minutes_with_the_same_labels(
    name: str, tmp_path: Path
) -> None:
    theirs, their_fixes = prometheus2_label_names(
        [without_cmd_label(g) for g in sloth_groups(name)]
    )
    text, skipped = rules_file(slo_definitions.read(example_spec(name)).records)
    assert not skipped
    ours, our_fixes = prometheus2_label_names(yaml.safe_load(text)["groups"])
    # Both copy the info_labels plugin's label names; nothing else needs a change.
    assert their_fixes == our_fixes
    assert our_fixes <= {"sloth_slo_info"}
    (tmp_path / "sloth.yaml").write_text(dump_yaml({"groups": theirs}))
    (tmp_path / "opsledger.yaml").write_text(dump_yaml({"groups": ours}) if our_fixes else text)
    loaded = run_promtool("check", "rules", "sloth.yaml", cwd=tmp_path)
    if loaded.returncode != 0:
        error = re.search(r"parse error: (.*)", loaded.stdout + loaded.stderr)
        pytest.skip(f"Sloth's rules for it are not PromQL ({error.group(1) if error else ''})")
    slos = example_slos(name)
    try:
        traffic = traffic_for(slos)
    except Unfeedable as why:
        pytest.skip(f"its queries cannot be fed synthetic series: {why}")

    if name in OPENSLO_ALERTS:
        # Deliberate: Sloth writes no alerts for OpenSLO input, opsledger its burn-rate alerts.
        assert alert_rules(theirs) == []
        alerts = rule_alerts(ours, slos)
        assert {a.severity for _, a in alerts} == {"page", "ticket"}
    else:
        alerts = [(slo, alert) for slo in slos for alert in slo.alerts]
        # No alert rule goes unchecked: both files have exactly the alerts the spec asks for.
        expected = sorted((a.name, a.severity) for _, a in alerts)
        assert alert_rules(theirs) == alert_rules(ours) == expected
    step = SAMPLED_STEP if any(slo.sampled for slo in slos) else COUNTER_STEP
    fired = [m for slo, a in alerts if (m := first_firing(slo, a.severity, step)) is not None]
    # At the end the 5-minute windows hold nothing but the outage.
    last = max([CLEAN_MINUTES + 10, *(m + 5 * step for m in fired)])
    series = input_series(traffic, last, step)
    ours_cases = alert_checks(alerts, last, step)
    if name in OPENSLO_ALERTS:
        sloth_cases = [{**case, "exp_alerts": []} for case in ours_cases]
    else:
        # Deliberate: opsledger does not apply the denominator_corrected_rules SLO plugin,
        # whose correction (the window's rate over the 30-day rate, above 1 with less than
        # 30 days of history) makes Sloth's error ratios larger: its alerts fire no later.
        corrected = name in UNSUPPORTED_SLO_PLUGIN
        sloth_cases = alert_checks(alerts, last, step, firing_only=corrected)
    if alerts:
        assert any(c["exp_alerts"] for c in ours_cases), "no alert fires in the scenario"
    (tmp_path / "sloth-test.yaml").write_text(
        promtool_tests("sloth.yaml", theirs, series, sloth_cases, len(slos), last, step)
    )
    (tmp_path / "opsledger-test.yaml").write_text(
        promtool_tests("opsledger.yaml", ours, series, ours_cases, len(slos), last, step)
    )
    done = run_promtool("test", "rules", "sloth-test.yaml", "opsledger-test.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_most_examples_can_be_fed_synthetic_series() -> None:
    unfed = {}
    for name in READ_EXAMPLES:
        try:
            traffic_for(example_slos(name))
        except Unfeedable as why:
            unfed[name] = str(why)
    # VictoriaMetrics' example reads a `vmrange` histogram and divides by `vector(1)[w]`.
    assert set(unfed) == {"victoria-metrics.yml"}, unfed
    assert len(unfed) <= len(READ_EXAMPLES) // 4


def test_series_meet_the_error_and_total_queries_matchers() -> None:
    # A regex matcher gets a value generated from it; good requests fail the error matchers.
    assert traffic_for(example_slos("getting-started.yml")).counters == {
        'http_request_duration_seconds_count{code="500", job="myservice"}': {"bad"},
        'http_request_duration_seconds_count{job="myservice"}': {"good"},
    }
    # OpenSLO's good query: the bad requests are the ones it leaves out.
    openslo = traffic_for(example_slos("openslo-kubernetes-apiserver.yml")).counters
    assert openslo['apiserver_request_total{code="500"}'] == {"bad"}
    # A latency SLI: every request is counted, only the fast ones in the buckets.
    assert openslo["apiserver_request_duration_seconds_count"] == {"good", "bad"}
    assert openslo['apiserver_request_duration_seconds_bucket{le="5"}'] == {"good"}
    # `count(x < 0.75)` counts bad samples: the satisfaction ratio drops from 1 to 0.
    wifi = traffic_for(example_slos("home-wifi.yml"))
    assert wifi.gauges == {"unifipoller_client_satisfaction_ratio": (1.0, 0.0)}
