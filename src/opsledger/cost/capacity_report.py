"""The capacity runway: the one place that turns a run's utilisation series into a capacity
view (shared with ``opsledger capacity`` and the optimisation plan), its JSON and its section
of the monthly report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from opsledger.core.inputs import Context
from opsledger.core.scope import EVERYTHING, Scope
from opsledger.core.workspace import InputKey
from opsledger.cost.capacity import (
    CapacitySettings,
    DailySeries,
    Runway,
    SeriesForecast,
    SkippedRunway,
    by_urgency,
    daily_series,
    forecast_series,
    horizon_days,
    runways,
)
from opsledger.cost.listing import note_lines, shown_note, truncation
from opsledger.cost.scoping import LeftOutSeries, samples_in
from opsledger.forecasting import background
from opsledger.readers import utilisation
from opsledger.readers.utilisation import UtilisationReadResult
from opsledger.render.sections import Chart, Section, Status, md_escape, md_table

if TYPE_CHECKING:
    import pandas as pd

CAPACITY_KEY, CAPACITY_TITLE = "capacity", "Capacity runway"
URGENT_DAYS = 30
LISTED = 10
CHARTED = 15
WHERE = "review.json / `opsledger capacity --json`"


@dataclass(frozen=True)
class CapacityView:
    result: UtilisationReadResult
    settings: CapacitySettings
    runways: list[Runway]  # most urgent first
    skipped: list[SkippedRunway]
    # A team's or a service's view: its services' series only, and the series it leaves out.
    scope: Scope = EVERYTHING
    left_out: LeftOutSeries | None = None


def utilisation_result(ctx: Context) -> UtilisationReadResult:
    """Return the utilisation samples of every service, read once for the run and the views
    of it."""
    return ctx.shared(_read_utilisation)


def _read_utilisation(ctx: Context) -> UtilisationReadResult:
    path = utilisation.utilisation_folder(ctx.workspace.path(InputKey.TELEMETRY))
    return utilisation.read(path) if path.exists() else UtilisationReadResult(path)


def utilisation_samples(ctx: Context) -> tuple[pd.DataFrame, LeftOutSeries]:
    """Return the samples of the run's services (all of them unless the run is a team's or a
    service's view) and the series left out."""
    return ctx.once(_samples_in_view)


def _samples_in_view(ctx: Context) -> tuple[pd.DataFrame, LeftOutSeries]:
    return samples_in(ctx.scope, ctx.shared(_every_sample))


def _every_sample(ctx: Context) -> pd.DataFrame:
    return utilisation_result(ctx).log.frame


def capacity_view(ctx: Context, settings: CapacitySettings = CapacitySettings()
                  ) -> CapacityView:
    """Return the capacity runway of every utilisation series (computed once per run)."""
    return ctx.once(_capacity_view, settings)


def start_capacity_view(ctx: Context, settings: CapacitySettings = CapacitySettings()) -> None:
    """Start fitting the run's utilisation series in the background worker
    (:mod:`opsledger.forecasting.background`), so that :func:`capacity_view` finds them
    fitted while the run computed everything else. Same runways either way."""
    key = (start_capacity_view, settings)
    if (_capacity_view, settings) in ctx.results or key in ctx.results:
        return
    series = _series(ctx)
    fitted = [item for item in series if isinstance(item, DailySeries)]
    if fitted:
        horizon = horizon_days(settings)
        ctx.results[key] = [(background.submit(forecast_series, batch, horizon), batch)
                            for batch in background.batches(fitted)]


def _series(ctx: Context) -> list[DailySeries | SkippedRunway]:
    return ctx.once(_daily_series)


def _daily_series(ctx: Context) -> list[DailySeries | SkippedRunway]:
    samples, _ = utilisation_samples(ctx)
    return daily_series(samples, ctx.now.date())


def _capacity_view(ctx: Context, settings: CapacitySettings) -> CapacityView:
    result = utilisation_result(ctx)
    _, left_out = utilisation_samples(ctx)
    series = _series(ctx)
    fitted = [item for item in series if isinstance(item, DailySeries)]
    horizon = horizon_days(settings)
    started = ctx.results.pop((start_capacity_view, settings), None)
    forecast = (SeriesForecast.joined([background.result(future, forecast_series, batch, horizon)
                                       for future, batch in started], horizon)
                if started is not None else forecast_series(fitted, horizon))
    runs = runways(series, forecast, settings)
    return CapacityView(result, settings, by_urgency(runs),
                        [r for r in runs if isinstance(r, SkippedRunway)], ctx.scope,
                        None if ctx.scope.whole else left_out)


def runway_json(item: Runway) -> dict[str, object]:
    return {
        "service": item.service, "resource": item.resource,
        "last_day": item.last_day.isoformat(), "days": item.days,
        "current": round(item.current, 4), "capacity": item.current_capacity,
        "threshold": item.threshold,
        "days_to_threshold": item.days_to_threshold,
        "days_to_threshold_upper": item.days_to_threshold_upper,
        "crossing_date": item.crossing_date.isoformat() if item.crossing_date else None,
        "crossing_date_upper": (item.crossing_date_upper.isoformat()
                                if item.crossing_date_upper else None),
        "horizon_days": item.horizon_days,
        "needs": [{"month": n.month, "peak_utilisation": round(n.peak_utilisation, 4),
                   "factor": round(n.factor, 3),
                   "capacity": None if n.capacity is None else round(n.capacity, 3)}
                  for n in item.needs],
    }


def capacity_json(view: CapacityView) -> dict[str, object]:
    scope = {} if view.left_out is None else {
        "scope": view.scope.to_json() | {"left_out": view.left_out.to_json()}}
    return scope | {
        "threshold": view.settings.threshold,
        "target_utilisation": view.settings.target,
        "months": view.settings.months,
        "method": "daily peak utilisation; additive Holt-Winters (statsforecast AutoETS AAA, "
                  "season 7, undamped); 95 % upper bound",
        "runways": [runway_json(r) for r in view.runways],
        "skipped": [{"service": s.service, "resource": s.resource, "days": s.days,
                     "reason": s.reason} for s in view.skipped],
    }


def _days(value: int | None) -> str:
    return "beyond horizon" if value is None else ("now" if value == 0 else f"{value} d")


def capacity_section(ctx: Context) -> Section:
    """Return the section: time to threshold per resource and the capacity needed."""
    view = capacity_view(ctx)
    if not view.result.files:
        return Section.skipped(CAPACITY_KEY, CAPACITY_TITLE,
                               "no utilisation series under telemetry/utilisation/")
    if not view.runways:
        reason = "no series could be forecast" + (
            f" ({view.skipped[0].reason})" if view.skipped else "")
        if view.left_out is not None and not view.skipped:
            reason = f"no utilisation series of the services of {view.scope.label}"
            left = view.left_out.line(view.scope)
            reason += f" ({left[:1].lower() + left[1:]})" if left else ""
        return Section.skipped(CAPACITY_KEY, CAPACITY_TITLE, reason)
    urgent = [r for r in view.runways if r.days_to_threshold is not None
              and r.days_to_threshold <= URGENT_DAYS]
    soon = [r for r in view.runways if r.days_to_threshold is not None
            or (r.days_to_threshold_upper is not None
                and r.days_to_threshold_upper <= URGENT_DAYS)]
    status = Status.FAIL if urgent else (Status.WARN if soon else Status.PASS)
    actions = tuple(
        {"action": f"Add {r.resource} capacity to {r.service} (reaches "
                   f"{r.threshold:.0%} {_days(r.days_to_threshold)})",
         "owner": "", "due": (r.crossing_date or r.last_day).isoformat(), "source": "capacity"}
        for r in view.runways if r.days_to_threshold is not None
        and r.days_to_threshold <= 2 * URGENT_DAYS)
    headline = (f"{len(urgent)} resource(s) reach {view.settings.threshold:.0%} within "
                f"{URGENT_DAYS} days; {len(soon)} within the horizon")
    return Section(CAPACITY_KEY, CAPACITY_TITLE, capacity_markdown(view), status,
                   data=capacity_json(view) | {"headline": headline},
                   charts=capacity_charts(view), actions=actions)


def capacity_markdown(view: CapacityView) -> str:
    settings = view.settings
    reaching = [r for r in view.runways if r.days_to_threshold is not None
                or r.days_to_threshold_upper is not None]
    shown = reaching[:LISTED * 2]
    lines = [f"Daily peak utilisation forecast {settings.months} month(s) ahead (additive "
             f"Holt-Winters, weekly season). Threshold {settings.threshold:.0%}; capacity "
             f"needed keeps the forecast peak (95 % upper bound) at {settings.target:.0%}.", ""]
    if shown:
        lines.append(md_table(
            ["Service", "Resource", "Now", "Reaches threshold", "Upper bound reaches",
             f"Needed by {shown[0].needs[-1].month if shown[0].needs else ''}"],
            [[r.service, r.resource, f"{r.current:.0%}",
              _when(r.days_to_threshold, r.crossing_date),
              _when(r.days_to_threshold_upper, r.crossing_date_upper), _need(r)] for r in shown],
            "llrlll"))
        left_out = []
        if len(reaching) > len(shown):
            left_out.append(f"{len(reaching) - len(shown)} more reach it later")
        if len(view.runways) > len(reaching):
            left_out.append(f"{len(view.runways) - len(reaching)} stay below it through the "
                            "horizon, even at the upper bound")
        lines += note_lines(shown_note(len(shown), len(view.runways), "forecast series",
                                       WHERE), "; ".join(left_out))
    else:
        lines += [f"No resource reaches {settings.threshold:.0%} within {settings.months} "
                  "month(s), even at the upper bound.", ""]
    left = view.left_out.line(view.scope) if view.left_out is not None else ""
    if left:
        lines += [f"_{md_escape(left)}._", ""]
    if view.skipped:
        listed = view.skipped[:LISTED]
        lines += [f"**Not forecast:** {len(view.skipped)} series", ""]
        lines += [f"- {md_escape(s.service)} {s.resource}: {md_escape(s.reason)}"
                  for s in listed]
        lines.append("")
        lines += note_lines(shown_note(len(listed), len(view.skipped), "series not forecast",
                                       WHERE))
    return "\n".join(lines) + "\n"


def _when(days: int | None, day: date | None) -> str:
    if days is None:
        return "beyond horizon"
    return "already above" if days == 0 else f"{days} d ({day})"


def _need(runway: Runway) -> str:
    if not runway.needs:
        return "—"
    last = runway.needs[-1]
    text = f"×{last.factor:.2f}"
    if last.capacity is not None and runway.current_capacity is not None:
        text += f" ({runway.current_capacity:g} → {last.capacity:,.1f})"
    return text


def capacity_charts(view: CapacityView) -> tuple[Chart, ...]:
    crossing = [r for r in view.runways if r.days_to_threshold_upper is not None]
    rows = crossing[:CHARTED]
    if not rows:
        return ()
    horizon = rows[0].horizon_days
    title = f"Days until {view.settings.threshold:.0%} utilisation"
    if len(rows) < len(view.runways):
        title += f": {len(rows)} of {len(view.runways)} series"
    return (Chart("capacity-runway", title, "barh", {
        "categories": [f"{r.service} {r.resource}" for r in rows],
        "values": [r.days_to_threshold if r.days_to_threshold is not None
                   else horizon for r in rows],
        "flags": [r.days_to_threshold is not None
                  and r.days_to_threshold <= URGENT_DAYS for r in rows],
        "limits": [r.days_to_threshold_upper for r in rows],
        "limit_label": "95 % upper bound",
        "x_label": "days (point forecast; bar at horizon = not reached)",
        "truncated": truncation(len(rows), len(view.runways), "series", WHERE,
                                "only series whose upper bound reaches the threshold within "
                                "the horizon are drawn, soonest first"),
    }),)

