"""Automation candidates: recurring ticket clusters and toil in the backlog."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest

from opsledger.backlog.automation import (
    DAYS_PER_MONTH,
    automation_candidates,
    backlog_candidates,
    cluster_titles,
    normalise_title,
    suggest_kind,
    ticket_clusters,
)
from opsledger.model.common import ItemStatus, Severity
from opsledger.model.handover import Ticket, WorkItem

START = datetime(2026, 1, 1, tzinfo=UTC)


def ticket(n: int, title: str, category: str, day: int, minutes: float | None = 10.0) -> Ticket:
    return Ticket(
        f"T-{n}",
        START + timedelta(days=day, hours=10),
        None,
        "l1",
        category,
        "P3",
        title,
        minutes,
        "auth",
    )


def test_titles_fold_ids_numbers_and_addresses() -> None:
    assert normalise_title("Disk FULL on web-01 (10.0.3.7)!") == "disk full on _key_ _ip_"
    assert normalise_title("Reset password for jane@example.com") == "reset password for _email_"
    assert normalise_title("Job 8812 stuck, see https://ci/x/1") == "job _num_ stuck see _url_"
    assert normalise_title("Deploy a1b2c3d4e5 failed") == "deploy _hex_ failed"


def test_obvious_duplicates_share_a_cluster_and_different_tasks_do_not() -> None:
    titles = [
        "Password reset for user 1234",
        "Reset password for jane@example.com",
        "password reset request - user 99",
        "Disk full on web-01",
        "disk full on db-03 /var/log",
        "Cannot export invoice PDF",
        "How to add a team member",
    ]
    labels = cluster_titles(titles)
    assert labels[0] == labels[1] == labels[2]
    assert labels[3] == labels[4]
    assert len({labels[0], labels[3], labels[5], labels[6]}) == 4


def test_clusters_report_volume_handle_time_and_hours_saved() -> None:
    tickets: list[Ticket] = []
    # 90 days: a password reset every day (10 min), a disk alert every 3 days (30 min).
    for day in range(90):
        tickets.append(ticket(len(tickets), f"Password reset for user {day}", "access", day))
        if day % 3 == 0:
            tickets.append(ticket(len(tickets), f"Disk full on web-{day:02d}", "infra", day, 30.0))
    tickets.append(ticket(len(tickets), "Weird one-off question", "access", 5))
    clusters = ticket_clusters(tickets, automation_rate=0.5)
    assert [c.category for c in clusters] == ["access", "infra"]  # one-off left out
    reset, disk = clusters
    months = 90 / DAYS_PER_MONTH
    assert reset.tickets == 90
    assert reset.tickets_per_month == pytest.approx(90 / months)
    assert reset.mean_handle_minutes == pytest.approx(10.0)
    assert reset.hours_saved_per_month == pytest.approx(90 / months * 10 * 0.5 / 60)
    assert disk.hours_saved_per_month == pytest.approx(30 / months * 30 * 0.5 / 60)
    assert dict(reset.monthly_volume) == {"2026-01": 31, "2026-02": 28, "2026-03": 31}
    assert reset.trend.startswith("unknown")  # one full month only
    assert reset.kind.kind == "self-service"
    assert disk.kind.kind == "self-healing"
    assert len(reset.example_titles) == 3


def test_trend_is_read_from_full_months() -> None:
    tickets: list[Ticket] = []
    for month in range(6):
        for k in range(5 + 5 * month):  # 5, 10, 15 ... tickets a month
            tickets.append(
                ticket(len(tickets), "Rotate API key for tenant", "access", month * 31 + k % 28)
            )
    (cluster,) = ticket_clusters(tickets)
    assert cluster.trend == "rising"
    assert cluster.trend_per_month is not None and cluster.trend_per_month > 0


def test_kind_falls_back_to_runbook_automation() -> None:
    kind = suggest_kind(["Update DNS record for campaign site"], "change")
    assert kind.kind == "runbook-automation" and kind.reasons


def item(identifier: str, title: str, severity: Severity | None, description: str = "") -> WorkItem:
    return WorkItem(
        identifier,
        title,
        "tech-debt",
        "billing",
        "ops",
        severity,
        ItemStatus.OPEN,
        date(2026, 9, 1),
        description=description,
    )


def test_backlog_items_that_describe_toil_are_candidates() -> None:
    items = [
        item("TD-1", "Refactor invoice module", Severity.HIGH),
        item("TD-2", "Certificate renewal is manual", Severity.MEDIUM),
        item("TD-3", "Weekly report", Severity.CRITICAL, "copied into a spreadsheet by hand"),
        item("TD-4", "Scriptwriting guide", None),  # 'script' only inside a longer word
    ]
    found = backlog_candidates(items)
    assert [c.item.id for c in found] == ["TD-3", "TD-2"]
    assert found[1].matched == ("manual",)
    assert found[1].kind.kind == "self-healing"  # certificate renewal


def test_report_is_json_ready_and_ranked() -> None:
    tickets = [ticket(i, f"Unlock account {i}", "access", i) for i in range(40)]
    tickets += [ticket(100 + i, f"Restart stuck worker {i}", "jobs", i, 45.0) for i in range(20)]
    report = automation_candidates(
        tickets,
        [item("TD-2", "Manual failover drill", Severity.LOW)],
        now=START + timedelta(days=60),
        inputs={"tickets": "abc"},
    )
    text = json.dumps(report)
    assert json.loads(text)["summary"]["clusters"] == 2
    ranked = report["ticket_candidates"]
    assert isinstance(ranked, list)
    assert [c["rank"] for c in ranked] == [1, 2]
    assert ranked[0]["category"] == "jobs"  # 20 × 45 min beats 40 × 10 min
    assert ranked[0]["hours_saved_per_month"] > ranked[1]["hours_saved_per_month"]
    assert report["assumptions"]["automation_rate"] == 0.5  # type: ignore[index]
    assert report["backlog_candidates"][0]["id"] == "TD-2"  # type: ignore[index]
    with pytest.raises(ValueError):
        automation_candidates(tickets, now=START, automation_rate=0)
