"""FOCUS CSV: hand-summed totals, charge categories, corrections, located errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from opsledger.core.problems import Level
from opsledger.cost.spend import UNMAPPED, summarise_spend
from opsledger.model.cost import ChargeCategory
from opsledger.readers import cost_focus, costs

HEADER = ("BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,"
          "ChargeCategory,ChargeClass,BilledCost,EffectiveCost,ListCost,BillingCurrency,"
          "ServiceName,ResourceId,ResourceName,Tags")


def tags(service: str | None = None, team: str | None = None) -> str:
    data = {k: v for k, v in (("service", service), ("team", team)) if v}
    return '"' + json.dumps(data).replace('"', '""') + '"'


def row(bp: str, day: str, category: str, billed: str, effective: str, tag: str = "{}",
        charge_class: str = "", resource: str = "r1", currency: str = "USD") -> str:
    month_end = {"2026-09": "2026-10-01", "2026-10": "2026-11-01"}[bp[:7]]
    return (f"{bp}T00:00:00Z,{month_end}T00:00:00Z,{day}T00:00:00Z,{day}T23:59:59Z,"
            f"{category},{charge_class},{billed},{effective},{effective},{currency},Compute,"
            f"{resource},{resource}-name,{tag}")


# Two months of a small bill, every FOCUS charge kind once or more. Hand sums:
#   EffectiveCost by charge month
#     2026-09: 100 + 50 (usage) + 12 (tax) - 30 (correction, moved back to September) = 132
#     2026-10: 40 + 60 (usage; covered by the purchase, billed 0) + 0 (purchase)
#              + 8.5 (tax) - 25 (credit) = 83.5
#   BilledCost by billing period
#     2026-09: 100 + 50 + 12 = 162
#     2026-10: 40 + 0 + 120 (purchase) + 8.5 - 25 - 30 (correction billed in October) = 113.5
LINES = [
    row("2026-09-01", "2026-09-03", "Usage", "100", "100", tags("checkout", "payments")),
    row("2026-09-01", "2026-09-04", "Usage", "50", "50", tags("search", "storefront"),
        resource="r2"),
    row("2026-09-01", "2026-09-01", "Tax", "12", "12"),
    row("2026-10-01", "2026-10-02", "Usage", "40", "40", tags("checkout", "payments")),
    row("2026-10-01", "2026-10-02", "Usage", "0", "60", tags("search", "storefront"),
        resource="r2"),
    row("2026-10-01", "2026-10-01", "Purchase", "120", "0", resource="sp-1"),
    row("2026-10-01", "2026-10-01", "Tax", "8.5", "8.5"),
    row("2026-10-01", "2026-10-05", "Credit", "-25", "-25"),
    row("2026-10-01", "2026-09-20", "Usage", "-30", "-30", tags("checkout", "payments"),
        "Correction"),
]


def write(tmp_path: Path, lines: list[str], name: str = "bill.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *lines]) + "\n", encoding="utf-8")
    return path


def test_totals_match_a_hand_sum(tmp_path: Path) -> None:
    result = costs.read(write(tmp_path, LINES).parent)
    assert not result.problems
    summary = summarise_spend(result.ledger)
    assert summary.currency == "USD"
    assert summary.by_month == pytest.approx({"2026-09": 132.0, "2026-10": 83.5})
    assert summary.invoices["2026-09"]["total"] == pytest.approx(162.0)
    assert summary.invoices["2026-10"]["total"] == pytest.approx(113.5)
    assert summary.invoices["2026-10"] == pytest.approx(
        {"Usage": 10.0, "Purchase": 120.0, "Tax": 8.5, "Credit": -25.0, "total": 113.5})
    # checkout: 100 in Sept less the 30 refund for Sept; 40 in Oct.
    assert summary.by_service["checkout"] == pytest.approx({"2026-09": 70.0, "2026-10": 40.0})
    assert summary.by_service["search"] == pytest.approx({"2026-09": 50.0, "2026-10": 60.0})
    assert summary.by_service[UNMAPPED] == pytest.approx({"2026-09": 12.0, "2026-10": -16.5})
    assert summary.by_team["payments"] == pytest.approx({"2026-09": 70.0, "2026-10": 40.0})
    assert summary.corrections == pytest.approx({"2026-09": -30.0})
    assert summary.unmapped == pytest.approx(12 - 16.5)
    assert summary.unmapped_share == pytest.approx((12 - 16.5) / (132 + 83.5))
    # checkout 100 + 40 - 30 and search 50 + 60 are named by their 'service' tag.
    assert summary.by_rule == pytest.approx({"tag 'service'": 110.0 + 110.0,
                                             UNMAPPED: 12 - 16.5})


def test_lines_keep_categories_classes_and_naming(tmp_path: Path) -> None:
    result = cost_focus.read(write(tmp_path, LINES))
    lines = sorted(result.records[0].lines(), key=lambda line: (line.day, line.category))
    assert sorted(line.category for line in lines) == sorted([
        ChargeCategory.USAGE, ChargeCategory.USAGE, ChargeCategory.TAX, ChargeCategory.USAGE,
        ChargeCategory.USAGE, ChargeCategory.PURCHASE, ChargeCategory.TAX,
        ChargeCategory.CREDIT, ChargeCategory.USAGE])
    assert [line.rows for line in lines] == [1] * 9  # no two rows share day and resource
    (correction,) = [line for line in lines if line.correction]
    assert correction.billing_period.isoformat() == "2026-10-01"
    assert correction.day.isoformat() == "2026-09-20"
    first = next(line for line in lines if line.day.isoformat() == "2026-09-03")
    assert (first.service, first.team, first.service_source) == (
        "checkout", "payments", "tag 'service'")
    tax = next(line for line in lines if line.category is ChargeCategory.TAX)
    assert tax.service is None and tax.service_source is None


def test_rows_of_one_resource_and_day_are_summed(tmp_path: Path) -> None:
    hourly = [row("2026-10-01", "2026-10-02", "Usage", "1.5", "1.25", tags("checkout"))
              .replace("2026-10-02T00:00:00Z", f"2026-10-02T{hour:02d}:00:00Z", 1)
              for hour in range(24)]
    (line,) = cost_focus.read(write(tmp_path, hourly)).records[0].lines()
    assert (line.rows, line.service) == (24, "checkout")
    assert line.billed_cost == pytest.approx(36.0) and line.effective_cost == pytest.approx(30.0)


def test_ledger_lines_come_ordered_by_resource_then_day(tmp_path: Path) -> None:
    # Written newest first and resources interleaved; r1 on 2026-10-03 twice, its billing
    # period once with a space and no zone: both rows bill 2026-10 and make one line.
    lines = [row("2026-10-01", f"2026-10-{day:02d}", "Usage", "2", "2", tags("checkout"),
                 resource=resource)
             for day in (4, 3, 2) for resource in ("r2", "r1")]
    lines.append(row("2026-10-01", "2026-10-03", "Usage", "5", "5", tags("checkout"),
                     resource="r1").replace("2026-10-01T00:00:00Z", "2026-10-01 00:00:00", 1))
    ledger = cost_focus.read(write(tmp_path, lines)).records[0]
    read = [(line.resource_id, line.day.isoformat(), line.billing_period.isoformat(),
             line.rows, line.effective_cost) for line in ledger.lines()]
    assert read == [
        ("r1", "2026-10-02", "2026-10-01", 1, 2.0),
        ("r1", "2026-10-03", "2026-10-01", 2, 7.0),
        ("r1", "2026-10-04", "2026-10-01", 1, 2.0),
        ("r2", "2026-10-02", "2026-10-01", 1, 2.0),
        ("r2", "2026-10-03", "2026-10-01", 1, 2.0),
        ("r2", "2026-10-04", "2026-10-01", 1, 2.0),
    ]


def test_other_currencies_are_not_mixed_in(tmp_path: Path) -> None:
    extra = row("2026-10-01", "2026-10-03", "Usage", "999", "999", tags("checkout"),
                currency="EUR")
    summary = summarise_spend(costs.read(write(tmp_path, [*LINES, extra]).parent).ledger)
    assert summary.by_month["2026-10"] == pytest.approx(83.5)
    assert summary.other_currencies == {"EUR": 1}


def test_text_path_gives_the_same_totals(tmp_path: Path) -> None:
    # A date without a zone cannot be read by the typed path; the text path must agree.
    lines = [*LINES[:-1], LINES[-1].replace("2026-09-20T00:00:00Z", "2026-09-20")]
    summary = summarise_spend(costs.read(write(tmp_path, lines).parent).ledger)
    assert summary.by_month == pytest.approx({"2026-09": 132.0, "2026-10": 83.5})


def test_bad_rows_are_quarantined_with_their_lines(tmp_path: Path) -> None:
    lines = [
        LINES[0],
        row("2026-09-01", "2026-09-03", "Usage", '"12,5"', "12.5"),
        row("2026-09-01", "2026-09-03", "Refund", "1", "1"),
        LINES[1].rsplit(",", 2)[0],
        row("2026-09-01", "not-a-date", "Usage", "1", "1"),
        row("2026-09-01", "2026-09-03", "Usage", "1", "1", charge_class="Regular"),
        row("2026-09-01", "2026-09-03", "Usage", "5", "5", tag='"{broken"'),
    ]
    result = costs.read(write(tmp_path, lines).parent)
    found = {(p.location, p.level) for p in result.problems}
    assert ("line 3, column 'BilledCost'", Level.ROW) in found
    assert ("line 4, column 'ChargeCategory'", Level.ROW) in found
    assert ("line 5", Level.ROW) in found  # wrong number of cells
    assert ("line 6, column 'ChargePeriodStart'", Level.ROW) in found
    assert ("line 7, column 'ChargeClass'", Level.ROW) in found
    assert ("line 8, column 'Tags'", Level.WARNING) in found
    bad_number = next(p for p in result.problems if "BilledCost" in p.location)
    assert bad_number.found == "'12,5'" and "number" in bad_number.expected
    # Rows 2 and 8 stand (8 as unmapped): 100 + 5.
    assert summarise_spend(result.ledger).by_month == pytest.approx({"2026-09": 105.0})


def test_line_numbers_survive_quoted_line_breaks(tmp_path: Path) -> None:
    multi = row("2026-09-01", "2026-09-03", "Usage", "7", "7",
                '"{""service"": ""a"",\n""team"": ""b""}"')
    bad = row("2026-09-01", "2026-09-03", "Usage", "x", "1")
    result = cost_focus.read(write(tmp_path, [multi, bad]))
    assert [p.location for p in result.problems] == ["line 4, column 'BilledCost'"]
    (line,) = result.records[0].lines()
    assert (line.service, line.team) == ("a", "b")


def test_missing_columns_fail_the_file_at_line_1(tmp_path: Path) -> None:
    path = tmp_path / "bill.csv"
    path.write_text("ChargeCategory,BilledCost,ChargePeriodStart\nUsage,1,2026-09-01\n")
    result = cost_focus.read(path)
    assert result.fatal
    (problem,) = result.problems
    assert problem.location == "line 1"
    assert "EffectiveCost" in problem.message and "BillingPeriodStart" in problem.message


def test_folder_rejects_a_csv_that_is_not_focus(tmp_path: Path) -> None:
    (tmp_path / "other.csv").write_text("date,amount\n2026-09-01,3\n")
    (tmp_path / "notes.txt").write_text("hello")
    result = costs.read(tmp_path)
    levels = {Path(p.path).name: p.level for p in result.problems}
    assert levels == {"other.csv": Level.FATAL, "notes.txt": Level.WARNING}
    assert "not a FOCUS cost export" in str(result.problems[0]) or "not a FOCUS" in str(
        result.problems[1])
    assert len(result.ledger) == 0


def test_a_year_of_daily_rows_reads_quickly(tmp_path: Path) -> None:
    # 100 services x 2 resources x 365 days = 73,000 rows; the full-size figure is measured
    # in the report (about 7 s for 1.1 million rows).
    import time

    tag = [tags(f"svc-{i}", f"team-{i % 7}") for i in range(100)]
    lines = [HEADER]
    for day in range(365):
        month = 9 if day < 30 else 10
        date_text = f"2026-{month:02d}-{day % 28 + 1:02d}"
        for i in range(100):
            for resource in ("vm", "disk"):
                lines.append(row(f"2026-{month:02d}-01", date_text, "Usage", "1.25", "1.25",
                                 tag[i], resource=f"{resource}-{i}"))
    path = tmp_path / "year.csv"
    path.write_text("\n".join(lines) + "\n")
    start = time.perf_counter()
    result = costs.read(path)
    elapsed = time.perf_counter() - start
    assert result.record_count == 73_000
    assert sum(summarise_spend(result.ledger).by_month.values()) == pytest.approx(73_000 * 1.25)
    assert elapsed < 10


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(
    st.sampled_from([c.value for c in ChargeCategory]),
    st.decimals(min_value=-1000, max_value=1000, places=4, allow_nan=False),
    st.integers(min_value=1, max_value=28),
    st.sampled_from(["checkout", "search", None]),
), min_size=1, max_size=30))
def test_totals_are_the_sum_of_the_rows(
    tmp_path: Path, rows: list[tuple[str, object, int, str | None]]
) -> None:
    from decimal import Decimal

    lines = [row("2026-10-01", f"2026-10-{day:02d}", category, str(amount), str(amount),
                 tags(service) if service else "{}")
             for category, amount, day, service in rows]
    path = write(tmp_path, lines, "random.csv")
    summary = summarise_spend(cost_focus.read(path).records[0])
    expected = sum((Decimal(str(amount)) for _, amount, _, _ in rows), Decimal(0))
    assert summary.by_month["2026-10"] == pytest.approx(float(expected), abs=1e-6)
    for service in ("checkout", "search"):
        part = sum((Decimal(str(a)) for _, a, _, s in rows if s == service), Decimal(0))
        got = summary.by_service.get(service, {}).get("2026-10", 0.0)
        assert got == pytest.approx(float(part), abs=1e-6)


def test_null_spellings_and_missing_amounts(tmp_path: Path) -> None:
    lines = [row("2026-10-01", "2026-10-02", "Usage", "5", "5").replace(",USD,", ",NULL,"),
             row("2026-10-01", "2026-10-02", "Usage", "NULL", "5", resource="r2"),
             row("2026-10-01", "2026-10-02", "Usage", "7", "null", resource="r3"),
             row("2026-10-01", "2026-10-02", "Usage", "9", "9", resource="r4",
                 tag="NULL").replace(",r4,", ",,")]
    result = cost_focus.read(write(tmp_path, lines))
    problems = {(p.location, p.message) for p in result.problems if p.level is Level.ROW}
    assert problems == {("line 3, column 'BilledCost'", "'BilledCost' is missing"),
                        ("line 4, column 'EffectiveCost'", "'EffectiveCost' is missing")}
    kept = sorted(result.records[0].lines(), key=lambda line: line.effective_cost)
    assert [line.currency for line in kept] == ["", "USD"]  # NULL currency: none given
    assert [line.resource_id for line in kept] == ["r1", None]  # an empty cell is null too


def test_refused_rows_keep_their_line_after_quoted_line_breaks(tmp_path: Path) -> None:
    multi = row("2026-09-01", "2026-09-03", "Usage", "7", "7",
                '"{""service"": ""a"",\n""team"": ""b""}"')
    lines = [multi, "", row("2026-09-01", "2026-09-03", "Refund", "1", "1"),
             row("2026-09-01", "2026-09-03", "Usage", "inf", "1")]
    result = cost_focus.read(write(tmp_path, lines))
    assert [(p.location, p.message) for p in result.problems] == [
        ("line 5, column 'ChargeCategory'", "unknown charge category"),
        ("line 6, column 'BilledCost'", "'BilledCost' is not a finite number")]


def test_dates_outside_the_range_and_not_iso_are_told_apart(tmp_path: Path) -> None:
    lines = [row("2026-09-01", "2026-09-03", "Usage", "1", "1").replace(
                 "2026-09-03T00:00:00Z", "2301-01-01T00:00:00Z", 1),
             row("2026-09-01", "2026-09-03", "Usage", "1", "1").replace(
                 "2026-09-03T00:00:00Z", "9/3/26", 1)]
    messages = [p.message for p in cost_focus.read(write(tmp_path, lines)).problems]
    assert messages == ["'ChargePeriodStart' is outside the supported dates",
                        "'ChargePeriodStart' is not a date-time"]


def test_header_text_never_reaches_sql(tmp_path: Path) -> None:
    header = HEADER.replace("ListCost", "x_'); DROP TABLE t; --").replace(
        "ServiceName", 'Service"Name')
    path = tmp_path / "bill.csv"
    path.write_text("\n".join([header, *LINES]) + "\n")
    result = cost_focus.read(path)
    assert not [p for p in result.problems if p.level is not Level.WARNING]
    assert summarise_spend(result.records[0]).by_month == pytest.approx(
        {"2026-09": 132.0, "2026-10": 83.5})


def test_binary_and_badly_encoded_files_are_refused_with_their_line(tmp_path: Path) -> None:
    nul = write(tmp_path, [LINES[0], LINES[1].replace("Compute", "Com\0pute")], "nul.csv")
    latin = tmp_path / "latin.csv"
    latin.write_bytes(write(tmp_path, LINES[:3], "x.csv").read_bytes().replace(
        b"Compute", "Comput\u00e9".encode("latin-1"), 2))
    for path, message in ((nul, "NUL byte"), (latin, "not valid UTF-8")):
        (problem,) = cost_focus.read(path).problems
        assert problem.level is Level.FATAL and message in problem.message
        assert problem.location == ("line 3" if path == nul else "line 2")


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.lists(st.sampled_from(["a", "\n", "é", "€", "𝄞", "\0"]), max_size=40),
       cut=st.integers(0, 6), chunk=st.sampled_from([1, 2, 3, 4, 7, 16]))
def test_the_text_scan_finds_what_a_whole_file_decode_finds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: list[str], cut: int,
        chunk: int) -> None:
    """Read in chunks of any size, full or not, the scan finds the first NUL byte or invalid
    UTF-8 byte on the line a decode of the whole file finds it."""
    data = "".join(text).encode()
    broken = data[:len(data) - cut] if cut and data else data  # may end inside a character
    if cut > 3 and broken:
        broken = broken[: len(broken) // 2] + b"\xff" + broken[len(broken) // 2:]
    path = tmp_path / "scanned.csv"
    path.write_bytes(broken)
    monkeypatch.setattr(cost_focus, "SCAN_CHUNK", chunk)
    found = cost_focus.scan_text(path).problem
    nul = broken.find(b"\0")
    try:
        broken.decode("utf-8")
        bad = -1
    except UnicodeDecodeError as exc:
        bad = exc.start
    if nul < 0 and bad < 0:
        assert found is None
        return
    assert found is not None
    first = min(at for at in (nul, bad) if at >= 0)
    line = broken.count(b"\n", 0, first) + 1
    assert found[0] == f"line {line}"
    assert ("NUL byte" in found[1]) == (first == nul)
    if found[3].startswith("byte"):  # not a character cut off by the end of the file
        assert found[3] == f"byte 0x{broken[bad]:02x} at offset {bad}"


def test_a_broken_file_lists_its_first_problems_and_counts_the_rest(tmp_path: Path) -> None:
    lines = [row("2026-10-01", f"2026-10-{i % 28 + 1:02d}", "Refund", "1", "1",
                 resource=f"r{i}") for i in range(250)]
    result = cost_focus.read(write(tmp_path, lines))
    listed = [p for p in result.problems if p.level is Level.ROW]
    assert len(listed) == cost_focus.MAX_PROBLEMS
    assert listed[0].location == "line 2, column 'ChargeCategory'"
    assert any(p.message == "250 problems; the first 200 are listed" for p in result.problems)
    assert result.rows == 0


def test_focus_1_2_pricing_currency_and_preview_columns_are_named(tmp_path: Path) -> None:
    priced = tmp_path / "priced.csv"
    priced.write_text(HEADER + ",PricingCurrency\n" + LINES[0] + ",Token\n" + LINES[1] + ",USD\n")
    result = cost_focus.read(priced)
    assert result.version == "1.2"
    assert any("1 row(s) are priced in a PricingCurrency" in p.message for p in result.problems)
    preview = tmp_path / "preview.csv"
    preview.write_text(HEADER.replace("ChargeClass", "ChargeSubcategory") + "\n"
                       + LINES[0] + "\n")
    result = cost_focus.read(preview)
    assert result.version == "1.0-preview"
    assert any("1.0-preview columns are not read: ChargeSubcategory" in p.message
               for p in result.problems)


def test_validate_counts_source_rows_not_ledger_lines(tmp_path: Path) -> None:
    from opsledger.core.inputs import Inputs
    from opsledger.core.workspace import InputKey, open_workspace

    hourly = [row("2026-10-01", "2026-10-02", "Usage", "1", "1", tags("checkout"))
              .replace("2026-10-02T00:00:00Z", f"2026-10-02T{hour:02d}:00:00Z", 1)
              for hour in range(24)]
    (tmp_path / "costs").mkdir()
    write(tmp_path / "costs", hourly)
    status = Inputs(open_workspace(tmp_path)).status(InputKey.COSTS)
    assert (status.records, status.detected_format, status.state) == (24, "FOCUS 1.0", "ok")


NAMES = st.one_of(st.none(), st.sampled_from(["a", "A", "b", "ab", "é", "e\u0301", "𝄞"]))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.tuples(NAMES, st.sampled_from([None, "checkout", "search"]),
                               st.integers(1, 3), st.integers(1, 9)), min_size=1, max_size=30))
def test_lines_are_the_rows_summed_per_naming_set_and_day_in_sorted_order(
    tmp_path: Path, rows: list[tuple[str | None, str | None, int, int]],
) -> None:
    # Each row: resource id (None: empty cell), the 'service' tag, day, effective cost.
    lines = [row("2026-10-01", f"2026-10-0{day}", "Usage", str(cost), str(cost),
                 tags(service), resource=resource or "").replace(f",{resource or ''}-name,",
                                                                  ",,", 1)
             for resource, service, day, cost in rows]
    ledger = cost_focus.read(write(tmp_path, lines)).records[0]
    expected: dict[tuple[str | None, str, int], list[int]] = {}
    for resource, service, day, cost in rows:
        tag_text = json.dumps({"service": service} if service else {})
        summed = expected.setdefault((resource, tag_text, day), [0, 0])
        summed[0] += cost
        summed[1] += 1
    # Sorted as the reader sorts: naming attributes by code point, missing ones last.
    order = sorted(expected, key=lambda key: (key[0] is None, key[0] or "", key[1], key[2]))
    assert [(line.resource_id, line.service, line.day.day, line.effective_cost, line.rows)
            for line in ledger.lines()] == [
        (resource, json.loads(tag_text).get("service"), day, *expected[resource, tag_text, day])
        for resource, tag_text, day in order]
