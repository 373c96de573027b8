"""Service health over the probe history is computed once a run, whoever reads it."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.quality.service import collect_metrics
from opsledger.review.kpi_results import workspace_kpis
from opsledger.slo import service
from opsledger.slo.health_section import health_section
from tests.conftest import DEMO_NOW


def test_the_section_the_kpis_and_the_gates_share_one_health_computation(
    small_demo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []
    original = service.service_health

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(args[1:3])
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "service_health", counted)
    ctx = Context.open(open_workspace(small_demo), DEMO_NOW)
    section = health_section(ctx)
    workspace_kpis(ctx)
    collect_metrics(ctx)
    assert section.data and len(calls) == 1
    start, end = calls[0]
    assert end == DEMO_NOW and (end - start).days == 30  # type: ignore[operator]
