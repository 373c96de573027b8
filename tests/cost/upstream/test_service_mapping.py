"""``cost_mapping``: services from tags in order, columns, patterns and lookups, validated in
opsledger.yaml; the report says how much spend no rule names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from opsledger.core.config import Config, CostMapping
from opsledger.cost.spend import UNMAPPED, summarise_spend
from opsledger.readers import costs

from .conftest import cost_document, run

DOCS = Path(__file__).parents[3] / "docs" / "formats.md"
HEADER = ("BillingPeriodStart,ChargePeriodStart,ChargeCategory,BilledCost,EffectiveCost,"
          "BillingCurrency,ServiceName,ResourceId,x_Product,Tags")


def bill(tmp_path: Path, rows: list[tuple[str, str, str, dict[str, str] | None, float]]) -> Path:
    """Write a bill of Usage rows: (ServiceName, ResourceId, x_Product, tags, cost)."""
    lines = [HEADER]
    for service_name, resource, product, tags, cost in rows:
        text = "NULL" if tags is None else '"' + json.dumps(tags).replace('"', '""') + '"'
        lines.append(f"2026-10-01T00:00:00Z,2026-10-02T00:00:00Z,Usage,{cost},{cost},USD,"
                     f"{service_name},{resource},{product},{text}")
    path = tmp_path / "costs" / "bill.csv"
    path.parent.mkdir(exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


ROWS = [
    ("Amazon EC2", "i-1", "NULL", {"App": "checkout", "team": "payments"}, 10.0),
    ("Amazon EC2", "i-2", "NULL", {"application": "search"}, 20.0),
    ("Amazon S3", "arn:bucket/media-prod", "NULL", {}, 40.0),
    ("Amazon SQS", "q-1", "queueing", None, 80.0),
    ("Support", "NULL", "NULL", None, 160.0),
]


def mapping(**rules: object) -> CostMapping:
    return Config.model_validate({"cost_mapping": rules}).cost_mapping


def test_the_first_rule_that_gives_a_value_wins(tmp_path: Path) -> None:
    rules = mapping(service=[
        {"tag": "app"},  # matched without regard to case: "App"
        {"tag": "application"},
        {"column": "ResourceId", "pattern": r"bucket/(?P<value>[a-z]+)-prod$"},
        {"column": "x_Product"},
        {"column": "ServiceName", "lookup": {"Amazon SQS": "never-reached", "Support": "vendor"}},
    ])
    summary = summarise_spend(costs.read(bill(tmp_path, ROWS).parent, rules).ledger)
    assert {s: sum(m.values()) for s, m in summary.by_service.items()} == {
        "checkout": 10.0, "search": 20.0, "media": 40.0, "queueing": 80.0, "vendor": 160.0}
    assert summary.by_rule == {
        "column 'ServiceName' (lookup)": 160.0, "column 'x_Product'": 80.0,
        "column 'ResourceId' (pattern)": 40.0, "tag 'application'": 20.0, "tag 'app'": 10.0}
    assert summary.unmapped == 0
    assert summary.by_team == {"payments": {"2026-10": 10.0}, UNMAPPED: {"2026-10": 300.0}}


def test_values_a_lookup_does_not_list_stay_unmapped(tmp_path: Path) -> None:
    rules = mapping(service=[{"column": "ServiceName", "lookup": {"Support": "vendor"}}])
    summary = summarise_spend(costs.read(bill(tmp_path, ROWS).parent, rules).ledger)
    assert summary.unmapped == pytest.approx(150.0)
    assert summary.unmapped_share == pytest.approx(150.0 / 310.0)


def test_unmapped_spend_is_in_the_report_and_the_cli(tmp_path: Path) -> None:
    bill(tmp_path, ROWS)
    (tmp_path / "opsledger.yaml").write_text(yaml.safe_dump(
        {"cost_mapping": {"service": [{"tag": "application"}]}}))
    document = cost_document(tmp_path, "2026-10-20T00:00:00Z")
    assert document["service_mapping"] == {
        "rules": "tag 'application'", "unmapped": 290.0,
        "unmapped_share": round(290.0 / 310.0, 4), "by_rule": {UNMAPPED: 290.0,
                                                               "tag 'application'": 20.0}}
    code, out = run("cost", str(tmp_path), "--now", "2026-10-20T00:00:00Z")
    assert code == 0
    assert re.search(r"unmapped spend: 290\.00 \(93\.5% of EffectiveCost\)", out)
    assert any("no cost_mapping rule" in line for line in out.splitlines())


def test_a_rule_on_a_column_the_file_lacks_is_warned_about(tmp_path: Path) -> None:
    rules = mapping(service=[{"column": "x_Team"}])
    result = costs.read(bill(tmp_path, ROWS).parent, rules)
    assert any("cost_mapping reads column 'x_Team'" in p.message for p in result.problems)


@pytest.mark.parametrize(("rule", "words"), [
    ({"tag": "a", "column": "b"}, "exactly one of 'tag' and 'column'"),
    ({}, "exactly one of 'tag' and 'column'"),
    ({"tag": "a", "pattern": "(unclosed"}, "not a regular expression"),
    ({"tag": "a", "lookup": {"x": 1}}, "valid string"),
])
def test_bad_rules_are_refused_with_the_config(rule: dict[str, object], words: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(words)):
        Config.model_validate({"cost_mapping": {"service": [rule]}})


def test_the_documented_example_is_a_valid_mapping() -> None:
    text = DOCS.read_text()
    section = text[text.index("### Naming services: `cost_mapping`"):]
    example = re.search(r"```yaml\n(.*?)```", section, flags=re.S)
    assert example
    config = Config.model_validate(yaml.safe_load(example.group(1)))
    assert [r.tag or r.column for r in config.cost_mapping.service] == [
        "application", "x_ServiceTag", "ResourceId", "ServiceName"]
