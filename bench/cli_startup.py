"""Benchmark: how long the command line takes before it does anything.

Times, as whole processes, ``opsledger --version`` and ``opsledger --help`` against the floor
``python -c "import typer, rich"`` (what any Typer and Rich command line pays), best of
``--runs``, with each process's peak memory (maximum RSS from ``wait4``). Also lists the heavy
libraries that importing the command line loads, which should be none but NumPy.

    .venv/bin/python bench/cli_startup.py --runs 5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
HEAVY = ("pandas", "scipy", "statsforecast", "matplotlib", "pyarrow", "duckdb", "sklearn",
         "pyspark", "sqlglot", "jinja2", "openpyxl")


# Two commands, a --version option printed with Rich, and Typer's Rich help.
MINIMAL_APP = """
import typer
from rich.console import Console
app = typer.Typer()
def _version(value: bool) -> None:
    if value:
        Console().print("app 1.0")
        raise typer.Exit()
@app.callback()
def root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True)):
    \"\"\"An app.\"\"\"
@app.command()
def hello(name: str = "x") -> None:
    \"\"\"Say hello.\"\"\"
@app.command()
def bye() -> None:
    \"\"\"Say bye.\"\"\"
app()
"""


def measure(command: list[str], runs: int) -> tuple[float, float]:
    """Return (best wall seconds, peak RSS in MiB of that run) over ``runs`` processes."""
    best = (float("inf"), 0.0)
    for _ in range(runs):
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(command)} failed")
        best = min(best, (elapsed, usage.ru_maxrss / 1024))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    floor, floor_mib = measure([sys.executable, "-c", "import typer, rich"], args.runs)
    print(f"floor (import typer, rich): {floor:.3f} s, {floor_mib:.0f} MiB")
    # ``import rich`` loads almost nothing; a Typer command line that prints with Rich pays
    # for its console and help formatting too. The smallest such command line, for scale:
    minimal = [sys.executable, "-c", MINIMAL_APP]
    typer_floor = {flag: measure([*minimal, flag], args.runs)[0]
                   for flag in ("--version", "--help")}
    for flag in ("--version", "--help"):
        wall, mib = measure([str(BIN / "opsledger"), flag], args.runs)
        print(f"opsledger {flag}: {wall:.3f} s, {mib:.0f} MiB, {wall / floor:.2f}x the floor, "
              f"{wall / typer_floor[flag]:.2f}x a two-command Typer app "
              f"({typer_floor[flag]:.3f} s)")
    probe = "import sys, opsledger.cli.main; print(' '.join(sorted(sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                check=True).stdout.split())
    heavy = [name for name in HEAVY if name in loaded]
    print("heavy libraries loaded by the command line:", ", ".join(heavy) or "none")


if __name__ == "__main__":
    main()
