"""The FinOps Foundation's FOCUS 1.0 sample (1,000 rows, nulls written ``NULL``), read as
published: every row kept, totals equal to an independent pandas sum of the file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from opsledger.core.config import CostMapping, CostMappingRule
from opsledger.core.problems import Level
from opsledger.cost.spend import UNMAPPED, summarise_spend
from opsledger.readers import cost_focus, costs

from .conftest import SAMPLE, cost_document, costs_status, workspace


def pandas_sample() -> pd.DataFrame:
    """Return the sample as pandas reads it, ``NULL`` as the FOCUS null."""
    return pd.read_csv(SAMPLE, na_values=["NULL"], keep_default_na=False, dtype={"Tags": str})


def month_of(column: pd.Series) -> pd.Series:
    return pd.to_datetime(column, utc=True).dt.strftime("%Y-%m")


def test_every_row_of_the_sample_is_read() -> None:
    result = cost_focus.read(SAMPLE)
    assert [p for p in result.problems if p.level is not Level.WARNING] == []
    assert result.version == "1.0"
    assert result.rows == len(pandas_sample()) == 1000


def test_official_focus_sample_gives_the_same_effective_cost_by_month_as_a_pandas_sum() -> None:
    frame = pandas_sample()
    expected = frame["EffectiveCost"].groupby(month_of(frame["ChargePeriodStart"])).sum()
    summary = summarise_spend(cost_focus.read(SAMPLE).records[0])
    assert summary.by_month == pytest.approx(expected.to_dict(), rel=1e-12, abs=1e-12)


def test_invoices_equal_a_pandas_sum_of_billed_cost_by_billing_period() -> None:
    frame = pandas_sample()
    expected = frame["BilledCost"].groupby(month_of(frame["BillingPeriodStart"])).sum()
    summary = summarise_spend(cost_focus.read(SAMPLE).records[0])
    assert {m: parts["total"] for m, parts in summary.invoices.items()} == pytest.approx(
        expected.to_dict(), rel=1e-12, abs=1e-12)


def test_hourly_rows_are_summed_per_day_and_resource() -> None:
    ledger = cost_focus.read(SAMPLE).records[0]
    assert int(ledger.frame["rows"].sum()) == 1000
    assert len(ledger) < 1000  # some resources have several rows on one day


def test_default_rules_leave_the_sample_unmapped_and_say_so() -> None:
    summary = summarise_spend(costs.read(SAMPLE).ledger)
    total = pandas_sample()["EffectiveCost"].sum()
    assert summary.unmapped == pytest.approx(total)
    assert summary.by_rule == pytest.approx({UNMAPPED: total})


def test_a_tag_rule_names_the_services_as_the_tags_say() -> None:
    frame = pandas_sample()
    tags = frame["Tags"].map(lambda text: json.loads(text) if isinstance(text, str) else {})
    application = tags.map(lambda t: t.get("application"))
    expected = frame["EffectiveCost"].groupby(application).sum()  # NaN keys dropped
    mapping = CostMapping(service=[CostMappingRule(tag="application")])
    summary = summarise_spend(costs.read(SAMPLE, mapping).ledger)
    named = {s: sum(months.values()) for s, months in summary.by_service.items()
             if s != UNMAPPED}
    assert named == pytest.approx(expected.to_dict(), rel=1e-9, abs=1e-12)
    assert summary.unmapped == pytest.approx(
        frame.loc[application.isna(), "EffectiveCost"].sum(), abs=1e-12)
    assert set(summary.by_rule) == {"tag 'application'", UNMAPPED}


def test_features_and_columns_not_read_are_named() -> None:
    warnings = [p.message for p in cost_focus.read(SAMPLE).problems]
    assert any("'Id'" in m and "not read" in m for m in warnings)  # not a FOCUS column
    features = next(m for m in warnings if "does not analyse" in m)
    for name in ("Commit Usage and Under Usage", "Location", "Unit Prices", "Resource Usage"):
        assert name in features


def test_validate_counts_rows_and_names_the_version(tmp_path: Path) -> None:
    status = costs_status(workspace(tmp_path, SAMPLE))
    assert (status["state"], status["records"], status["format"]) == ("ok", 1000, "FOCUS 1.0")


def test_cost_reports_the_sample(tmp_path: Path) -> None:
    root = workspace(tmp_path, SAMPLE, config={"cost_mapping": {
        "service": [{"tag": "application"}, {"column": "ServiceName"}]}})
    document = cost_document(root, "2024-10-05T00:00:00Z")
    frame = pandas_sample()
    assert sum(document["by_month"].values()) == pytest.approx(
        round(frame["EffectiveCost"].sum(), 2), abs=0.01)
    assert document["inputs"] == [
        {"file": "focus_sample.csv", "format": "FOCUS 1.0", "records": 1000}]
    mapping = document["service_mapping"]
    # ServiceName is never null in the sample, so the second rule names every other row.
    assert mapping["unmapped"] == 0 and set(mapping["by_rule"]) == {
        "tag 'application'", "column 'ServiceName'"}
