"""The report's SLO, health and alerting sections lead with what is off target.

What is on target is one line in the body and a table under the section's details; charts
carry the scale or axis range that shows the differences.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.model.incidents import AlertEvent
from opsledger.model.slo import HealthSource, PrometheusSource, PromQuery, SliSeries, Slo, SloWindow
from opsledger.render.sections import Status
from opsledger.slo.backtest import IncidentWindow, backtest_series
from opsledger.slo.health import availability_domain
from opsledger.slo.noise import noise_report
from opsledger.slo.objectives import SloStatus, evaluate, evaluation_span
from opsledger.slo.section import build_alerting_section, build_section, health_section
from opsledger.slo.service import NEEDS_PROMETHEUS, SloEvaluation, SloReport

NOW = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
MIN = timedelta(minutes=1)


def slo(service: str) -> Slo:
    return Slo(service, "availability", 0.99, SloWindow(1), HealthSource(service))


def steady(item: Slo) -> SliSeries:
    start, end = evaluation_span(item, NOW)
    total = np.full(int((end - start) / MIN), 100.0)
    return SliSeries(start, total.copy(), total)


def evaluated(item: Slo, series: SliSeries) -> SloEvaluation:
    return SloEvaluation(evaluate(item, series, NOW), series)


@pytest.fixture
def report() -> SloReport:
    fine = evaluated(slo("alpha"), steady(slo("alpha")))
    broken_series = steady(slo("bravo"))
    broken_series.good[-240:] = 90.0  # four hours at 10% errors: 2,400 bad of 1,440 allowed
    broken = evaluated(slo("bravo"), broken_series)
    stale_series = steady(slo("charlie"))
    stale_series.total[-(17 * 60 - 1):] = 0.0  # newest minute 17 h before NOW
    stale_series.good[-(17 * 60 - 1):] = 0.0
    stale = evaluated(slo("charlie"), stale_series)
    promql = Slo("delta", "availability", 0.999, SloWindow(30),
                 PrometheusSource(good=PromQuery("ok_total"), total=PromQuery("all_total")))
    waiting = SloStatus(promql, NOW, NOW - timedelta(30), valid=False,
                        reasons=(NEEDS_PROMETHEUS,), needs_prometheus=True)
    return SloReport([fine, broken, stale, SloEvaluation(waiting, None)])


def context(root: Path) -> Context:
    return Context.open(open_workspace(root), NOW)


def test_slo_section_leads_with_what_is_off_target(tmp_path: Path, report: SloReport) -> None:
    section = build_section(context(tmp_path), report)
    assert section.status is Status.FAIL  # bravo's budget is spent
    first = section.body.splitlines()[0]
    assert first == ("1 SLO(s) off target, 0 at risk, 2 of 3 computed on target; "
                     "1 error budget(s) exhausted.")
    assert section.headline == first.rstrip(".")
    assert "| bravo | availability | off-target |" in section.body
    # On-target SLOs are one line in the body and rows under details.
    assert "**2 of 3 computed SLOs are on target.**" in section.body
    assert "| alpha |" not in section.body and "| charlie |" not in section.body
    assert "| alpha | availability | on-target |" in section.details
    charlie = next(line for line in section.details.splitlines() if "| charlie |" in line)
    assert "| 17 h ago |" in charlie and "| n/a | n/a |" in charlie
    # Why charlie's 1h and 6h burn rates are missing.
    assert ("- burn 1h, 6h n/a: no events in the last 6h; newest event 17 h old "
            "(1 SLO(s): charlie/availability)") in section.body
    # The PromQL SLO is one line, not an item that failed.
    assert "Not computed" not in section.body
    assert "1 SLO(s) written in PromQL were not computed here" in section.body
    assert section.data["needs_prometheus"] == ["delta/availability"]


def test_slo_section_charts_only_what_needs_attention(tmp_path: Path, report: SloReport) -> None:
    section = build_section(context(tmp_path), report)
    heatmap, *burndowns = section.charts
    assert [c.key for c in burndowns] == ["slo-burndown-bravo-availability"]
    assert section.data["burndowns_omitted"] == 2
    assert "Budget burn-down charts: 1 SLO(s) off target or at risk; 2 omitted." in section.body
    # 10% errors against a 1% budget: bravo burns at 10 over its last four hours, the most.
    scale = heatmap.data["scale"]
    assert scale == {"type": "diverging", "min": 0.0, "center": 1.0, "max": 10.0,
                     "observed_max": 10.0}
    assert "vmax" not in heatmap.data


def test_heat_scale_reaches_above_one_when_everything_is_under_budget(tmp_path: Path) -> None:
    fine = evaluated(slo("alpha"), steady(slo("alpha")))
    section = build_section(context(tmp_path), SloReport([fine]))
    assert section.status is Status.PASS
    assert section.charts[0].data["scale"]["max"] == 2.0
    assert section.charts[0].data["scale"]["observed_max"] == 0.0
    assert section.data["burndowns_omitted"] == 1 and len(section.charts) == 1


def test_a_promql_slo_without_a_server_does_not_make_the_section_warn(
    tmp_path: Path, report: SloReport
) -> None:
    section = build_section(context(tmp_path), SloReport([report.evaluations[0],
                                                          report.evaluations[3]]))
    assert section.status is Status.PASS
    assert "not computed" not in section.headline


def write_probes(root: Path) -> None:
    rows = ["time,service,check,ok,latency_ms"]
    start = NOW - timedelta(days=2)
    for service, failures in (("api", 1), ("web", 0), ("db", 0)):
        for i in range(100):
            ok = "false" if i < failures else "true"
            rows.append(f"{(start + i * 10 * MIN).isoformat()},{service},http,{ok},50")
    folder = root / "reports" / "health"
    folder.mkdir(parents=True)
    (folder / "probes.csv").write_text("\n".join(rows) + "\n")


def test_health_section_collapses_services_that_met_their_objective(tmp_path: Path) -> None:
    write_probes(tmp_path)
    section = health_section(context(tmp_path))
    assert section.status is Status.WARN
    assert section.headline == "1 of 3 services below their objective"
    assert "**Below their objective**" in section.body
    assert "| api | 99.000% | 99.90% | 100 |" in section.body
    assert "**2 of 3 services met their objective.**" in section.body
    assert "| web |" not in section.body and "| web |" in section.details
    (chart,) = section.charts
    # Lowest value 99.0 %, 1.0 below 100: a tenth of that (0.1) below it.
    assert chart.data["x_domain"] == [98.9, 100.0]
    assert chart.data["values"] == [99.0, 100.0, 100.0]


def test_availability_domain_by_hand() -> None:
    # Lowest 0.98, 0.02 below the top: a tenth of that below it.
    assert availability_domain([0.98, 0.999], [0.99]) == (pytest.approx(0.978), 1.0)
    # 99.76 % and 99.95 % against 99.5 %: a tenth of 0.005 is under a thousandth of the top,
    # so the thousandth applies.
    assert availability_domain([0.9976, 0.9995], [0.995]) == (pytest.approx(0.994), 1.0)
    # All at the top: a thousandth of it below, so the bars still show.
    assert availability_domain([100.0], [100.0], top=100.0) == (pytest.approx(99.9), 100.0)


def alert(name: str, service: str, day: int, acted: bool) -> AlertEvent:
    created = datetime(2026, 11, day, 11, 0, tzinfo=UTC)
    return AlertEvent(
        f"{name}-{service}-{day}", name, service, created,
        created + timedelta(minutes=2) if acted else None,
        created + timedelta(minutes=20), not acted, None, "warning", "test",
    )


def test_alerting_section_lists_changes_and_collapses_the_rest(tmp_path: Path) -> None:
    events = [alert("DiskFull", "search", d, acted=False) for d in range(2, 8)]
    events += [alert("QueueStuck", "orders", d, acted=True) for d in range(2, 8)]
    noise = noise_report(events)
    total = np.full(7 * 1440, 500.0)
    quiet = backtest_series("shop/availability", 0.999, 30, NOW - timedelta(7), total.copy(),
                            total)
    good = total.copy()
    good[3000:3020] = 0
    start = NOW - timedelta(7)
    incident = IncidentWindow("INC-1", start + 3000 * MIN, start + 3020 * MIN)
    noisy = backtest_series("shop/latency", 0.999, 30, start, good, total, [incident])
    section = build_alerting_section(context(tmp_path), [quiet, noisy], noise)
    body, details = section.body, section.details
    assert "| shop/latency | workbook-page-only |" in body
    assert "| low (1 incident) |" in body
    assert "Not enough incidents to choose a policy for 1 of 2 backtested SLO(s)" in body
    assert "| shop/availability |" not in body and "| shop/availability |" in details
    row = next(line for line in body.splitlines() if line.startswith("| DiskFull |"))
    assert row.startswith("| DiskFull | search | delete-or-demote | high: 0 of 6 firings acted on")
    assert row.count("| 6 |") == 2  # six firings, six of them noise
    assert "**1 of 2 alerts need no change.**" in body
    assert "| QueueStuck |" not in body and "| QueueStuck | orders | keep |" in details
    assert section.headline.endswith("1 of 2 alert(s) to change")
