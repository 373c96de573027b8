"""Every upstream example file (Sloth, OpenSLO, slo-generator) is read or refused by name.

Also: ``promtool test rules`` files written by ``slo rules --with-tests`` pass in every rule
evaluation order (run 20 times), whatever the objective, and none is written that cannot pass.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from opsledger.core.problems import Level
from opsledger.model.slo import PrometheusSource, PromQuery, PromQueryKind, Slo, SloWindow
from opsledger.readers import slo_definitions
from opsledger.slo.prometheus_rules import RuleTarget, rules_file, target_for
from opsledger.slo.promtool_tests import promtool_test_files

UPSTREAM = Path(__file__).parents[1] / "fixtures" / "upstream"
PROMTOOL = shutil.which("promtool")

# file -> words the message refusing it (or warning about what is not used) must contain.
REFUSED = {
    "sloth/examples/plugin-getting-started.yml": "Sloth SLI plugins are not supported",
    "sloth/examples/plugin-k8s-getting-started.yml": "Sloth SLI plugins are not supported",
    "sloth/examples/windows/7d.yaml": "Sloth AlertWindows",
    "sloth/examples/windows/custom-30d.yaml": "Sloth AlertWindows",
    "openslo/spec/budgeting-method/occurences-slo.yaml": "unsupported metric source type",
    "openslo/spec/budgeting-method/ratio-timeslices.yaml": "unsupported metric source type",
    "openslo/spec/budgeting-method/timeslices-slo.yaml": "an SLO window must be whole days",
    "openslo/spec/treat-low-traffic-as-equally-important/timeslices-slo.yaml": (
        "unsupported metric source type"
    ),
    "openslo/go-sdk/decode/v1_slos.yaml": "no time window",
    "openslo/go-sdk/decode/v2alpha_data_source.yaml": "openslo.com/v2alpha",
    "openslo/go-sdk/decode/v2alpha_slos.yaml": "openslo.com/v2alpha",
    "openslo/go-sdk/v1/alert_conditions.yaml": "OpenSLO AlertCondition is not used",
    "openslo/go-sdk/v1/alert_notification_targets.yaml": "AlertNotificationTarget is not used",
    "openslo/go-sdk/v1/alert_policies.yaml": "OpenSLO AlertPolicy is not used",
    "openslo/go-sdk/v1alpha/slos.yaml": "unsupported metric source",
    "openslo/oslo/validate/invalid-apiversion.yaml": "not an SLO definition in a known format",
    "openslo/oslo/validate/v1alpha.yaml": "Timeslices needs timeSliceTarget",
    # Composite SLOs whose SLI and DataSource are not in the file (read with them in
    # tests/slo/test_composite.py).
    "openslo/oslo/v1/slo/slo-composite-indicatorRef-rolling-no-alerts.yaml": "no SLI with this",
    "openslo/oslo/v1/slo/slo-composite-no-indicatorRef-rolling-no-alerts.yaml": (
        "no DataSource with this name"
    ),
}
# OpenSLO v2alpha objects: refused by version, each with its line.
REFUSED |= {
    name: "openslo.com/v2alpha"
    for name in (
        "openslo/go-sdk/v2alpha/alert_conditions.yaml",
        "openslo/go-sdk/v2alpha/alert_notification_targets.yaml",
        "openslo/go-sdk/v2alpha/alert_policies.yaml",
        "openslo/go-sdk/v2alpha/data_sources.yaml",
        "openslo/go-sdk/v2alpha/services.yaml",
        "openslo/go-sdk/v2alpha/slis.yaml",
        "openslo/go-sdk/v2alpha/slos.yaml",
        "openslo/oslo/validate/mix/3.yaml",
        "openslo/oslo/validate/recursive/nested/2.yaml",
        "openslo/oslo/validate/recursive/nested/nested2/nested3/3.yaml",
        "openslo/oslo/validate/v2alpha.yaml",
    )
}
# Files of objects an SLO may use but that hold no SLO themselves (read without a message).
SUPPORTING = {
    "openslo/go-sdk/v1/data_sources.yaml",
    "openslo/go-sdk/v1/services.yaml",
    "openslo/go-sdk/v1/slis.yaml",
    "openslo/go-sdk/v1alpha/services.yaml",
    "openslo/go-sdk/decode/sequence_of_objects.yaml",
    "openslo/go-sdk/decode/sequence_of_objects.json",
    "openslo/go-sdk/decode/single_object.yaml",
    "openslo/go-sdk/decode/single_object.json",
    "openslo/go-sdk/decode/two_documents.yaml",
    "openslo/oslo/validate/mix/1.yaml",
    "openslo/oslo/validate/mix/2.yaml",
    "openslo/oslo/validate/recursive/1.yaml",
    "openslo/oslo/validate/unknown-field.yaml",
    "slo-generator/samples/config.yaml",
}


SLO_TOOLS = ("sloth", "openslo", "slo-generator")  # other folders hold other tools' files


def upstream_files() -> list[str]:
    return sorted(
        str(p.relative_to(UPSTREAM))
        for tool in SLO_TOOLS
        for p in (UPSTREAM / tool).rglob("*")
        if p.is_file() and p.suffix in (".yaml", ".yml", ".json") and "_gen" not in p.parts
    )


@pytest.mark.parametrize("name", upstream_files())
def test_every_upstream_file_is_read_or_refused_by_name(name: str) -> None:
    result = slo_definitions.read(UPSTREAM / name)
    messages = [p.message for p in result.problems]
    if name in REFUSED:
        assert any(REFUSED[name] in m for m in messages), messages
        assert all(p.location.startswith("line ") for p in result.problems)
    elif name in SUPPORTING:
        assert not result.records and not result.problems, messages
    else:
        errors = [p for p in result.problems if p.level is not Level.WARNING]
        assert result.records and not errors, messages
    _, skipped = rules_file(result.records)
    for item in skipped:
        assert item.reason and item.where.startswith(str(UPSTREAM))


def test_a_yaml_list_of_openslo_objects_is_read_with_references() -> None:
    result = slo_definitions.read(UPSTREAM / "openslo" / "go-sdk" / "v1")
    keys = {slo.key for slo in result.records}
    assert "web/web-availability" in keys
    slo = next(s for s in result.records if s.key == "web/web-availability")
    assert slo.where.endswith("slos.yaml:" + str(slo.source_line)) and slo.source_line > 1


def test_slo_generator_samples_become_ratios_of_sums() -> None:
    folder = UPSTREAM / "slo-generator" / "samples" / "prometheus"
    query = slo_definitions.read(folder / "slo_prom_metrics_availability_query_sli.yaml")
    source = query.records[0].indicator
    assert isinstance(source, PrometheusSource) and source.ratio is None
    assert source.good is not None and source.total is not None
    assert source.good.kind is PromQueryKind.RATE_TEMPLATE
    latency = slo_definitions.read(folder / "slo_prom_metrics_latency_query_sli.yaml")
    lsource = latency.records[0].indicator
    assert isinstance(lsource, PrometheusSource) and lsource.total is not None
    assert "ignoring" not in lsource.total.expr
    cut = slo_definitions.read(folder / "slo_prom_metrics_latency_distribution_cut.yaml")
    csource = cut.records[0].indicator
    assert isinstance(csource, PrometheusSource)
    assert csource.good == PromQuery(
        'http_request_duration_seconds_bucket{handler="/metrics", code=~"2..", le="0.25"}'
    )
    assert csource.total == PromQuery(
        'http_request_duration_seconds_count{handler="/metrics", code=~"2.."}'
    )


def test_raw_slis_get_rules() -> None:
    result = slo_definitions.read(UPSTREAM / "sloth" / "examples" / "raw-home-wifi.yml")
    target = target_for(result.records[0])
    assert isinstance(target, RuleTarget)
    assert target.error_ratio.startswith("(1 - (\n  sum(sum_over_time(")


def sloth_slo(objective: float, days: int) -> Slo:
    return Slo(
        "checkout",
        "availability",
        objective,
        SloWindow(days),
        PrometheusSource(
            bad=PromQuery("sum(rate(e[{{.window}}]))", PromQueryKind.RATE_TEMPLATE),
            total=PromQuery("sum(rate(t[{{.window}}]))", PromQueryKind.RATE_TEMPLATE),
        ),
        labels=(("team", "payments"),),
    )


def assert_tests_pass_in_every_group_order(folder: Path, rules: str, tests: str) -> None:
    """Run ``promtool test rules`` once for each order its rule groups can be evaluated in.

    Without ``group_eval_order`` promtool picks an order at random on each run; the test
    file names each order in turn, so every one is run (3 groups: 6 orders).
    """
    assert PROMTOOL is not None
    (folder / "rules.yaml").write_text(rules)
    groups = [group["name"] for group in yaml.safe_load(rules)["groups"]]
    assert len(groups) > 1
    for order in itertools.permutations(groups):
        listed = "".join(f"- {json.dumps(name)}\n" for name in order)
        (folder / "tests.yaml").write_text(f"{tests.rstrip()}\ngroup_eval_order:\n{listed}")
        done = subprocess.run(
            [PROMTOOL, "test", "rules", "tests.yaml"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"groups in order {order}: {done.stdout}{done.stderr}"


@pytest.mark.prometheus
@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
@pytest.mark.parametrize(
    ("objective", "days"), [(0.999, 30), (0.995, 28), (0.99, 28), (0.93, 30), (0.9, 30)]
)
def test_promtool_tests_pass_in_every_evaluation_order(
    tmp_path: Path, objective: float, days: int
) -> None:
    target = target_for(sloth_slo(objective, days))
    assert isinstance(target, RuleTarget)
    assert_tests_pass_in_every_group_order(tmp_path, *promtool_test_files(target))


@pytest.mark.prometheus
@pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")
def test_sloth_alerts_get_tests_that_pass(tmp_path: Path) -> None:
    result = slo_definitions.read(UPSTREAM / "sloth" / "examples" / "getting-started.yml")
    target = target_for(result.records[0])
    assert isinstance(target, RuleTarget)
    rules, tests = promtool_test_files(target)
    assert "MyServiceHighErrorRate" in tests and "routing_key: myteam" in tests
    assert_tests_pass_in_every_group_order(tmp_path, rules, tests)


def test_no_test_is_written_that_cannot_pass() -> None:
    target = target_for(sloth_slo(0.8, 30))
    assert isinstance(target, RuleTarget)
    with pytest.raises(ValueError, match="no page condition can fire"):
        promtool_test_files(target)
