"""Due dates, change-window placement across DST and freezes, and the update plan."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from opsledger.core.config import ChangeWindow, Freeze, SeverityDays
from opsledger.model.common import Severity
from opsledger.model.security import Finding, OutdatedPackage
from opsledger.patching.cadence import (
    PlacementStatus,
    assess_posture,
    finding_due,
    freeze_interval,
    plan_updates,
    window_slots,
)

SLA = SeverityDays()  # critical 7, high 30, medium 90, low 180
TODAY = date(2026, 3, 20)
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)


def vuln(
    severity: Severity,
    first_seen: date | None = TODAY,
    kev: bool = False,
    kev_due: date | None = None,
    fixed: tuple[str, ...] = ("2.0.0",),
    package: str = "examplelib",
    cve: str = "CVE-2024-0001",
) -> Finding:
    return Finding(
        cve,
        (),
        package,
        "PyPI",
        "1.0.0",
        fixed,
        severity=severity,
        first_seen=first_seen,
        kev=kev,
        kev_due=kev_due,
        sources=("pip-audit",),
    )


def test_due_date_is_first_seen_plus_the_band_sla() -> None:
    seen = date(2026, 3, 1)
    assert finding_due(vuln(Severity.CRITICAL, seen), SLA, TODAY).due_date == date(2026, 3, 8)
    assert finding_due(vuln(Severity.HIGH, seen), SLA, TODAY).due_date == date(2026, 3, 31)
    assert finding_due(vuln(Severity.MEDIUM, seen), SLA, TODAY).due_date == date(2026, 5, 30)
    assert finding_due(vuln(Severity.LOW, seen), SLA, TODAY).due_date == date(2026, 8, 28)
    unknown = finding_due(vuln(Severity.UNKNOWN, seen), SLA, TODAY)
    assert unknown.due_date == date(2026, 5, 30) and "as medium" in unknown.basis
    custom = SeverityDays(critical=2, high=10, medium=20, low=40)
    assert finding_due(vuln(Severity.HIGH, seen), custom, TODAY).due_date == date(2026, 3, 11)


def test_kev_tightens_to_the_earlier_of_kev_due_and_14_days() -> None:
    seen = date(2026, 3, 1)
    # Medium SLA would give 90 days; KEV caps it at 14 days.
    capped = finding_due(vuln(Severity.MEDIUM, seen, kev=True), SLA, TODAY)
    assert capped.due_date == date(2026, 3, 15) and "14 days" in capped.basis
    # A CISA due date earlier than 14 days wins.
    cisa = finding_due(vuln(Severity.MEDIUM, seen, kev=True, kev_due=date(2026, 3, 10)), SLA, TODAY)
    assert cisa.due_date == date(2026, 3, 10) and "CISA" in cisa.basis
    # A critical SLA (7 days) is already tighter than both.
    critical = finding_due(
        vuln(Severity.CRITICAL, seen, kev=True, kev_due=date(2026, 4, 1)), SLA, TODAY
    )
    assert critical.due_date == date(2026, 3, 8)


def test_overdue_and_due_soon_lists() -> None:
    posture = assess_posture(
        [
            vuln(Severity.HIGH, date(2026, 2, 1), package="a"),  # due 03-03: overdue
            vuln(Severity.CRITICAL, date(2026, 3, 18), package="b"),  # due 03-25: due soon
            vuln(Severity.LOW, date(2026, 3, 18), package="c"),  # due 09-14: neither
            vuln(Severity.HIGH, None, package="d"),  # counted from today: 04-19
        ],
        SLA,
        NOW,
    )
    assert [i.finding.package for i in posture.overdue] == ["a"]
    assert posture.overdue[0].days_left == -17
    assert [i.finding.package for i in posture.due_soon] == ["b"]
    unknown_seen = next(i for i in posture.items if i.finding.package == "d")
    assert not unknown_seen.first_seen_known and unknown_seen.due_date == date(2026, 4, 19)
    assert posture.counts_by_band() == {
        "critical": 1,
        "high": 2,
        "medium": 0,
        "low": 1,
        "unknown": 0,
    }


BERLIN_SUNDAY = ChangeWindow(
    name="sunday-night", cron="0 2 * * 0", duration_minutes=120, timezone="Europe/Berlin"
)


def test_window_keeps_local_time_across_the_spring_dst_change() -> None:
    # Europe/Berlin moves from CET (+1) to CEST (+2) at 02:00 on Sunday 2026-03-29.
    slots = list(window_slots(BERLIN_SUNDAY, NOW, NOW + timedelta(days=20)))
    starts_utc = [s.start.astimezone(UTC) for s in slots]
    assert starts_utc == [
        datetime(2026, 3, 22, 1, 0, tzinfo=UTC),  # 02:00 CET
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),  # 02:00 does not exist: 03:00 CEST
        datetime(2026, 4, 5, 0, 0, tzinfo=UTC),  # 02:00 CEST
    ]
    assert [s.start.hour for s in slots] == [2, 3, 2]
    # Durations are elapsed time: two hours in every case.
    assert all(s.end - s.start == timedelta(hours=2) for s in slots)


def test_window_across_the_autumn_change_in_new_york() -> None:
    window = ChangeWindow(
        name="ny", cron="30 1 * * 0", duration_minutes=60, timezone="America/New_York"
    )
    start = datetime(2026, 10, 25, tzinfo=UTC)
    slots = list(window_slots(window, start, start + timedelta(days=15)))
    # 2026-11-01 01:30 happens twice; the first (EDT, -4) is taken.
    assert [s.start.astimezone(UTC).hour for s in slots] == [5, 5, 6]


def test_placement_skips_a_freeze_for_routine_updates_but_not_for_security() -> None:
    freeze = Freeze(name="release freeze", start=date(2026, 3, 21), end=date(2026, 3, 29))
    outdated = [OutdatedPackage("examplelib", "PyPI", "1.2.0", "1.3.0")]
    posture = assess_posture([vuln(Severity.HIGH, TODAY)], SLA, NOW)
    plan = plan_updates(posture, outdated, [BERLIN_SUNDAY], [freeze], NOW)
    by_key = {p.group.key: p for p in plan.placements}
    routine, security = by_key["patch-minor"], by_key["security-high"]
    # The freeze covers 21-29 March local time, so the 22nd and the 29th (03:00 CEST) go.
    assert routine.slot is not None and routine.slot.start.date() == date(2026, 4, 5)
    assert len(routine.passed_over) == 2 and "release freeze" in routine.passed_over[0]
    assert routine.status is PlacementStatus.SCHEDULED
    # The freeze lets security changes through (its default allow list).
    assert security.slot is not None and security.slot.start.date() == date(2026, 3, 22)


def test_plan_flags_a_due_date_no_window_can_meet() -> None:
    # Critical, first seen 18 March: due 25 March. The only windows are the 22nd and 29th,
    # and a freeze that allows nothing covers the 22nd.
    strict = Freeze(
        name="board demo",
        start=datetime(2026, 3, 21, 0, 0, tzinfo=UTC),
        end=datetime(2026, 3, 23, 0, 0, tzinfo=UTC),
        allow=[],
    )
    posture = assess_posture([vuln(Severity.CRITICAL, date(2026, 3, 18))], SLA, NOW)
    plan = plan_updates(posture, [], [BERLIN_SUNDAY], [strict], NOW)
    [placement] = plan.placements
    assert placement.status is PlacementStatus.EMERGENCY
    assert "2026-03-25" in placement.reason and placement.flagged
    assert placement.slot is not None and placement.slot.start.date() == date(2026, 3, 29)
    assert plan.flagged == (placement,)


def test_overdue_findings_are_their_own_emergency_group_and_no_fix_is_flagged() -> None:
    posture = assess_posture(
        [
            vuln(Severity.HIGH, date(2026, 1, 1), package="late"),
            vuln(Severity.HIGH, TODAY, package="fresh"),
            vuln(Severity.MEDIUM, TODAY, package="unfixed", fixed=()),
        ],
        SLA,
        NOW,
    )
    plan = plan_updates(posture, [], [BERLIN_SUNDAY], [], NOW)
    status = {p.group.key: p.status for p in plan.placements}
    assert status == {
        "security-overdue": PlacementStatus.EMERGENCY,
        "security-high": PlacementStatus.SCHEDULED,
        "security-no-fix": PlacementStatus.NO_FIX,
    }


def test_error_budget_freeze_holds_routine_updates_only() -> None:
    outdated = [
        OutdatedPackage("examplelib", "PyPI", "1.2.0", "1.2.1"),
        OutdatedPackage("otherlib", "PyPI", "1.0.0", "2.0.0"),
    ]
    posture = assess_posture([vuln(Severity.MEDIUM, TODAY)], SLA, NOW)
    plan = plan_updates(posture, outdated, [BERLIN_SUNDAY], [], NOW, error_budget_freeze="all")
    status = {p.group.key: p.status for p in plan.placements}
    assert status == {
        "security-medium": PlacementStatus.SCHEDULED,
        "patch-minor": PlacementStatus.HELD,
        "major": PlacementStatus.HELD,
    }
    assert plan.error_budget_freeze == ("all",)
    # Freezing some services: a window for only those services is passed over, a window
    # for every service is used with the frozen ones left out.
    scoped = ChangeWindow(
        name="checkout-only", cron="0 1 * * 6", timezone="UTC", services=["checkout"]
    )
    plan = plan_updates(posture, outdated[:1], [scoped], [], NOW, error_budget_freeze=["checkout"])
    routine = next(p for p in plan.placements if p.group.key == "patch-minor")
    assert routine.status is PlacementStatus.NO_WINDOW and routine.passed_over
    plan = plan_updates(
        posture, outdated[:1], [BERLIN_SUNDAY], [], NOW, error_budget_freeze=["checkout"]
    )
    routine = next(p for p in plan.placements if p.group.key == "patch-minor")
    assert routine.status is PlacementStatus.SCHEDULED
    assert routine.excluded_services == ("checkout",)


def test_security_target_is_the_lowest_fix_above_the_installed_version() -> None:
    finding = Finding(
        "CVE-2021-44906",
        (),
        "minimist",
        "npm",
        "1.2.5",
        ("0.2.4", "1.2.6", "1.2.8"),
        severity=Severity.CRITICAL,
        first_seen=TODAY,
    )
    plan = plan_updates(assess_posture([finding], SLA, NOW), [], [BERLIN_SUNDAY], [], NOW)
    [update] = plan.placements[0].group.updates
    assert (update.current, update.target) == ("1.2.5", "1.2.6")


def test_bare_date_freeze_covers_whole_local_days() -> None:
    from zoneinfo import ZoneInfo

    freeze = Freeze(name="x", start="2026-12-20", end="2026-12-31")  # type: ignore[arg-type]
    start, end = freeze_interval(freeze, ZoneInfo("Europe/Berlin"))
    assert start == datetime(2026, 12, 20, tzinfo=ZoneInfo("Europe/Berlin"))
    assert end == datetime(2027, 1, 1, tzinfo=ZoneInfo("Europe/Berlin"))
