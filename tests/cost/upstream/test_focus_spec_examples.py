"""The FOCUS specification's example files (v1.2 appendix): each row is read or reported
with its line, never dropped; commitment purchases alone make a report, not a crash."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd
import pytest

from opsledger.core.problems import Level
from opsledger.cost.spend import summarise_spend
from opsledger.readers import cost_focus

from .conftest import SPEC, cost_document, costs_status, run, workspace

EXAMPLES = sorted(SPEC.rglob("*.csv"))
PURCHASES = sorted((SPEC / "commitment_discount_scenarios").glob("*purchase*.csv"))
# The SaaS examples write amounts as $1,000.00 and dates as 4/1/25: refused row by row.
READABLE = [p for p in EXAMPLES if "saas_examples" not in p.parts]


def data_lines(path: Path) -> list[int]:
    """Return the line of each non-blank row after the header, as the csv module reads it."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        next(reader)
        lines, previous = [], reader.line_num
        for row in reader:
            if any(cell.strip() for cell in row):
                lines.append(previous + 1)
            previous = reader.line_num
    return lines


def located(result: cost_focus.FocusReadResult) -> set[int]:
    return {int(m.group(1)) for p in result.problems if p.level is Level.ROW
            if (m := re.match(r"line (\d+)", p.location))}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_row_is_read_or_reported_with_its_line(path: Path) -> None:
    result = cost_focus.read(path)
    assert not result.fatal
    lines = data_lines(path)
    assert result.rows + len(located(result)) == len(lines)
    assert located(result) <= set(lines)


@pytest.mark.parametrize("path", READABLE, ids=lambda p: p.stem)
def test_examples_sum_as_a_pandas_reading_of_the_file(path: Path) -> None:
    frame = pd.read_csv(path, na_values=["null", "NULL"], keep_default_na=False,
                        skip_blank_lines=True).dropna(how="all")
    summary = summarise_spend(cost_focus.read(path).records[0])
    month = pd.to_datetime(frame["ChargePeriodStart"], utc=True).dt.strftime("%Y-%m")
    assert summary.by_month == pytest.approx(
        frame["EffectiveCost"].groupby(month).sum().to_dict())
    billing = pd.to_datetime(frame["BillingPeriodStart"], utc=True).dt.strftime("%Y-%m")
    invoiced = frame["BilledCost"].groupby(billing).sum().to_dict()
    assert {m: p["total"] for m, p in summary.invoices.items()} == pytest.approx(invoiced)


def test_amounts_with_currency_signs_are_reported_cell_by_cell() -> None:
    path = SPEC / "saas_examples" / "simple_agreements" / "simple_saas_agreements_c.csv"
    result = cost_focus.read(path)
    billed = {p.location: p.found for p in result.problems if "'BilledCost'" in p.location}
    assert billed == {"line 2, column 'BilledCost'": "'$10,100.00 '",
                      "line 3, column 'BilledCost'": "'$13,000.00 '",
                      "line 4, column 'BilledCost'": "'$12,700.00 '"}
    assert all("not a number" in p.message for p in result.problems if p.level is Level.ROW)


def test_month_day_year_dates_are_reported_row_by_row() -> None:
    path = SPEC / "saas_examples" / "spend_agreements" / "saas_spend_agreements_a1.csv"
    result = cost_focus.read(path)
    charge = [(p.location, p.message, p.found) for p in result.problems
              if "ChargePeriodStart" in p.location]
    assert charge == [
        (f"line {n}, column 'ChargePeriodStart'", "'ChargePeriodStart' is not a date-time",
         f"'{found}'") for n, found in ((2, "4/1/25"), (3, "5/1/25"), (4, "6/1/25"),
                                        (5, "4/1/25"))]


@pytest.mark.parametrize(("name", "version"), [
    ("commitment_discount_scenarios/commitment_discount_usage_scenario_1.csv", "1.1"),
    ("saas_examples/simple_agreements/simple_saas_agreements_a1.csv", "1.1"),
    ("saas_examples/virtual_currency_pricing_model_a2.csv", "1.2"),
])
def test_the_focus_version_is_told_from_the_columns(name: str, version: str) -> None:
    assert cost_focus.read(SPEC / name).version == version


def test_version_is_shown_by_validate(tmp_path: Path) -> None:
    path = SPEC / "saas_examples" / "virtual_currency_pricing_model_a2.csv"
    status = costs_status(workspace(tmp_path, path))
    assert status["format"] == "FOCUS 1.2"
    assert status["state"] == "read, rows quarantined" and status["records"] == 0


def test_unused_commitment_is_warned_about_with_its_amount() -> None:
    path = (SPEC / "commitment_discount_flexibility"
            / "zero_percent_utilization_without_commitment_discount_flexibility.csv")
    warning = next(p.message for p in cost_focus.read(path).problems
                   if "unused commitment" in p.message)
    assert "1 row(s)" in warning and "EffectiveCost 1.50" in warning
    assert "Commit Usage and Under Usage" in warning


@pytest.mark.parametrize("path", PURCHASES, ids=lambda p: p.stem)
def test_a_bill_of_purchases_only_is_reported(tmp_path: Path, path: Path) -> None:
    root = workspace(tmp_path, path)
    status = costs_status(root)
    rows = len(data_lines(path))
    assert (status["state"], status["records"]) == ("ok", rows)
    document = cost_document(root, "2023-01-20T00:00:00Z")
    billed = pd.read_csv(path)["BilledCost"].sum()
    assert document["invoices"]["2023-01"]["Purchase"] == pytest.approx(billed)
    assert document["by_month"] == {"2023-01": 0.0}  # amortised into usage elsewhere
    assert document["forecast"]["(total)"]["status"] == "skipped"
    code, out = run("cost", str(root), "--now", "2023-01-20T00:00:00Z")
    assert code == 0
    assert f"{billed:,.2f}" in out  # the invoiced column
