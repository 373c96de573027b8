"""How much a recommendation about alerting can be trusted, from the evidence behind it.

Two kinds of evidence, each with its counts shown next to the level:

- **a share of labelled firings** (acted on, closed by themselves, re-fired, ...) compared
  with the threshold the decision turns on. The level comes from the 95 % Wilson score
  interval of the share (Wilson 1927; Newcombe 1998, method 3):
  *high* when the whole interval lies on the decision's side of the threshold, *medium*
  when only the observed share does;
- **the incidents a policy backtest is scored against**: recall and detection time are
  measured on them, so fewer than :data:`MEDIUM_INCIDENTS` make a choice of policy *low*,
  :data:`HIGH_INCIDENTS` or more make it *high*, and with none there is nothing to choose by.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


MEDIUM_INCIDENTS = 3
HIGH_INCIDENTS = 10


def incident_confidence(incidents: int) -> Confidence:
    """Return the confidence a policy choice scored on ``incidents`` incidents deserves."""
    if incidents >= HIGH_INCIDENTS:
        return Confidence.HIGH
    if incidents >= MEDIUM_INCIDENTS:
        return Confidence.MEDIUM
    return Confidence.LOW


@dataclass(frozen=True)
class ShareEvidence:
    """``count`` of ``total`` labelled firings, with the share's 95 % Wilson interval."""

    what: str  # e.g. "acted on"
    count: int
    total: int
    low: float
    high: float

    @property
    def share(self) -> float:
        return self.count / self.total

    def describe(self) -> str:
        """Return e.g. ``0 of 70 firings acted on (95% interval 0%-5%)``."""
        return (
            f"{self.count} of {self.total} firings {self.what} "
            f"(95% interval {self.low:.0%}-{self.high:.0%})"
        )


def share_evidence(what: str, count: int, total: int) -> ShareEvidence:
    """Return ``count`` of ``total`` with its 95 % Wilson score interval (``total`` > 0)."""
    if total <= 0 or not 0 <= count <= total:
        raise ValueError(f"need 0 <= count <= total and total > 0 (got {count} of {total})")
    low, high = wilson_interval(count, total, 0.95)
    return ShareEvidence(what, count, total, low, high)


def wilson_interval(count: int, total: int, level: float) -> tuple[float, float]:
    """Return the two-sided Wilson score interval of ``count`` successes in ``total`` trials.

    Newcombe (1998), method 3, without continuity correction: the centre
    ``(2np + z²) / 2(n + z²)`` plus or minus ``z sqrt(4npq + z²) / 2(n + z²)``, with the
    bound at 0 (1) exact when ``count`` is 0 (``total``). The same interval as
    ``scipy.stats.binomtest(count, total).proportion_ci(level, method="wilson")`` and
    statsmodels' ``proportion_confint(method="wilson")``, without importing either.
    """
    z = NormalDist().inv_cdf(0.5 + 0.5 * level)
    p = count / total
    denominator = 2 * (total + z**2)
    centre = (2 * total * p + z**2) / denominator
    delta = z / denominator * math.sqrt(4 * total * p * (1 - p) + z**2)
    return (0.0 if count == 0 else centre - delta, 1.0 if count == total else centre + delta)


def share_confidence(evidence: ShareEvidence, threshold: float, below: bool) -> Confidence:
    """Return HIGH when the interval lies wholly on the decision's side of ``threshold``.

    ``below``: the decision holds when the share is below the threshold (else at or above
    it). MEDIUM when only the observed share is on that side, LOW when it is not.
    """
    if below:
        if evidence.high < threshold:
            return Confidence.HIGH
        return Confidence.MEDIUM if evidence.share < threshold else Confidence.LOW
    if evidence.low >= threshold:
        return Confidence.HIGH
    return Confidence.MEDIUM if evidence.share >= threshold else Confidence.LOW
