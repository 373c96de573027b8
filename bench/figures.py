"""Figures every benchmark prints the same way: runs, median, min, max, floor and ratio.

A benchmark measures each side several times (whole processes where the target is about a
command), prints one line per target with its floor and the ratio against the target, and
writes the same figures to ``bench/results/<name>.json`` so that two runs can be compared.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
# Memory is measured in MiB (2**20 bytes); targets written in MB and GB are decimal.
MIB_PER_MB = 1e6 / 2**20
MIB_PER_GB = 1e9 / 2**20


@dataclass(frozen=True)
class Runs:
    """Repeated measurements of one quantity (seconds or MiB)."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def text(self, unit: str) -> str:
        return (f"{self.median:.3f} {unit} (min {min(self.values):.3f}, "
                f"max {max(self.values):.3f}, n={len(self.values)})")

    def to_json(self) -> dict[str, object]:
        return {"median": self.median, "min": min(self.values), "max": max(self.values),
                "runs": list(self.values)}


def peak_rss_mib() -> float:
    """Return this process's peak resident memory since the last reset, in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Reset this process's peak resident memory to the current one (Linux)."""
    gc.collect()
    with contextlib.suppress(OSError):  # without it, peaks are since the process started
        Path("/proc/self/clear_refs").write_text("5")


@dataclass(frozen=True)
class ProcessRun:
    seconds: float
    peak_mib: float  # the command's own process (its peak resident set)
    stdout: str
    # The command's process with every process it started (worker processes), sampled: the
    # highest sum of their proportional set sizes (pages shared by several count once), and
    # the CPU time they used.
    tree_peak_mib: float = float("nan")
    tree_cpu_seconds: float = float("nan")
    # The command's own proportional set size at that peak: the rest is its workers'.
    tree_peak_own_mib: float = float("nan")


TICKS = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, int]]:
    """Return every process's parent pid and CPU ticks used (user and system), from /proc."""
    found: dict[int, tuple[int, int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            found[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return found


def _pss_kib(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


class TreeSampler:
    """Samples a process and its descendants until stopped: the peak of their summed
    proportional set sizes (pages shared by several count once), the process's own share of
    that peak, and the CPU time each used (the last reading of each process, so processes
    that ended before it are counted too)."""

    def __init__(self, pid: int, every: float = 0.05) -> None:
        self.pid, self.every, self.peak_kib, self.own_at_peak_kib = pid, every, 0, 0
        self.ticks: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            processes = _processes()
            children: dict[int, list[int]] = {}
            for pid, (parent, _) in processes.items():
                children.setdefault(parent, []).append(pid)
            pending, total, own = [self.pid], 0, 0
            while pending:
                pid = pending.pop()
                pending.extend(children.get(pid, []))
                size = _pss_kib(pid)
                total += size
                own = size if pid == self.pid else own
                if pid in processes:
                    self.ticks[pid] = processes[pid][1]
            if total > self.peak_kib:
                self.peak_kib, self.own_at_peak_kib = total, own
            self._stop.wait(self.every)

    def stop(self) -> tuple[float, float, float]:
        """Stop sampling; return the tree's peak memory and the process's own share of it
        (MiB), and the CPU seconds of the tree."""
        self._stop.set()
        self._thread.join()
        if not self.peak_kib:
            return float("nan"), float("nan"), sum(self.ticks.values()) / TICKS
        return (self.peak_kib / 1024, self.own_at_peak_kib / 1024,
                sum(self.ticks.values()) / TICKS)


def process_environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment a measured command runs in: this one, with compiled bytecode
    cached as an installed package has it (``PYTHONDONTWRITEBYTECODE`` would make every
    process compile every module again), plus ``extra``."""
    found = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**found, **(extra or {})}


def run_process(argv: Sequence[str], env: dict[str, str] | None = None, *,
                tree: bool = False) -> ProcessRun:
    """Run a command to completion; return its wall time, its own peak RSS, its stdout and,
    with ``tree``, the peak memory and CPU time of it and every process it started.

    Sampling the process tree reads every process's page tables twenty times a second, work
    that competes with the command for the CPUs: a run that is timed is run without ``tree``,
    and the tree measured in another run.

    The child is reaped with ``wait4`` so that its resource usage is its own, not the maximum
    over every child this process has waited for. Exit status 0 and 1 (a verdict) are runs.
    """
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        started = time.perf_counter()
        process = subprocess.Popen(list(argv), stdout=out, stderr=err,
                                   env=process_environment(env))
        sampler = TreeSampler(process.pid) if tree else None
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        nan = float("nan")
        tree_peak, own_at_peak, tree_cpu = sampler.stop() if sampler else (nan, nan, nan)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode not in (0, 1):
            raise RuntimeError(f"{argv[0]} exited {process.returncode}: {err.read()[-2000:]}")
        own_cpu = usage.ru_utime + usage.ru_stime
        return ProcessRun(seconds, usage.ru_maxrss / 1024, out.read(), tree_peak,
                          max(tree_cpu, own_cpu) if sampler else own_cpu, own_at_peak)


@dataclass
class Target:
    """One target line: what was measured, its floor (or limit) and the allowed ratio."""

    name: str
    measured: Runs
    unit: str
    floor: Runs | None = None
    floor_name: str = ""
    max_ratio: float | None = None  # measured / floor must not exceed this
    limit: float | None = None  # absolute limit on the median, in ``unit``
    limit_as_written: str = ""  # the limit in the target's own words, e.g. "500 MB"
    notes: dict[str, object] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return None if self.floor is None else self.measured.median / self.floor.median

    @property
    def targeted(self) -> bool:
        """Whether the figure has a target (a ratio or a limit), or is only measured."""
        return self.limit is not None or (self.max_ratio is not None and self.floor is not None)

    @property
    def met(self) -> bool:
        ok = True
        if self.max_ratio is not None and self.ratio is not None:
            ok = ok and self.ratio <= self.max_ratio
        if self.limit is not None:
            ok = ok and self.measured.median <= self.limit
        return ok

    def line(self) -> str:
        parts = [f"{self.name}: {self.measured.text(self.unit)}"]
        if self.floor is not None:
            parts.append(f"floor ({self.floor_name}) {self.floor.text(self.unit)}")
            parts.append(f"ratio {self.ratio:.2f}x" +
                         (f" (target <= {self.max_ratio}x)" if self.max_ratio else ""))
        if self.limit is not None:
            parts.append(f"limit {self.limit:.6g} {self.unit}" + (
                f" ({self.limit_as_written})" if self.limit_as_written else ""))
        if self.targeted:
            parts.append("MET" if self.met else "MISSED")
        return " | ".join(parts)

    def to_json(self) -> dict[str, object]:
        found = asdict(self)
        found["measured"] = self.measured.to_json()
        found["floor"] = None if self.floor is None else self.floor.to_json()
        found["ratio"] = self.ratio
        found["targeted"] = self.targeted
        found["met"] = self.met
        return found


# Runs a Python command (``-c CODE`` or a script, with its arguments) and, as it ends, writes
# the names of the modules it loaded to the file $BENCH_MODULES_TO.
RECORD_MODULES = """
import atexit, os, runpy, sys
def record():
    with open(os.environ["BENCH_MODULES_TO"], "w") as out:
        out.write("\\n".join(sys.modules))
atexit.register(record)
if sys.argv[1] == "-c":
    code, sys.argv = sys.argv[2], ["-c", *sys.argv[3:]]
    exec(compile(code, "<string>", "exec"), {"__name__": "__main__"})
else:
    sys.argv = sys.argv[1:]
    runpy.run_path(sys.argv[0], run_name="__main__")
"""
# Imports each module named in its arguments, in order; one that fails alone is passed over.
IMPORT_MODULES = """
import importlib, sys
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception:
        pass
"""


def interpreter_of(argv: Sequence[str]) -> tuple[str, list[str]]:
    """Return the Python interpreter that runs ``argv`` and what it is given: ``argv`` starts
    with an interpreter, or with a script whose first line names one."""
    first = Path(argv[0])
    if first.name.startswith("python"):
        return argv[0], list(argv[1:])
    shebang = first.read_text().splitlines()[0]
    if not shebang.startswith("#!") or "python" not in shebang:
        raise ValueError(f"{argv[0]} is not a Python script")
    return shebang[2:].strip().split()[0], list(argv)


def modules_loaded(argv: Sequence[str], env: dict[str, str] | None = None) -> list[str]:
    """Return the modules a Python command has loaded when it ends, in the order loaded."""
    python, given = interpreter_of(argv)
    with tempfile.TemporaryDirectory(prefix="bench-modules-") as folder:
        listing = Path(folder) / "modules"
        run_process([python, "-c", RECORD_MODULES, *given],
                    {**(env or {}), "BENCH_MODULES_TO": str(listing)})
        names = listing.read_text().split("\n")
    return [n for n in names if n and n not in ("__main__", "__mp_main__")]


def start_up(argv: Sequence[str], repeat: int, env: dict[str, str] | None = None) -> Runs:
    """Return the seconds a fresh interpreter takes to import, and do nothing else with,
    every module the Python command ``argv`` loads: the part of its time that is start-up."""
    python, _ = interpreter_of(argv)
    modules = modules_loaded(argv, env)
    return Runs(tuple(run_process([python, "-c", IMPORT_MODULES, *modules], env).seconds
                      for _ in range(repeat)))


def start_up_targets(command: str, ours: Runs, our_start: Runs, floor: Runs,
                     floor_start: Runs, floor_name: str) -> list[Target]:
    """Return two figures without a target: the start-up of ``command`` beside the floor's,
    and what is left of each once its start-up (median) is taken away."""
    return [
        Target(f"{command}: start-up (importing what it loads)", our_start, "s",
               floor=floor_start, floor_name=f"{floor_name}: importing what it loads"),
        Target(f"{command}: after start-up", Runs(tuple(v - our_start.median
                                                        for v in ours.values)), "s",
               floor=Runs(tuple(v - floor_start.median for v in floor.values)),
               floor_name=f"{floor_name} after its start-up"),
    ]


def machine_speed(repeat: int = 5) -> Runs:
    """Return the seconds a fixed piece of pure Python work takes here (summing 30 million
    integers), several times: a shared machine's speed changes from hour to hour, and two
    benchmark runs are comparable only as far as this figure agrees."""
    found = []
    for _ in range(repeat):
        began = time.perf_counter()
        sum(range(30_000_000))
        found.append(time.perf_counter() - began)
    return Runs(tuple(found))


# A host whose speed, by the loop's median time at a bench's start and at its end, changed by
# more than this share in either direction: its speed, not the code, may explain a figure.
SPEED_DRIFT = 0.2


def speed_change(ended: Runs, started: Runs) -> float:
    """Return how much slower (> 0) or faster (< 0) the host ran at the end than at the
    start: the longer of the two median loop times over the shorter, less one, signed.
    Symmetric, so a loop going from 0.4 to 0.5 s and one going from 0.5 to 0.4 s change by
    as much (25 %)."""
    if ended.median >= started.median:
        return ended.median / started.median - 1
    return -(started.median / ended.median - 1)


def speed_lines(ended: Runs, started: Runs | None = None) -> list[str]:
    """Return the lines that give the machine's speed (:func:`machine_speed`) at the end of a
    bench and, when taken, at its start, with a warning when it changed by more than
    ``SPEED_DRIFT`` (:func:`speed_change`)."""
    if started is None:
        return [f"machine speed: a fixed Python loop took {ended.text('s')} (runs compare "
                "where this agrees)"]
    lines = [f"machine speed: a fixed Python loop took {started.text('s')} as the bench began "
             f"and {ended.text('s')} as it ended (runs compare where this agrees)"]
    change = speed_change(ended, started)
    if abs(change) > SPEED_DRIFT:
        lines.append(f"WARNING: the host ran {abs(change):.0%} "
                     f"{'slower' if change > 0 else 'faster'} at the end than at the start: "
                     "its speed changed while the bench ran")
    return lines


def report(bench: str, targets: Sequence[Target], context: dict[str, object],
           started: Runs | None = None) -> Path:
    """Print every target line and write them, with the machine and its speed now (and, as
    ``started``, when the bench began), to bench/results/."""
    speed = machine_speed()
    print(f"\n== {bench} ==")
    for line in speed_lines(speed, started):
        print(line)
    for target in targets:
        print(target.line())
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{bench}.json"
    document = {
        "bench": bench,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "platform": platform.platform(), "loop_seconds": speed.to_json(),
                    "loop_seconds_at_start": None if started is None else started.to_json()},
        "context": context,
        "targets": [t.to_json() for t in targets],
    }
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=2) + "\n")
    tmp.replace(path)
    print(f"figures written to {path}")
    return path
