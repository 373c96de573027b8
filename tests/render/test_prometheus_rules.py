from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from opsledger.model.slo import (
    DuckDbSource,
    PrometheusSource,
    PromQuery,
    PromQueryKind,
    Slo,
    SloWindow,
)
from opsledger.slo.alerting import AlertSeverity, slo_generator_policy, workbook_policy
from opsledger.slo.prometheus_rules import (
    RuleTarget,
    SkippedRules,
    alert_name,
    error_ratio_query,
    rules_yaml,
    target_for,
)
from opsledger.slo.promtool_tests import promtool_test_files

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
needs_promtool = pytest.mark.skipif(not Path(PROMTOOL).exists(), reason="promtool not installed")

SLOTH_RECORDS = {
    "slo:sli_error:ratio_rate5m",
    "slo:sli_error:ratio_rate30m",
    "slo:sli_error:ratio_rate1h",
    "slo:sli_error:ratio_rate2h",
    "slo:sli_error:ratio_rate6h",
    "slo:sli_error:ratio_rate1d",
    "slo:sli_error:ratio_rate3d",
    "slo:objective:ratio",
    "slo:error_budget:ratio",
    "slo:time_period:days",
    "slo:current_burn_rate:ratio",
    "slo:period_burn_rate:ratio",
    "slo:period_error_budget_remaining:ratio",
    "sloth_slo_info",
}


def template(expr: str) -> PromQuery:
    return PromQuery(expr, PromQueryKind.RATE_TEMPLATE)


def checkout(objective: float = 0.999, days: int = 30, name: str = "requests-availability") -> Slo:
    return Slo(
        "checkout",
        name,
        objective,
        SloWindow(days),
        PrometheusSource(
            bad=template('sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))'),
            total=template('sum(rate(http_requests_total{job="checkout"}[{{.window}}]))'),
        ),
        labels=(("team", "payments"),),
        source_format="sloth",
    )


def rules_of(text: str) -> list[dict]:
    return [rule for group in yaml.safe_load(text)["groups"] for rule in group["rules"]]


def test_recording_names_and_labels_follow_sloth() -> None:
    rules = rules_of(rules_yaml([checkout()]))
    records = {r["record"] for r in rules if "record" in r}
    assert SLOTH_RECORDS | {"slo:sli_error:ratio_rate30d"} == records
    five = next(r for r in rules if r.get("record") == "slo:sli_error:ratio_rate5m")
    assert five["labels"] == {
        "sloth_id": "checkout-requests-availability",
        "sloth_service": "checkout",
        "sloth_slo": "requests-availability",
        "sloth_window": "5m",
        "team": "payments",
    }
    assert "[5m]" in five["expr"] and "{{.window}}" not in five["expr"]
    objective = next(r for r in rules if r.get("record") == "slo:objective:ratio")
    assert objective["expr"] == "vector(0.999)"


def test_alerts_carry_page_and_ticket_severities() -> None:
    rules = rules_of(rules_yaml([checkout()]))
    alerts = {r["alert"]: r for r in rules if "alert" in r}
    assert set(alerts) == {
        "CheckoutRequestsAvailabilitySLOPage",
        "CheckoutRequestsAvailabilitySLOTicket",
    }
    page = alerts["CheckoutRequestsAvailabilitySLOPage"]
    ticket = alerts["CheckoutRequestsAvailabilitySLOTicket"]
    assert page["labels"] == {"severity": "page", "sloth_severity": "page"}
    assert ticket["labels"] == {"severity": "ticket", "sloth_severity": "ticket"}
    assert "(14.4 * 0.001)" in page["expr"] and "(6 * 0.001)" in page["expr"]
    assert "ratio_rate5m" in page["expr"] and "ratio_rate6h" in page["expr"]
    assert "(3 * 0.001)" in ticket["expr"] and "ratio_rate3d" in ticket["expr"]


def test_28_day_slo_gets_rescaled_factors_and_period_window() -> None:
    rules = rules_of(rules_yaml([checkout(days=28)]))
    page = next(r for r in rules if r.get("alert", "").endswith("Page"))
    assert "(13.44 * 0.001)" in page["expr"] and "(5.6 * 0.001)" in page["expr"]
    assert any(r.get("record") == "slo:sli_error:ratio_rate28d" for r in rules)


def test_good_total_and_counter_selectors() -> None:
    slo = Slo(
        "search",
        "ok",
        0.99,
        SloWindow(30),
        PrometheusSource(
            good=PromQuery('http_requests_total{code!~"5.."}'),
            total=PromQuery("http_requests_total"),
        ),
    )
    target = target_for(slo)
    assert isinstance(target, RuleTarget)
    assert target.error_ratio.startswith("(\n  1 - (")  # Sloth's text for good/total
    assert 'sum(rate(http_requests_total{code!~"5.."}[{{.window}}]))' in target.error_ratio


def test_slos_without_windowable_queries_are_listed_as_skipped() -> None:
    duck = Slo("a", "files", 0.99, SloWindow(30), DuckDbSource("telemetry/*.parquet"))
    complex_counter = Slo(
        "b",
        "x",
        0.99,
        SloWindow(30),
        PrometheusSource(bad=PromQuery("sum(errors) by (job)"), total=PromQuery("requests")),
    )
    assert isinstance(target_for(duck), SkippedRules)
    assert isinstance(target_for(complex_counter), SkippedRules)
    text = rules_yaml([duck, complex_counter, checkout()])
    assert "# skipped a/files: its SLI is not a Prometheus query" in text
    assert "# skipped b/x" in text
    twice = rules_yaml([checkout(), checkout(0.99)])
    assert "# skipped checkout-requests-availability: an SLO with the same id" in twice
    assert twice.count("- record: slo:objective:ratio") == 1


def run_promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.prometheus
@needs_promtool
def test_promtool_accepts_generated_rules(tmp_path: Path) -> None:
    steps = slo_generator_policy(slo_window_days=30)
    (tmp_path / "mwmbr.yaml").write_text(rules_yaml([checkout(), checkout(0.995, 28, "strict")]))
    (tmp_path / "steps.yaml").write_text(rules_yaml([checkout()], steps))
    done = run_promtool("check", "rules", "mwmbr.yaml", "steps.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout


@pytest.mark.prometheus
@needs_promtool
@pytest.mark.parametrize(
    ("objective", "days", "times"),
    [
        # 14.4 * 0.001 * 60 = 0.864 outage minutes: due after 1 minute of a total outage
        # that starts after a 6h10m clean history (370m); silent at 370m, firing by 372m
        # allowing one evaluation interval between the recording and alerting groups.
        (0.999, 30, ["370m", "372m"]),
        # 28 days at 99.5%: 13.44 * 0.005 = 0.0672; silent while k / 59 < 0.0672 (k = 3),
        # due once k / 60 > 0.0672 (k = 5), checked one interval later.
        (0.995, 28, ["373m", "376m"]),
    ],
)
def test_promtool_unit_tests_page_on_outage_and_not_on_1x_burn(
    tmp_path: Path, objective: float, days: int, times: list[str]
) -> None:
    target = target_for(checkout(objective, days))
    assert isinstance(target, RuleTarget)
    rules, tests = promtool_test_files(target)
    document = yaml.safe_load(tests)
    outage = document["tests"][0]["alert_rule_test"]
    assert [c["eval_time"] for c in outage] == times
    assert outage[1]["exp_alerts"][0]["exp_labels"]["severity"] == "page"
    (tmp_path / "rules.yaml").write_text(rules)
    (tmp_path / "tests.yaml").write_text(tests)
    done = run_promtool("test", "rules", "tests.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr

    # The same tests fail against rules whose page threshold is too high to ever fire.
    page_factor = "14.4 * 0.001" if days == 30 else "13.44 * 0.005"
    assert page_factor in rules
    (tmp_path / "rules.yaml").write_text(rules.replace(page_factor, "2000 * 0.001"))
    broken = run_promtool("test", "rules", "tests.yaml", cwd=tmp_path)
    assert broken.returncode != 0


def test_error_ratio_needs_good_or_bad() -> None:
    with pytest.raises(ValueError):
        error_ratio_query("total")
    target = RuleTarget("s", "o", 0.99, 30, error_ratio_query("t", bad="b"))
    assert alert_name(target, AlertSeverity.TICKET) == "SOSLOTicket"
    assert workbook_policy(30).severities() == (AlertSeverity.PAGE, AlertSeverity.TICKET)
