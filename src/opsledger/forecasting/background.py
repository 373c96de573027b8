"""Forecasts fitted in a worker process while this one goes on with the rest of a run.

Fitting the ticket forecasts is the longest single piece of a review, and it needs nothing
the other sections compute. A run hands it to :func:`submit` as soon as the tickets are
read; the worker fits while this process reads and computes everything else, and the
section that shows the forecast waits for the result.

The worker is started from a fork server: a clean process, started once, that has imported
the forecasting libraries and forks a worker from itself. Forking the run's own process
instead could copy a lock held by one of its library threads (DuckDB, Arrow), leaving the
child waiting forever. Where a worker cannot be started (no fork server on the platform, a
sandbox without processes), the function is run here, at once, with the same result.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

T = TypeVar("T")

# Set to "0" to fit in the run's own process (for profiling, or where processes are scarce).
ENVIRONMENT = "OPSLEDGER_BACKGROUND_FORECASTS"
# Modules the fork server imports once, so that every worker starts with them loaded.
_PRELOAD = ["opsledger.forecasting.models"]

_executor: ProcessPoolExecutor | None = None


def enabled() -> bool:
    """Return whether forecasts may be fitted in a worker process here."""
    return (os.environ.get(ENVIRONMENT, "1") != "0"
            and "forkserver" in multiprocessing.get_all_start_methods())


def submit(function: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    """Return the future result of ``function(*args, **kwargs)``, computed in the worker
    process when one can be used, else here before returning. ``function`` and its arguments must be
    picklable (a module-level function and plain records)."""
    if enabled():
        try:
            return _worker().submit(function, *args, **kwargs)
        except (OSError, RuntimeError, BrokenProcessPool):
            shutdown()
    return _done(function, *args, **kwargs)


def _done(function: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    future: Future[T] = Future()
    try:
        future.set_result(function(*args, **kwargs))
    except BaseException as error:  # handed to whoever asks for the result, as a worker does
        future.set_exception(error)
    return future


def result(future: Future[T], function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Return the future's result; if the worker process died (killed for memory, say),
    compute it here instead, so a run never fails for want of a worker."""
    try:
        return future.result()
    except BrokenProcessPool:
        shutdown()
        return function(*args, **kwargs)


def _worker() -> ProcessPoolExecutor:
    global _executor
    if _executor is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        _executor = ProcessPoolExecutor(1, mp_context=context)
    return _executor


def shutdown() -> None:
    """Stop the worker process (started again by the next :func:`submit`)."""
    global _executor
    if _executor is not None:
        _executor.shutdown(wait=True, cancel_futures=True)
        _executor = None


atexit.register(shutdown)
