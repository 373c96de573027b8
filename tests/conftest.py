"""Shared fixtures: a small demo workspace generated once per session, and its copies."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsledger.cli.main import app
from opsledger.demo.generate import generate_demo
from opsledger.demo.world import Size

DEMO_NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo workspace; treat it as read-only (copy it to change it)."""
    root = tmp_path_factory.mktemp("demo") / "ws"
    generate_demo(root, Size.SMALL, seed=7, now=DEMO_NOW)
    return root


@pytest.fixture
def ws(small_demo: Path, tmp_path: Path) -> Path:
    """A copy of the small demo workspace that the test may change."""
    root = tmp_path / "ws"
    shutil.copytree(small_demo, root)
    return root


def cli(*args: str) -> tuple[int, str]:
    """Run the command line in-process; return its exit code and everything it printed."""
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout + result.stderr
