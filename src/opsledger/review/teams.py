"""The team scorecard of ``review --by-team``: each team's figures from its own review, and
the one-page scorecard that sets every team side by side.

Each team's review runs on a view of the whole run's context (``Context.scoped``): it reads
what the whole run read, filtered to the team's services, and computes its own results.
:func:`team_card` takes the team's figures from those very results (its KPIs, the SLO
evaluation and incident review they were computed from, its cost figures), once its review
is written, so the scorecard and the team's report cannot disagree.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from opsledger.core.errors import OpsledgerError
from opsledger.core.fileio import atomic_write_text, dumps_json, remove_stale_temp_files
from opsledger.core.incident_policy import policy_of
from opsledger.core.inputs import Context
from opsledger.core.workspace import Workspace
from opsledger.model.status import Skipped
from opsledger.render.scorecard import (
    ScorecardPage,
    ScoreCell,
    TeamLine,
    render_scorecard_html,
    render_scorecard_markdown,
)
from opsledger.review.history import month_end, month_title
from opsledger.review.kpi_results import (
    cost_figures,
    major_incidents,
    policy_targets,
    slo_statuses,
    workspace_kpis,
)
from opsledger.review.kpis import kpi_gaps
from opsledger.review.outputs import (
    DASHBOARD_NAME,
    REPORT_NAME,
    SCORECARD_JSON,
    SCORECARD_NAME,
    TEAMS_DIR,
    is_newest,
    month_folder,
)
from opsledger.review.scorecard import (
    FIGURES,
    ORDER_NOTE,
    Scorecard,
    TeamCard,
    scorecard,
    team_figures,
)
from opsledger.version import __version__

# scorecard.json: adding fields keeps the version; removing, renaming or retyping raises it.
SCORECARD_SCHEMA = 1
T = TypeVar("T")


def _guarded(compute: Callable[[], T | Skipped]) -> T | Skipped:
    """Return ``compute()``, or the failure as the reason it is not given (the KPIs of the
    same analysis say the same)."""
    try:
        return compute()
    except OpsledgerError as exc:
        return Skipped(f"analysis failed: {exc}")


def _shown(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def team_card(ctx: Context, review: Path) -> TeamCard:
    """Return the scorecard row of the team ``ctx`` is scoped to, from the results its review
    (written to the folder ``review``) computed."""
    scope = ctx.scope
    if scope.team is None or scope.services is None:
        raise ValueError(f"a team's scorecard row needs a team's view, not {scope.label}")
    kpis = workspace_kpis(ctx)
    gaps = {gap.name: gap for gap in kpi_gaps(kpis, policy_targets(ctx))}
    figures = team_figures(
        kpis, gaps,
        _guarded(lambda: len(slo_statuses(ctx))),
        _guarded(lambda: major_incidents(ctx)),
        _guarded(lambda: cost_figures(ctx)),
    )
    return TeamCard(scope.team, tuple(sorted(scope.services)), figures,
                    _shown(review, ctx.workspace.root))


def _anchor(team: str) -> str:
    return "team-" + (re.sub(r"[^A-Za-z0-9_-]+", "-", team).strip("-") or "unnamed")


def _link(root: Path, card: TeamCard, name: str, page_folder: Path) -> str:
    return Path(os.path.relpath(root / card.review / name, page_folder)).as_posix()


def _notes(card: Scorecard) -> tuple[str, ...]:
    majors = ", ".join(card.major_severities) or "none"
    notes = [
        ORDER_NOTE,
        "Each figure is taken from the team's own review of the month (linked on its row) and "
        "judged as its KPI section judges it: ✗ fail where the KPI misses its target, "
        "! warn for a major incident or a service over its own cost target, – not computed "
        "with the reason.",
        "SLOs met: “SLOs met” of “SLOs evaluated” in the team's KPIs; SLOs of its services that "
        "could not be evaluated are listed in its SLO section.",
        "Error budget left: “Smallest error budget remaining” among the team's SLOs (100% "
        "untouched, below 0% overspent) and “SLOs with the error budget exhausted”.",
        "Incidents: “Incidents (30 days)”, created in the 30 days to the evaluation instant, and "
        f"how many of them are major (severities {majors}: the “Major” row of the incident "
        "section).",
        "Overdue postmortem action items: “Postmortem action items overdue” of those open.",
        "Vulnerabilities past SLA: “Vulnerabilities past their SLA”, with the critical ones "
        "open.",
        "Spend against target: the month's spend of the team's services that have a cost "
        "target (the forecast while the month is partial) against the sum of their targets: "
        "“Spend against cost targets”; the cost section lists each service.",
    ]
    if card.without_team:
        notes.append(f"{len(card.without_team)} service(s) belong to no team and are in the "
                     f"whole workspace's review only: {', '.join(card.without_team)}.")
    return tuple(notes)


def scorecard_page(card: Scorecard, root: Path, folder: Path, clock: datetime) -> ScorecardPage:
    """Return the scorecard as a page written in ``folder`` (its links lead from there)."""
    title = month_title(card.month)
    lines = tuple(
        TeamLine(
            team.team, _anchor(team.team), team.status, team.services,
            tuple(ScoreCell(f.text, f.status) for f in team.figures),
            _link(root, team, DASHBOARD_NAME, folder), _link(root, team, REPORT_NAME, folder),
        )
        for team in card.cards
    )
    return ScorecardPage(
        f"Team scorecard — {card.organisation}, {title}",
        f"{title}, evaluated as of {card.evaluated_at.isoformat()} · generated "
        f"{clock.isoformat()} by opsledger {__version__}",
        tuple(title for _, title in FIGURES), lines, _notes(card),
    )


def scorecard_document(card: Scorecard, clock: datetime,
                       digests: dict[str, str]) -> dict[str, Any]:
    """Return scorecard.json: every team's figures with the values they are made of."""
    return {"schema_version": SCORECARD_SCHEMA, "generated_at": clock.isoformat(),
            "opsledger_version": __version__, "inputs": digests, **card.to_json()}


def build_scorecard(ctx: Context, month: str, cards: Iterable[TeamCard],
                    teams: dict[str, frozenset[str]], known: Iterable[str]) -> Scorecard:
    """Return the scorecard of ``month`` from the team rows (``ctx``: the whole run's)."""
    owned = {service for services in teams.values() for service in services}
    return scorecard(ctx.workspace.config.organisation, month, month_end(month), list(cards),
                     sorted(set(known) - owned),
                     tuple(policy_of(ctx.workspace.config).major_severities))


def write_scorecard(workspace: Workspace, card: Scorecard, clock: datetime,
                    digests: dict[str, str]) -> tuple[Path, ...]:
    """Write the scorecard under ``reports/ops/teams/<YYYY-MM>/`` and, when the month is the
    newest with a scorecard, at ``reports/ops/teams/``; return the files written."""
    teams_dir = workspace.reports_dir / TEAMS_DIR
    folders = [month_folder(teams_dir, card.month)]
    if is_newest(teams_dir, card.month, SCORECARD_JSON):
        folders.append(teams_dir)
    document = dumps_json(scorecard_document(card, clock, digests))
    written: list[Path] = []
    for folder in folders:
        remove_stale_temp_files(folder)
        page = scorecard_page(card, workspace.root, folder, clock)
        for name, text in ((SCORECARD_NAME, render_scorecard_markdown(page)),
                           (DASHBOARD_NAME, render_scorecard_html(page)),
                           (SCORECARD_JSON, document)):
            atomic_write_text(folder / name, text)
            written.append(folder / name)
    return tuple(written)

