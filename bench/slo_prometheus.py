"""Benchmark: SLO status against a real Prometheus, opsledger beside google/slo-generator.

A Prometheus on 127.0.0.1 is backfilled (``promtool tsdb create-blocks-from openmetrics``)
with request counters of ``--slos`` services scraped every ``--scrape`` seconds for
``--days`` days. The same slo-generator SLO files (``good_bad_ratio``, ``filter_good`` /
``filter_valid``) are then computed, each tool in a fresh process, ``--repeat`` times:

- opsledger ``slo status --prometheus URL --json``: the SLO window and all seven burn
  windows (eight windows), from per-minute counts;
- slo-generator ``compute`` (its own environment under ``bench/.venv-slo-generator``,
  created on first use from the package registry) with an error-budget policy of two
  windows: one hour and the 28-day SLO window.

Prints both times (median, min, max), the ratio (target: opsledger no slower than
slo-generator), and whether the numbers agree: each SLO's good and bad events over 28 days
and its one-hour burn rate, within ``--tolerance`` (relative). Also prints, without a target,
each tool's start-up (a fresh interpreter importing every module the tool loads) and what is
left of each tool's time once it is taken away. Writes ``bench/results/slo_prometheus.json``.

    .venv/bin/python bench/slo_prometheus.py --slos 10 --repeat 5
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
import venv
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from figures import (  # noqa: E402
    Runs,
    Target,
    machine_speed,
    report,
    run_process,
    start_up,
    start_up_targets,
)
from tests.slo.prometheus_server import backfilled_prometheus  # noqa: E402

SLO_GENERATOR_ENV = ROOT / "bench" / ".venv-slo-generator"
SLO_GENERATOR = "slo-generator[prometheus]>=2.6"
PLATEAU = timedelta(hours=8)  # the present falls in its middle
OPSLEDGER = ROOT / ".venv" / "bin" / "opsledger"
POLICY = """\
default_exporters: []
backends:
  prometheus:
    url: {url}
exporters: {{}}
error_budget_policies:
  default:
    steps:
    - name: 1 hour
      burn_rate_threshold: 9
      alert: true
      message_alert: Page to defend the SLO
      message_ok: Last hour on track
      window: 3600
    - name: 28 days
      burn_rate_threshold: 1
      alert: false
      message_alert: Freeze releases
      message_ok: On track
      window: 2419200
"""
SLO = """\
apiVersion: sre.google.com/v2
kind: ServiceLevelObjective
metadata:
  name: {service}-availability
  labels:
    service_name: {service}
    feature_name: api
    slo_name: availability
spec:
  description: Requests to {service} that succeed
  backend: prometheus
  method: good_bad_ratio
  service_level_indicator:
    filter_good: http_requests_total{{service="{service}", code="ok"}}
    filter_valid: http_requests_total{{service="{service}"}}
  goal: 0.999
"""


def openmetrics(slos: int, days: int, scrape: int, end: datetime, seed: int = 11) -> str:
    """Return counters of ``slos`` services until ``end``: diurnal traffic, 0.05 % errors and
    a few outages, then a steady last ``PLATEAU`` (same counts every scrape).

    slo-generator's Prometheus backend always asks for the present (it drops the timestamp
    it is given), so the history reaches past the present, and the steady plateau around it
    makes both tools' windows hold the same events although they start a few seconds apart.
    """
    rng = np.random.default_rng(seed)
    start = int((end - timedelta(days=days)).timestamp())
    stamps = np.arange(start, int(end.timestamp()) + 1, scrape)
    hours = (stamps - start) / 3600
    steady = stamps >= (end - PLATEAU).timestamp()
    lines = ["# TYPE http_requests counter"]
    for i in range(slos):
        rate = 20 + 15 * np.sin(2 * np.pi * (hours / 24 + i / slos))  # requests a second
        total = rng.poisson(rate * scrape)
        error_ratio = np.full(len(stamps), 0.0005)
        for _ in range(3):  # outages of 10 to 60 minutes, clear of both windows' edges
            at = rng.integers(2 * 86_400 // scrape, int(np.argmax(steady)) - 200)
            error_ratio[at : at + rng.integers(20, 120)] = rng.uniform(0.05, 0.5)
        bad = rng.binomial(total, error_ratio)
        total[steady] = (20 + i) * scrape
        bad[steady] = i + 1
        for code, counts in (("ok", total - bad), ("error", bad)):
            cumulative = np.cumsum(counts)
            label = f'http_requests_total{{service="svc{i:02d}",code="{code}"}} '
            lines.extend(f"{label}{v} {t}" for v, t in zip(cumulative, stamps, strict=True))
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def slo_generator_python() -> Path:
    python = SLO_GENERATOR_ENV / "bin" / "python"
    if not python.exists():
        print(f"creating {SLO_GENERATOR_ENV} with {SLO_GENERATOR}", flush=True)
        venv.create(SLO_GENERATOR_ENV, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", SLO_GENERATOR],
                       check=True, timeout=900)
    return python


def opsledger_numbers(stdout: str) -> dict[str, dict[str, float]]:
    found = {}
    for slo in json.loads(stdout):
        if not slo["valid"]:
            raise RuntimeError(f"opsledger: {slo['service']} invalid: {slo['reasons']}")
        found[slo["service"]] = {
            "good": slo["good"], "bad": slo["total"] - slo["good"],
            "burn_1h": slo["burn_rates"]["1h"],
        }
    return found


def slo_generator_numbers(stdout: str) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for row in json.loads(stdout):
        numbers = found.setdefault(row["service"], {})
        if row["window"] == 2419200:
            numbers["good"], numbers["bad"] = row["good_events_count"], row["bad_events_count"]
        elif row["window"] == 3600:
            numbers["burn_1h"] = row["error_budget_burn_rate"]
    return found


def disagreements(ours: dict[str, dict[str, float]], theirs: dict[str, dict[str, float]],
                  tolerance: float) -> list[str]:
    problems = []
    for service in sorted(set(ours) | set(theirs)):
        for key in ("good", "bad", "burn_1h"):
            a, b = ours.get(service, {}).get(key), theirs.get(service, {}).get(key)
            if a is None or b is None or not math.isclose(a, b, rel_tol=tolerance, abs_tol=1):
                problems.append(f"{service} {key}: opsledger {a}, slo-generator {b}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slos", type=int, default=10)
    parser.add_argument("--days", type=int, default=29, help="history (the window is 28 days)")
    parser.add_argument("--scrape", type=int, default=60, help="seconds between samples")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--tolerance", type=float, default=0.01)
    args = parser.parse_args()
    speed_at_start = machine_speed()
    python = slo_generator_python()
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    end = now + PLATEAU / 2
    with tempfile.TemporaryDirectory(prefix="opsledger-bench-") as tmp:
        root = Path(tmp)
        print(f"backfilling {args.slos} SLOs x {args.days} days at {args.scrape} s", flush=True)
        samples = openmetrics(args.slos, args.days, args.scrape, end)
        with backfilled_prometheus(root, samples, backfill_seconds=1800) as url:
            workspace = root / "workspace"
            (workspace / "slos").mkdir(parents=True)
            config = workspace / "slos" / "config.yaml"
            config.write_text(POLICY.format(url=url))
            files = []
            for i in range(args.slos):
                path = workspace / "slos" / f"svc{i:02d}.yaml"
                path.write_text(SLO.format(service=f"svc{i:02d}"))
                files.append(str(path))
            # Both ask for the present: slo-generator cannot be told another time.
            ours_cmd = [str(OPSLEDGER), "slo", "status", str(workspace), "--prometheus", url,
                        "--json"]
            theirs_cmd = [str(python), str(ROOT / "bench" / "slo_generator_compute.py"),
                          str(config), str(time.time()), *files]
            ours_runs, theirs_runs = [], []
            for _ in range(args.repeat):  # alternate, so drift on the machine hits both
                ours_runs.append(run_process(ours_cmd))
                theirs_runs.append(run_process(theirs_cmd))
            our_start = start_up(ours_cmd, args.repeat)
            their_start = start_up(theirs_cmd, args.repeat)
    ours = opsledger_numbers(ours_runs[-1].stdout)
    theirs = slo_generator_numbers(theirs_runs[-1].stdout)
    problems = disagreements(ours, theirs, args.tolerance)
    ours_seconds = Runs(tuple(r.seconds for r in ours_runs))
    theirs_seconds = Runs(tuple(r.seconds for r in theirs_runs))
    target = Target(
        f"slo status, {args.slos} SLOs x 8 windows (opsledger)", ours_seconds, "s",
        floor=theirs_seconds,
        floor_name=f"slo-generator, {args.slos} SLOs x 2 windows", max_ratio=1.0,
        notes={"numbers_agree": not problems, "disagreements": problems[:20],
               "opsledger_peak_mib": max(r.peak_mib for r in ours_runs),
               "slo_generator_peak_mib": max(r.peak_mib for r in theirs_runs)},
    )
    start_ups = start_up_targets("slo status", ours_seconds, our_start, theirs_seconds,
                                 their_start, "slo-generator")
    report("slo_prometheus", [target, *start_ups], vars(args), speed_at_start)
    print("numbers agree (good, bad over 28 days; 1h burn rate): "
          + ("yes" if not problems else "NO\n  " + "\n  ".join(problems[:20])))
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main()
