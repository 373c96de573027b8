"""Fixtures for the SLO tests: generated request events and the span they cover."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from .slo_events import MINUTES, START, Events, generate


@pytest.fixture(scope="module")
def events() -> Events:
    return generate()


@pytest.fixture
def span() -> tuple[datetime, datetime]:
    return START, START + timedelta(minutes=MINUTES)
