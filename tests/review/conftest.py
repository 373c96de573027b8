"""Fixtures: a writable copy of the small demo workspace, with the demo experiments."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.demo.experiments import write_experiments
from opsledger.demo.world import Size, build_world

from ..conftest import DEMO_NOW


@pytest.fixture(scope="module")
def demo_ctx(small_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> Context:
    """A run context on a copy of the small demo (analyses shared by every test of a module)."""
    root = tmp_path_factory.mktemp("roadmap") / "ws"
    shutil.copytree(small_demo, root)
    if not (root / "experiments").exists():
        write_experiments(build_world(Size.SMALL, 7, DEMO_NOW), root)
    return Context.open(open_workspace(root), DEMO_NOW)
