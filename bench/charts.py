"""Benchmark: drawing the monthly review's charts as SVG, per chart kind.

A demo workspace is generated (medium by default, at a fixed time and seed) and reviewed
once in this process to collect its charts; then every chart is drawn ``--runs`` times and
the time of each drawing is kept. Printed per kind: charts, median / min / max ms per chart,
and the mean SVG size; then the mean over every chart against the target (<= 20 ms a chart),
and the first chart in a fresh process (importing the drawing path included) on its own.
Each chart is also drawn twice to check that the same data gives the same bytes.

The drawing path before this one (matplotlib's figure machinery with a constrained layout)
is no longer in the package; its figures, measured on this machine on a medium demo
(26 line, 3 bar, 3 barh, 3 scatter, 1 heat map), are printed beside the new ones as recorded.
The number of charts a review draws depends on the demo's data (burn-down charts, for one,
are drawn for some SLOs only), so compare per kind.
Figures go to ``bench/results/charts.json``.

    .venv/bin/python bench/charts.py                 # medium demo, 5 runs
    .venv/bin/python bench/charts.py --size small --runs 9
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from opsledger.render.charts import chart_svg
from opsledger.render.sections import Chart

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import Runs, Target, machine_speed, report

NOW = "2026-11-01T00:00:00+00:00"
SEED = 7
TARGET_MS = 20.0  # mean per chart; the whole review's target is 5 s on the medium demo

# The previous drawing path (matplotlib Figure, layout="constrained", savefig to SVG) on the
# medium demo's 36 charts (reviewed on the day it was generated), 3 runs each, on this 2-core
# machine at load average 1.7: ms per chart (median, min, max) and mean SVG bytes, by kind.
PREVIOUS = {
    "line": {"median": 82.2, "min": 74.7, "max": 154.2, "bytes": 13_398},
    "bar": {"median": 212.7, "min": 74.6, "max": 236.5, "bytes": 79_420},
    "barh": {"median": 94.6, "min": 66.3, "max": 154.0, "bytes": 17_657},
    "scatter": {"median": 107.3, "min": 81.0, "max": 206.0, "bytes": 25_804},
    "heatmap": {"median": 234.2, "min": 227.3, "max": 283.7, "bytes": 37_365},
}
# Other paths tried on the same charts before this one was chosen, in ms per chart (median):
# matplotlib used lean (Figure without pyplot or layout engine, fixed margins, rcParams set
# once), and Vega-Lite specs rendered by vl-convert-python 1.9 (line, bar and heat map only).
CANDIDATES = {
    "matplotlib-lean": {"line": 33.0, "bar": 64.8, "barh": 45.2, "scatter": 50.9,
                        "heatmap": 98.9, "mean": 46.1, "first": 62.0},
    "vl-convert": {"line": 66.3, "bar": 23.3, "heatmap": 49.6, "first": 492.0},
}
PREVIOUS_MEAN_MS = 102.2  # one pass over the 36 charts: 3.68 s
PREVIOUS_FIRST_MS = 165.0  # first chart, after importing matplotlib (0.48 s)

FIRST_CHART = """
import json, sys, time
started = time.perf_counter()
from opsledger.render.charts import chart_svg
from opsledger.render.sections import Chart
imported = time.perf_counter()
chart = Chart(**json.loads(sys.stdin.read()))
chart_svg(chart)
print(json.dumps({"import_ms": (imported - started) * 1000,
                  "first_ms": (time.perf_counter() - imported) * 1000}))
"""


def collect_charts(size: str, root: Path) -> list[Chart]:
    """Return every chart the review of a fresh demo workspace of ``size`` draws."""
    from opsledger.core.inputs import Context
    from opsledger.core.workspace import open_workspace
    from opsledger.demo.generate import generate_demo
    from opsledger.demo.world import Size
    from opsledger.review.service import build_sections

    now = datetime.fromisoformat(NOW)
    generate_demo(root, Size(size), seed=SEED, now=now, force=True)
    ctx = Context.open(open_workspace(root), now)
    return [chart for section in build_sections(ctx) for chart in section.charts]


def first_chart(chart: Chart) -> dict[str, float]:
    """Return the import time and the first drawing's time in a fresh interpreter."""
    done = subprocess.run([sys.executable, "-c", FIRST_CHART],
                          input=json.dumps(asdict(chart), default=str), capture_output=True,
                          text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="medium", choices=["small", "medium", "large"])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    speed_at_start = machine_speed()
    with tempfile.TemporaryDirectory(prefix="opsledger-bench-charts-") as tmp:
        print(f"generating and reviewing the {args.size} demo to collect its charts ...")
        charts = collect_charts(args.size, Path(tmp) / "ws")
    if not charts:
        print("the review drew no charts")
        return 1
    first = first_chart(charts[0])
    per_kind: dict[str, list[float]] = defaultdict(list)
    sizes: dict[str, list[int]] = defaultdict(list)
    passes = []
    for _ in range(args.runs):
        started = time.perf_counter()
        for chart in charts:
            t0 = time.perf_counter()
            svg = chart_svg(chart)
            per_kind[chart.kind].append((time.perf_counter() - t0) * 1000)
            sizes[chart.kind].append(len(svg.encode("utf-8")))
        passes.append((time.perf_counter() - started) * 1000 / len(charts))
    unstable = [c.key for c in charts if chart_svg(c) != chart_svg(c)]

    print(f"\n{len(charts)} charts, {args.runs} runs; ms per chart (median, min, max), "
          "mean SVG size; previous path as recorded")
    print(f"{'kind':<8} {'charts':>6}  {'new ms':>22}  {'new kB':>6}  {'previous ms':>24}  "
          f"{'prev kB':>7}")
    targets = []
    for kind in sorted(per_kind):
        runs = Runs(tuple(per_kind[kind]))
        count = len(per_kind[kind]) // args.runs
        kb = statistics.mean(sizes[kind]) / 1000
        old = PREVIOUS.get(kind)
        old_text = (f"{old['median']:7.1f} ({old['min']:.1f}-{old['max']:.1f})"
                    if old else "-")
        old_kb = f"{old['bytes'] / 1000:7.1f}" if old else "-"
        print(f"{kind:<8} {count:>6}  {runs.median:7.2f} ({min(runs.values):.2f}-"
              f"{max(runs.values):.2f})  {kb:6.1f}  {old_text:>24}  {old_kb:>7}")
        targets.append(Target(f"{kind} ({count} charts), ms per chart", runs, "ms",
                              notes={"mean_svg_bytes": round(statistics.mean(sizes[kind])),
                                     "previous": old}))
    overall = Runs(tuple(passes))
    print(f"first chart in a fresh process: import {first['import_ms']:.1f} ms, "
          f"drawing {first['first_ms']:.2f} ms (previous: {PREVIOUS_FIRST_MS:.0f} ms after "
          "a 0.48 s import)")
    print(f"same bytes on redrawing: {'yes' if not unstable else 'NO: ' + ', '.join(unstable)}")
    targets.append(Target(
        f"mean per chart over the {len(charts)} charts (one pass)", overall, "ms",
        limit=TARGET_MS,
        notes={"previous_mean_ms": PREVIOUS_MEAN_MS,
               "speed-up": round(PREVIOUS_MEAN_MS / overall.median, 1)}))
    report("charts", targets, {
        "size": args.size, "runs": args.runs, "charts": len(charts), "now": NOW,
        "seed": SEED, "first_chart": first, "deterministic": not unstable,
        "load_average": os.getloadavg()[0], "previous": PREVIOUS, "candidates": CANDIDATES,
    }, speed_at_start)
    return 0 if all(t.met for t in targets) and not unstable else 1


if __name__ == "__main__":
    raise SystemExit(main())
