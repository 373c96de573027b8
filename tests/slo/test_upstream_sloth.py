"""Sloth's own examples, read by opsledger, give the rules Sloth generated for them.

``tests/fixtures/upstream/sloth/examples`` holds Sloth's example specs and the rules Sloth
commits for them under ``_gen/`` (see ``tests/fixtures/upstream/SOURCES``). Every rule is
compared in order: group names and intervals, record and alert names, labels, annotations
and expressions (whitespace removed, numbers compared as numbers). The differences
``docs/formats.md`` lists as deliberate are known here by name.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from opsledger.core.problems import Level
from opsledger.readers import slo_definitions

from .sloth_examples import (
    EXAMPLES,
    GENERATOR_LABELS,
    OPENSLO_ALERTS,
    SLI_PLUGIN,
    UNSUPPORTED_SLO_PLUGIN,
    example_spec,
    examples_with_rules,
    our_groups,
    sloth_groups,
)

_NUMBER = re.compile(r"(?<![\w.])\d+\.\d+(?:e-?\d+)?")


def normal_expr(expr: str) -> str:
    """Return an expression without whitespace, its decimals rounded to 12 digits.

    Sloth writes 99.9 % as 0.9990000000000001 and its budget as 0.0009999999999999432 (the
    binary float of 100 - 99.9); opsledger writes 0.999 and 0.001.
    """
    text = re.sub(r"\s+", "", expr)
    return _NUMBER.sub(lambda m: format(round(float(m.group()), 12), ".12g"), text)


def comparable(rule: dict[str, Any]) -> dict[str, Any]:
    labels = {k: str(v) for k, v in (rule.get("labels") or {}).items()}
    return {
        "name": rule.get("record") or rule.get("alert"),
        "expr": normal_expr(str(rule["expr"])),
        "labels": {k: v for k, v in labels.items() if k not in GENERATOR_LABELS},
        "annotations": rule.get("annotations") or {},
    }


@pytest.mark.parametrize("name", examples_with_rules())
def test_rules_match_sloth_rule_by_rule(name: str) -> None:
    if name in SLI_PLUGIN:
        problems = slo_definitions.read(EXAMPLES / name).problems
        assert any("Sloth SLI plugins are not supported" in p.message for p in problems)
        return
    theirs, ours = sloth_groups(name), our_groups(name)
    if name in UNSUPPORTED_SLO_PLUGIN:
        problems = slo_definitions.read(EXAMPLES / name).problems
        assert any(
            "'sloth.dev/contrib/denominator_corrected_rules/v1' is not supported" in p.message
            for p in problems
        )
        return
    if name in OPENSLO_ALERTS:
        # Sloth writes no alerts for OpenSLO input; opsledger writes its burn-rate alerts.
        assert all("alerts" not in g["name"] for g in theirs)
        ours = [g for g in ours if not g["name"].startswith("sloth-slo-alerts-")]
    assert [g["name"] for g in ours] == [g["name"] for g in theirs]
    for mine, sloths in zip(ours, theirs, strict=True):
        assert mine.get("interval") == sloths.get("interval"), mine["name"]
        assert len(mine["rules"]) == len(sloths["rules"]), mine["name"]
        for rule, expected in zip(mine["rules"], sloths["rules"], strict=True):
            assert comparable(rule) == comparable(expected), (mine["name"], rule)


def test_every_sloth_example_is_read_or_refused_by_name() -> None:
    refused = {}
    for path in sorted(EXAMPLES.glob("*.y*ml")):
        result = slo_definitions.read(path)
        errors = [p for p in result.problems if p.level is not Level.WARNING]
        if not result.records:
            refused[path.name] = errors[0].message
        else:
            assert not errors, errors
    assert set(refused) == SLI_PLUGIN
    # Custom alert windows (kind AlertWindows) are not SLO files; they are named, not ignored.
    for path in sorted((EXAMPLES / "windows").glob("*.yaml")):
        problems = slo_definitions.read(path).problems
        assert any("AlertWindows" in p.message for p in problems), problems


def test_disabled_alerts_are_absent_and_alert_labels_are_the_users() -> None:
    groups = our_groups("no-alerts.yml")
    assert not any(g["name"].startswith("sloth-slo-alerts-") for g in groups)
    alerts = [r for g in our_groups("getting-started.yml") for r in g["rules"] if "alert" in r]
    assert [a["alert"] for a in alerts] == ["MyServiceHighErrorRate"] * 2
    assert alerts[0]["labels"] == {
        "category": "availability",
        "routing_key": "myteam",
        "severity": "pageteam",
        "sloth_severity": "page",
    }
    assert alerts[1]["labels"]["slack_channel"] == "#alerts-myteam"


def test_info_label_names_prometheus_2_refuses_are_named() -> None:
    spec = yaml.safe_load(example_spec("contrib-slo-plugins.yml").read_text())
    names = {
        str(name)
        for slo in spec["slos"]
        for plugin in (slo.get("plugins") or {}).get("chain", [])
        if plugin["id"] == "sloth.dev/contrib/info_labels/v1"
        for name in plugin["config"]["labels"]
    }
    # Prometheus 2's rule for label names, written out here: [a-zA-Z_][a-zA-Z0-9_]*.
    legacy = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
    refused_by_prometheus_2 = {n for n in names if not legacy.fullmatch(n)}
    assert refused_by_prometheus_2, "the example has label names only Prometheus 3 accepts"
    problems = slo_definitions.read(example_spec("contrib-slo-plugins.yml")).problems
    named = {
        p.message.split("'")[1] for p in problems if "valid only from Prometheus 3" in p.message
    }
    assert named == refused_by_prometheus_2
    assert all(p.level is Level.WARNING for p in problems)
