"""Burn-rate alert policies as data: the SRE Workbook defaults, slo-generator steps, custom ones.

A policy is a set of conditions; each condition fires when the error ratio over its long
window, and over its short window when it has one, exceeds ``burn_rate * (1 - objective)``.

The Workbook's multi-window, multi-burn-rate defaults (SRE Workbook, ch. 5 "Alerting on
SLOs", table 5-8) are stated for a 30-day SLO as burn-rate factors: page at 14.4x over 1h
(5m short window) and 6x over 6h (30m); ticket at 3x over 1d (2h) and 1x over 3d (6h). Each
factor means "this share of the period's budget is spent within the long window":
``fraction = factor * long_window / slo_window`` -> 2 %, 5 %, 10 %, 10 %. For another SLO
window the fractions are kept and the factors rescaled, e.g. 13.44x for the 1h page at 28
days (the same rule Sloth applies to non-30-day periods).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

MINUTES_PER_DAY = 24 * 60


class AlertSeverity(StrEnum):
    """Where a firing goes: a page wakes someone, a ticket waits for working hours."""

    PAGE = "page"
    TICKET = "ticket"


@dataclass(frozen=True)
class BurnCondition:
    """One alerting condition: error ratio above ``burn_rate`` budgets over both windows."""

    severity: AlertSeverity
    burn_rate: float
    long_minutes: int
    short_minutes: int | None = None  # None: a single-window condition (slo-generator steps)
    budget_fraction: float | None = None  # share of the period's budget this condition means

    def __post_init__(self) -> None:
        if self.long_minutes <= 0:
            raise ValueError("the long window must be at least one minute")
        if self.short_minutes is not None and not 0 < self.short_minutes <= self.long_minutes:
            raise ValueError("the short window must be positive and no longer than the long one")
        if self.burn_rate <= 0:
            raise ValueError("the burn rate must be positive")

    @property
    def windows(self) -> tuple[int, ...]:
        """Return the window lengths in minutes this condition needs (long first)."""
        return (
            (self.long_minutes,)
            if self.short_minutes is None
            else (self.long_minutes, self.short_minutes)
        )

    def error_ratio_threshold(self, objective: float) -> float:
        """Return the error ratio above which the condition holds for ``objective`` (0-1)."""
        return self.burn_rate * (1.0 - objective)

    @property
    def label(self) -> str:
        short = f"/{window_label(self.short_minutes)}" if self.short_minutes else ""
        long = window_label(self.long_minutes)
        return f"{self.severity.value} {self.burn_rate:g}x over {long}{short}"


@dataclass(frozen=True)
class AlertPolicy:
    """A named set of burn-rate conditions, with where it comes from."""

    name: str
    conditions: tuple[BurnCondition, ...]
    description: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if not self.conditions:
            raise ValueError(f"policy '{self.name}' has no conditions")

    @property
    def windows(self) -> tuple[int, ...]:
        """Return every window length (minutes) the policy needs, shortest first."""
        return tuple(sorted({w for c in self.conditions for w in c.windows}))

    @property
    def multi_window(self) -> bool:
        return all(c.short_minutes is not None for c in self.conditions)

    def severities(self) -> tuple[AlertSeverity, ...]:
        return tuple(s for s in AlertSeverity if any(c.severity is s for c in self.conditions))


# (severity, budget fraction, long window, short window): SRE Workbook table 5-8.
WORKBOOK_MWMBR: tuple[tuple[AlertSeverity, float, int, int], ...] = (
    (AlertSeverity.PAGE, 0.02, 60, 5),
    (AlertSeverity.PAGE, 0.05, 6 * 60, 30),
    (AlertSeverity.TICKET, 0.10, MINUTES_PER_DAY, 2 * 60),
    (AlertSeverity.TICKET, 0.10, 3 * MINUTES_PER_DAY, 6 * 60),
)
WORKBOOK_SOURCE = "Google SRE Workbook, ch. 5 'Alerting on SLOs', table 5-8"

# slo-generator's sample ``error_budget_policies.default`` (samples/config.yaml).
SLO_GENERATOR_DEFAULT_STEPS: tuple[tuple[str, int, float, bool], ...] = (
    ("1 hour", 60, 9.0, True),
    ("12 hours", 12 * 60, 3.0, True),
    ("7 days", 7 * MINUTES_PER_DAY, 1.5, False),
    ("28 days", 28 * MINUTES_PER_DAY, 1.0, False),
)


def burn_rate_for_budget_fraction(
    fraction: float, slo_window_minutes: int, long_minutes: int
) -> float:
    """Return the burn rate that spends ``fraction`` of the budget within ``long_minutes``."""
    return fraction * slo_window_minutes / long_minutes


def budget_fraction_for_burn_rate(
    burn_rate: float, slo_window_minutes: int, long_minutes: int
) -> float:
    """Return the share of the period's budget a sustained ``burn_rate`` spends in the window."""
    return burn_rate * long_minutes / slo_window_minutes


def hours_to_exhaustion(burn_rate: float, slo_window_minutes: int) -> float:
    """Return hours until a whole budget is spent at a constant ``burn_rate``."""
    return slo_window_minutes / burn_rate / 60


def workbook_policy(slo_window_days: int = 30) -> AlertPolicy:
    """Return the Workbook's four MWMBR conditions, factors rescaled to the SLO window."""
    window = slo_window_days * MINUTES_PER_DAY
    conditions = tuple(
        BurnCondition(
            severity,
            burn_rate_for_budget_fraction(fraction, window, long),
            long,
            short,
            fraction,
        )
        for severity, fraction, long, short in WORKBOOK_MWMBR
    )
    return AlertPolicy(
        "workbook-mwmbr",
        conditions,
        f"multi-window multi-burn-rate, {slo_window_days}-day budget",
        WORKBOOK_SOURCE,
    )


def page_only_policy(slo_window_days: int = 30) -> AlertPolicy:
    """Return the Workbook policy without its ticket conditions (pages only)."""
    full = workbook_policy(slo_window_days)
    return replace(
        full,
        name="workbook-page-only",
        conditions=tuple(c for c in full.conditions if c.severity is AlertSeverity.PAGE),
        description="the two Workbook page conditions, no tickets",
    )


def single_window_policy(slo_window_days: int = 30) -> AlertPolicy:
    """Return the Workbook burn rates on their long windows only (Workbook approach 5).

    Without the short window an alert keeps firing long after recovery; it is here so the
    backtest can show what the short window buys.
    """
    full = workbook_policy(slo_window_days)
    return replace(
        full,
        name="workbook-long-window-only",
        conditions=tuple(replace(c, short_minutes=None) for c in full.conditions),
        description="Workbook burn rates without short windows",
    )


def slo_generator_policy(
    steps: Sequence[tuple[str, int, float, bool]] = SLO_GENERATOR_DEFAULT_STEPS,
    slo_window_days: int = 28,
    name: str = "slo-generator-default",
) -> AlertPolicy:
    """Return an slo-generator error budget policy: single windows, ``alert`` steps page.

    Steps with ``alert: false`` are report-only in slo-generator; here they become tickets so
    a backtest can still score them.
    """
    window = slo_window_days * MINUTES_PER_DAY
    conditions = tuple(
        BurnCondition(
            AlertSeverity.PAGE if alert else AlertSeverity.TICKET,
            threshold,
            minutes,
            None,
            budget_fraction_for_burn_rate(threshold, window, minutes),
        )
        for _, minutes, threshold, alert in steps
    )
    return AlertPolicy(
        name,
        conditions,
        "slo-generator error budget policy steps",
        "google/slo-generator samples/config.yaml",
    )


def policy_from_steps(
    steps: Sequence[Any], slo_window_days: int, name: str = "slo-definition"
) -> AlertPolicy:
    """Return a policy from objects with ``name``, ``window`` (timedelta), ``burn_rate_threshold``
    and ``alert`` (the SLO model's slo-generator steps)."""
    converted = [
        (
            str(step.name),
            max(1, int(step.window / timedelta(minutes=1))),
            float(step.burn_rate_threshold),
            bool(step.alert),
        )
        for step in steps
    ]
    return slo_generator_policy(converted, slo_window_days, name)


def default_policies(slo_window_days: int = 30) -> tuple[AlertPolicy, ...]:
    """Return the policies a backtest compares when none are configured."""
    return (
        workbook_policy(slo_window_days),
        page_only_policy(slo_window_days),
        single_window_policy(slo_window_days),
        slo_generator_policy(slo_window_days=slo_window_days),
    )


# --- custom policies from configuration ---------------------------------------------------

_WINDOW = re.compile(r"^\s*(\d+)\s*(m|h|d|w)\s*$")
_WINDOW_MINUTES = {"m": 1, "h": 60, "d": MINUTES_PER_DAY, "w": 7 * MINUTES_PER_DAY}


def parse_window(text: str | int) -> int:
    """Return minutes from ``"5m"``, ``"6h"``, ``"3d"``, ``"1w"`` (or an integer of minutes)."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text <= 0:
            raise ValueError(f"window must be positive, found {text}")
        return text
    match = _WINDOW.match(str(text))
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"'{text}' is not a window such as 5m, 1h, 3d or 1w")
    return int(match.group(1)) * _WINDOW_MINUTES[match.group(2)]


def window_label(minutes: int) -> str:
    """Return a Prometheus-style duration for ``minutes``: ``5m``, ``1h``, ``3d``."""
    if minutes % MINUTES_PER_DAY == 0:
        return f"{minutes // MINUTES_PER_DAY}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"


def custom_policy(spec: Mapping[str, Any], slo_window_days: int = 30) -> AlertPolicy:
    """Return a policy from a mapping such as a YAML block; raise ``ValueError`` naming the field.

    Each condition gives ``severity`` (page/ticket), ``long`` and optionally ``short`` windows,
    and either ``burn_rate`` or ``budget_fraction`` (a share of the period's budget, which
    is turned into a burn rate for the SLO window as the Workbook does).
    """
    name = spec.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValueError("policy: 'name' must be a non-empty string")
    raw = spec.get("conditions")
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"policy '{name}': 'conditions' must be a non-empty list")
    window = slo_window_days * MINUTES_PER_DAY
    conditions = []
    for i, item in enumerate(raw):
        where = f"policy '{name}' conditions[{i}]"
        if not isinstance(item, Mapping):
            raise ValueError(f"{where}: expected a mapping, found {type(item).__name__}")
        unknown = set(item) - {"severity", "long", "short", "burn_rate", "budget_fraction"}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        try:
            severity = AlertSeverity(str(item.get("severity", "page")).lower())
        except ValueError:
            raise ValueError(
                f"{where}: severity must be page or ticket, found {item.get('severity')!r}"
            ) from None
        try:
            long = parse_window(item["long"])
            short = parse_window(item["short"]) if item.get("short") is not None else None
        except KeyError:
            raise ValueError(f"{where}: 'long' window is required") from None
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        given_rate, given_fraction = item.get("burn_rate"), item.get("budget_fraction")
        if (given_rate is None) == (given_fraction is None):
            raise ValueError(f"{where}: give exactly one of 'burn_rate' or 'budget_fraction'")
        try:
            if given_fraction is not None:
                fraction = float(given_fraction)
                if not 0 < fraction <= 1:
                    raise ValueError(f"budget_fraction must be in (0, 1], found {fraction}")
                rate = burn_rate_for_budget_fraction(fraction, window, long)
            else:
                rate = float(str(given_rate))
                fraction = budget_fraction_for_burn_rate(rate, window, long)
            conditions.append(BurnCondition(severity, rate, long, short, fraction))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from None
    return AlertPolicy(name, tuple(conditions), str(spec.get("description", "")), "custom")


def detection_minutes(
    policy: AlertPolicy,
    objective: float,
    error_fraction: float,
    severity: AlertSeverity | None = None,
) -> int | None:
    """Return whole minutes from the start of a constant-error outage until the policy fires.

    Assumes a clean history at least as long as every window and constant traffic. A
    condition holds after ``k`` outage minutes when ``min(k, W) * p / W > r`` for both of
    its windows ``W`` (``p`` the error fraction, ``r`` the error-ratio threshold), i.e. for
    the first whole ``k > r * long / p``, provided ``p > r``. None: it never fires.
    """
    best: int | None = None
    for condition in policy.conditions:
        if severity is not None and condition.severity is not severity:
            continue
        threshold = condition.error_ratio_threshold(objective)
        if error_fraction <= threshold:
            continue
        minutes = int(threshold * condition.long_minutes / error_fraction) + 1
        best = minutes if best is None else min(best, minutes)
    return best
