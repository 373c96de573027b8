from __future__ import annotations

import math

import pytest

from opsledger.slo.alerting import (
    AlertSeverity,
    budget_fraction_for_burn_rate,
    burn_rate_for_budget_fraction,
    custom_policy,
    default_policies,
    detection_minutes,
    hours_to_exhaustion,
    page_only_policy,
    parse_window,
    slo_generator_policy,
    window_label,
    workbook_policy,
)

THIRTY_DAYS = 30 * 24 * 60


def test_workbook_policy_reproduces_table_5_8_for_30_days() -> None:
    policy = workbook_policy(30)
    got = [(c.severity, c.burn_rate, c.long_minutes, c.short_minutes) for c in policy.conditions]
    expected = [
        (AlertSeverity.PAGE, 14.4, 60, 5),
        (AlertSeverity.PAGE, 6.0, 360, 30),
        (AlertSeverity.TICKET, 3.0, 1440, 120),
        (AlertSeverity.TICKET, 1.0, 4320, 360),
    ]
    for (sev, rate, long, short), (e_sev, e_rate, e_long, e_short) in zip(
        got, expected, strict=True
    ):
        assert (sev, long, short) == (e_sev, e_long, e_short)
        assert rate == pytest.approx(e_rate, rel=1e-12)


def test_28_day_window_keeps_budget_fractions() -> None:
    policy = workbook_policy(28)
    # 2% of a 28-day budget in one hour: 0.02 * 672 h / 1 h = 13.44.
    assert [c.burn_rate for c in policy.conditions] == pytest.approx([13.44, 5.6, 2.8, 28 / 30])
    for c28, c30 in zip(policy.conditions, workbook_policy(30).conditions, strict=True):
        assert c28.budget_fraction == c30.budget_fraction


def test_budget_fraction_and_burn_rate_are_inverse() -> None:
    assert burn_rate_for_budget_fraction(0.05, THIRTY_DAYS, 360) == pytest.approx(6.0)
    assert budget_fraction_for_burn_rate(14.4, THIRTY_DAYS, 60) == pytest.approx(0.02)
    # Workbook: at 14.4x a 30-day budget lasts 50 hours.
    assert hours_to_exhaustion(14.4, THIRTY_DAYS) == pytest.approx(50.0)


def test_detection_time_matches_hand_calculation() -> None:
    policy = workbook_policy(30)
    # Total outage at 99.9%: the 1h ratio k/60 must exceed 14.4 * 0.001 = 0.0144, so
    # k > 0.864 minutes (52 s): the first whole minute.
    assert detection_minutes(policy, 0.999, 1.0, AlertSeverity.PAGE) == 1
    # 10% errors: k * 0.1 / 60 > 0.0144 -> k > 8.64 -> 9 minutes.
    assert detection_minutes(policy, 0.999, 0.1, AlertSeverity.PAGE) == 9
    # 1% errors: 14.4x needs 1.44% -> never; 6x over 6h: k * 0.01 / 360 > 0.006 -> 217.
    assert detection_minutes(policy, 0.999, 0.01, AlertSeverity.PAGE) == 217
    # A steady 1x burn never pages and (strictly greater) never tickets.
    assert detection_minutes(policy, 0.999, 0.001) is None


def test_slo_generator_default_steps() -> None:
    policy = slo_generator_policy()
    assert [(c.long_minutes, c.burn_rate, c.severity) for c in policy.conditions] == [
        (60, 9.0, AlertSeverity.PAGE),
        (720, 3.0, AlertSeverity.PAGE),
        (10080, 1.5, AlertSeverity.TICKET),
        (40320, 1.0, AlertSeverity.TICKET),
    ]
    assert not policy.multi_window
    assert all(c.short_minutes is None for c in policy.conditions)


def test_default_policies_are_four_distinct_names() -> None:
    names = [p.name for p in default_policies()]
    assert len(names) == 4 == len(set(names))
    assert page_only_policy().severities() == (AlertSeverity.PAGE,)


def test_custom_policy_from_mapping() -> None:
    policy = custom_policy(
        {
            "name": "fast-only",
            "conditions": [
                {"severity": "page", "long": "1h", "short": "5m", "budget_fraction": 0.02},
                {"severity": "ticket", "long": "3d", "burn_rate": 1.5},
            ],
        },
        slo_window_days=28,
    )
    assert policy.conditions[0].burn_rate == pytest.approx(13.44)
    assert policy.conditions[1].budget_fraction == pytest.approx(1.5 * 3 / 28)
    assert policy.windows == (5, 60, 4320)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"conditions": []}, "'name'"),
        ({"name": "x", "conditions": []}, "non-empty list"),
        ({"name": "x", "conditions": [{"long": "1h"}]}, "exactly one of"),
        ({"name": "x", "conditions": [{"long": "1y", "burn_rate": 2}]}, "conditions[0]: '1y'"),
        ({"name": "x", "conditions": [{"long": "1h", "short": "2h", "burn_rate": 2}]}, "short"),
        ({"name": "x", "conditions": [{"severity": "sms", "long": "1h", "burn_rate": 2}]}, "sms"),
        ({"name": "x", "conditions": [{"long": "1h", "burn_rate": 2, "for": "5m"}]}, "for"),
        ({"name": "x", "conditions": [{"long": "1h", "budget_fraction": 2}]}, "(0, 1]"),
    ],
)
def test_custom_policy_errors_name_the_field(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=None) as info:
        custom_policy(spec)
    assert message in str(info.value)


def test_windows_parse_and_print() -> None:
    assert [parse_window(t) for t in ("5m", "1h", "3d", "1w", 30)] == [5, 60, 4320, 10080, 30]
    assert [window_label(m) for m in (5, 60, 90, 1440, 4320)] == ["5m", "1h", "90m", "1d", "3d"]
    with pytest.raises(ValueError):
        parse_window("0m")
    assert math.isclose(workbook_policy(30).conditions[0].error_ratio_threshold(0.999), 0.0144)
