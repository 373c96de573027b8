"""Which alert policy to recommend for one SLO from its backtest scores, and how surely.

The incidents are the only ground truth a backtest has: with none there is nothing to choose
a policy by, so none is chosen, and the default rules (the Workbook's multi-window,
multi-burn-rate alerts that ``opsledger slo rules`` writes) stay. With some, the policy with
the best recall within the alert budget is chosen, with a confidence that grows with the
number of incidents it was measured on (:mod:`opsledger.slo.confidence`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from opsledger.slo.confidence import Confidence, incident_confidence

# A default of ours, per SLO: a rotation carries many SLOs, and Google's SRE book (ch. 11,
# "Being On-Call") caps the load at two incidents per 12-hour shift for all of them.
DEFAULT_MAX_ALERTS_PER_WEEK = 2.0
MINUTES_PER_DAY = 24 * 60


class ScoredPolicy(Protocol):
    """What the choice reads from a policy's backtest score."""

    @property
    def policy(self) -> str: ...
    @property
    def alerts_per_week(self) -> float: ...
    @property
    def pages_per_week(self) -> float: ...
    @property
    def precision(self) -> float | None: ...
    @property
    def recall(self) -> float | None: ...
    @property
    def incidents(self) -> int: ...
    @property
    def detected(self) -> int: ...
    @property
    def mean_detection_minutes(self) -> float | None: ...


@dataclass(frozen=True)
class Recommendation:
    """The policy chosen for one SLO (None: not enough incidents to choose), and why."""

    policy: str | None
    reason: str
    confidence: Confidence = Confidence.LOW
    incidents: int = 0  # the incidents the choice was measured on

    def describe_confidence(self) -> str:
        """Return e.g. ``medium (4 incidents)``."""
        noun = "incident" if self.incidents == 1 else "incidents"
        return f"{self.confidence.value} ({self.incidents} {noun})"


def _history(minutes: int | None) -> str:
    if minutes is None:
        return ""
    days = minutes / MINUTES_PER_DAY
    return f" in {days:.0f} days of SLI history" if days >= 1 else f" in {minutes} minutes"


def recommend(
    scores: Sequence[ScoredPolicy],
    max_alerts_per_week: float = DEFAULT_MAX_ALERTS_PER_WEEK,
    minutes: int | None = None,
) -> Recommendation:
    """Return the policy with the best recall within the alert budget, and why.

    Ties go to the faster mean detection, then the higher precision, then fewer alerts.
    With no incidents, or none that any policy detected, no policy is chosen: there is
    nothing to tell the policies apart by. When no policy stays within the alert
    budget, the quietest one is recommended and the reason says so. ``minutes``: the length
    of the history, for the reason.
    """
    if not scores:
        raise ValueError("no policy scores to choose from")
    incidents = max(s.incidents for s in scores)
    confidence = incident_confidence(incidents)
    if incidents == 0 or all(s.recall is None for s in scores):
        return Recommendation(
            None,
            f"not enough incidents to choose a policy: no incidents{_history(minutes)}; "
            "the default rules stay",
            Confidence.LOW,
            0,
        )
    if all(not s.detected for s in scores):
        return Recommendation(
            None,
            f"not enough incidents to choose a policy: no policy detected any of the "
            f"{incidents} incident(s){_history(minutes)}; the default rules stay",
            Confidence.LOW,
            incidents,
        )
    within = [s for s in scores if s.alerts_per_week <= max_alerts_per_week]
    if not within:
        quietest = min(scores, key=lambda s: (s.alerts_per_week, -(s.recall or 0.0)))
        return Recommendation(
            quietest.policy,
            f"every policy exceeds {max_alerts_per_week:g} alerts/week; the quietest fires "
            f"{quietest.alerts_per_week:.2f}/week with recall {quietest.recall or 0:.0%}",
            confidence,
            incidents,
        )

    def key(s: ScoredPolicy) -> tuple[float, float, float, float]:
        detection = s.mean_detection_minutes if s.mean_detection_minutes is not None else 1e18
        return (-(s.recall or 0.0), detection, -(s.precision or 0.0), s.alerts_per_week)

    ranked = sorted(within, key=key)
    best = ranked[0]
    detection = (
        f", detects in {best.mean_detection_minutes:.0f} min on average"
        if best.mean_detection_minutes is not None
        else ""
    )
    precision = f", precision {best.precision:.0%}" if best.precision is not None else ""
    reason = (
        f"best recall ({best.detected}/{best.incidents} incidents) within "
        f"{max_alerts_per_week:g} alerts/week ({best.alerts_per_week:.2f}/week)"
        f"{detection}{precision}"
    )
    if len(ranked) > 1 and key(ranked[1])[0] == key(best)[0]:
        runner_up = key(ranked[1])
        names = ("detection time", "precision", "alerts per week")
        broken = next(
            (n for n, a, b in zip(names, key(best)[1:], runner_up[1:], strict=True) if a != b),
            "order of the policies",
        )
        reason += f"; ties with {ranked[1].policy} on recall, broken by {broken}"
    return Recommendation(best.policy, reason, confidence, incidents)
