"""Month-over-month changes: the threshold per unit, figures a reader can subtract, chart
ranges that show differences, and the month to date counted over the right instants."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opsledger.model.handover import Ticket
from opsledger.model.health import ProbeHistory, ProbeResult
from opsledger.model.incidents import Incident
from opsledger.review.changes import (
    KpiChange,
    Verdict,
    format_change,
    threshold,
    value_domain,
    verdict,
)
from opsledger.review.kpis import Better, format_value
from opsledger.review.month_to_date import month_to_date


@pytest.mark.parametrize(("previous", "current", "unit", "better", "expected"), [
    (0.9995, 0.9976, "ratio", Better.HIGHER, Verdict.WORSE),  # -0.19 pts
    (0.9976, 0.9995, "ratio", Better.HIGHER, Verdict.BETTER),
    (0.99950, 0.99960, "ratio", Better.HIGHER, Verdict.BETTER),  # exactly 0.01 pts
    (0.99950, 0.99955, "ratio", Better.HIGHER, Verdict.SAME),  # 0.005 pts
    (0.60, 0.62, "ratio", Better.LOWER, Verdict.WORSE),  # spend against target
    (11, 12, "count", Better.LOWER, Verdict.WORSE),  # one more incident counts
    (405, 409, "count", Better.LOWER, Verdict.SAME),  # under 5 % of 405 (20.25)
    (405, 426, "count", Better.LOWER, Verdict.WORSE),
    (0, 1, "count", Better.LOWER, Verdict.WORSE),
    (60.0, 62.5, "minutes", Better.LOWER, Verdict.SAME),  # under 5 % of 60 (3 min)
    (60.0, 56.0, "minutes", Better.LOWER, Verdict.BETTER),
    (4.0, 4.6, "minutes", Better.LOWER, Verdict.SAME),  # under the one-minute floor
    (34_000.0, 35_000.0, "USD", Better.LOWER, Verdict.SAME),  # under 1,700 USD
    (34_000.0, 36_000.0, "USD", Better.LOWER, Verdict.WORSE),
])
def test_a_change_counts_once_it_reaches_its_units_threshold(
        previous: float, current: float, unit: str, better: Better,
        expected: Verdict) -> None:
    assert verdict(previous, current, unit, better) is expected


def test_thresholds_by_unit() -> None:
    assert threshold("ratio", 0.999) == pytest.approx(0.0001)
    assert threshold("count", 10) == 1.0 and threshold("count", 400) == pytest.approx(20.0)
    assert threshold("minutes", 75.0) == pytest.approx(3.75)
    assert threshold("EUR", 10.0) == 1.0


def number(text: str) -> float:
    """Return the number a formatted KPI value shows ("99.913%" -> 99.913, "1,234.50 EUR")."""
    found = re.search(r"-?[\d,]+(\.\d+)?", text)
    assert found is not None, text
    return float(found.group(0).replace(",", ""))


UNITS = st.sampled_from(["ratio", "count", "minutes", "EUR"])


@given(st.floats(0, 1), st.floats(0, 1), UNITS)
def test_the_change_shown_is_the_difference_of_the_values_shown(
        previous: float, current: float, unit: str) -> None:
    if unit != "ratio":
        previous, current = previous * 5000, current * 5000
    change = KpiChange("k", "K", unit, Better.HIGHER, current, previous, "2026-09")
    text = change.change_text
    assert not re.fullmatch(r"[+-]0(\.0+)?( .*)?", text), text  # never a signed zero
    shown = number(format_value(current, unit)) - number(format_value(previous, unit))
    if text.startswith("<") or text == "0":
        assert abs(shown) < 0.01 if unit != "count" else shown == 0
        return
    assert number(text) == pytest.approx(round(shown, 2), abs=0.0051)
    if change.verdict is not Verdict.SAME:  # a change that counts is visible as one
        assert not text.startswith("<")


def test_small_changes_are_written_below_the_precision() -> None:
    assert format_change(-0.00001, "ratio") == "<0.01 pts"
    assert format_change(0.0019, "ratio") == "+0.19 pts"
    assert format_change(0.0, "count") == "0"
    assert format_change(-3.0, "count") == "-3"
    assert format_change(0.02, "minutes") == "<0.1 min"


def test_a_percentage_axis_spans_the_values_not_zero_to_a_hundred() -> None:
    low, high = value_domain([99.76, 99.95, None], "%") or (0.0, 0.0)
    assert low < 99.76 and high > 99.95 and high - low < 0.5
    assert value_domain([100.0, 100.0], "%") == (pytest.approx(99.95), 100.0)
    assert value_domain([3.0, 11.0], "count") == (0.0, pytest.approx(12.1))
    assert value_domain([None, None], "count") is None
    # Money beyond what an axis can label still gives a domain a chart accepts.
    assert value_domain([-1.7e308, 1.7e308], "USD") == (-1e300, 1e300)


START = datetime(2026, 12, 1, tzinfo=UTC)
CLOCK = datetime(2026, 12, 4, 10, tzinfo=UTC)


def probe(at: datetime, ok: bool) -> ProbeResult:
    return ProbeResult(at, "checkout", "http", ok, 12.0)


def ticket(at: datetime) -> Ticket:
    return Ticket("T", at, None, "access", "x", None, "t", None, None)


def test_the_month_to_date_counts_from_the_first_of_the_month_to_the_clock() -> None:
    probes = [probe(START - timedelta(seconds=1), False),  # November: left out
              probe(START, True), probe(START + timedelta(days=1), False),
              probe(CLOCK - timedelta(seconds=1), True),
              probe(CLOCK, False)]  # at the clock: not yet
    incidents = [Incident("a", "a", "checkout", "SEV2", "resolved", START + timedelta(hours=5)),
                 Incident("b", "b", "checkout", "SEV3", "resolved", CLOCK + timedelta(hours=1))]
    tickets = [ticket(START + timedelta(days=2)), ticket(START - timedelta(days=2))]
    found = month_to_date(probes, incidents, tickets, CLOCK)
    assert found is not None
    assert (found.month, found.start, found.end) == ("2026-12", START, CLOCK)
    assert (found.probes, found.probes_ok, found.incidents, found.tickets) == (3, 2, 1, 1)
    assert found.availability == pytest.approx(2 / 3)
    assert "December 2026 so far" in found.text and "not recorded" in found.text
    assert "66.667%" in found.text
    # On the first instant of a month there is nothing so far to show.
    assert month_to_date(probes, incidents, tickets, START) is None
    # The history held by column counts the same probes.
    by_columns = month_to_date(ProbeHistory.from_records(probes), incidents, tickets, CLOCK)
    assert by_columns == found
