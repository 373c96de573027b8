"""Forecasts fitted in a worker process give what fitting here gives, and a run survives a
worker that cannot start or dies."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opsledger.forecasting import background


@pytest.fixture(autouse=True)
def _fresh_worker() -> object:
    background.shutdown()
    yield None
    background.shutdown()


def test_the_work_runs_in_another_process_and_comes_back() -> None:
    assert background.enabled()
    future = background.submit(os.getpid)
    assert future.result(timeout=60) != os.getpid()
    assert background.submit(int, "78", base=16).result(timeout=60) == 120


def _preloaded_and_frozen() -> tuple[bool, int]:
    import gc

    return "statsforecast.models" in sys.modules, gc.get_freeze_count()


def test_workers_start_with_the_libraries_loaded_and_kept_from_the_collector() -> None:
    # Frozen in the fork server: a collector pass in a worker would copy every page of them.
    loaded, frozen = background.submit(_preloaded_and_frozen).result(timeout=120)
    assert loaded
    assert frozen > 100_000  # statsforecast, statsmodels, scipy, pandas: objects by the 100k


def test_without_a_worker_the_work_is_done_here(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(background.ENVIRONMENT, "0")
    assert not background.enabled()
    future = background.submit(os.getpid)
    assert future.done() and future.result() == os.getpid()
    failed = background.submit(math.comb, -1, 2)
    with pytest.raises(ValueError):
        failed.result()


def test_a_worker_that_dies_is_replaced_by_doing_the_work_here() -> None:
    died = background.submit(os._exit, 1)
    assert background.result(died, math.comb, 5, 2) == 10
    # and the next submission starts a new worker
    assert background.submit(os.getpid).result(timeout=60) != os.getpid()


def test_submitting_returns_before_the_worker_has_started(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    # The fork server imports the forecasting libraries before its first worker can start;
    # the run goes on meanwhile, and gets every result in the order it asked.
    started = time.perf_counter()
    futures = [background.submit(pow, 2, n) for n in range(6)]
    assert time.perf_counter() - started < 0.5
    assert [f.result(timeout=120) for f in futures] == [2 ** n for n in range(6)]


def test_the_workers_take_work_side_by_side() -> None:
    pids = {background.submit(_busy_pid, 0.5) for _ in range(4)}
    found = {f.result(timeout=120) for f in pids}
    assert os.getpid() not in found
    assert len(found) == min(background.MAX_WORKERS, len(os.sched_getaffinity(0)))


def test_work_not_yet_handed_over_when_the_workers_stop_is_done_here() -> None:
    futures = [background.submit(_slow_double, 0.2, n) for n in range(6)]
    background.shutdown()
    assert all(f.done() for f in futures)  # none is left waiting for a worker
    assert [background.result(f, _slow_double, 0, n) for n, f in enumerate(futures)] == [
        2 * n for n in range(6)]


@pytest.mark.parametrize("count", [0, 1, 49, 50, 120, 399, 3000])
def test_batches_keep_every_item_once_and_in_order(count: int) -> None:
    items = list(range(count))
    found = background.batches(items)
    assert [x for batch in found for x in batch] == items
    assert len(found) <= background.workers() * background.BATCHES_PER_WORKER
    assert all(len(batch) >= 50 for batch in found[:-1])
    if count >= 400:
        assert len(found) == background.workers() * background.BATCHES_PER_WORKER


def _busy_pid(seconds: float) -> int:
    time.sleep(seconds)
    return os.getpid()


def _slow_double(seconds: float, value: int) -> int:
    time.sleep(seconds)
    return 2 * value


@pytest.mark.parametrize("command", [
    ["review", "--now", "2026-11-01T00:00:00+00:00"],
    # mid-month, so that the month-end spend is forecast by the seasonal model
    ["cost", "--now", "2026-10-20T00:00:00+00:00"],
])
def test_a_command_leaves_the_model_libraries_to_its_workers(
        small_demo: Path, tmp_path: Path, command: list[str]) -> None:
    # The forecasts and the experiment statistics are computed in the workers, which import
    # statsforecast, statsmodels and scipy.stats; the command's own process never does.
    root = tmp_path / "ws"
    shutil.copytree(small_demo, root)
    argv = ["opsledger", command[0], str(root), *command[1:], "--json"]
    probe = ("import sys\nfrom opsledger.cli.main import main\n"
             f"sys.argv = {argv!r}\n"
             "try:\n    main()\nexcept SystemExit as done:\n    assert not done.code, done.code\n"
             "print(' '.join(sys.modules), file=sys.stderr)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=600, check=True)
    loaded = set(done.stderr.split())
    assert not {"statsforecast", "statsmodels", "scipy.stats"} & loaded
    if command[0] == "review":
        assert "opsledger.review.service" in loaded
        assert (root / "reports" / "ops" / "MONTHLY_OPS_REPORT.md").is_file()
    else:
        assert "opsledger.cost.service" in loaded
        methods = {f["method"] for f in json.loads(done.stdout)["forecast"].values()}
        assert any("Holt-Winters" in m for m in methods), methods


def test_released_workers_finish_their_work_then_end() -> None:
    futures = [background.submit(time.sleep, 0.2) for _ in range(3)] + [
        background.submit(os.getpid)]
    background.release()  # after work still waiting to be handed over
    assert all(f.result(timeout=120) is None for f in futures[:3])
    worker = futures[3].result(timeout=120)
    assert worker != os.getpid()
    deadline = time.monotonic() + 30
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(worker)
    # work handed over later starts new workers
    assert background.submit(os.getpid).result(timeout=120) not in (os.getpid(), worker)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_workers_started_ahead_end_with_the_block_however_it_ends() -> None:
    with background.ahead():
        assert background.prestarted()
        assert background.submit(os.getpid).result(timeout=120) != os.getpid()
    assert not background.prestarted() and multiprocessing.active_children() == []
    with pytest.raises(KeyError), background.ahead():
        background.submit(os.getpid).result(timeout=120)
        raise KeyError("a command that fails")
    assert multiprocessing.active_children() == []
    with background.ahead(wanted=False):
        assert not background.prestarted()


@pytest.mark.parametrize("command", [["review", "--now", "2026-11-01T00:00:00+00:00"],
                                     ["cost", "--now", "2026-10-20T00:00:00+00:00"]])
def test_a_command_run_in_this_process_leaves_no_worker_behind(
        small_demo: Path, tmp_path: Path, command: list[str]) -> None:
    from typer.testing import CliRunner

    from opsledger.cli.main import app

    root = tmp_path / "ws"
    shutil.copytree(small_demo, root)
    done = CliRunner().invoke(app, [command[0], str(root), *command[1:], "--json"])
    assert done.exit_code == 0, done.output
    assert multiprocessing.active_children() == []
