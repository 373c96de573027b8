"""Fixtures: a workspace with the demo experiments."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsledger.demo.config import write_config
from opsledger.demo.experiments import write_experiments
from opsledger.demo.world import Size, build_world

from .builders import NOW


@pytest.fixture(scope="session")
def experiments_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace with a config and the demo experiments; treat it as read-only."""
    root = tmp_path_factory.mktemp("experiments") / "ws"
    world = build_world(Size.SMALL, 7, NOW)
    root.mkdir()
    write_config(world, root)
    write_experiments(world, root)
    return root
