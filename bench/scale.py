"""Benchmark: ``opsledger review`` end to end on demo workspaces of growing size.

For each case a demo workspace is generated (in a child process, so generating does not
count), then ``opsledger review`` (the command installed next to this interpreter) runs on it
in a fresh child process. The wall time and the peak resident memory of that child
(``ru_maxrss`` from ``wait4``) are measured in runs left alone; the peak memory of the child
with the worker processes it starts (their proportional set sizes summed, sampled every
50 ms, so pages the workers share with each other count once), the review's own share of
that peak (the rest is the fork server's and the workers') and their CPU time in as many
runs again, sampled. They are printed with the work the workspace holds: services, request
events, tickets and incidents, so the growth of cost with work can be read off the table.

Cases: the three demo sizes (small: 8 services, medium: 40, large: 1,000), and an events
axis: the medium workspace with 1x, 2x and 4x the request events, everything else equal.
Each review runs ``--repeat`` times; the median, min and max are printed, with the CPU time
the review used (its worker processes included), which a loaded machine disturbs less.
Targets: medium <= 5 s and <= 500 MB; large <= 30 s and <= 1 GB (memory is printed in MiB:
the limits are 476.8 and 953.7 MiB); the scaling exponent
(slope of log time against log work, least squares) at most 1 along the events axis and
across the sizes (services, tickets); peak memory flat in the number of events. Figures go
to ``bench/results/scale.json``.

    .venv/bin/python bench/scale.py                       # all cases
    .venv/bin/python bench/scale.py --cases small medium  # some of them
    .venv/bin/python bench/scale.py --profile medium      # cProfile of one review, top 25
"""

from __future__ import annotations

import argparse
import csv
import pstats
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import (
    MIB_PER_GB,
    MIB_PER_MB,
    ProcessRun,
    Runs,
    Target,
    machine_speed,
    report,
    run_process,
)

NOW = "2026-11-01T00:00:00+00:00"
SEED = 7
# name -> (demo size, request-event multiplier)
CASES = {
    "small": ("small", 1),
    "medium": ("medium", 1),
    "medium-2x-events": ("medium", 2),
    "medium-4x-events": ("medium", 4),
    "large": ("large", 1),
}
EVENTS_AXIS = ("medium", "medium-2x-events", "medium-4x-events")
SIZES_AXIS = ("small", "medium", "large")

GENERATE = """
import sys
from datetime import datetime
from pathlib import Path
from opsledger.demo import slo
from opsledger.demo.generate import generate_demo
from opsledger.demo.world import Size
size, factor, root, now = Size(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
slo.TARGET_EVENTS[size] = slo.TARGET_EVENTS[size] * factor
generate_demo(root, size, seed=int(sys.argv[5]), now=datetime.fromisoformat(now), force=True)
"""

@dataclass(frozen=True)
class Measurement:
    case: str
    size: str
    services: int
    events: int
    tickets: int
    incidents: int
    seconds: Runs
    peak_rss_mib: Runs  # the review's own process
    tree_mib: Runs  # the review with its worker processes (summed PSS, sampled)
    cpu_seconds: Runs
    tree_own_mib: Runs  # the review's own share of that peak; the rest is its workers'


def generate(case: str, root: Path) -> None:
    size, factor = CASES[case]
    if root.exists():
        shutil.rmtree(root)
    argv = [sys.executable, "-c", GENERATE, size, str(factor), str(root), NOW, str(SEED)]
    run = run_process(argv)
    print(f"  generated {case} in {run.seconds:.1f} s", flush=True)


def workload(root: Path) -> tuple[int, int, int, int]:
    """Return services, request events, tickets and incidents in a demo workspace."""
    files = (root / "telemetry").rglob("*.parquet")
    events = sum(pq.ParquetFile(p).metadata.num_rows for p in files)
    with (root / "handover" / "ticket-history.csv").open(newline="") as handle:
        tickets = sum(1 for _ in csv.reader(handle)) - 1
    incidents = 0
    for path in (root / "incidents").glob("*.csv"):
        with path.open(newline="") as handle:
            incidents += sum(1 for _ in csv.reader(handle)) - 1
    marker = (root / ".opsledger-demo").read_text()
    size = marker.split()[0].removeprefix("size=")
    from opsledger.demo.world import SCALES, Size

    return SCALES[Size(size)].services, events, tickets, incidents


def review_argv(root: Path, engine: str | None, profile: Path | None) -> list[str]:
    """Return the command of a review of ``root``: the ``opsledger`` command installed next to
    this interpreter, as users run it (under cProfile with ``profile``)."""
    command = str(Path(sys.executable).with_name("opsledger"))
    argv = [sys.executable]
    if profile is not None:
        argv += ["-m", "cProfile", "-o", str(profile)]
    argv += [command, "review", str(root), "--now", NOW, "--json"]
    if engine:
        argv += ["--engine", engine]
    return argv


def _review(root: Path, engine: str | None, *, tree: bool) -> ProcessRun:
    # Reports from an earlier run are outputs, not inputs: start each review clean.
    shutil.rmtree(root / "reports" / "ops", ignore_errors=True)
    return run_process(review_argv(root, engine, None), tree=tree)


def measure(case: str, root: Path, engine: str | None, repeat: int) -> Measurement:
    """Review ``root`` ``repeat`` times for the wall time and the review's own peak memory,
    then ``repeat`` times more with its process tree sampled, for the memory and CPU time of
    the review with its workers (sampling slows the runs it watches)."""
    services, events, tickets, incidents = workload(root)
    timed = [_review(root, engine, tree=False) for _ in range(repeat)]
    sampled = [_review(root, engine, tree=True) for _ in range(repeat)]
    return Measurement(case, CASES[case][0], services, events, tickets, incidents,
                       Runs(tuple(r.seconds for r in timed)),
                       Runs(tuple(r.peak_mib for r in timed)),
                       Runs(tuple(r.tree_peak_mib for r in sampled)),
                       Runs(tuple(r.tree_cpu_seconds for r in sampled)),
                       Runs(tuple(r.tree_peak_own_mib for r in sampled)))


def print_table(rows: list[Measurement]) -> None:
    header = ("case", "services", "events", "tickets", "incidents", "wall s (median)",
              "CPU s", "peak RSS MiB", "with workers MiB", "review's share", "us/event")
    lines = [header]
    for r in rows:
        per_event = f"{r.seconds.median / r.events * 1e6:.2f}" if r.events else "-"
        lines.append((r.case, str(r.services), f"{r.events:,}", f"{r.tickets:,}",
                      str(r.incidents), f"{r.seconds.median:.2f}",
                      f"{r.cpu_seconds.median:.2f}", f"{r.peak_rss_mib.median:.0f}",
                      f"{r.tree_mib.median:.0f}", f"{r.tree_own_mib.median:.0f}", per_event))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))


def exponent(work: list[float], seconds: list[float]) -> float:
    """Return the least-squares slope of log(seconds) against log(work)."""
    slope, _ = np.polyfit(np.log(work), np.log(seconds), 1)
    return float(slope)


def targets(rows: list[Measurement], floor: Runs) -> list[Target]:
    """Return the target lines for the cases that were run."""
    by_case = {r.case: r for r in rows}
    found = []
    for case, seconds, mib, written in (("medium", 5.0, 500 * MIB_PER_MB, "500 MB"),
                                        ("large", 30.0, MIB_PER_GB, "1 GB")):
        if case in by_case:
            row = by_case[case]
            found.append(Target(f"review {case} wall time", row.seconds, "s", floor=floor,
                                floor_name="python with opsledger's libraries imported",
                                limit=seconds))
            found.append(Target(f"review {case} peak memory, with its workers", row.tree_mib,
                                "MiB", limit=mib, limit_as_written=written))
            found.append(Target(f"review {case} peak memory of its own process",
                                row.peak_rss_mib, "MiB", limit=mib, limit_as_written=written))
    axes = {
        "events (medium 1x, 2x, 4x)": ([by_case[c] for c in EVENTS_AXIS if c in by_case],
                                       lambda r: r.events),
        "services (small, medium, large)": ([by_case[c] for c in SIZES_AXIS if c in by_case],
                                            lambda r: r.services),
        "tickets (small, medium, large)": ([by_case[c] for c in SIZES_AXIS if c in by_case],
                                           lambda r: r.tickets),
    }
    for name, (axis, work) in axes.items():
        if len(axis) >= 3:
            slope = exponent([work(r) for r in axis], [r.seconds.median for r in axis])
            found.append(Target(f"scaling exponent in {name}", Runs((slope,)), "", limit=1.0,
                                notes={"work": [work(r) for r in axis],
                                       "seconds": [r.seconds.median for r in axis]}))
    events_axis = [by_case[c] for c in EVENTS_AXIS if c in by_case]
    if len(events_axis) >= 2:
        growth = events_axis[-1].peak_rss_mib.median / events_axis[0].peak_rss_mib.median
        found.append(Target("peak memory growth along the events axis", Runs((growth,)), "x",
                            limit=1.25))
    return found


def import_floor(repeat: int) -> Runs:
    """The fixed cost every review pays: python starting and importing its libraries."""
    argv = [sys.executable, "-c", "import duckdb, numpy, pyarrow, pydantic, jinja2, typer"]
    return Runs(tuple(run_process(argv).seconds for _ in range(repeat)))


def profile(case: str, root: Path, engine: str | None, top: int) -> None:
    stats_file = root.parent / f"{case}.prof"
    shutil.rmtree(root / "reports" / "ops", ignore_errors=True)
    run = run_process(review_argv(root, engine, stats_file), tree=True)
    print(f"profiled review of {case}: {run.seconds:.1f} s ({run.tree_cpu_seconds:.1f} s CPU), "
          f"peak {run.peak_mib:.0f} MiB ({run.tree_peak_mib:.0f} MiB with its workers)")
    if not stats_file.exists():
        raise SystemExit("the profiled review wrote no statistics")
    stats = pstats.Stats(str(stats_file))
    stats.sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where workspaces are generated (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true",
                        help="reuse workspaces already generated in --workdir")
    parser.add_argument("--engine", choices=["duckdb", "spark"], default=None,
                        help="SLI engine for the review (default: the workspace's)")
    parser.add_argument("--profile", choices=list(CASES), default=None,
                        help="profile the review of one case with cProfile instead")
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    parser.add_argument("--repeat", type=int, default=3, help="reviews per case")
    args = parser.parse_args()
    speed_at_start = machine_speed()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="opsledger-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cases = [args.profile] if args.profile else args.cases
    rows: list[Measurement] = []
    for case in cases:
        root = workdir / case
        print(f"{case}:", flush=True)
        if not (args.reuse and (root / ".opsledger-demo").exists()):
            generate(case, root)
        if args.profile:
            profile(case, root, args.engine, args.top)
            return
        rows.append(measure(case, root, args.engine, args.repeat))
        print(f"  review: {rows[-1].seconds.text('s')}, CPU {rows[-1].cpu_seconds.text('s')}, "
              f"peak {rows[-1].peak_rss_mib.median:.0f} MiB "
              f"({rows[-1].tree_mib.median:.0f} MiB with its workers, of which the review "
              f"{rows[-1].tree_own_mib.median:.0f})", flush=True)
    print()
    print_table(rows)
    report("scale", targets(rows, import_floor(args.repeat)),
           {"cases": cases, "repeat": args.repeat, "engine": args.engine,
            "workload": [{"case": r.case, "services": r.services, "events": r.events,
                          "tickets": r.tickets, "incidents": r.incidents,
                          "cpu_seconds": r.cpu_seconds.to_json(),
                          "review_share_of_peak_with_workers_mib": r.tree_own_mib.to_json()}
                         for r in rows]}, speed_at_start)


if __name__ == "__main__":
    main()
