"""Numeric quality gates evaluated on measured metrics: per-gate outcome, weighted score,
and whether the whole passes.

Pure functions; no I/O. The gates come from ``gates_config.yaml``
(:mod:`opsledger.readers.gates_config`), the metrics from :mod:`opsledger.quality.metrics`.

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

A metric that could not be measured (:class:`NotAvailable`, with the reason) leaves its
gate without a score: a non-key gate is **skipped**, a key gate is an **error** and fails
the whole, because a key gate guards a release and a check that could not run cannot vouch
that the change is safe (it fails closed, as CI does when a required job does not report).

The weighted score is ``sum(weight x score) / sum(weight)`` over the gates that have a
score; skipped and errored gates are listed, not counted as zero. The whole fails when a
key gate fails or errors, or when ``min_score`` is given and the score is below it.
Comparisons use the unrounded values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opsledger.model.gates import GateSpec, Operator
from opsledger.model.status import Skipped, Status

SCORES = {Status.PASS: 1.0, Status.WARN: 0.5, Status.FAIL: 0.0}


@dataclass(frozen=True)
class NotAvailable(Skipped):
    """A metric that could not be measured, and why."""

    def __str__(self) -> str:
        return f"not available: {self.reason}"


MetricValue = float | NotAvailable
Metrics = Mapping[str, MetricValue]


@dataclass(frozen=True)
class GateEvaluation:
    """One gate on one measured value."""

    gate: GateSpec
    value: float | None  # None when the metric is not available
    status: Status  # PASS, WARN, FAIL, SKIPPED (non-key, no metric) or ERROR (key, no metric)
    reason: str

    @property
    def score(self) -> float | None:
        return SCORES.get(self.status)

    @property
    def blocking(self) -> bool:
        """Return True when this gate alone fails the whole."""
        return self.gate.key and self.status in (Status.FAIL, Status.ERROR)

    def to_json(self) -> dict[str, Any]:
        gate = self.gate
        return {
            "name": gate.name,
            "metric": gate.metric,
            "value": self.value,
            "operator": gate.operator.value,
            "threshold": gate.threshold,
            "warn_threshold": gate.warn_threshold,
            "weight": gate.weight,
            "key": gate.key,
            "status": self.status.value,
            "score": self.score,
            "reason": self.reason,
            "description": gate.description,
        }


@dataclass(frozen=True)
class Scorecard:
    """Every gate's outcome, the weighted score and the verdict on the whole."""

    evaluations: tuple[GateEvaluation, ...]
    score: float | None  # None when no gate could be scored
    min_score: float | None
    passed: bool
    reasons: tuple[str, ...]  # why the whole fails; empty when it passes

    @property
    def status(self) -> Status:
        if not self.passed:
            return Status.FAIL
        if any(e.status in (Status.WARN, Status.FAIL, Status.SKIPPED) for e in self.evaluations):
            return Status.WARN
        return Status.PASS

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
            "score": self.score,
            "min_score": self.min_score,
            "reasons": list(self.reasons),
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


def evaluate_gate(gate: GateSpec, measured: MetricValue | None) -> GateEvaluation:
    """Return the outcome of ``gate`` for the measured value (``None``: metric unknown)."""
    if measured is None:
        measured = NotAvailable(f"opsledger does not measure a metric named '{gate.metric}'")
    if isinstance(measured, NotAvailable):
        status = Status.ERROR if gate.key else Status.SKIPPED
        suffix = "; a key gate without its metric fails the whole" if gate.key else ""
        return GateEvaluation(gate, None, status, f"{measured}{suffix}")
    value = float(measured)
    if math.isnan(value):
        status = Status.ERROR if gate.key else Status.SKIPPED
        return GateEvaluation(gate, None, status, "not available: the metric is NaN")
    if not gate.operator.holds(value, gate.threshold):
        return GateEvaluation(
            gate, value, Status.FAIL,
            f"{value:g} does not satisfy {gate.operator.value} {gate.threshold:g}",
        )
    if gate.warn_threshold is not None and not gate.operator.holds(value, gate.warn_threshold):
        return GateEvaluation(
            gate, value, Status.WARN,
            f"{value:g} meets {gate.operator.value} {gate.threshold:g} but not the warning "
            f"level {gate.operator.value} {gate.warn_threshold:g}",
        )
    return GateEvaluation(gate, value, Status.PASS,
                          f"{value:g} satisfies {gate.operator.value} {gate.threshold:g}")


def weighted_score(evaluations: Iterable[GateEvaluation]) -> float | None:
    """Return ``sum(weight x score) / sum(weight)`` over the scored gates, or None."""
    scored = [(e.gate.weight, e.score) for e in evaluations if e.score is not None]
    total = sum(weight for weight, _ in scored)
    if not scored or total <= 0:
        return None
    return sum(weight * score for weight, score in scored if score is not None) / total


def evaluate_gates(
    gates: Iterable[GateSpec], metrics: Metrics, min_score: float | None = None
) -> Scorecard:
    """Return the scorecard of ``gates`` on ``metrics`` (metric name -> value or reason)."""
    evaluations = tuple(evaluate_gate(g, metrics.get(g.metric)) for g in gates)
    score = weighted_score(evaluations)
    reasons = [
        f"key gate '{e.gate.name}' "
        + ("failed" if e.status is Status.FAIL else "could not be evaluated")
        + f": {e.reason}"
        for e in evaluations
        if e.blocking
    ]
    if not evaluations:
        reasons.append("no gates are configured")
    if min_score is not None:
        if score is None:
            reasons.append(f"no gate could be scored; the minimum score is {min_score:g}")
        elif score < min_score:
            reasons.append(f"weighted score {score:.4f} is below the minimum {min_score:g}")
    return Scorecard(evaluations, score, min_score, not reasons, tuple(reasons))
