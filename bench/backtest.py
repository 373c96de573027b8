"""Benchmark: replay the four default alert policies over 1,000 SLOs x 30 days of minutes.

Usage: ``python bench/backtest.py [--slos 1000] [--days 30] [--seed 1]``

Generates per-minute good/total counts (Poisson traffic, a small background error rate and
a few outages per SLO that are also filed as incidents), then times
:func:`opsledger.slo.backtest.backtest_many` over all of them. Target: under 10 s on a
2-core machine. Data generation is timed separately and not part of the figure.
"""

from __future__ import annotations

import argparse
import resource
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from opsledger.slo.alerting import default_policies
from opsledger.slo.backtest import BacktestInput, IncidentWindow, SloBacktest, backtest_many

START = datetime(2026, 1, 1, tzinfo=UTC)


def synthetic_inputs(slos: int, days: int, seed: int) -> list[BacktestInput]:
    rng = np.random.default_rng(seed)
    minutes = days * 1440
    inputs = []
    for number in range(slos):
        rate = float(rng.lognormal(5.0, 1.0))
        total = rng.poisson(rate, size=minutes).astype(np.float64)
        error = np.full(minutes, 0.0003)
        incidents = []
        for k in range(int(rng.integers(0, 4))):
            first = int(rng.integers(0, minutes - 300))
            length = int(rng.integers(5, 180))
            error[first : first + length] = float(rng.choice([1.0, 0.3, 0.05, 0.01]))
            incidents.append(
                IncidentWindow(
                    f"INC-{number}-{k}",
                    START + timedelta(minutes=first),
                    START + timedelta(minutes=first + length),
                )
            )
        bad = rng.binomial(total.astype(np.int64), error).astype(np.float64)
        inputs.append(
            BacktestInput(
                f"svc-{number}/availability", 0.999, 30, START, total - bad, total, tuple(incidents)
            )
        )
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    began = time.perf_counter()
    inputs = synthetic_inputs(args.slos, args.days, args.seed)
    generated = time.perf_counter() - began
    policies = default_policies(30)

    began = time.perf_counter()
    results = backtest_many(inputs, policies)
    elapsed = time.perf_counter() - began

    done = [r for r in results if isinstance(r, SloBacktest)]
    minutes = args.slos * args.days * 1440
    chosen: dict[str | None, int] = {}  # None: no policy chosen (no incidents to judge by)
    for result in done:
        chosen[result.recommendation.policy] = chosen.get(result.recommendation.policy, 0) + 1
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"SLOs: {args.slos}, minutes each: {args.days * 1440}, policies: {len(policies)}")
    print(f"data generation: {generated:.2f} s (not counted)")
    print(
        f"backtest: {elapsed:.2f} s  ({minutes * len(policies) / elapsed / 1e6:.0f} M "
        f"SLO-minute-policy evaluations/s), target < 10 s: "
        f"{'met' if elapsed < 10 else 'MISSED'}"
    )
    print(f"peak RSS: {peak:.0f} MiB; scored: {len(done)}; recommended: {chosen}")


if __name__ == "__main__":
    main()
