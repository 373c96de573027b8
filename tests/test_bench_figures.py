"""The benchmark scripts' process measurements: a timed run is left alone, a sampled run
counts the processes the command starts."""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from figures import run_process

# A parent holding 60 MiB that starts a child holding 80 MiB, both alive for a second.
FAMILY = """
import subprocess, sys, time
held = b"p" * (60 * 2**20)
child = subprocess.Popen([sys.executable, "-c",
                          "import time; held = b'c' * (80 * 2**20); time.sleep(1.0)"])
child.wait()
print("done")
"""


def test_a_sampled_run_counts_the_processes_the_command_started() -> None:
    run = run_process([sys.executable, "-c", FAMILY], tree=True)
    assert run.stdout.strip() == "done"
    assert run.peak_mib >= 60
    assert run.tree_peak_mib >= 60 + 80  # parent and child at once
    assert run.tree_cpu_seconds > 0


def test_a_timed_run_is_not_sampled() -> None:
    run = run_process([sys.executable, "-c", FAMILY])
    assert run.stdout.strip() == "done" and run.peak_mib >= 60
    assert math.isnan(run.tree_peak_mib)
    assert run.seconds >= 1.0
