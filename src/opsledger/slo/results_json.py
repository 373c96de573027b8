"""The JSON of ``slo backtest`` and ``slo noise``: plain data, rounded for reading."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the results come from these modules, which their commands import
    from opsledger.slo.backtest import BacktestResult
    from opsledger.slo.noise import NoiseReport, TuningRecommendation


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def backtest_json(results: Sequence[BacktestResult]) -> list[dict[str, Any]]:
    """Return backtests as JSON-ready objects (numbers rounded for display only).

    ``recommended`` is None when the history holds no incident to choose a policy by;
    ``confidence`` (high/medium/low) grows with ``incidents``, the incidents it was scored on.
    """
    from opsledger.slo.backtest import SkippedBacktest, SloBacktest

    out: list[dict[str, Any]] = []
    for result in results:
        if isinstance(result, SkippedBacktest):
            out.append({"slo": result.slo, "valid": False, "reason": result.reason})
            continue
        assert isinstance(result, SloBacktest)
        out.append(
            {
                "slo": result.slo,
                "valid": True,
                "objective": result.objective,
                "window_days": result.window_days,
                "minutes": result.minutes,
                "recommended": result.recommendation.policy,
                "confidence": result.recommendation.confidence.value,
                "incidents": result.recommendation.incidents,
                "reason": result.recommendation.reason,
                "policies": [
                    {
                        "policy": s.policy,
                        "alerts": s.alerts,
                        "pages": s.pages,
                        "tickets": s.tickets,
                        "alerts_per_week": _rounded(s.alerts_per_week),
                        "precision": _rounded(s.precision),
                        "recall": _rounded(s.recall),
                        "incidents": s.incidents,
                        "detected": s.detected,
                        "mean_detection_minutes": _rounded(s.mean_detection_minutes, 1),
                        "mean_reset_minutes": _rounded(s.mean_reset_minutes, 1),
                        "mean_budget_before_detection": _rounded(s.mean_budget_before_detection),
                    }
                    for s in result.scores
                ],
            }
        )
    return out


def noise_json(report: NoiseReport) -> dict[str, Any]:
    """Return the noise report as a JSON-ready object: alerts ranked by noise, most first.

    Each alert (name and service) carries its one ``decision``; ``recommendations`` repeats
    the decisions that change an alert, in the same order.
    """
    decisions = {d.key: d for d in report.decisions}
    return {
        "firings": report.firings,
        "start": report.start.isoformat() if report.start else None,
        "end": report.end.isoformat() if report.end else None,
        "timezone": report.working_hours.timezone,
        "alerts": [
            {
                "alert": a.alert,
                "service": a.service,
                "noise": a.noise,
                "firings": a.firings,
                "pages": a.pages,
                "acknowledged": a.acknowledged,
                "acted_on": a.acted_on,
                "precision": _rounded(a.precision),
                "minutes_firing": _rounded(a.minutes_firing, 1),
                "occurrences": a.occurrences,
                "flapping_episodes": a.flapping_episodes,
                "auto_resolve_rate": _rounded(a.auto_resolve_rate),
                "actionable_rate": _rounded(a.actionable_rate),
                "alerts_per_incident": _rounded(a.alerts_per_incident, 2),
                "off_hours": a.off_hours,
                "sleep_hours": a.sleep_hours,
                "decision": _decision_json(decisions[a.key]),
            }
            for a in report.alerts
        ],
        "recommendations": [_decision_json(r) for r in report.recommendations],
    }


def _decision_json(decision: TuningRecommendation) -> dict[str, Any]:
    return {
        "alert": decision.alert,
        "service": decision.service,
        "action": decision.action.value,
        "confidence": decision.confidence.value,
        "evidence": decision.evidence,
        "noise": decision.noise,
        "reason": decision.reason,
        "also": list(decision.also),
    }
