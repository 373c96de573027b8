"""Benchmark: ``opsledger review`` end to end on demo workspaces of growing size.

For each case a demo workspace is generated (in a child process, so generating does not
count), then ``opsledger review`` runs on it in a fresh child process. The wall time and the
peak resident memory of that child (``ru_maxrss`` from ``wait4``, which covers the child and
everything it waited for) are printed with the work the workspace holds: services, request
events, tickets and incidents, so the growth of cost with work can be read off the table.

Cases: the three demo sizes (small: 8 services, medium: 40, large: 1,000), and an events
axis: the medium workspace with 1x, 2x and 4x the request events, everything else equal.
Targets: medium under 60 s; peak memory flat in the number of events; large finishes.

    .venv/bin/python bench/scale.py                       # all cases
    .venv/bin/python bench/scale.py --cases small medium  # some of them
    .venv/bin/python bench/scale.py --profile medium      # cProfile of one review, top 25
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow.parquet as pq

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
MEDIUM_TARGET_SECONDS = 60.0

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

REVIEW_MODULE = "opsledger.cli.main"


@dataclass(frozen=True)
class Measurement:
    case: str
    size: str
    services: int
    events: int
    tickets: int
    incidents: int
    seconds: float
    peak_rss_mib: float
    exit_code: int


def run_child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """Return wall seconds, peak RSS (MiB) and exit code of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    # wait4 gives this child's own resource usage (RUSAGE_CHILDREN would be the maximum
    # over every child this process ever waited for).
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
    if process.returncode not in (0, 1):  # 1: the review ran and a gate failed
        sys.stderr.write(errors[-4000:])
    return seconds, usage.ru_maxrss / 1024.0, process.returncode


def generate(case: str, root: Path) -> None:
    size, factor = CASES[case]
    if root.exists():
        shutil.rmtree(root)
    argv = [sys.executable, "-c", GENERATE, size, str(factor), str(root), NOW, str(SEED)]
    seconds, _, code = run_child(argv)
    if code != 0:
        raise SystemExit(f"generating the {case} workspace failed (exit {code})")
    print(f"  generated {case} in {seconds:.1f} s", flush=True)


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
    argv = [sys.executable]
    if profile is not None:
        argv += ["-m", "cProfile", "-o", str(profile)]
    argv += ["-m", REVIEW_MODULE, "review", str(root), "--now", NOW, "--json"]
    if engine:
        argv += ["--engine", engine]
    return argv


def measure(case: str, root: Path, engine: str | None) -> Measurement:
    services, events, tickets, incidents = workload(root)
    # Reports from an earlier run are outputs, not inputs: start each review clean.
    shutil.rmtree(root / "reports" / "ops", ignore_errors=True)
    seconds, rss, code = run_child(review_argv(root, engine, None))
    return Measurement(case, CASES[case][0], services, events, tickets, incidents,
                       round(seconds, 2), round(rss, 1), code)


def print_table(rows: list[Measurement]) -> None:
    header = ("case", "services", "events", "tickets", "incidents", "wall s", "peak RSS MiB",
              "us/event", "exit")
    lines = [header]
    for r in rows:
        per_event = f"{r.seconds / r.events * 1e6:.2f}" if r.events else "-"
        lines.append((r.case, str(r.services), f"{r.events:,}", f"{r.tickets:,}",
                      str(r.incidents), f"{r.seconds:.1f}", f"{r.peak_rss_mib:.0f}", per_event,
                      str(r.exit_code)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.rjust(w) for cell, w in zip(line, widths, strict=True)))


def verdicts(rows: list[Measurement]) -> list[str]:
    """Return the targets' outcomes for the cases that were run."""
    by_case = {r.case: r for r in rows}
    out = []
    if "medium" in by_case:
        medium = by_case["medium"]
        ok = medium.seconds < MEDIUM_TARGET_SECONDS and medium.exit_code in (0, 1)
        out.append(f"medium review {medium.seconds:.1f} s (target < {MEDIUM_TARGET_SECONDS:.0f} s):"
                   f" {'met' if ok else 'NOT met'}")
    axis = [by_case[c] for c in ("medium", "medium-2x-events", "medium-4x-events") if c in by_case]
    if len(axis) >= 2:
        growth = axis[-1].peak_rss_mib / axis[0].peak_rss_mib
        events = axis[-1].events / axis[0].events
        out.append(f"peak RSS x{growth:.2f} for x{events:.1f} events "
                   f"({'flat' if growth < 1.25 else 'NOT flat'}: target within 25 %)")
    if "large" in by_case:
        large = by_case["large"]
        out.append(f"large (1,000 services) {'finished' if large.exit_code in (0, 1) else 'FAILED'}"
                   f" in {large.seconds:.1f} s, peak {large.peak_rss_mib:.0f} MiB")
    return out


def profile(case: str, root: Path, engine: str | None, top: int) -> None:
    stats_file = root.parent / f"{case}.prof"
    shutil.rmtree(root / "reports" / "ops", ignore_errors=True)
    seconds, rss, code = run_child(review_argv(root, engine, stats_file))
    print(f"profiled review of {case}: {seconds:.1f} s, peak {rss:.0f} MiB, exit {code}")
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
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    args = parser.parse_args()
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
        rows.append(measure(case, root, args.engine))
        print(f"  review: {rows[-1].seconds:.1f} s, peak {rows[-1].peak_rss_mib:.0f} MiB",
              flush=True)
    print()
    print_table(rows)
    for line in verdicts(rows):
        print(line)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in rows], indent=2) + "\n")


if __name__ == "__main__":
    main()
