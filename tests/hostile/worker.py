"""A long-lived process that runs one reader (or one CLI command) per request.

The test process sends one JSON request per line on stdin and reads one JSON answer per
line. Running the untrusted work here, not in the test process, lets the test enforce a
timeout (it kills this process on a hang) and measure memory per case: before each case
the kernel's peak-RSS mark is reset (``/proc/self/clear_refs`` ← 5) and read back after.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any


def _rss_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _non_finite(value: Any, depth: int = 0) -> bool:
    """Return True if a record holds a NaN or infinite float anywhere."""
    if depth > 20:
        return False
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_non_finite(v, depth + 1) for v in value.values())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_non_finite(v, depth + 1) for v in value)
    if hasattr(value, "__dataclass_fields__"):
        names = value.__dataclass_fields__
        return any(_non_finite(getattr(value, name, None), depth + 1) for name in names)
    if hasattr(value, "model_dump"):
        return _non_finite(value.model_dump(), depth + 1)
    return False


def read(target: str, path: str) -> dict[str, Any]:
    module_name, _, function = target.partition(":")
    reader = getattr(importlib.import_module(module_name), function)
    result = reader(Path(path))
    from opsledger.core.problems import Problem, ReadResult

    if not isinstance(result, ReadResult):
        return {"error": f"returned {type(result).__name__}, not a ReadResult"}
    bad = [p for p in result.problems if not isinstance(p, Problem)]
    if bad:
        return {"error": f"problems list holds {type(bad[0]).__name__}"}
    return {
        "records": len(result.records),
        "records_text": repr(result.records)[:200_000],
        "non_finite": any(_non_finite(r) for r in result.records),
        "problems": [p.to_json() | {"text": str(p)} for p in result.problems],
    }


def cli(args: list[str]) -> dict[str, Any]:
    from typer.testing import CliRunner

    from opsledger.cli.main import app

    outcome = CliRunner().invoke(app, args)
    escaped = outcome.exception
    if isinstance(escaped, SystemExit):
        escaped = None
    return {
        "exit_code": outcome.exit_code,
        "output": outcome.output,
        "exception": repr(escaped) if escaped is not None else "",
    }


def serve() -> None:
    # Answers go out on a private copy of stdout; anything the code under test prints
    # lands on stderr and cannot corrupt the answers.
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    for line in sys.stdin:
        request = json.loads(line)
        reset = _reset_peak()
        before = _rss_kib("VmRSS")
        started = time.perf_counter()
        try:
            if request["op"] == "read":
                answer = read(request["reader"], request["path"])
            else:
                answer = cli(request["args"])
        except BaseException:  # the test reports any escape as a failure
            answer = {"error": traceback.format_exc()}
        answer["seconds"] = time.perf_counter() - started
        answer["peak_growth_kib"] = (_rss_kib("VmHWM") - before) if reset else -1
        channel.write(json.dumps(answer) + "\n")
        channel.flush()


if __name__ == "__main__":
    serve()
