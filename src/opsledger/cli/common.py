"""What every command shares: output (Rich or JSON), the clock, and error handling."""

from __future__ import annotations

import functools
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar, cast

import typer

from opsledger.core.errors import InputError, OpsledgerError
from opsledger.core.fileio import dumps_json
from opsledger.core.inputs import Context
from opsledger.core.inputs import fail_if_strict as fail_if_strict
from opsledger.core.options import EngineChoice
from opsledger.core.problems import Level, ReadResult
from opsledger.formats.fields import parse_datetime

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

P = ParamSpec("P")
R = TypeVar("R")

EXIT_OK = 0
EXIT_FAILED = 1  # a gate failed or a halt is pending
EXIT_BAD_INPUT = 2
EXIT_INTERNAL = 3

# Columns a table may take when the output is not a terminal: wide enough for any row.
PLAIN_WIDTH = 10_000


def fit(console: Console) -> None:
    """Without a terminal (a pipe, a CI log), have ``console`` print tables whole."""
    if not console.is_terminal:
        console.width = PLAIN_WIDTH


class LazyConsole:
    """A Rich console made when first used, so a command printing only JSON loads no Rich.

    Reading or setting an attribute reaches the console, made (and fitted) then.
    """

    __slots__ = ("_console", "_settings")

    def __init__(self, **settings: Any) -> None:
        object.__setattr__(self, "_settings", settings)
        object.__setattr__(self, "_console", None)

    @property
    def is_made(self) -> bool:
        return self._console is not None

    def made(self) -> Console:
        if self._console is None:
            from rich.console import Console

            console = Console(**self._settings)
            fit(console)
            object.__setattr__(self, "_console", console)
        return cast("Console", self._console)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.made(), name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self.made(), name, value)


_OUT = LazyConsole(highlight=False, soft_wrap=True)
_ERR = LazyConsole(stderr=True, highlight=False, soft_wrap=True)
console = cast("Console", _OUT)
err_console = cast("Console", _ERR)

WorkspaceArg = Annotated[
    Path, typer.Argument(help="The ops workspace folder.", show_default=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
NowOpt = Annotated[
    str | None,
    typer.Option("--now", help="Evaluate as of this ISO 8601 time (pins the clock)."),
]
StrictOpt = Annotated[
    bool, typer.Option("--strict", help="Treat quarantined rows as a failure (exit 2).")
]
PrometheusOpt = Annotated[
    str | None,
    typer.Option(
        "--prometheus",
        help="Prometheus base URL for SLOs defined in PromQL (or OPSLEDGER_PROMETHEUS_URL).",
    ),
]
EngineOpt = Annotated[
    EngineChoice | None,
    typer.Option(
        "--engine",
        help="Engine for SLIs over event files: duckdb (this machine) or spark "
        "(default: 'engine' in opsledger.yaml, else duckdb).",
        case_sensitive=False,
    ),
]

TeamOpt = Annotated[
    str | None,
    typer.Option("--team", help="Only this team's services (owners in opsledger.yaml or the "
                 "catalogs).", show_default=False),
]
ServiceOpt = Annotated[
    str | None,
    typer.Option("--service", help="Only this service.", show_default=False),
]


def resolve_now(now: str | None) -> datetime:
    """Return the evaluation time: ``--now``, else ``$OPSLEDGER_NOW``, else the current time."""
    now = now or os.environ.get("OPSLEDGER_NOW") or None
    if now is None:
        return datetime.now(UTC).replace(microsecond=0)
    try:
        return parse_datetime(now)
    except ValueError:
        raise InputError(f"--now: '{now}' is not an ISO 8601 date-time") from None


def print_json(obj: Any) -> None:
    sys.stdout.write(dumps_json(obj))


def fit_output() -> None:
    """Without a terminal (a pipe, a CI log), print tables whole: no column is cut to fit.

    A console not made yet is fitted when it is made.
    """
    for out in (_OUT, _ERR):
        if out.is_made:
            fit(out.made())


def rich_table(*headers: str, **options: Any) -> Table:
    """Return a Rich table with ``headers`` (Rich is loaded when a table is first made)."""
    from rich.table import Table

    return Table(*headers, **options)


@contextmanager
def progress(label: str, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """Show ``label`` and each stage of a long command on stderr; yield the stage reporter.

    On a terminal it is a spinner whose text follows the stages; elsewhere each stage is one
    line, so a CI log shows where a long run is. ``quiet`` (with ``--json``) shows nothing
    without a terminal, so the output is the document alone (and Rich is not loaded for it).
    """
    if quiet and not (sys.stderr.isatty() and err_console.is_terminal):
        yield lambda message: None
    elif err_console.is_terminal:
        with err_console.status(label) as status:
            yield lambda message: status.update(message)
    else:
        err_console.print(f"{label}...")
        yield lambda message: err_console.print(f"  {escape(message)}")


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn library errors into a message and an exit code; never a traceback for input."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        fit_output()
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except OpsledgerError as exc:
            err_console.print(f"[bold red]error:[/] {escape(str(exc))}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:
            if os.environ.get("OPSLEDGER_DEBUG"):
                traceback.print_exc()
            err_console.print(
                f"[bold red]internal error:[/] {escape(type(exc).__name__)}: {escape(str(exc))}\n"
                "Set OPSLEDGER_DEBUG=1 to see the traceback, and please report it."
            )
            raise typer.Exit(EXIT_INTERNAL) from None

    return wrapper


def escape(text: str) -> str:
    """Return ``text`` with Rich markup disabled (input values may hold brackets)."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def report_problems(ctx: Context, result: ReadResult[Any], strict: bool) -> None:
    """Print the problems of ``result`` other than warnings on stderr; with ``strict``, stop
    (exit 2) if any input the run read has a problem."""
    for problem in result.problems:
        if problem.level is not Level.WARNING:
            err_console.print(f"[yellow]{escape(str(problem))}[/]")
    if strict:
        ctx.inputs.require_clean()
