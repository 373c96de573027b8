"""The benchmark scripts' measurements: a timed run is left alone, a sampled run counts the
processes the command starts, and the figures carry the machine's speed at the time."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
import figures
from figures import Runs, Target, report, run_process

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
    # The parent's own share of that peak: its 60 MiB, not its child's 80.
    assert 60 <= run.tree_peak_own_mib < 60 + 80 <= run.tree_peak_mib


def test_a_timed_run_is_not_sampled() -> None:
    run = run_process([sys.executable, "-c", FAMILY])
    assert run.stdout.strip() == "done" and run.peak_mib >= 60
    assert math.isnan(run.tree_peak_mib) and math.isnan(run.tree_peak_own_mib)
    assert run.seconds >= 1.0



def test_the_figures_carry_the_machine_speed(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(figures, "RESULTS", tmp_path)
    path = report("probe", [Target("a probe", Runs((1.0, 2.0, 3.0)), "s", limit=2.5)], {})
    document = json.loads(path.read_text())
    speed = document["machine"]["loop_seconds"]
    assert 0 < speed["min"] <= speed["median"] <= speed["max"] and len(speed["runs"]) == 5
    assert document["targets"][0]["met"] is True
    assert document["machine"]["loop_seconds_at_start"] is None


def test_the_speed_at_the_start_is_written_beside_the_speed_at_the_end(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(figures, "RESULTS", tmp_path)
    started = Runs((0.5, 0.4, 0.6))
    path = report("probe", [Target("a probe", Runs((1.0,)), "s")], {}, started)
    machine = json.loads(path.read_text())["machine"]
    assert machine["loop_seconds_at_start"]["runs"] == [0.5, 0.4, 0.6]
    assert len(machine["loop_seconds"]["runs"]) == 5


def test_a_host_whose_speed_changed_during_the_bench_is_named() -> None:
    # Medians 0.40 s and 0.52 s: the loop took 1.3 times as long, 30 % slower at the end.
    slower = figures.speed_lines(Runs((0.52, 0.50, 0.55)), Runs((0.40, 0.38, 0.41)))
    assert "took 0.400 s" in slower[0] and "and 0.520 s" in slower[0]
    assert len(slower) == 2 and "30% slower at the end" in slower[1]
    # 0.40 s then 0.30 s: 0.40 / 0.30 = 1.33, a third faster.
    faster = figures.speed_lines(Runs((0.30,)), Runs((0.40,)))
    assert "33% faster at the end" in faster[1]
    # 0.40 s then 0.47 s is 17.5 %: within what a shared host does from minute to minute.
    assert len(figures.speed_lines(Runs((0.47,)), Runs((0.40,)))) == 1
    assert len(figures.speed_lines(Runs((0.47,)))) == 1


def test_a_change_of_speed_weighs_the_same_either_way() -> None:
    # 0.40 to 0.50 s and 0.50 to 0.40 s: 25 % each way, over the 20 % allowed both times;
    # measured against the start alone, the second would be 20 % and pass unnamed.
    assert figures.speed_change(Runs((0.50,)), Runs((0.40,))) == pytest.approx(0.25)
    assert figures.speed_change(Runs((0.40,)), Runs((0.50,))) == pytest.approx(-0.25)
    assert "25% faster" in figures.speed_lines(Runs((0.40,)), Runs((0.50,)))[1]
    assert figures.speed_change(Runs((0.42,)), Runs((0.42,))) == 0


def test_memory_limits_written_in_megabytes_are_decimal() -> None:
    # 480 MiB is 503 MB: over a limit of 500 MB, though under 500 MiB.
    over = Target("review", Runs((480.0,)), "MiB", limit=500 * figures.MIB_PER_MB,
                  limit_as_written="500 MB")
    assert not over.met and "limit 476.837 MiB (500 MB)" in over.line()
    assert Target("review", Runs((953.0,)), "MiB", limit=figures.MIB_PER_GB).met
    assert not Target("review", Runs((954.0,)), "MiB", limit=figures.MIB_PER_GB).met


def test_a_figure_without_a_target_is_printed_without_a_verdict() -> None:
    measured = Target("spark per-SLO overhead", Runs((0.3, 0.5)), "s")
    assert not measured.targeted and measured.line().endswith("n=2)")
    assert "MET" not in measured.line() and measured.to_json()["targeted"] is False
    slower = Target("status", Runs((3.0,)), "s", floor=Runs((2.0,)), max_ratio=1.2)
    assert slower.targeted and slower.line().endswith("| MISSED")
    within = Target("status", Runs((2.0,)), "s", floor=Runs((2.0,)), max_ratio=1.2)
    assert within.line().endswith("| MET")


def test_the_modules_a_command_loads_are_recorded_as_it_ends(tmp_path: Path) -> None:
    loaded = figures.modules_loaded([sys.executable, "-c", "import fractions, sys; sys.exit(1)"])
    assert "fractions" in loaded and "__main__" not in loaded
    script = tmp_path / "tool"
    # The script is given its own arguments, or it exits 5 and the run fails.
    script.write_text(f"#!{sys.executable}\nimport sys, decimal\n"
                      "sys.exit(0 if sys.argv[1:] == ['a', 'b'] else 5)\n")
    assert figures.interpreter_of([str(script), "a"]) == (sys.executable, [str(script), "a"])
    assert "decimal" in figures.modules_loaded([str(script), "a", "b"])
    shell = tmp_path / "tool.sh"
    shell.write_text("#!/bin/sh\nexit 0\n")
    with pytest.raises(ValueError, match="not a Python script"):
        figures.interpreter_of([str(shell)])


def test_start_up_is_the_time_to_import_what_the_command_loads() -> None:
    sleeper = [sys.executable, "-c", "import fractions, time; time.sleep(0.5)"]
    start = figures.start_up(sleeper, 2)
    assert len(start.values) == 2 and start.median < 0.5  # the sleep is not start-up
    ours, floor = Runs((1.5, 1.7)), Runs((1.0, 1.2))
    loaded, after = figures.start_up_targets("status", ours, Runs((0.5,)), floor, Runs((0.2,)),
                                             "the floor")
    assert not loaded.targeted and loaded.ratio == pytest.approx(2.5)
    assert after.measured.values == pytest.approx((1.0, 1.2))
    assert after.floor is not None and after.floor.values == pytest.approx((0.8, 1.0))
    assert "MET" not in after.line() and "ratio 1.22x" in after.line()
