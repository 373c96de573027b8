from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from opsledger.demo.alerts import OPSGENIE_TEAMS, write_alert_history
from opsledger.demo.world import Size, build_world
from opsledger.readers import alerts
from opsledger.slo.confidence import Confidence
from opsledger.slo.noise import Tuning, noise_report

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def test_alert_history_is_deterministic_and_readable(tmp_path: Path) -> None:
    world = build_world(Size.SMALL, 7, NOW)
    first = write_alert_history(world, tmp_path / "a")
    second = write_alert_history(build_world(Size.SMALL, 7, NOW), tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    assert [p.relative_to(tmp_path / "a").as_posix() for p in first] == [
        "incidents/alerts/pagerduty-alerts.json",
        "incidents/alerts/opsgenie-alerts.json",
    ]
    other = write_alert_history(build_world(Size.SMALL, 8, NOW), tmp_path / "c")
    assert other[0].read_bytes() != first[0].read_bytes()

    result = alerts.read(tmp_path / "a" / "incidents" / "alerts")
    assert not result.problems
    assert all(e.created_at < NOW for e in result.records)
    by_source = {e.source for e in result.records}
    assert by_source == {"pagerduty", "opsgenie"}
    teams = {s.name: s.team for s in world.services}
    for event in result.records:
        assert (teams[event.service] in OPSGENIE_TEAMS) == (event.source == "opsgenie")


def test_alert_history_agrees_with_incidents_and_plants_noise(tmp_path: Path) -> None:
    world = build_world(Size.SMALL, 7, NOW)
    write_alert_history(world, tmp_path)
    events = alerts.read(tmp_path / "incidents" / "alerts").records
    in_span = [i for i in world.incidents if world.history_start <= i.detected_at < NOW]
    linked = {e.incident_id for e in events if e.incident_id and e.incident_id.startswith("INC")}
    assert linked == {i.id for i in in_span}
    for incident in in_span:
        fired = [e for e in events if e.incident_id == incident.id]
        assert len(fired) == (2 if incident.major else 1)
        assert all(e.created_at == incident.detected_at for e in fired)

    report = noise_report(events, known_incidents={i.id for i in world.incidents})
    by_name = {a.alert: a for a in report.alerts if a.alert != "HighCPU"}
    for flappy in ("DiskSpaceLow", "QueueDepthHigh"):
        assert by_name[flappy].flapping_episodes >= 4
        assert by_name[flappy].auto_resolve_rate == 1.0
    nightly = by_name["NightlyExportSlow"]
    assert nightly.actionable_rate == 0.0 and nightly.sleep_hours == nightly.firings
    assert by_name["HighErrorRate"].actionable_rate == 1.0
    # One decision per alert (name and service), the noisiest first.
    keys = [(d.service, d.alert) for d in report.decisions]
    assert len(keys) == len(set(keys)) == len(report.alerts)
    noise = [d.noise for d in report.decisions]
    assert noise == sorted(noise, reverse=True)
    decided = {d.alert: d for d in report.recommendations if d.alert != "HighCPU"}
    nightly_decision = decided["NightlyExportSlow"]
    assert nightly_decision.action is Tuning.DELETE_OR_DEMOTE
    assert nightly_decision.confidence is Confidence.HIGH
    assert nightly_decision.noise == nightly.firings
    for flappy in ("DiskSpaceLow", "QueueDepthHigh"):
        # Nobody acts on them: one decision, with the flapping as its evidence.
        assert decided[flappy].action is Tuning.DELETE_OR_DEMOTE
        assert any(a.startswith("add-hysteresis") for a in decided[flappy].also)
    assert not any(r.alert == "HighErrorRate" for r in report.recommendations)
    # The incident alerts page (severity error or critical); the noise does not.
    assert by_name["HighErrorRate"].pages == by_name["HighErrorRate"].firings
    assert by_name["NightlyExportSlow"].pages == 0
