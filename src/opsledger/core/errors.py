"""Exceptions that the command line turns into clean messages and exit codes."""

from __future__ import annotations

from collections.abc import Sequence

from opsledger.core.problems import Problem


class OpsledgerError(Exception):
    """Base class: a failure the user can act on (never shown with a traceback)."""

    exit_code = 3


class InputError(OpsledgerError):
    """Bad input or usage: exit code 2."""

    exit_code = 2

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems)

    def __str__(self) -> str:
        lines = [self.args[0]] + [f"  {p}" for p in self.problems]
        return "\n".join(lines)


class ConfigError(InputError):
    """opsledger.yaml (or another YAML config) is invalid."""


class WorkspaceLockedError(OpsledgerError):
    """Another opsledger process holds the workspace lock."""

    exit_code = 2


class EngineError(OpsledgerError):
    """An SLI engine (DuckDB, Prometheus, Spark) could not answer."""

    exit_code = 3
