"""Numeric quality gates evaluated on measured metrics: per-gate outcome, weighted score,
and whether the whole passes.

Pure functions; no I/O. The gates come from ``gates_config.yaml``
(:mod:`opsledger.readers.gates_config`, names resolved by
:mod:`opsledger.quality.gate_definitions`), the metrics from :mod:`opsledger.quality.metrics`.

Outcome of one gate, for a measured ``value``:

- **fail** (score 0) when ``value <operator> threshold`` does not hold;
- **warn** (score ½) when it holds but ``value <operator> warn_threshold`` does not. The
  warning level sits on the passing side of the threshold (the reader enforces it), so a
  value moves pass -> warn -> fail as it degrades:

  - ``>=`` (and ``>``): higher passes. ``threshold 0.999, warn_threshold 0.9995``: 0.9996
    passes, 0.9992 warns (meets 0.999, short of 0.9995), 0.9989 fails. With ``>`` both
    comparisons are strict: a value equal to the warning level warns.
  - ``<=`` (and ``<``): lower passes. ``threshold 500, warn_threshold 400``: 350 passes,
    450 warns, 501 fails; with ``<`` a value equal to the warning level warns.
  - ``==`` and ``!=`` take no warning level: they pass or fail.
- **pass** (score 1) otherwise (and when no warning level is set and the threshold holds).

Every gate **blocks** unless its definition says ``advisory: true``: a blocking gate that
fails fails the whole check; an advisory gate that fails is reported as a warning and the
check goes on. A metric that could not be measured (:class:`NotAvailable`, with the reason)
leaves its gate without a score: an advisory gate is **skipped**, a blocking gate is an
**error** and fails the whole, because a check that could not run cannot vouch that the
change is safe (it fails closed, as CI does when a required job does not report).

The weighted score is ``sum(weight x score) / sum(weight)`` over the gates that have a
score, advisory ones included; skipped and errored gates are listed, not counted as zero.
The whole fails when a blocking gate fails or errors, or when ``min_score`` is given and
the score is below it. Comparisons use the unrounded values; the verdict shows each value
with as many digits as it takes to tell it from its threshold.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from opsledger.model.gates import GateSpec, Operator
from opsledger.model.status import Skipped, Status

SCORES = {Status.PASS: 1.0, Status.WARN: 0.5, Status.FAIL: 0.0}
MIN_DIGITS = 4  # significant digits shown, more when a value and its threshold would look equal

# The comparison that holds when a gate fails: `value <= 0.01` fails as `value > 0.01`.
VIOLATED = {Operator.GE: "<", Operator.GT: "<=", Operator.LE: ">", Operator.LT: ">=",
            Operator.EQ: "!=", Operator.NE: "=="}


class Unit(StrEnum):
    """How a metric's value reads to people."""

    RATIO = "ratio"  # 0-1, shown as a percentage
    COUNT = "count"
    MS = "ms"
    MINUTES = "minutes"
    NUMBER = "number"  # no unit


_SUFFIX = {Unit.RATIO: "%", Unit.MS: " ms", Unit.MINUTES: " min"}


@dataclass(frozen=True)
class NotAvailable(Skipped):
    """A metric that could not be measured, and why."""

    def __str__(self) -> str:
        return f"not available: {self.reason}"


MetricValue = float | NotAvailable
Metrics = Mapping[str, MetricValue]


def _plain(number: float, digits: int) -> str:
    """Return ``number`` with ``digits`` significant digits, never in exponent notation."""
    if number == 0 or not math.isfinite(number):
        return f"{number:g}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(number))))
    text = f"{number:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def shown(value: float, other: float, unit: Unit = Unit.NUMBER) -> tuple[str, str]:
    """Return ``value`` and ``other`` as people read them (``0.04, 0.01`` as a ratio:
    ``4.0%``, ``1.0%``), with enough digits that two different numbers look different."""
    scale = 100.0 if unit is Unit.RATIO else 1.0
    texts = (_plain(value * scale, MIN_DIGITS), _plain(other * scale, MIN_DIGITS))
    digits = MIN_DIGITS
    while texts[0] == texts[1] and value != other and digits < 17:
        digits += 1
        texts = (_plain(value * scale, digits), _plain(other * scale, digits))
    suffix = _SUFFIX.get(unit, "")
    if unit is Unit.RATIO:  # a percentage keeps one decimal: "4.0%", not "4%"
        return _one_decimal(texts[0]) + suffix, _one_decimal(texts[1]) + suffix
    return texts[0] + suffix, texts[1] + suffix


def _one_decimal(text: str) -> str:
    return text if "." in text or not text[-1:].isdigit() else text + ".0"


@dataclass(frozen=True)
class GateEvaluation:
    """One gate on one measured value."""

    gate: GateSpec
    value: float | None  # None when the metric is not available
    status: Status  # PASS, WARN, FAIL, SKIPPED (advisory, no metric) or ERROR (blocking, no metric)
    reason: str
    unit: Unit = Unit.NUMBER
    unavailable: str = ""  # why the metric could not be measured; "" when it was

    @property
    def score(self) -> float | None:
        return SCORES.get(self.status)

    @property
    def blocking(self) -> bool:
        """Return True when this gate alone fails the whole."""
        return self.gate.blocking and self.status in (Status.FAIL, Status.ERROR)

    @property
    def advisory_failure(self) -> bool:
        """Return True when an advisory gate failed or could not be measured."""
        return self.gate.advisory and self.status in (Status.FAIL, Status.SKIPPED)

    @property
    def finding(self) -> str:
        """Return what is wrong, measured against the threshold, e.g.
        ``error_rate 4.0% > 1.0%`` or ``latency-p95 (latency_p95_ms 672.7 ms > 500 ms)``;
        "" when the gate passed or warned."""
        gate = self.gate
        if self.value is None:
            measure = f"{gate.metric} not available: {self.unavailable}"
        elif self.status is Status.FAIL:
            value, threshold = shown(self.value, gate.threshold, self.unit)
            measure = f"{gate.metric} {value} {VIOLATED[gate.operator]} {threshold}"
        else:
            return ""
        if gate.name.replace("-", "_").lower() == gate.metric.lower():
            return measure
        return f"{gate.name} ({measure})"

    def to_json(self) -> dict[str, Any]:
        gate = self.gate
        return {
            "name": gate.name,
            "metric": gate.metric,
            "value": self.value,
            "unit": self.unit.value,
            "operator": gate.operator.value,
            "threshold": gate.threshold,
            "warn_threshold": gate.warn_threshold,
            "weight": gate.weight,
            "advisory": gate.advisory,
            "key": gate.blocking,  # schema 1 name of "a failure fails the whole"
            "status": self.status.value,
            "score": self.score,
            "reason": self.reason,
            "finding": self.finding or None,
            "description": gate.description,
        }


@dataclass(frozen=True)
class Scorecard:
    """Every gate's outcome, the weighted score and the verdict on the whole."""

    evaluations: tuple[GateEvaluation, ...]
    score: float | None  # None when no gate could be scored
    min_score: float | None
    passed: bool
    reasons: tuple[str, ...]  # what fails the whole; empty when it passes
    advisories: tuple[str, ...] = ()  # advisory gates that failed or were not measured

    @property
    def status(self) -> Status:
        if not self.passed:
            return Status.FAIL
        if any(e.status in (Status.WARN, Status.FAIL, Status.SKIPPED) for e in self.evaluations):
            return Status.WARN
        return Status.PASS

    @property
    def verdict(self) -> str:
        """Return ``PASSED``, or ``FAILED:`` and each thing that fails the whole."""
        return "PASSED" if self.passed else "FAILED: " + "; ".join(self.reasons)

    @property
    def advisory_warning(self) -> str:
        """Return the advisory gates that failed, as one warning line ("" when none)."""
        if not self.advisories:
            return ""
        return "advisory, not blocking: " + "; ".join(self.advisories)

    def counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in (Status.PASS, Status.WARN, Status.FAIL, Status.SKIPPED,
                                       Status.ERROR)}
        for evaluation in self.evaluations:
            counts[evaluation.status.value] += 1
        return counts

    def to_json(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "status": self.status.value,
            "verdict": self.verdict,
            "score": self.score,
            "min_score": self.min_score,
            "reasons": list(self.reasons),
            "advisories": list(self.advisories),
            "counts": self.counts(),
            "gates": [e.to_json() for e in self.evaluations],
        }


def describe(gate: GateSpec) -> str:
    """Return the gate's rule in words, e.g. ``availability >= 0.999 (warn below 0.9995)``."""
    text = f"{gate.metric} {gate.operator.value} {gate.threshold:g}"
    if gate.warn_threshold is not None:
        side = "below" if gate.operator in (Operator.GE, Operator.GT) else "above"
        if gate.operator in (Operator.GT, Operator.LT):
            side = "at or " + side
        text += f" (warn {side} {gate.warn_threshold:g})"
    return text


def evaluate_gate(
    gate: GateSpec, measured: MetricValue | None, unit: Unit = Unit.NUMBER
) -> GateEvaluation:
    """Return the outcome of ``gate`` for the measured value (``None``: metric unknown)."""
    if measured is None:
        measured = NotAvailable(f"opsledger does not measure a metric named '{gate.metric}'")
    if not isinstance(measured, NotAvailable) and math.isnan(float(measured)):
        measured = NotAvailable("the metric is NaN")
    if isinstance(measured, NotAvailable):
        if gate.advisory:
            return GateEvaluation(gate, None, Status.SKIPPED, str(measured), unit,
                                  measured.reason)
        return GateEvaluation(
            gate, None, Status.ERROR,
            f"{measured}; a blocking gate without its metric fails the whole", unit,
            measured.reason)
    value = float(measured)
    op = gate.operator.value
    if not gate.operator.holds(value, gate.threshold):
        shown_value, threshold = shown(value, gate.threshold, unit)
        return GateEvaluation(gate, value, Status.FAIL,
                              f"{shown_value} does not satisfy {op} {threshold}", unit)
    if gate.warn_threshold is not None and not gate.operator.holds(value, gate.warn_threshold):
        shown_value, threshold = shown(value, gate.threshold, unit)
        warn = shown(value, gate.warn_threshold, unit)[1]
        return GateEvaluation(
            gate, value, Status.WARN,
            f"{shown_value} meets {op} {threshold} but not the warning level {op} {warn}", unit)
    shown_value, threshold = shown(value, gate.threshold, unit)
    return GateEvaluation(gate, value, Status.PASS, f"{shown_value} satisfies {op} {threshold}",
                          unit)


def weighted_score(evaluations: Iterable[GateEvaluation]) -> float | None:
    """Return ``sum(weight x score) / sum(weight)`` over the scored gates, or None."""
    scored = [(e.gate.weight, e.score) for e in evaluations if e.score is not None]
    total = sum(weight for weight, _ in scored)
    if not scored or total <= 0:
        return None
    return sum(weight * score for weight, score in scored if score is not None) / total


def evaluate_gates(
    gates: Iterable[GateSpec],
    metrics: Metrics,
    min_score: float | None = None,
    units: Mapping[str, Unit] | None = None,
) -> Scorecard:
    """Return the scorecard of ``gates`` on ``metrics`` (metric name -> value or reason);
    ``units`` says how each metric reads (a number without unit when not given)."""
    units = units or {}
    evaluations = tuple(evaluate_gate(g, metrics.get(g.metric), units.get(g.metric, Unit.NUMBER))
                        for g in gates)
    score = weighted_score(evaluations)
    reasons = [e.finding for e in evaluations if e.blocking]
    if not evaluations:
        reasons.append("no gates are configured")
    if min_score is not None:
        if score is None:
            reasons.append(f"no gate could be scored (minimum score {min_score:g})")
        elif score < min_score:
            value, minimum = shown(score, min_score)
            reasons.append(f"weighted score {value} < minimum {minimum}")
    advisories = tuple(e.finding for e in evaluations if e.advisory_failure)
    return Scorecard(evaluations, score, min_score, not reasons, tuple(reasons), advisories)
