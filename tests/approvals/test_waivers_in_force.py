"""The waivers in force: the newest unexpired waiver of each gate, soonest expiry first."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from opsledger.approvals.decisions import waiver_ledger, waivers_in_force


def _waive(ledger_dir: Path, procedure: str, gate: str, expires: str, why: str, day: int) -> None:
    waiver_ledger(ledger_dir).append({
        "time": f"2026-11-{day:02d}T09:00:00+00:00", "procedure": procedure, "gate": gate,
        "justification": why, "approver": "Ana Lead", "role": "sre_lead", "expires": expires,
    })


def test_newest_unexpired_waiver_of_each_gate_soonest_expiry_first(tmp_path: Path) -> None:
    _waive(tmp_path, "p09", "slo-coverage", "2026-12-20", "first", 1)
    _waive(tmp_path, "p09", "slo-coverage", "2026-12-31", "renewed", 2)
    _waive(tmp_path, "p18", "handover", "2026-11-30", "expired", 3)
    _waive(tmp_path, "p18", "plan", "2026-12-10", "vendor late", 4)
    found = waivers_in_force(waiver_ledger(tmp_path), date(2026, 12, 4))
    assert [(w.procedure, w.gate, w.justification) for w in found] == [
        ("p18", "plan", "vendor late"), ("p09", "slo-coverage", "renewed"),
    ]
    assert found[1].to_json()["expires"] == "2026-12-31"
    assert found[1].to_json()["granted"] == "2026-11-02T09:00:00+00:00"


def test_a_waiver_expiring_today_is_still_in_force(tmp_path: Path) -> None:
    _waive(tmp_path, "p09", "gate", "2026-12-04", "last day", 1)
    found = waivers_in_force(waiver_ledger(tmp_path), date(2026, 12, 4))
    assert [w.gate for w in found] == ["gate"]
    assert waivers_in_force(waiver_ledger(tmp_path), date(2026, 12, 5)) == ()
