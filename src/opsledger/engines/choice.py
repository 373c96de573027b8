"""Which engine counts event-file SLIs: DuckDB on this machine, or Spark.

Chosen with ``engine:`` in ``opsledger.yaml`` or ``--engine`` on the command line; either
engine runs the same SLO definitions and gives the same counts.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from opsledger.core.config import QUERY_DEADLINE_SECONDS, EngineChoice

if TYPE_CHECKING:
    from opsledger.core.workspace import Workspace
    from opsledger.engines.interface import EventEngine


def event_engine(
    choice: EngineChoice, root: Path, deadline_seconds: float = QUERY_DEADLINE_SECONDS
) -> EventEngine:
    """Return the engine ``choice`` names, over event files under ``root``; nothing starts yet.

    ``deadline_seconds`` bounds each statement the DuckDB engine runs.
    """
    if choice is EngineChoice.SPARK:
        from opsledger.engines.spark_engine import SparkEngine

        return SparkEngine(root)
    from opsledger.engines.duckdb_engine import DuckDbEngine

    return DuckDbEngine(root, deadline_seconds=deadline_seconds)


def configured_engine(workspace: Workspace) -> EngineChoice:
    """Return the engine the workspace's configuration names (DuckDB when it names none)."""
    return workspace.config.engine


def with_engine(workspace: Workspace, choice: EngineChoice) -> Workspace:
    """Return the workspace with its configured engine replaced by ``choice`` (``--engine``)."""
    return replace(workspace, config=workspace.config.model_copy(update={"engine": choice}))
