"""forecast_ticket_volume end to end: CSV in, support-coverage-plan.json out; and the command.

Every plan is checked against an Erlang C written independently in ``plan_checks``.
"""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from opsledger.cli.forecast import app
from opsledger.core.config import SupportPolicy
from opsledger.core.errors import InputError
from opsledger.model import schema
from opsledger.support.service import PLAN_FILE, forecast_ticket_volume
from tests.support.plan_checks import check_plan

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


def _write(path: Path, rows: list[list[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        writer.writerows(rows)
    return path


def write_history(path: Path, days: int = 84) -> Path:
    """Two queues, weekly pattern, working hours; the day of ``NOW`` is still in progress."""
    rng = np.random.default_rng(11)
    week = np.array([1.3, 1.2, 1.1, 1.0, 0.9, 0.35, 0.25])
    hours = np.array([0.05] * 8 + [2, 3, 3, 3, 2, 2, 3, 3, 2, 1] + [0.2] * 6)
    hours /= hours.sum()
    first = (NOW - timedelta(days=days)).replace(hour=0, minute=0)
    rows: list[list[object]] = []
    for d in range(days + 1):
        day = first + timedelta(days=d)
        for queue, base in (("platform", 30.0), ("billing", 8.0)):
            for n in range(rng.poisson(base * week[day.weekday()])):
                created = day + timedelta(
                    hours=int(rng.choice(24, p=hours)), minutes=int(rng.integers(60))
                )
                rows.append([f"{queue}-{d}-{n}", created.isoformat(), "", queue, "access",
                             "P3", f"Password reset for user {n}",
                             f"{rng.uniform(4, 8):.1f}" if queue == "platform" else
                             f"{rng.uniform(10, 14):.1f}", "auth", "email"])
    rows.append(["bad-1", "not a time", "", "platform", "access", "", "x", "", "", ""])
    return _write(path, rows)


def write_small_desk(path: Path, weeks: int = 8) -> Path:
    """Five tickets every weekday, at fixed local times in Berlin, six minutes each."""
    times = {"access": ("09:30", "12:30", "15:30"), "billing": ("10:30", "14:30")}
    zone = "+02:00"  # Berlin in summer
    first = (NOW - timedelta(days=7 * weeks)).date()
    rows: list[list[object]] = []
    for d in range(7 * weeks):
        day = first + timedelta(days=d)
        if day.weekday() >= 5 or day >= NOW.date():
            continue
        for queue, stamps in times.items():
            for n, stamp in enumerate(stamps):
                rows.append([f"{queue}-{d}-{n}", f"{day.isoformat()}T{stamp}:00{zone}", "",
                             queue, "question", "P3", "Question", "6.0", "shop", "email"])
    return _write(path, rows)


def write_five_a_day(path: Path, weeks: int = 16) -> Path:
    """About five tickets a day in two queues, every day, mostly in business hours."""
    rng = np.random.default_rng(5)
    profile = np.array([0.2] * 7 + [1, 3, 4, 4, 3, 3, 4, 4, 3, 2, 1] + [0.5] * 6)
    profile /= profile.sum()
    week = np.array([1.2, 1.1, 1.1, 1.0, 1.0, 0.8, 0.8])
    first = (NOW - timedelta(days=7 * weeks)).replace(hour=0, minute=0, second=0)
    rows: list[list[object]] = []
    for d in range(7 * weeks):
        day = first + timedelta(days=d)
        for queue, base in (("access", 3.0), ("billing", 2.0)):
            for n in range(rng.poisson(base * week[day.weekday()])):
                created = day + timedelta(hours=int(rng.choice(24, p=profile)),
                                          minutes=int(rng.integers(60)))
                rows.append([f"{queue}-{d}-{n}", created.isoformat(), "", queue, "question",
                             "P3", "Question", "6.0", "shop", "email"])
    return _write(path, rows)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_history(tmp_path_factory.mktemp("tickets") / "ticket-history.csv")


@pytest.fixture(scope="module")
def small_desk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_small_desk(tmp_path_factory.mktemp("desk") / "ticket-history.csv")


def plan_of(history: Path, tmp_path: Path, **policy: Any) -> dict[str, Any]:
    settings = {"timezone": "Europe/Berlin", "answer_seconds": 60} | policy
    plan = forecast_ticket_volume(history, tmp_path / "plan.json", horizon_days=14, now=NOW,
                                  policy=SupportPolicy.model_validate(settings))
    document = json.loads((tmp_path / "plan.json").read_text())
    assert document == json.loads(json.dumps(plan.to_json()))
    return document


def group(document: dict[str, Any], name: str) -> dict[str, Any]:
    return next(g for g in document["skill_groups"] if g["skill_group"] == name)


def open_slots(g: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r["weekday"], r["start"]) for r in g["intervals"] if r["open"]]


def test_plan_is_written_whole_with_forecasts_staffing_and_rotation(
    history: Path, tmp_path: Path
) -> None:
    output = tmp_path / "evidence" / PLAN_FILE
    output.parent.mkdir()
    output.write_text("previous plan")
    policy = SupportPolicy.model_validate({"timezone": "Europe/Berlin", "handle_minutes": 6,
                                           "shrinkage": 0.25,
                                           "hours": {"weekly": "Mon-Fri 08:00-18:00"}})
    plan = forecast_ticket_volume(history, output, horizon_days=14, now=NOW, policy=policy)

    assert [p.name for p in output.parent.iterdir()] == [PLAN_FILE]  # no temporary files left
    data = json.loads(output.read_text())
    assert data["schema_version"] == schema.COVERAGE_PLAN
    assert data["generated_at"] == "2026-06-22T06:00:00+00:00"
    assert data["input_digest"] == hashlib.sha256(history.read_bytes()).hexdigest()
    assert data["inputs"] == {"ticket-history.csv": {"sha256": data["input_digest"]}}
    assert data["history_end"] == "2026-06-21"  # the day of NOW is incomplete
    assert data["tickets"]["quarantined_rows"] == 1
    assert "line" in data["tickets"]["problems"][0]["location"]
    assert {q["queue"] for q in data["queues"]} == {"platform", "billing"}

    platform = next(q for q in data["queues"] if q["queue"] == "platform")
    assert platform["status"] == "forecast" and platform["skill_group"] == "platform"
    assert len(platform["daily"]) == 14
    assert platform["daily"][0]["day"] == "2026-06-22"
    accuracy = platform["accuracy"]
    assert accuracy["model_mase"] <= accuracy["seasonal_naive_mase"]
    assert accuracy["backtest"]["windows"] == 3
    assert platform["handle_minutes_source"] == "ticket history"
    assert 5.5 < platform["handle_minutes"] < 6.5
    staffed = group(data, "platform")
    assert len(staffed["intervals"]) == 168 and staffed["hours"]["source"] == "configured"
    assert len(open_slots(staffed)) == 50
    check_plan(data)

    rotation = data["rotation"]
    assert rotation["covered"] is True and rotation["gaps"] == []
    assert rotation["headcount"] == len(rotation["roster"]) > 0
    assert plan.rotation is not None and plan.rotation.headcount == rotation["headcount"]

    # Same inputs, same clock: the same bytes.
    again = tmp_path / "again.json"
    forecast_ticket_volume(history, again, horizon_days=14, now=NOW, policy=policy)
    assert again.read_bytes() == output.read_bytes()


def least_agents(document: dict[str, Any]) -> int:
    """The fewest agents that work the plan's shifts in five-day weeks, group by group."""
    total = 0
    for g in document["skill_groups"]:
        per_day: dict[str, int] = {}
        for shift in g["shifts"]:
            per_day[shift["weekday"]] = per_day.get(shift["weekday"], 0) + shift["heads"]
        if per_day:
            total += max(max(per_day.values()), -(-sum(per_day.values()) // 5))
    return total


def test_five_tickets_a_day_no_longer_staff_every_queue_round_the_clock(
    tmp_path: Path
) -> None:
    """The same history used to give 18 agents: every queue 24×7, two or three heads a shift."""
    history = write_five_a_day(tmp_path / "ticket-history.csv")
    apart = plan_of(history, tmp_path, answer_seconds=20)
    check_plan(apart)
    for g in apart["skill_groups"]:
        assert g["hours"]["source"] == "observed"
        assert 0 < g["hours"]["open_hours_per_week"] < 7 * 24
        assert {r["agents"] for r in g["intervals"] if r["open"]} <= {1, 2}
    assert apart["rotation"]["headcount"] == least_agents(apart) < 18
    text = " ".join(apart["sanity"]["text"])
    assert "policies.support.min_agents = 1" in text and "idle agent-hours" in text
    pooled = plan_of(history, tmp_path, answer_seconds=20,
                     skill_groups=[{"name": "desk", "queues": ["access", "billing"]}])
    check_plan(pooled)
    assert pooled["rotation"]["headcount"] == least_agents(pooled)
    assert pooled["rotation"]["headcount"] < apart["rotation"]["headcount"]
    assert pooled["sanity"]["staffed_agent_hours"] < apart["sanity"]["staffed_agent_hours"]


def test_a_five_ticket_a_day_desk_gets_a_roster_it_can_check(
    small_desk: Path, tmp_path: Path
) -> None:
    """Five tickets each working day at fixed times: every figure by hand."""
    data = plan_of(small_desk, tmp_path, answer_seconds=20)
    check_plan(data)
    access, billing = group(data, "access"), group(data, "billing")
    # No hours configured: those the tickets arrive in, 09:30 to 15:30 and 10:30 to 14:30.
    assert access["hours"]["source"] == "observed"
    assert access["hours"]["weekly"] == "Mon-Fri 09:00-16:00"
    assert billing["hours"]["weekly"] == "Mon-Fri 10:00-15:00"
    # Every open hour needs one agent (at most one ticket an hour), two heads after 30 %.
    for g in (access, billing):
        assert {(r["agents"], r["heads"]) for r in g["intervals"] if r["open"]} == {(1, 2)}
    rotation = data["rotation"]
    # By hand: one shift a weekday per queue (shorter than 8 h), two heads on it, five days.
    assert rotation["headcount"] == 4
    assert rotation["rostered_hours"] == pytest.approx(2 * 5 * 7 + 2 * 5 * 5)
    text = " ".join(data["sanity"]["text"])
    assert "above 2.5× the work" in text
    assert "at least 1 agent(s) in every open interval, policies.support.min_agents = 1" in text
    floor = data["sanity"]["agent_hours_at_minimum"]
    assert floor == 5 * 7 + 5 * 5  # every open hour is held at the minimum
    idle = floor - data["sanity"]["work_hours_at_minimum"]
    assert f"adding {idle:.1f} idle agent-hours" in text

    pooled = plan_of(small_desk, tmp_path, answer_seconds=20,
                     skill_groups=[{"name": "desk", "queues": ["access", "billing"]}])
    check_plan(pooled)
    desk = group(pooled, "desk")
    assert desk["pooled"] is True and desk["hours"]["weekly"] == "Mon-Fri 09:00-16:00"
    assert pooled["rotation"]["headcount"] == 2


def test_hours_come_from_the_configuration_in_the_groups_time_zone(
    history: Path, tmp_path: Path
) -> None:
    data = plan_of(history, tmp_path, hours={"weekly": "Mon-Fri 08:00-18:00"},
                   skill_groups=[{"name": "billing-us", "queues": ["billing"],
                                  "hours": {"weekly": "Mon-Fri 02:00-12:00",
                                            "timezone": "America/New_York"}}])
    check_plan(data)
    platform, billing = group(data, "platform"), group(data, "billing-us")
    assert platform["timezone"] == "Europe/Berlin"
    assert platform["hours"]["from_key"] == "policies.support.hours"
    assert open_slots(platform) == [(d, f"{h:02d}:00") for d in ("Mon", "Tue", "Wed", "Thu",
                                                                  "Fri") for h in range(8, 18)]
    assert billing["timezone"] == "America/New_York"
    assert billing["hours"]["from_key"] == "policies.support.skill_groups[0].hours"
    assert billing["hours"]["weekly"] == "Mon-Fri 02:00-12:00"
    # Berlin is six hours ahead of New York in June: Berlin's 10:00 is New York's 04:00.
    queue = next(q for q in data["queues"] if q["queue"] == "billing")
    horizon = sum(d["mean"] for d in queue["daily"] if d["day"] in ("2026-06-23", "2026-06-30"))
    tuesday_ten = queue["weekday_interval_shares"][1][10] * horizon / 2
    row = next(r for r in billing["intervals"] if (r["weekday"], r["start"]) == ("Tue", "04:00"))
    assert row["arrivals"] == pytest.approx(tuesday_ten, rel=1e-3)
    closed = [r for r in billing["intervals"] if not r["open"]]
    assert closed and all(r["agents"] == 0 for r in closed)
    assert sum(r["carried"] for r in billing["intervals"]) == pytest.approx(
        sum(r["arrivals"] for r in closed), abs=2e-3)


def test_pooling_staffs_the_sum_of_the_queues_with_their_mean_handle_time(
    history: Path, tmp_path: Path
) -> None:
    hours = {"weekly": "Mon-Fri 08:00-18:00"}
    apart = plan_of(history, tmp_path, hours=hours)
    pooled = plan_of(history, tmp_path, hours=hours,
                     skill_groups=[{"name": "desk", "queues": ["platform", "billing"]}])
    check_plan(apart)
    check_plan(pooled)
    desk = group(pooled, "desk")
    assert [g["skill_group"] for g in pooled["skill_groups"]] == ["desk"]
    assert desk["queues"] == ["platform", "billing"] and desk["pooled"]
    platform, billing = group(apart, "platform"), group(apart, "billing")
    for joint, one, two in zip(desk["intervals"], platform["intervals"], billing["intervals"],
                               strict=True):
        assert joint["arrivals"] == pytest.approx(one["arrivals"] + two["arrivals"], abs=2e-4)
    weights = [(g["totals"]["tickets"], g["handle_minutes"]) for g in (platform, billing)]
    mean = sum(t * m for t, m in weights) / sum(t for t, _ in weights)
    assert desk["handle_minutes"] == pytest.approx(mean, rel=1e-4)
    # Same work, fewer agent-hours: the pool shares its idle time.
    assert desk["totals"]["work_hours"] == pytest.approx(
        platform["totals"]["work_hours"] + billing["totals"]["work_hours"], rel=1e-4)
    assert desk["totals"]["staffed_agent_hours"] < (
        platform["totals"]["staffed_agent_hours"] + billing["totals"]["staffed_agent_hours"])


def test_minimum_staffing_is_configurable_and_named(history: Path, tmp_path: Path) -> None:
    hours = {"weekly": "Mon-Fri 07:00-20:00"}
    none = plan_of(history, tmp_path, hours=hours, min_agents=0)
    check_plan(none)
    assert none["sanity"]["agent_hours_added_by_minimum"] == 0
    three = plan_of(history, tmp_path, hours=hours, min_agents=3,
                    skill_groups=[{"name": "desk", "queues": ["billing"], "min_agents": 4}])
    check_plan(three)
    platform, desk = group(three, "platform"), group(three, "desk")
    assert {r["agents"] >= 3 for r in platform["intervals"] if r["open"]} == {True}
    assert min(r["agents"] for r in desk["intervals"] if r["open"]) == 4
    assert desk["min_agents_key"] == "policies.support.skill_groups[0].min_agents"
    added = sum(r["agents"] - r["required_agents"] for r in desk["intervals"] if r["open"])
    assert desk["totals"]["agent_hours_added_by_minimum"] == added > 0
    text = " ".join(three["sanity"]["text"])
    assert ("Minimum staffing (at least 4 agent(s) in every open interval, "
            "policies.support.skill_groups[0].min_agents = 4) adds "
            f"{added:.1f} agent-hours (desk {added:.1f})") in text


def test_patience_switches_staffing_to_erlang_a(history: Path, tmp_path: Path) -> None:
    hours = {"weekly": "Mon-Fri 08:00-18:00"}
    patient = plan_of(history, tmp_path, hours=hours)
    impatient = plan_of(history, tmp_path, hours=hours, patience_seconds=60)
    models = {r["model"] for g in impatient["skill_groups"] for r in g["intervals"] if r["open"]}
    assert models == {"erlang-a"} and impatient["policy"]["staffing_model"] == "erlang-a"
    assert impatient["sanity"]["staffed_agent_hours"] <= patient["sanity"]["staffed_agent_hours"]


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
    assert plan.queues == () and plan.groups == ()
    assert plan.rotation is None
    assert plan.rotation_skipped == "the ticket history holds no tickets"
    assert plan.sanity_lines() == []


def test_command_writes_the_plan_and_prints_staffing_and_the_sanity_check(
    tmp_path: Path
) -> None:
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
    rows = [r for g in out["plan"]["skill_groups"] for r in g["intervals"] if r["open"]]
    assert rows and all("occupancy" in r and "service_level" in r for r in rows)

    table = runner.invoke(
        app, ["tickets", str(workspace), "--horizon", "7", "--now", NOW.isoformat()],
        terminal_width=200,
    )
    assert table.exit_code == 0, table.output
    assert "billing" in table.stdout and "Rotation:" in table.stdout
    assert "occupancy" in table.stdout and "Sanity check (typical week)" in table.stdout

    missing = runner.invoke(app, ["tickets", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2


def test_tickets_after_the_evaluation_time_are_not_history(history: Path, tmp_path: Path) -> None:
    early = datetime(2026, 1, 1, tzinfo=UTC)  # before the first ticket
    plan = forecast_ticket_volume(history, tmp_path / "plan.json", now=early)
    assert plan.queues == () and plan.tickets_after_history == plan.tickets_read
    assert plan.rotation_skipped == "no ticket was created on or before 2025-12-31"
