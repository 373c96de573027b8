"""Where a review's report, dashboard, ``review.json`` and charts go.

Every month reviewed keeps its own copy under ``reports/ops/<YYYY-MM>/``; the usual place
(``reports/ops/``) holds the newest month reviewed, and is left alone by the review of an
older month. A team's view goes the same way under ``reports/ops/teams/<team>/`` (a
service's under ``reports/ops/services/<service>/``), and the scorecard of every team under
``reports/ops/teams/``, so that no view ever writes over the whole workspace's report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from opsledger.core.fileio import atomic_write_text, confined_output, remove_stale_temp_files
from opsledger.core.scope import Scope
from opsledger.render.sections import Chart

REPORT_NAME = "MONTHLY_OPS_REPORT.md"
SUMMARY_NAME = "review.json"
DASHBOARD_NAME = "index.html"
CHARTS_DIR = "charts"
TEAMS_DIR = "teams"
SERVICES_DIR = "services"
SCORECARD_NAME = "SCORECARD.md"
SCORECARD_JSON = "scorecard.json"
_MONTH_FOLDER = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def chart_file(chart: Chart) -> str:
    """Return the chart's file name under the charts folder."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", chart.key).strip("-") + ".svg"


def month_folder(reports_dir: Path, month: str) -> Path:
    return reports_dir / month


def scope_folder(reports_dir: Path, scope: Scope) -> Path:
    """Return the usual place of a view's review: ``reports_dir`` itself for the whole
    workspace, else the team's or the service's folder under it."""
    if scope.whole:
        return reports_dir
    kind = SERVICES_DIR if scope.service else TEAMS_DIR
    return reports_dir / kind / scope.slug


def folder_clashes(scope: Scope, names: Iterable[str], by_team: bool = False) -> str | None:
    """Return why the view of ``scope`` cannot have a folder of its own, else None: another
    team (service) whose name gives the same folder, or, with ``by_team``, a team named like
    a month (the scorecard of each month is kept in ``teams/<YYYY-MM>/``)."""
    own = scope.service or scope.team
    if own is None:
        return None
    kind = "service" if scope.service else "team"
    others = sorted(n for n in set(names) - {own} if Scope(team=n).slug == scope.slug)
    if others:
        return (f"{kind}s {own!r} and {', '.join(repr(n) for n in others)} would be written to "
                f"the same folder ({scope.slug}): rename one of them")
    if by_team and _MONTH_FOLDER.match(scope.slug):
        return (f"team {own!r} is named like a month: its folder would be taken for the "
                "scorecard of that month; rename it")
    return None


def reviewed_months(reports_dir: Path, summary_name: str = SUMMARY_NAME) -> list[str]:
    """Return the months that have a review (a ``summary_name`` document) kept under
    ``reports_dir``, oldest first.

    A ``review.json`` at the usual place written before months were kept in folders counts
    too, by the month it names.
    """
    months: set[str] = set()
    if reports_dir.is_dir():
        months.update(child.name for child in reports_dir.iterdir()
                      if child.is_dir() and _MONTH_FOLDER.match(child.name)
                      and (child / summary_name).is_file())
    try:
        latest = json.loads((reports_dir / summary_name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        latest = None
    if isinstance(latest, dict) and isinstance(latest.get("month"), str) \
            and _MONTH_FOLDER.match(latest["month"]):
        months.add(latest["month"])
    return sorted(months)


def is_newest(reports_dir: Path, month: str, summary_name: str = SUMMARY_NAME) -> bool:
    """Return whether ``month`` is at least as recent as every month reviewed before."""
    return all(month >= other for other in reviewed_months(reports_dir, summary_name))


@dataclass(frozen=True)
class WrittenReview:
    report: Path
    dashboard: Path
    summary: Path
    charts: tuple[Path, ...]


def write_review(folder: Path, report: str, dashboard: str, summary: str,
                 svgs: Mapping[str, str], charts: list[Chart]) -> WrittenReview:
    """Write one copy of a review into ``folder`` (atomically, file by file).

    Charts of earlier runs that this review no longer draws are removed, so the folder
    holds what the report links to and nothing else.
    """
    chart_dir = folder / CHARTS_DIR
    for place in (folder, chart_dir):
        remove_stale_temp_files(place)
    paths = []
    for chart in charts:
        path = chart_dir / chart_file(chart)
        atomic_write_text(path, svgs[chart.key])
        paths.append(path)
    if chart_dir.is_dir() and not chart_dir.is_symlink():
        confined_output(chart_dir)  # never delete through a link that leads elsewhere
        drawn = {p.name for p in paths}
        for old in chart_dir.glob("*.svg"):
            if old.name not in drawn and old.is_file() and not old.is_symlink():
                old.unlink()
    written = WrittenReview(folder / REPORT_NAME, folder / DASHBOARD_NAME,
                            folder / SUMMARY_NAME, tuple(paths))
    atomic_write_text(written.report, report)
    atomic_write_text(written.dashboard, dashboard)
    atomic_write_text(written.summary, summary)
    return written
