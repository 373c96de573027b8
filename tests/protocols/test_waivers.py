"""Waiver policy (who may waive which gate, for how long, saying how much), a waived gate as a
skipped JUnit test, and one way to name a person: ``--by EMAIL``, ``--as ROLE``."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from opsledger.approvals.decisions import record_waiver, waiver_ledger
from opsledger.core.config import Config, Role, load_config
from opsledger.core.errors import InputError
from opsledger.model.gates import GateResult
from opsledger.model.status import Status
from opsledger.render.junit import gates_junit
from tests.conftest import DEMO_NOW, cli
from tests.protocols.toy import NOW

NOW_TEXT = DEMO_NOW.isoformat()
ROSTER = """
stakeholders:
  - {name: Olu Ops, email: olu@example.com, role: operations-director}
  - {name: Sam Sec, email: sam@example.com, role: security-lead}
"""
WHY = "alerts for auth land next sprint"


def waive(config: Config, folder: Path, gate: str, role: Role | None, until: date,
          why: str = WHY, email: str | None = None) -> dict[str, str]:
    return record_waiver(waiver_ledger(folder), config, "p18", gate, why, role, until, NOW,
                         email)


def config_with(tmp_path: Path, extra: str = "") -> Config:
    (tmp_path / "opsledger.yaml").write_text(ROSTER + extra)
    return load_config(tmp_path)


def test_the_default_policy_limits_roles_length_and_justification(tmp_path: Path) -> None:
    config = config_with(tmp_path)
    with pytest.raises(InputError, match="'security-lead' may not waive p18-governance-cadence"):
        waive(config, tmp_path, "p18-governance-cadence", Role.SECURITY_LEAD, date(2026, 11, 20))
    # 2026-11-01 + 30 days = 2026-12-01, the last day a default waiver may run to.
    with pytest.raises(InputError, match=r"31 days away.*at most 30 days.*until 2026-12-01"):
        waive(config, tmp_path, "p18-governance-cadence", Role.OPERATIONS_DIRECTOR,
              date(2026, 12, 2))
    with pytest.raises(InputError, match="'x' is too short"):
        waive(config, tmp_path, "p18-governance-cadence", Role.OPERATIONS_DIRECTOR,
              date(2026, 11, 20), why="x")
    assert not (tmp_path / "waivers.csv").exists()
    row = waive(config, tmp_path, "p18-governance-cadence", Role.OPERATIONS_DIRECTOR,
                date(2026, 12, 1))
    assert (row["approver"], row["role"], row["expires"]) == (
        "Olu Ops", "operations-director", "2026-12-01")


def test_a_gate_can_have_its_own_roles_and_length(tmp_path: Path) -> None:
    config = config_with(tmp_path, """
policies:
  justification: {min_words: 5, min_chars: 30}
  waivers:
    default: {max_days: 60}
    gates:
      p18-backlog-integrity: {roles: [security-lead], max_days: 7}
""")
    assert config.policies.waivers.rule("p18-backlog-integrity") == ((Role.SECURITY_LEAD,), 7)
    assert config.policies.waivers.rule("p18-governance-cadence")[1] == 60
    with pytest.raises(InputError, match="may not waive p18-backlog-integrity"):
        waive(config, tmp_path, "p18-backlog-integrity", Role.OPERATIONS_DIRECTOR,
              date(2026, 11, 5), why="the security fixes ship with the next release")
    with pytest.raises(InputError, match="at most 7 days"):
        waive(config, tmp_path, "p18-backlog-integrity", None, date(2026, 11, 9),
              why="the security fixes ship with the next release", email="sam@example.com")
    with pytest.raises(InputError, match="at least 5 words and 30 characters"):
        waive(config, tmp_path, "p18-backlog-integrity", Role.SECURITY_LEAD,
              date(2026, 11, 5), why="the vendor fix is due soon")  # 6 words, 26 characters
    row = waive(config, tmp_path, "p18-backlog-integrity", None, date(2026, 11, 8),
                why="the security fixes ship with the next release", email="sam@example.com")
    assert (row["approver"], row["role"]) == ("Sam Sec", "security-lead")


def test_a_waived_gate_is_a_skipped_test_with_its_reason() -> None:
    waived = GateResult("g1", "Governance", "c", "t", "e", "2 of 3 fields Complete", Status.FAIL,
                        ("alerts: auth",), waiver={
                            "approver": "Olu Ops", "role": "operations-director",
                            "expires": "2026-11-30", "justification": WHY})
    passed = GateResult("g2", "Backlog", "c", "t", "e", "ok", Status.PASS)
    root = ET.fromstring(gates_junit("p18", [waived, passed], NOW))
    suite = root.find("testsuite")
    assert suite is not None and suite.get("skipped") == "1" and suite.get("failures") == "0"
    assert root.get("skipped") == "1"
    cases = {c.get("name"): c for c in root.iter("testcase")}
    skipped = cases["g1: Governance"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == (
        "waived by Olu Ops (operations-director) until 2026-11-30: " + WHY)
    assert cases["g2: Backlog"].find("skipped") is None
    assert root.find(".//failure") is None


def test_waive_and_approve_name_the_person_the_same_way(ws: Path) -> None:
    import yaml

    roster = yaml.safe_load((ws / "opsledger.yaml").read_text())["stakeholders"]
    ops = next(s for s in roster if s["role"] == "operations-director")
    args = ["waive", "p18-governance-cadence", str(ws), "--justification", WHY, "--expires",
            "2026-11-30", "--now", NOW_TEXT]
    code, out = cli(*args, "--by", ops["email"], "--as", "operations-director", "--json")
    assert code == 0, out
    code, out = cli(*args, "--by", ops["email"])
    assert code == 0 and f"by {ops['name']} (operations-director)" in out
    # The earlier form still works, and says what to write instead.
    code, out = cli(*args, "--by", "operations-director")
    assert code == 0 and "deprecated: --by operations-director names a role: write --as " \
                         "operations-director" in out
    code, out = cli(*args, "--by", "the-boss")
    assert code == 2 and "--by: 'the-boss' is not an email; the role goes in --as ROLE" in out
    code, out = cli("approve", "p18", str(ws), "--step", "3.2-approvals", "--by", ops["email"],
                    "--decision", "approved", "--now", NOW_TEXT)
    assert code == 2 and "nothing to approve yet" in out  # the person was found by email
