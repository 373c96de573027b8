"""Shared fixtures: a small demo workspace generated once per session."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsledger.demo.generate import generate_demo
from opsledger.demo.world import Size

DEMO_NOW = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo workspace; treat it as read-only (copy it to change it)."""
    root = tmp_path_factory.mktemp("demo") / "ws"
    generate_demo(root, Size.SMALL, seed=7, now=DEMO_NOW)
    return root
