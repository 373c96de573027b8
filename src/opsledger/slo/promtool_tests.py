"""``promtool test rules`` files that prove generated alert rules behave as designed.

Each test replays synthetic counters through the rules of one SLO's objective, window and
policy (the SLI query is replaced by test counters, everything else is kept):

- a total outage after a clean history: the page alert is silent at the last minute no
  page condition can hold and fires one evaluation interval after the first minute one must;
- a steady burn at exactly the budgeted rate (1x): the page alert never fires.

Counters start high so that Prometheus' extrapolation towards zero, which treats a counter
starting near 0 specially, applies equally to errors and totals and the ratio stays exact.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any

from opsledger.slo.alerting import AlertPolicy, AlertSeverity, workbook_policy
from opsledger.slo.prometheus_rules import (
    RuleTarget,
    alert_annotations,
    alert_labels,
    alert_name,
    dump_yaml,
    error_ratio_query,
    number_text,
    rule_groups,
)

ERRORS = "opsledger_test_errors_total"
REQUESTS = "opsledger_test_requests_total"
COUNTER_START = 1_000_000


def synthetic_target(target: RuleTarget) -> RuleTarget:
    """Return ``target`` with its SLI replaced by the test counters."""
    return replace(
        target,
        error_ratio=error_ratio_query(
            f"sum(rate({REQUESTS}[{{{{.window}}}}]))", bad=f"sum(rate({ERRORS}[{{{{.window}}}}]))"
        ),
    )


def _expected_labels(target: RuleTarget, severity: AlertSeverity) -> dict[str, str]:
    # The alert keeps the recordings' labels except sloth_window (max ... without), then
    # its own labels on top.
    labels = dict(target.labels)
    labels.update(sloth_id=target.sloth_id, sloth_service=target.service, sloth_slo=target.slo)
    labels.update(alert_labels(target, severity))
    return labels


_LABEL_TEMPLATE = re.compile(r"\{\{\s*\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def _expanded(annotations: dict[str, str], labels: dict[str, str]) -> dict[str, str] | None:
    """Return annotations with ``{{$labels.x}}`` filled in; None if other templating is used."""
    expanded = {}
    for key, value in annotations.items():
        text = _LABEL_TEMPLATE.sub(lambda m: labels.get(m.group(1), ""), value)
        if "{{" in text:
            return None
        expanded[key] = text
    return expanded


def _outage_minutes(policy: AlertPolicy, objective: float) -> tuple[int, int] | None:
    """Return (last silent, first firing) outage minutes for a total outage, or None.

    With one sample a minute, a window of ``W`` minutes holds ``W`` increases when its range
    includes its left edge (Prometheus 2) and ``W - 1`` when it does not (Prometheus 3), so
    after ``k`` outage minutes its error ratio is ``k / W`` or ``k / (W - 1)``. The silent
    minute holds under both readings, the firing one under both too.
    """
    silent: int | None = None
    firing: int | None = None
    for condition in policy.conditions:
        if condition.severity is not AlertSeverity.PAGE:
            continue
        # The threshold as PromQL computes it from the rule's text, with a margin for rounding.
        threshold = float(number_text(condition.burn_rate)) * float(number_text(1 - objective))
        window = condition.long_minutes  # the short window is full of errors sooner
        last_silent = math.ceil(threshold * (window - 1) - 1e-9) - 1  # k / (W - 1) < threshold
        first = math.floor(threshold * window + 1e-9) + 1  # k / W > threshold
        if threshold >= 1 or first >= window:
            continue  # even a total outage never exceeds it
        silent = last_silent if silent is None else min(silent, last_silent)
        firing = first if firing is None else min(firing, first)
    if silent is None or firing is None or silent < 0:
        return None
    return silent, firing


def promtool_test_files(
    target: RuleTarget,
    policy: AlertPolicy | None = None,
    rules_file: str = "rules.yaml",
) -> tuple[str, str]:
    """Return (rules YAML, unit-test YAML) for ``target``'s objective, window and policy.

    Raise ``ValueError`` naming why when no test that can pass exists (no page alert that a
    total outage triggers, a disabled page alert, annotations templated beyond labels).
    """
    policy = policy or workbook_policy(target.window_days)
    if target.options.page.disabled:
        raise ValueError("its page alert is disabled")
    minutes = _outage_minutes(policy, target.objective)
    if minutes is None:
        raise ValueError(
            f"no page condition can fire at a {target.objective:.4%} objective "
            "(every page threshold is at or above a 100 % error ratio)"
        )
    silent, firing = minutes
    test_target = synthetic_target(target)
    groups = rule_groups(test_target, policy)
    page = alert_name(test_target, AlertSeverity.PAGE)
    for group in groups:
        # Sloth names page and ticket alerts alike; the test proves the page alert alone.
        group["rules"] = [
            r
            for r in group["rules"]
            if "alert" not in r or r["labels"].get("sloth_severity") == AlertSeverity.PAGE.value
        ]
    rules = dump_yaml({"groups": groups})
    labels = _expected_labels(test_target, AlertSeverity.PAGE)
    annotations = _expanded(alert_annotations(test_target, policy, AlertSeverity.PAGE), labels)
    if annotations is None:
        raise ValueError("its alert annotations use templates other than {{$labels.name}}")
    clean = max(c.long_minutes for c in policy.conditions if c.severity is AlertSeverity.PAGE)
    clean += 10
    # Rule groups are evaluated independently (promtool even in random order), so the alert
    # may see recordings one evaluation old: it is expected one interval after it is due.
    check = firing + 1
    span = clean + check + 60
    # A clean history, then every request fails from minute `clean` on.
    outage_series = [
        {"series": REQUESTS, "values": f"{COUNTER_START}+60x{span}"},
        {
            "series": ERRORS,
            "values": f"{COUNTER_START}x{clean} {COUNTER_START + 60}+60x{span - clean - 1}",
        },
    ]
    outage_checks: list[dict[str, Any]] = [
        {"eval_time": f"{clean + silent}m", "alertname": page, "exp_alerts": []},
        {
            "eval_time": f"{clean + check}m",
            "alertname": page,
            "exp_alerts": [{"exp_labels": labels, "exp_annotations": annotations}],
        },
    ]
    # Exactly the budgeted error rate: one failure per (1 / (1 - objective)) requests.
    per_minute = round(1 / (1 - target.objective))
    steady_series = [
        {"series": REQUESTS, "values": f"{COUNTER_START}+{per_minute}x{span}"},
        {"series": ERRORS, "values": f"{COUNTER_START}+1x{span}"},
    ]
    steady_checks = [
        {"eval_time": f"{minute}m", "alertname": page, "exp_alerts": []}
        for minute in sorted({5, 60, clean, span})
    ]
    tests = {
        "rule_files": [rules_file],
        "evaluation_interval": "1m",
        "tests": [
            {
                "name": "total outage pages",
                "interval": "1m",
                "input_series": outage_series,
                "alert_rule_test": outage_checks,
            },
            {
                "name": "steady 1x burn does not page",
                "interval": "1m",
                "input_series": steady_series,
                "alert_rule_test": steady_checks,
            },
        ],
    }
    return rules, dump_yaml(tests)
