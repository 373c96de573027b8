"""p18 on partial data: prerequisites declared not applicable (with a reason, by a person of
the roster, kept in a hash-chained log) and owners named in opsledger.yaml let intake go on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.protocols.model import HaltKind
from opsledger.protocols.p18 import finish
from tests.conftest import DEMO_NOW, cli
from tests.protocols.p18_flow import run

NOW = DEMO_NOW.isoformat()
EVIDENCE = ".artifacts/protocol-21"


def email_of(ws: Path, role: str) -> str:
    config = yaml.safe_load((ws / "opsledger.yaml").read_text())
    return next(s["email"] for s in config["stakeholders"] if s["role"] == role)


def declare(ws: Path, artifact: str, reason: str, *extra: str) -> tuple[int, str]:
    return cli("not-applicable", "p18", str(ws), artifact, "--reason", reason, "--by",
               email_of(ws, "operations-director"), "--now", NOW, *extra)


def test_an_artifact_declared_not_applicable_lets_intake_go_on(ws: Path) -> None:
    (ws / "handover/CLOSURE-PACKAGE.zip").unlink()
    (ws / "handover/SERVICE-CATALOG.xlsx").unlink()
    outcome = run(ws, DEMO_NOW)
    missing = outcome.halts[0]
    assert outcome.halted_at == "1.1-handover" and missing.kind is HaltKind.MISSING_ARTIFACT
    assert f"expected at {ws / 'handover/CLOSURE-PACKAGE.zip'}" in missing.details
    assert any("opsledger not-applicable p18" in d for d in missing.details)
    code, out = declare(ws, "CLOSURE-PACKAGE.zip", "built in-house: no vendor closure package")
    assert code == 0, out
    code, out = declare(ws, "service-catalog", "the catalog is kept in Backstage only")
    assert code == 0, out
    outcome = run(ws, DEMO_NOW)
    assert outcome.halted_at != "1.1-handover" and "1.1-handover" in outcome.ran
    report = json.loads((ws / EVIDENCE / "handover-validation-report.json").read_text())
    assert report["complete"] is True
    assert report["not_applicable"] == ["closure-package", "service-catalog"]
    closure = next(a for a in report["artifacts"] if a["artifact"] == "closure-package")
    assert closure["satisfied_by"] == "not-applicable declaration"
    assert closure["not_applicable"]["reason"] == "built in-house: no vendor closure package"
    assert closure["not_applicable"]["role"] == "operations-director"
    log = (ws / EVIDENCE / "not-applicable-log.csv").read_text().splitlines()
    assert log[0].startswith("seq,time,procedure,artifact,status,reason") and len(log) == 3
    # The evidence summary lists each declaration and checks the prerequisites as met.
    finish(Context.open(open_workspace(ws), DEMO_NOW), [])
    summary = (ws / EVIDENCE / "evidence-summary.md").read_text()
    assert "## Prerequisites declared not applicable" in summary
    assert "| closure-package | " in summary and "built in-house: no vendor closure package" \
        in summary
    assert "- [x] All prerequisites were met (2 declared not applicable)" in summary


def test_withdrawing_a_declaration_brings_the_halt_back(ws: Path) -> None:
    (ws / "handover/CLOSURE-PACKAGE.zip").unlink()
    declare(ws, "closure-package", "built in-house: no vendor closure package")
    assert run(ws, DEMO_NOW).halted_at != "1.1-handover"
    code, out = declare(ws, "closure-package", "the vendor sent one after all", "--withdraw")
    assert code == 0, out
    outcome = run(ws, DEMO_NOW)
    assert outcome.halted_at == "1.1-handover"
    assert outcome.halts[0].reason == "critical handover artifacts missing: closure-package"


def test_a_declaration_needs_a_reason_a_roster_person_and_a_prerequisite(ws: Path) -> None:
    code, out = declare(ws, "closure-package", "x")
    assert code == 2 and "at least 3 words and 20 characters" in out
    code, out = cli("not-applicable", "p18", str(ws), "closure-package", "--reason",
                    "built in-house: no vendor closure package", "--by", "nobody@example.com",
                    "--now", NOW)
    assert code == 2 and "no stakeholder with email nobody@example.com" in out
    code, out = declare(ws, "ticket-history", "we have no ticketing tool at all")
    assert code == 2 and "not a prerequisite of p18" in out
    assert not (ws / EVIDENCE / "not-applicable-log.csv").exists()


def test_an_edited_declaration_log_declares_nothing(ws: Path) -> None:
    (ws / "handover/CLOSURE-PACKAGE.zip").unlink()
    declare(ws, "closure-package", "built in-house: no vendor closure package")
    log = ws / EVIDENCE / "not-applicable-log.csv"
    log.write_text(log.read_text().replace("built in-house", "built elsewhere"))
    outcome = run(ws, DEMO_NOW)
    kinds = [h.kind for h in outcome.halts]
    assert outcome.halted_at == "1.1-handover"
    assert kinds == [HaltKind.MISSING_ARTIFACT, HaltKind.FAILED_CHECK]
    assert "not-applicable-log.csv has been tampered with" in outcome.halts[1].reason


def test_owners_in_the_configuration_count(ws: Path) -> None:
    (ws / "handover/operational-handover-record.json").unlink()
    outcome = run(ws, DEMO_NOW)
    assert outcome.halted_at != "1.1-handover"
    report = json.loads((ws / EVIDENCE / "handover-validation-report.json").read_text())
    record = next(a for a in report["artifacts"] if a["artifact"] == "handover-record")
    assert record["present"] is False
    assert record["satisfied_by"] == "opsledger.yaml (services[].owner)"
    assert {o["source"] for o in report["ownership"]} == {"opsledger.yaml"}
    # A service with no owner in either place is still unclear.
    config = (ws / "opsledger.yaml").read_text()
    (ws / "opsledger.yaml").write_text(config.replace("  owner: fulfilment\n", "", 1))
    outcome = run(ws, DEMO_NOW)
    kinds = {h.kind for h in outcome.halts}
    assert outcome.halted_at == "1.1-handover"
    assert kinds == {HaltKind.MISSING_ARTIFACT, HaltKind.OWNERSHIP}
    ownership = next(h for h in outcome.halts if h.kind is HaltKind.OWNERSHIP)
    assert ownership.reason == "ownership unclear for 1 service(s): orders"


def test_a_baseline_declared_not_applicable_is_noted_not_halted(ws: Path) -> None:
    (ws / "handover/OBSERVABILITY-BASELINE.md").unlink()
    declare(ws, "observability-baseline", "dashboards are being built from scratch this quarter")
    outcome = run(ws, DEMO_NOW)
    assert "1.2-baseline" in outcome.ran and outcome.halted_at not in ("1.1-handover",
                                                                      "1.2-baseline")
    analysis = (ws / EVIDENCE / "operational-baseline-analysis.md").read_text()
    assert "No observability baseline: declared not applicable by" in analysis
    assert "dashboards are being built from scratch this quarter" in analysis


def test_validate_and_the_prerequisites_hook_show_where_and_why(ws: Path) -> None:
    from opsledger.protocols.scaffold import write_automation_hooks

    (ws / "handover/CLOSURE-PACKAGE.zip").unlink()
    (ws / "handover/SERVICE-CATALOG.xlsx").unlink()
    declare(ws, "closure-package", "built in-house: no vendor closure package")
    code, out = cli("validate", str(ws))
    assert code == 0, out
    assert "missing: service-catalog: expected at handover/SERVICE-CATALOG.xlsx" in out
    assert ("missing: closure-package: expected at handover/CLOSURE-PACKAGE.zip; declared not "
            "applicable by") in out
    _, out = cli("validate", str(ws), "--json")
    by_input = {i["input"]: i for i in json.loads(out)}
    assert by_input["closure-package"]["not_applicable"]["reason"].startswith("built in-house")
    assert by_input["service-catalog"]["not_applicable"] is None
    write_automation_hooks(ws)
    done = subprocess.run([sys.executable, "scripts/validate_prerequisites_18.py"], cwd=ws,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "[not needed] closure-package: not-applicable declaration: built in-house" \
        in done.stdout
    assert "[missing] service-catalog: expected at" in done.stdout
