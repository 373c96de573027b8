from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from opsledger.core.problems import Level
from opsledger.readers import alerts, alerts_opsgenie, alerts_pagerduty

DATA = Path(__file__).parent / "data" / "alerts"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_pagerduty_alerts_with_log_entries() -> None:
    result = alerts_pagerduty.read(DATA / "pagerduty-alerts.json")
    assert not result.fatal
    by_id = {e.id: e for e in result.records}
    assert sorted(by_id) == ["PA1", "PA2", "PA3"]
    first = by_id["PA1"]
    assert first.alert == "HighErrorRate"
    assert first.service == "checkout"
    assert first.incident_id == "PI1"
    assert first.acknowledged_at == at("2026-03-02T03:12:00")
    assert first.resolved_at == at("2026-03-02T03:20:00")
    assert first.auto_resolved is False  # a person resolved it
    assert first.priority == "critical" and first.source == "pagerduty"
    second = by_id["PA2"]
    assert second.auto_resolved is True  # resolved by the integration
    assert second.acknowledged_at is None
    third = by_id["PA3"]
    assert third.alert == "Disk almost full"
    assert third.created_at == at("2026-03-03T09:00:00")  # offset kept, compared in UTC
    assert third.resolved_at is None and third.auto_resolved is None
    (bad,) = result.quarantined
    assert bad.location == "$.alerts[3].created_at"
    assert "'yesterday'" in bad.found
    warnings = [p for p in result.problems if p.level is Level.WARNING]
    assert len(warnings) == 1 and "PA1 appears twice" in warnings[0].message


def test_pagerduty_incident_list_without_alerts() -> None:
    result = alerts_pagerduty.read(DATA / "pagerduty-incidents.json")
    assert not result.problems
    first, second = result.records
    assert first.alert == "Queue lag on orders" and first.incident_id == "Q1"
    assert first.acknowledged_at == at("2026-03-06T22:19:00")  # the earliest acknowledgement
    assert first.resolved_at == at("2026-03-06T23:00:00")  # status resolved: last change
    assert first.priority == "P2"
    assert second.resolved_at is None and second.priority == "low"


def test_opsgenie_alerts() -> None:
    result = alerts_opsgenie.read(DATA / "opsgenie-alerts.json")
    by_id = {e.id: e for e in result.records}
    assert sorted(by_id) == ["og-1", "og-2", "og-3"]
    first = by_id["og-1"]
    assert first.service == "ledger-db" and first.incident_id == "INC-7"
    # ackTime and closeTime are milliseconds after createdAt.
    assert first.acknowledged_at == at("2026-03-04T23:32:00")
    assert first.resolved_at == at("2026-03-04T23:45:00")
    assert first.auto_resolved is False and first.priority == "P2"
    second = by_id["og-2"]
    assert second.auto_resolved is True  # closed by the Prometheus integration
    assert second.acknowledged_at is None and second.occurrences == 4
    third = by_id["og-3"]
    assert third.service == "status-page" and third.resolved_at is None
    (bad,) = result.quarantined
    assert bad.location == "$.data[3].count"


def test_folder_reader_sniffs_each_file(tmp_path: Path) -> None:
    result = alerts.read(DATA)
    assert len(result.records) == 3 + 2 + 3
    assert result.detected_format == "opsgenie-alerts-json + pagerduty-alerts-json"
    times = [e.created_at for e in result.records]
    assert times == sorted(times)
    (tmp_path / "quiet").mkdir()
    (tmp_path / "quiet" / "pd.json").write_text('{"alerts": [], "more": false}')
    (tmp_path / "quiet" / "og.json").write_text('{"data": [], "took": 0.1}')
    quiet = alerts.read(tmp_path / "quiet")
    assert not quiet.problems and not quiet.records
    (tmp_path / "x.json").write_text('{"items": [1]}')
    (tmp_path / "y.json").write_text('{"alerts": [')
    (tmp_path / "quiet" / "pd.json").unlink()
    (tmp_path / "quiet" / "og.json").unlink()
    junk = alerts.read(tmp_path)
    assert junk.fatal and not junk.records
    messages = sorted(str(p) for p in junk.problems)
    assert "not a known alert export" in messages[0]
    assert "y.json: line 1" in messages[1] and "invalid JSON" in messages[1]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "id",
                    "created_at",
                    "createdAt",
                    "alerts",
                    "data",
                    "incidents",
                    "log_entries",
                    "summary",
                    "message",
                    "report",
                    "ackTime",
                    "closeTime",
                    "status",
                    "incident",
                    "tags",
                    "count",
                    "type",
                    "service",
                    "body",
                    "details",
                    "acknowledgements",
                ]
            ),
            inner,
            max_size=6,
        )
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(document=json_values)
def test_readers_never_raise_on_arbitrary_json(document: object) -> None:
    from opsledger.core.problems import ReadResult

    for module in (alerts_pagerduty, alerts_opsgenie):
        result: ReadResult = ReadResult(Path("x.json"))
        module.read_data(Path("x.json"), document, result)
        assert all(e.id for e in result.records)
