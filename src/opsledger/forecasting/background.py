"""Forecasts fitted in a worker process while this one goes on with the rest of a run.

Fitting the ticket and utilisation forecasts is the longest piece of a review, and it needs
nothing the other sections compute. A run hands it to :func:`submit` before it reads the
other inputs; the workers fit while this process reads and computes everything else, and
the section that shows a forecast waits for its result. Work that splits into independent
pieces (one batch of series each, :func:`batches`) is spread over the workers, so that
neither of them ends long after the other.

Workers are started from a fork server: a clean process, started once, that has imported
the forecasting libraries and forks each worker from itself. Starting the first worker waits
for that import, so a thread of this process hands the work over and this process goes on
at once. Forking the run's own process
instead could copy a lock held by one of its library threads (DuckDB, Arrow), leaving the
child waiting forever. Where a worker cannot be started (no fork server on the platform, a
sandbox without processes), the function is run here, at once, with the same result.
"""

from __future__ import annotations

import atexit
import math
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")

# Set to "0" to fit in the run's own process (for profiling, or where processes are scarce).
ENVIRONMENT = "OPSLEDGER_BACKGROUND_FORECASTS"
# Modules the fork server imports once, so that every worker starts with them loaded:
# statsforecast's models take longer to import than most fits take to run. The last one
# freezes them (see its docstring), so that the workers keep sharing their pages.
_PRELOAD = ["opsledger.forecasting.models", "statsforecast.models",
            "opsledger.forecasting.preloaded"]
# At most this many workers; this process keeps working beside them.
MAX_WORKERS = 2
# Batches per worker (:func:`batches`): enough that the workers end close together.
BATCHES_PER_WORKER = 4

_lock = threading.Lock()
_executor: ProcessPoolExecutor | None = None
_handover: ThreadPoolExecutor | None = None
_waiting: set[Future[Any]] = set()
_released: list[ProcessPoolExecutor] = []  # ending once their work is done (release())
_prestarted = False  # prestart() was called: the run means its slow work for the workers


def enabled() -> bool:
    """Return whether forecasts may be fitted in worker processes here."""
    return (os.environ.get(ENVIRONMENT, "1") != "0"
            and "forkserver" in multiprocessing.get_all_start_methods())


def workers() -> int:
    """Return how many worker processes fit forecasts (one where none can be used)."""
    return min(MAX_WORKERS, len(os.sched_getaffinity(0))) if enabled() else 1


def batches(items: Sequence[T], smallest: int = 50) -> list[Sequence[T]]:
    """Return ``items`` in consecutive batches (in order) for :func:`submit` to spread over
    the workers: a few per worker, none smaller than ``smallest`` items but the last."""
    if not items:
        return []
    count = max(1, min(workers() * BATCHES_PER_WORKER, len(items) // smallest))
    size = math.ceil(len(items) / count)
    return [items[start:start + size] for start in range(0, len(items), size)]


def prestart() -> None:
    """Start the first worker now, so that the fork server imports the forecasting libraries
    while this process imports and reads everything else. Does nothing where no worker can
    be used."""
    global _prestarted
    if enabled():
        _prestarted = True
        submit(os.getpid)


@contextmanager
def ahead(wanted: bool = True) -> Iterator[None]:
    """Start the workers now when ``wanted`` (:func:`prestart`), and stop them when the block
    ends, however it ends: a command's workers end with the command."""
    if wanted:
        prestart()
    try:
        yield
    finally:
        shutdown()


def prestarted() -> bool:
    """Return whether this run started the workers ahead (:func:`prestart`), so that work it
    could do here is better handed to them: their libraries are loaded already, or loading."""
    return _prestarted and enabled()


def submit(function: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    """Return the future result of ``function(*args, **kwargs)``, computed in a worker
    process when one can be used, else here before returning. ``function`` and its
    arguments must be picklable (a module-level function and plain records).

    Returns at once: the work is handed to the workers by a thread of this process. If no
    worker can take it, the future fails with :class:`BrokenProcessPool` and :func:`result`
    computes it here."""
    if not enabled():
        return _done(function, *args, **kwargs)
    future: Future[T] = Future()
    with _lock:
        global _handover
        if _handover is None:
            _handover = ThreadPoolExecutor(1, thread_name_prefix="forecast-handover")
        _waiting.add(future)
        _handover.submit(_hand_over, future, function, args, kwargs)
    return future


def _hand_over(future: Future[T], function: Callable[..., T], args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> None:
    try:
        with _lock:
            if future not in _waiting:  # shut down before its turn came
                return
            pool = _pool()
        running = pool.submit(function, *args, **kwargs)
    except (OSError, RuntimeError, BrokenProcessPool) as error:
        _finish(future, None, BrokenProcessPool(f"no worker could be started: {error}"))
        return
    running.add_done_callback(lambda done: _finish(
        future, None if done.cancelled() or done.exception() else done.result(),
        BrokenProcessPool("the work was cancelled") if done.cancelled() else done.exception()))


def _finish(future: Future[T], value: T | None, error: BaseException | None) -> None:
    with _lock:
        if future not in _waiting:
            return
        _waiting.discard(future)
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)  # type: ignore[arg-type]


def _done(function: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
    future: Future[T] = Future()
    try:
        future.set_result(function(*args, **kwargs))
    except BaseException as error:  # handed to whoever asks for the result, as a worker does
        future.set_exception(error)
    return future


def result(future: Future[T], function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Return the future's result; if no worker could compute it (one was killed for
    memory, say), compute it here instead, so a run never fails for want of a worker."""
    try:
        return future.result()
    except BrokenProcessPool:
        shutdown()
        return function(*args, **kwargs)


def release() -> None:
    """Say that no more work is coming: the workers end as soon as the work handed to them
    is done, while this process goes on (rendering the report, say) instead of waiting for
    them at its exit. A later :func:`submit` starts new workers."""
    with _lock:
        handover = _handover
    if handover is not None:  # after the work this thread has yet to hand over
        handover.submit(_release_pool)


def _release_pool() -> None:
    global _executor
    with _lock:
        pool, _executor = _executor, None
        if pool is not None:
            _released.append(pool)
    if pool is not None:
        pool.shutdown(wait=False)


def _pool() -> ProcessPoolExecutor:
    global _executor
    if _executor is None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(_PRELOAD)
        _executor = ProcessPoolExecutor(workers(), mp_context=context)
    return _executor


def shutdown() -> None:
    """Stop the workers (started again by the next :func:`submit`). Work not yet handed
    over fails with :class:`BrokenProcessPool`, so that :func:`result` computes it here."""
    global _executor, _handover, _prestarted
    _prestarted = False
    with _lock:
        handover, _handover = _handover, None
        abandoned = list(_waiting)
        _waiting.clear()
    for future in abandoned:
        future.set_exception(BrokenProcessPool("the workers were stopped"))
    if handover is not None:
        handover.shutdown(wait=True)
    with _lock:
        pool, _executor = _executor, None
        released = list(_released)
        _released.clear()
    for ending in released:
        ending.shutdown(wait=True)
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(shutdown)
