"""Forecasts fitted in a worker process give what fitting here gives, and a run survives a
worker that cannot start or dies."""

from __future__ import annotations

import math
import os

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
