"""``opsledger slo dashboards``: the Grafana dashboards written into the workspace."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from opsledger.core.fileio import atomic_write_json
from opsledger.core.inputs import Context, fail_if_strict
from opsledger.core.lock import writing
from opsledger.core.problems import Problem, ReadResult
from opsledger.model.slo import Slo
from opsledger.slo.grafana import (
    DASHBOARDS_FOLDER,
    OVERVIEW_FILE,
    DashboardFiles,
    overview_dashboard,
    slo_dashboard,
    slo_file_name,
    workspace_series,
)
from opsledger.slo.grafana_panels import dashboard_json


def write_dashboards(
    ctx: Context,
    definitions: ReadResult[Slo],
    out: Path | None = None,
    strict: bool = False,
    warn: Callable[[Problem], None] = lambda problem: None,
) -> DashboardFiles:
    """Write a dashboard per SLO with a Prometheus SLI and the overview into ``out`` (by
    default ``grafana/`` under the p09 evidence folder); return what was written.

    With ``strict``, any problem in the SLO definitions fails first. Nothing is written when
    no SLO has a Prometheus SLI.
    """
    series, skipped, problems = workspace_series(ctx, definitions)
    fail_if_strict(strict, [*problems, *ctx.inputs.problems()])
    for problem in problems:
        warn(problem)
    folder = out or ctx.workspace.p09_evidence / DASHBOARDS_FOLDER
    written: list[Path] = []
    if series:
        documents = {folder / OVERVIEW_FILE: dashboard_json(overview_dashboard(series))}
        for item in series:
            documents[folder / slo_file_name(item)] = dashboard_json(slo_dashboard(item))
        with writing(ctx.workspace, "slo dashboards"):
            for path, document in documents.items():
                atomic_write_json(path, document)
                written.append(path)
    return DashboardFiles(folder, tuple(written), tuple(skipped), tuple(problems))
