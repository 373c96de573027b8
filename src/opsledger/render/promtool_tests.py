"""``promtool test rules`` files that prove generated alert rules behave as designed.

Each test replays synthetic counters through the rules of one SLO's objective, window and
policy (the SLI query is replaced by test counters, everything else is kept):

- a total outage after a clean history: the page alert is silent one minute before the
  expected detection time (computed by :func:`opsledger.analysis.alerting.detection_minutes`)
  and fires within one evaluation interval after it;
- a steady burn at exactly the budgeted rate (1x): the page alert never fires.

Counters start high so that Prometheus' extrapolation towards zero, which treats a counter
starting near 0 specially, applies equally to errors and totals and the ratio stays exact.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from opsledger.analysis.alerting import (
    AlertPolicy,
    AlertSeverity,
    detection_minutes,
    window_label,
    workbook_policy,
)
from opsledger.render.prometheus_rules import (
    RuleTarget,
    alert_name,
    dump_yaml,
    error_ratio_query,
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


def _expected_labels(target: RuleTarget, severity: AlertSeverity, window: int) -> dict[str, str]:
    labels = dict(target.labels)
    labels.update(
        sloth_id=target.sloth_id,
        sloth_service=target.service,
        sloth_slo=target.slo,
        sloth_window=window_label(window),
        severity=severity.value,
        sloth_severity=severity.value,
    )
    return labels


def _first_window(policy: AlertPolicy, objective: float, minutes: int) -> int:
    """Return the window label the page alert carries after ``minutes`` of total outage.

    The alert expression is ``branch1 or branch2 ...``; the firing series keeps the labels
    of the first branch that holds, whose left operand is its short (else long) window.
    """
    for condition in policy.conditions:
        if condition.severity is not AlertSeverity.PAGE:
            continue
        single = replace(policy, conditions=(condition,))
        needed = detection_minutes(single, objective, 1.0)
        if needed is not None and needed <= minutes:
            return condition.short_minutes or condition.long_minutes
    raise ValueError("no page condition holds")


def promtool_test_files(
    target: RuleTarget,
    policy: AlertPolicy | None = None,
    rules_file: str = "rules.yaml",
) -> tuple[str, str]:
    """Return (rules YAML, unit-test YAML) for ``target``'s objective, window and policy."""
    policy = policy or workbook_policy(target.window_days)
    test_target = synthetic_target(target)
    rules = dump_yaml({"groups": rule_groups(test_target, policy)})
    page = alert_name(test_target, AlertSeverity.PAGE)
    detect = detection_minutes(policy, target.objective, 1.0, AlertSeverity.PAGE)
    if detect is None:
        raise ValueError("the policy has no page condition that a total outage triggers")
    clean = max(c.long_minutes for c in policy.conditions if c.severity is AlertSeverity.PAGE)
    clean += 10
    span = clean + detect + 60
    title = f"(page) {target.service} {target.slo} SLO error budget burn rate is too fast."
    conditions = ", ".join(c.label for c in policy.conditions if c.severity is AlertSeverity.PAGE)
    annotations = {
        "summary": f"{target.service} {target.slo}: error budget burning too fast",
        "title": title,
        "policy": f"{policy.name}: {conditions}",
    }
    # A clean history, then every request fails from minute `clean` on.
    outage_series = [
        {"series": REQUESTS, "values": f"{COUNTER_START}+60x{span}"},
        {
            "series": ERRORS,
            "values": f"{COUNTER_START}x{clean} {COUNTER_START + 60}+60x{span - clean - 1}",
        },
    ]
    # Rule groups are evaluated independently (promtool even in random order), so the alert
    # may see recordings one evaluation old: expect it one interval after the ideal time, at
    # a minute whose firing branch (and so its labels) is the same with either recording.
    check = detect + 1
    while _first_window(policy, target.objective, check - 1) != _first_window(
        policy, target.objective, check
    ):
        check += 1
    fired_window = _first_window(policy, target.objective, check)
    outage_checks: list[dict[str, Any]] = [
        {"eval_time": f"{clean + detect - 1}m", "alertname": page, "exp_alerts": []},
        {
            "eval_time": f"{clean + check}m",
            "alertname": page,
            "exp_alerts": [
                {
                    "exp_labels": _expected_labels(test_target, AlertSeverity.PAGE, fired_window),
                    "exp_annotations": annotations,
                }
            ],
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
