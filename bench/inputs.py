"""Benchmark: what reading each input of a workspace costs, in time and memory.

A review reads every input once, and its peak memory is often set while one of them is
read: a reader's temporaries (the text of a file, a query's intermediate table) come and go
on top of everything read before. This script reads each input of a workspace on its own, in
a fresh child process that has imported what a review imports first, as the review reads it
(``Context.inputs``; utilisation samples through their own reader), and prints per input:
the read time, the memory the reader held at its peak above the process's memory before the
read, and the memory it kept once done (its records, modules it imported, and heap the
allocator did not hand back). Memory is the resident set sampled
every 10 ms. Each input is read ``--repeat`` times; the median, min and max are printed.
Figures go to ``bench/results/inputs.json``.

    .venv/bin/python bench/inputs.py WORKSPACE                 # every input present
    .venv/bin/python bench/inputs.py WORKSPACE --only costs     # some of them
    .venv/bin/python bench/inputs.py --size large               # a demo workspace, generated
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from figures import Runs, Target, machine_speed, report, run_process

NOW = "2026-11-01T00:00:00+00:00"
UTILISATION = "utilisation"
EVERY_MS = 10

READ_ONE = """
import json, sys, threading, time
from pathlib import Path

def resident_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")

root, name, every = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3])
import opsledger.review.service  # what a review has imported before it reads its inputs
from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey, open_workspace
from opsledger.readers import utilisation

ctx = Context.open(open_workspace(root))
if name == "utilisation":
    # As a review reads them: under the workspace's telemetry folder, wherever it is.
    read = lambda: utilisation.read(
        utilisation.utilisation_folder(ctx.workspace.path(InputKey.TELEMETRY)))
else:
    key = InputKey(name)
    read = lambda: ctx.inputs.read(key)
    if key is not InputKey.CONFIG:
        ctx.inputs.read(InputKey.CONFIG)  # every other reader sees the configuration read
peak, done = [0.0], threading.Event()

def sample():
    while not done.is_set():
        peak[0] = max(peak[0], resident_mib())
        done.wait(every)

before = resident_mib()
sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
began = time.perf_counter()
result = read()
seconds = time.perf_counter() - began
done.set()
sampler.join()
after = resident_mib()
print(json.dumps({"seconds": seconds, "before": before, "peak": max(peak[0], after),
                  "after": after, "records": len(result.records),
                  "problems": len(result.problems)}))
"""


def present(root: Path) -> list[str]:
    """Return the inputs of the workspace at ``root`` that hold something, as read in a review."""
    from opsledger.core.inputs import Context, readers
    from opsledger.core.workspace import InputKey, open_workspace
    from opsledger.readers import utilisation

    ctx = Context.open(open_workspace(root))
    found = [key.value for key in readers() if ctx.inputs.present(key)]
    folder = utilisation.utilisation_folder(ctx.workspace.path(InputKey.TELEMETRY))
    if folder.is_dir() and any(p.is_file() for p in folder.rglob("*")):
        found.append(UTILISATION)
    return found


def measure(root: Path, name: str, repeat: int) -> list[Target]:
    runs = []
    for _ in range(repeat):
        run = run_process([sys.executable, "-c", READ_ONE, str(root), name, str(EVERY_MS / 1000)])
        runs.append(json.loads(run.stdout))
    last = runs[-1]
    notes = {"records": last["records"], "problems": last["problems"],
             "process_before_mib": Runs(tuple(r["before"] for r in runs)).to_json()}
    return [
        Target(f"{name}: read", Runs(tuple(r["seconds"] for r in runs)), "s", notes=notes),
        Target(f"{name}: memory held at the read's peak",
               Runs(tuple(r["peak"] - r["before"] for r in runs)), "MiB"),
        Target(f"{name}: memory kept after the read",
               Runs(tuple(r["after"] - r["before"] for r in runs)), "MiB"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("workspace", type=Path, nargs="?", default=None)
    where.add_argument("--size", choices=["small", "medium", "large"], default=None,
                       help="generate a demo workspace of this size (in a temporary folder)")
    parser.add_argument("--only", nargs="+", default=None, help="these inputs only")
    parser.add_argument("--repeat", type=int, default=3, help="reads per input")
    args = parser.parse_args()
    speed_at_start = machine_speed()
    generated = Path(tempfile.mkdtemp(prefix="opsledger-inputs-")) if args.size else None
    try:
        if generated is not None:
            root = generated / args.size
            command = Path(sys.executable).with_name("opsledger")
            run = run_process([str(command), "demo", str(root), "--size", args.size,
                               "--now", NOW])
            print(f"generated a {args.size} demo workspace in {run.seconds:.1f} s", flush=True)
        else:
            root = args.workspace.resolve()
        measure_all(root, args.only, args.repeat, args.size, speed_at_start)
    finally:
        if generated is not None:
            shutil.rmtree(generated, ignore_errors=True)


def measure_all(root: Path, only: list[str] | None, repeat: int, size: str | None,
                speed_at_start: Runs) -> None:
    names = present(root)
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise SystemExit(f"not inputs of {root}: {', '.join(unknown)} "
                             f"(present: {', '.join(names)})")
        names = [n for n in names if n in only]
    targets: list[Target] = []
    for name in names:
        found = measure(root, name, repeat)
        print(f"{name:30s} {found[0].measured.median:7.2f} s  peak +"
              f"{found[1].measured.median:6.0f} MiB  kept +{found[2].measured.median:6.0f} MiB",
              flush=True)
        targets += found
    report("inputs", targets, {"workspace": str(root), "demo_size": size, "repeat": repeat,
                               "sampled_every_ms": EVERY_MS}, speed_at_start)


if __name__ == "__main__":
    main()
