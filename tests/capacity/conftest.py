"""A workspace with the demo's configuration, cost exports and utilisation series."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsledger.demo.config import write_config
from opsledger.demo.costs import write_costs, write_utilisation
from opsledger.demo.world import Size, World, build_world

# Mid-month, so the month-end forecast has days left to forecast.
COST_NOW = datetime(2026, 11, 17, tzinfo=UTC)


@pytest.fixture(scope="session")
def cost_world() -> World:
    return build_world(Size.SMALL, 7, COST_NOW)


@pytest.fixture(scope="session")
def cost_workspace(tmp_path_factory: pytest.TempPathFactory, cost_world: World) -> Path:
    """Read-only: copy it to change it."""
    root = tmp_path_factory.mktemp("cost") / "ws"
    root.mkdir()
    write_config(cost_world, root)
    write_costs(cost_world, root)
    write_utilisation(cost_world, root)
    return root
