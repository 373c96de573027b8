"""The team scorecard's figures, statuses and order, from hand-made KPIs; and its pages."""

from __future__ import annotations

from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from opsledger.model.status import Skipped, Status
from opsledger.render.scorecard import (
    ScorecardPage,
    ScoreCell,
    TeamLine,
    render_scorecard_html,
    render_scorecard_markdown,
)
from opsledger.review.kpis import (
    Better,
    CostFigures,
    Kpi,
    KpiGap,
    KpiResult,
    KpiSet,
    SkippedKpi,
    Target,
    cost_kpis,
    kpi_gaps,
    kpi_set,
)
from opsledger.review.scorecard import (
    Figure,
    TeamCard,
    budget_figure,
    incident_figure,
    scorecard,
    slo_figure,
    spend_figure,
    team_figures,
)

NOW = datetime(2026, 11, 1, tzinfo=UTC)
TARGETS = {"slos_met_share": Target(1.0, "SLO objectives"),
           "error_budget_remaining_min": Target(0.0, "error budget policy"),
           "vulnerabilities_overdue": Target(0.0, "vulnerability SLA"),
           "action_items_overdue": Target(0.0, "action-item SLA"),
           "cost_vs_target": Target(1.0, "cost targets")}


# KPIs where more is better; the others are better lower (as in opsledger.review.kpis).
HIGHER = {"slos_met", "slos_evaluated", "slos_met_share", "error_budget_remaining_min"}


def kpi(name: str, value: float, unit: str = "count") -> Kpi:
    return Kpi(name, name, value, unit, Better.HIGHER if name in HIGHER else Better.LOWER,
               "test")


def kpis(*results: KpiResult) -> tuple[KpiSet, dict[str, KpiGap]]:
    found = kpi_set(NOW, [results])
    return found, {g.name: g for g in kpi_gaps(found, TARGETS)}


def test_slos_met_of_those_evaluated_and_the_defined_ones_not_evaluated() -> None:
    found, gaps = kpis(kpi("slos_met", 3), kpi("slos_evaluated", 4),
                       kpi("slos_met_share", 0.75, "ratio"))
    figure = slo_figure(found, gaps, 6)
    assert figure.text == "3 of 4 met; 2 of 6 not evaluated"
    assert figure.values == {"met": 3, "evaluated": 4, "defined": 6}
    assert figure.status is Status.FAIL  # 75% misses the 100% objective target
    found, gaps = kpis(kpi("slos_met", 4), kpi("slos_evaluated", 4),
                       kpi("slos_met_share", 1.0, "ratio"))
    assert slo_figure(found, gaps, 4).status is Status.PASS
    assert slo_figure(found, gaps, 4).text == "4 of 4 met"


def test_a_figure_that_cannot_be_computed_says_why_and_is_no_zero() -> None:
    reason = "none of the 2 SLO(s) could be evaluated"
    found, gaps = kpis(*(SkippedKpi(n, n, "count", Better.HIGHER, "SLOs", reason)
                         for n in ("slos_met", "slos_evaluated", "slos_met_share",
                                   "error_budget_remaining_min", "error_budgets_exhausted")))
    for figure in (slo_figure(found, gaps, 2), budget_figure(found, gaps)):
        assert figure.status is Status.SKIPPED
        assert figure.reason == reason and figure.text == f"not computed: {reason}"
        assert figure.values == {}
    figures = team_figures(found, gaps, 2, Skipped("no incident records"),
                           Skipped("no cost exports"))
    assert [f.status for f in figures[2:]] == [Status.SKIPPED] * 4
    assert figures[2].reason == "no KPI incidents_per_month"
    assert figures[5].reason == "no KPI cost_vs_target"


def test_an_exhausted_budget_fails_even_at_exactly_zero() -> None:
    found, gaps = kpis(kpi("error_budget_remaining_min", 0.0, "ratio"),
                       kpi("error_budgets_exhausted", 1))
    assert gaps["error_budget_remaining_min"].met is True  # the KPI target alone is met
    figure = budget_figure(found, gaps)
    assert figure.status is Status.FAIL
    assert figure.text == "lowest 0.00%; 1 exhausted"
    found, gaps = kpis(kpi("error_budget_remaining_min", 0.4, "ratio"),
                       kpi("error_budgets_exhausted", 0))
    assert budget_figure(found, gaps).status is Status.PASS


def test_a_major_incident_warns_and_a_missed_target_fails() -> None:
    found, gaps = kpis(kpi("incidents_per_month", 3))
    assert incident_figure(found, gaps, 0).status is Status.PASS
    figure = incident_figure(found, gaps, 1)
    assert (figure.status, figure.text) == (Status.WARN, "3 (1 major)")
    targeted = {g.name: g for g in kpi_gaps(found, {"incidents_per_month": Target(2, "g")})}
    assert incident_figure(found, targeted, 1).status is Status.FAIL
    unknown = incident_figure(found, gaps, Skipped("incident review failed"))
    assert unknown.values == {"count": 3, "major": None}
    assert "major not counted: incident review failed" in unknown.text


def test_spend_is_the_targeted_services_against_the_sum_of_their_targets() -> None:
    figures = CostFigures("2026-11", "EUR", 900.0,
                          [("checkout", 400.0, 460.0), ("payments-api", 600.0, 300.0)],
                          days=10, days_in_month=30, forecast=2700.0)
    found, gaps = kpis(*cost_kpis(figures))
    figure = spend_figure(found, gaps, figures)
    assert figure.values["spend"] == 760.0 and figure.values["target"] == 1000.0
    assert figure.values["ratio"] == pytest.approx(0.76)
    assert figure.values["services_over_target"] == 1 and figure.values["forecast"] is True
    assert figure.text == ("760 of 1,000 EUR (76.00%), forecast for the whole month "
                           "(10 of 30 days so far); 1 service(s) over their own target")
    assert figure.status is Status.WARN  # under in total, one service over its own
    over = CostFigures("2026-11", "EUR", 1200.0, [("checkout", 1000.0, 1200.0)])
    found, gaps = kpis(*cost_kpis(over))
    assert spend_figure(found, gaps, over).status is Status.FAIL


def card(team: str, *statuses: Status) -> TeamCard:
    return TeamCard(team, (f"{team}-api",),
                    tuple(Figure("slos", s, s.value) for s in statuses), f"r/{team}")


def test_teams_most_in_need_of_attention_come_first() -> None:
    cards = [card("alpha", Status.PASS, Status.WARN),
             card("bravo", Status.FAIL, Status.PASS),
             card("charlie", Status.FAIL, Status.WARN),
             card("delta", Status.SKIPPED, Status.SKIPPED),
             card("echo", Status.PASS, Status.SKIPPED)]
    ordered = scorecard("Org", "2026-10", NOW, cards)
    assert [c.team for c in ordered.cards] == ["charlie", "bravo", "alpha", "delta", "echo"]
    assert [c.status for c in ordered.cards] == [
        Status.FAIL, Status.FAIL, Status.WARN, Status.SKIPPED, Status.PASS]


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.text: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_the_pages_escape_what_they_show() -> None:
    hostile = "<script>alert(1)</script>|x"
    page = ScorecardPage(
        "Team scorecard", "sub", ("SLOs met",),
        (TeamLine(hostile, "team-x", Status.FAIL, ("a|b",),
                  (ScoreCell("1 of 2 met", Status.FAIL),), "x/index.html", "x/r.md"),))
    html = render_scorecard_html(page)
    parser = _Text()
    parser.feed(html)
    assert parser.scripts == 0 and hostile in "".join(parser.text)
    assert "✗ fail" in html and 'class="figure fail"' in html
    markdown = render_scorecard_markdown(page)
    row = next(line for line in markdown.splitlines() if "alert" in line)
    assert "<script>" not in row and "\\|x" in row and "a\\|b" in row
    assert row.count(" | ") == 3  # team | status | one figure | review: no stray column


def test_a_workspace_without_teams_gets_a_scorecard_that_says_so() -> None:
    page = ScorecardPage("Team scorecard", "sub", ("SLOs met",), ())
    for text in (render_scorecard_html(page), render_scorecard_markdown(page)):
        assert "No team owns a service" in text
    assert "| Team |" not in render_scorecard_markdown(page)
