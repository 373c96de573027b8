"""Composite SLOs: a user journey's SLI derived, minute by minute, from its steps' SLIs.

Pure functions: no I/O, no clock. :func:`composite_series` turns the components' counts into
one minute-bucketed :class:`SliSeries` for the composite, so that
:func:`opsledger.slo.objectives.evaluate` computes its SLI, error budget, burn rates and
exhaustion, and the alert backtest replays it, exactly as for any other SLO.

In each minute (each time slice, for an OpenSLO composite budgeted by time slices) every
component ``i`` has a bad share ``b_i = bad_i / total_i`` (0 when it had no events: nothing
was seen to fail) and a burn rate ``b_i / (1 - objective_i)``. The composite's bad share is

- ``all-succeed``: ``1 - prod_i (1 - b_i)``, the share of journeys that meet a failure when
  every step must work and steps fail independently;
- ``weighted``: ``(1 - objective) * sum_i w_i burn_i / sum_i w_i``: the composite burns its
  budget at the weighted mean of the components' burn rates;
- ``weighted-sum``: ``(1 - objective) * sum_i w_i burn_i``: at their weighted sum, OpenSLO
  v1's rule, in which every failure that spends an objective's budget spends the
  composite's at the same rate, times the objective's weight,

capped at 1 (no minute is worse than every journey failing). The minute's journeys are the
most events any component had in it, so an outage of the first step, which stops traffic
to the next ones, still counts with the traffic that met it; a minute in which no
component had events counts neither way. When the components' traffic keeps the same
proportions over time, the composite's burn rate over any window is exactly the weighted
mean (or sum) of the components' burn rates over that window.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from opsledger.model.slo import (
    MINUTE,
    CompositeMethod,
    FloatArray,
    SliSeries,
    Slo,
)
from opsledger.slo.objectives import SloStatus, budget_units


@dataclass(frozen=True)
class NotComputable:
    """Why a composite cannot be computed: a component's counts are missing.

    ``needs_prometheus``: every component missing is a PromQL SLI and no Prometheus server
    was given.
    """

    reason: str
    needs_prometheus: bool = False


def component_counts(
    composite: Slo, evaluated: Mapping[str, tuple[SloStatus, SliSeries | None]]
) -> list[tuple[Slo, SliSeries]] | NotComputable:
    """Return each component of ``composite`` with its counts, from the components' own
    evaluations (by SLO key), or why the composite cannot be computed."""
    source = composite.composite
    if source is None:
        raise ValueError(f"{composite.key} is not a composite SLO")
    found: list[tuple[Slo, SliSeries]] = []
    missing: list[tuple[str, bool]] = []  # why, and whether for want of Prometheus
    for key in source.keys:
        entry = evaluated.get(key)
        if entry is None:
            missing.append((f"component {key} was not evaluated", False))
            continue
        status, series = entry
        if series is None:
            why = "; ".join(status.reasons) or "no counts"
            missing.append((f"component {key} not computed: {why}", status.needs_prometheus))
            continue
        found.append((status.slo, series))
    if missing:
        return NotComputable("; ".join(why for why, _ in missing),
                             all(prometheus for _, prometheus in missing))
    return found


def composite_series(composite: Slo, components: Sequence[tuple[Slo, SliSeries]]) -> SliSeries:
    """Return the composite's good and total counts per minute from its components' counts.

    ``components`` are in the order the composite names them. The series covers the minutes
    every component's series covers.
    """
    source = composite.composite
    if source is None:
        raise ValueError(f"{composite.key} is not a composite SLO")
    if len(components) != len(source.components):
        raise ValueError(
            f"{composite.key} combines {len(source.components)} SLOs, {len(components)} given"
        )
    begin = max(series.start for _, series in components)
    end = max(min(series.end for _, series in components), begin)
    aligned = [(slo, series.between(begin, end)) for slo, series in components]
    minutes = int((end - begin) // MINUTE)
    width = max(1, int(composite.timeslice_size // MINUTE)) if source.per_slice else 1
    bad, total = _units(aligned, source.per_slice)
    weights = np.array([c.weight for c in source.components], dtype=np.float64)
    budgets = np.array([slo.error_budget for slo, _ in aligned], dtype=np.float64)
    bad_share = combined_bad_share(source.method, bad, total, weights, budgets,
                                   composite.error_budget)
    volume = total.max(axis=0)
    good = np.zeros(minutes, dtype=np.float64)
    counted = np.zeros(minutes, dtype=np.float64)
    # Each unit's counts sit in its first minute; per minute, the unit is the minute itself.
    starts = np.arange(volume.shape[0]) * width
    counted[starts] = volume
    good[starts] = volume * (1.0 - bad_share)
    label = ", ".join(source.keys)
    return SliSeries(begin, good, counted, source=f"composite ({source.method.value}): {label}")


def _units(
    components: Sequence[tuple[Slo, SliSeries]], per_slice: bool
) -> tuple[FloatArray, FloatArray]:
    """Return bad and total units per component (rows) and minute or slice (columns)."""
    bads, totals = [], []
    for slo, series in components:
        if per_slice:
            units = budget_units(slo, series)
            bads.append(units.bad)
            totals.append(units.total)
        else:
            bads.append(np.clip(series.total - series.good, 0.0, None))
            totals.append(series.total)
    return np.vstack(bads), np.vstack(totals)


def combined_bad_share(
    method: CompositeMethod,
    bad: FloatArray,
    total: FloatArray,
    weights: FloatArray,
    budgets: FloatArray,
    composite_budget: float,
) -> FloatArray:
    """Return the composite's bad share per unit (column) from its components' (rows).

    ``budgets`` are the components' error budgets (``1 - objective``), ``composite_budget``
    the composite's; a component without events in a unit has a bad share of 0 there.
    """
    has_events = total > 0
    share = np.divide(bad, total, out=np.zeros_like(bad), where=has_events)
    share = np.clip(share, 0.0, 1.0)
    if method is CompositeMethod.ALL_SUCCEED:
        return np.asarray(1.0 - np.prod(1.0 - share, axis=0), dtype=np.float64)
    burn = share / budgets[:, None]
    combined = (weights[:, None] * burn).sum(axis=0)
    if method is CompositeMethod.WEIGHTED:
        combined = combined / weights.sum()
    return np.asarray(np.minimum(1.0, composite_budget * combined), dtype=np.float64)

