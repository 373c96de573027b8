"""forecast_ticket_volume end to end: CSV in, support-coverage-plan.json out; and the command."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from opsledger.cli.forecast import app
from opsledger.core.config import SupportPolicy
from opsledger.core.errors import InputError
from opsledger.support.service import PLAN_FILE, forecast_ticket_volume

NOW = datetime(2026, 6, 22, 6, 0, tzinfo=UTC)
HEADER = [
    "id",
    "created_at",
    "resolved_at",
    "queue",
    "category",
    "priority",
    "title",
    "handle_minutes",
    "service",
    "channel",
]


def write_history(path: Path, days: int = 84) -> Path:
    """Two queues, weekly pattern, working hours; the day of ``NOW`` is still in progress."""
    rng = np.random.default_rng(11)
    week = np.array([1.3, 1.2, 1.1, 1.0, 0.9, 0.35, 0.25])
    hours = np.array([0.05] * 8 + [2, 3, 3, 3, 2, 2, 3, 3, 2, 1] + [0.2] * 6)
    hours /= hours.sum()
    first = (NOW - timedelta(days=days)).replace(hour=0, minute=0)
    rows = []
    for d in range(days + 1):
        day = first + timedelta(days=d)
        for queue, base in (("platform", 30.0), ("billing", 8.0)):
            for n in range(rng.poisson(base * week[day.weekday()])):
                created = day + timedelta(
                    hours=int(rng.choice(24, p=hours)), minutes=int(rng.integers(60))
                )
                rows.append(
                    [
                        f"{queue}-{d}-{n}",
                        created.isoformat(),
                        "",
                        queue,
                        "access",
                        "P3",
                        f"Password reset for user {n}",
                        f"{rng.uniform(4, 8):.1f}",
                        "auth",
                        "email",
                    ]
                )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
        writer.writerow(["bad-1", "not a time", "", "platform", "access", "", "x", "", "", ""])
    return path


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_history(tmp_path_factory.mktemp("tickets") / "ticket-history.csv")


def test_plan_is_written_whole_with_forecasts_staffing_and_rotation(
    history: Path, tmp_path: Path
) -> None:
    output = tmp_path / "evidence" / PLAN_FILE
    output.parent.mkdir()
    output.write_text("previous plan")
    policy = SupportPolicy(timezone="Europe/Berlin", handle_minutes=6, shrinkage=0.25)
    plan = forecast_ticket_volume(history, output, horizon_days=14, now=NOW, policy=policy)

    assert [p.name for p in output.parent.iterdir()] == [PLAN_FILE]  # no temporary files left
    data = json.loads(output.read_text())
    assert data["schema_version"] == 1
    assert data["generated_at"] == "2026-06-22T06:00:00+00:00"
    assert data["input_digest"] == hashlib.sha256(history.read_bytes()).hexdigest()
    assert data["inputs"] == {"ticket-history.csv": {"sha256": data["input_digest"]}}
    assert data["history_end"] == "2026-06-21"  # the day of NOW is incomplete
    assert data["tickets"]["quarantined_rows"] == 1
    assert "line" in data["tickets"]["problems"][0]["location"]
    assert {q["queue"] for q in data["queues"]} == {"platform", "billing"}

    platform = next(q for q in data["queues"] if q["queue"] == "platform")
    assert platform["status"] == "forecast"
    assert len(platform["daily"]) == 14
    assert platform["daily"][0]["day"] == "2026-06-22"
    accuracy = platform["accuracy"]
    assert accuracy["model_mase"] <= accuracy["seasonal_naive_mase"]
    assert accuracy["backtest"]["windows"] == 3
    assert platform["handle_minutes_source"] == "ticket history"
    assert 5.5 < platform["handle_minutes"] < 6.5
    assert len(platform["staffing_per_hour_of_week"]) == 168
    assert len(platform["staffing_per_shift"]) == 7 * 3
    for hour in platform["staffing_per_hour_of_week"]:
        if hour["agents"]:
            assert hour["service_level"] >= 0.8
            assert hour["occupancy"] <= 0.85 + 1e-9
            assert hour["scheduled"] >= hour["agents"] / 0.75 - 1e-9

    rotation = data["rotation"]
    assert rotation["covered"] is True and rotation["gaps"] == []
    assert rotation["headcount"] == len(rotation["roster"]) > 0
    assert plan.rotation is not None and plan.rotation.headcount == rotation["headcount"]
    assert data["staffing_per_shift_total"]

    # Same inputs, same clock: the same bytes.
    again = tmp_path / "again.json"
    forecast_ticket_volume(history, again, horizon_days=14, now=NOW, policy=policy)
    assert again.read_bytes() == output.read_bytes()


def test_patience_switches_staffing_to_erlang_a(history: Path, tmp_path: Path) -> None:
    patient = forecast_ticket_volume(history, tmp_path / "c.json", horizon_days=7, now=NOW)
    impatient = forecast_ticket_volume(
        history,
        tmp_path / "a.json",
        horizon_days=7,
        now=NOW,
        policy=SupportPolicy(patience_seconds=60),
    )
    models = {h.figures.model for q in impatient.forecast_queues for h in q.hours}
    assert models == {"erlang-a"}
    assert sum(q.peak_agents for q in impatient.forecast_queues) <= sum(
        q.peak_agents for q in patient.forecast_queues
    )


def test_unreadable_history_names_the_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "ticket-history.csv"
    bad.write_text("id,created_at,queue\n1,2026-01-01T00:00:00Z,l1\n")
    with pytest.raises(InputError) as caught:
        forecast_ticket_volume(bad, tmp_path / "plan.json", now=NOW)
    message = str(caught.value)
    assert "ticket-history.csv" in message and "line 1" in message
    assert "category" in message and "title" in message
    assert not (tmp_path / "plan.json").exists()
    with pytest.raises(InputError, match="not found"):
        forecast_ticket_volume(tmp_path / "missing.csv", tmp_path / "plan.json", now=NOW)


def test_empty_history_gives_a_plan_without_rotation(tmp_path: Path) -> None:
    empty = tmp_path / "ticket-history.csv"
    empty.write_text(",".join(HEADER) + "\n")
    plan = forecast_ticket_volume(empty, tmp_path / "plan.json", now=NOW)
    assert plan.queues == ()
    assert plan.rotation is None
    assert plan.rotation_skipped == "the ticket history holds no tickets"


def test_command_writes_the_plan_into_the_evidence_folder(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "handover").mkdir(parents=True)
    write_history(workspace / "handover" / "ticket-history.csv", days=42)
    runner = CliRunner()
    result = runner.invoke(
        app, ["tickets", str(workspace), "--horizon", "7", "--now", NOW.isoformat(), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    written = workspace / ".artifacts" / "protocol-21" / PLAN_FILE
    assert Path(out["output"]) == written and written.is_file()
    assert out["plan"]["horizon_days"] == 7

    table = runner.invoke(
        app, ["tickets", str(workspace), "--horizon", "7", "--now", NOW.isoformat()]
    )
    assert table.exit_code == 0, table.output
    assert "billing" in table.stdout and "Rotation:" in table.stdout

    missing = runner.invoke(app, ["tickets", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2


def test_tickets_after_the_evaluation_time_are_not_history(history: Path, tmp_path: Path) -> None:
    early = datetime(2026, 1, 1, tzinfo=UTC)  # before the first ticket
    plan = forecast_ticket_volume(history, tmp_path / "plan.json", now=early)
    assert plan.queues == () and plan.tickets_after_history == plan.tickets_read
    assert plan.rotation_skipped == "no ticket was created on or before 2025-12-31"
