"""A workspace cannot make opsledger write outside it, skip its lock, hide a cut approval log,
link a hostile address or crash on a state file it edited.

Each test is an attack that worked before the defence: a ``paths:`` value or a committed
symbolic link that wrote outside the workspace, a writing command that ignored the lock,
an approval log cut short with its head deleted, a ``javascript:`` dashboard link, an
unknown step status in the run state. Each is now refused with a message saying what and
where, and nothing is written outside the workspace.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsledger.approvals.ledger import Ledger
from opsledger.core.config import Deployment, SloBudget
from opsledger.core.errors import InputError
from opsledger.core.fileio import atomic_write_text, confined_output, writes_confined_to
from opsledger.core.lock import workspace_lock
from opsledger.core.workspace import open_workspace
from opsledger.protocols.approval_log import approval_ledger
from opsledger.protocols.model import HaltKind
from opsledger.protocols.p18 import PROCEDURE as P18
from opsledger.quality.rollback import ServiceFacts, build_runbook
from opsledger.quality.runbooks import runbook_index, runbook_markdown
from opsledger.render.links import link_destination, unlinkable_reason
from tests.conftest import DEMO_NOW, cli
from tests.protocols.p18_flow import run, walk_to_approvals

NOW = DEMO_NOW.isoformat()
EVIDENCE_18 = ".artifacts/protocol-21"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the workspace that must stay untouched."""
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim.md").write_text("precious\n")
    return folder


def untouched(folder: Path) -> bool:
    return sorted(p.name for p in folder.iterdir()) == ["victim.md"] and (
        (folder / "victim.md").read_text() == "precious\n"
    )


def add_paths(root: Path, **paths: str) -> None:
    lines = "".join(f"  {key}: '{value}'\n" for key, value in paths.items())
    with (root / "opsledger.yaml").open("a", encoding="utf-8") as handle:
        handle.write(f"paths:\n{lines}")


# Finding 4: configurable paths and symlinked output folders.


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("roadmap", "../outside/victim.md"),
        ("optimization", "docs/../../outside/victim.md"),
        ("reports", "{outside}"),
        ("state", "../outside"),
        ("p18_evidence", "../outside"),
        ("slos", "/etc"),
    ],
)
def test_a_paths_value_leaving_the_workspace_is_a_located_config_error(
    ws: Path, outside: Path, key: str, value: str
) -> None:
    value = value.format(outside=outside)
    add_paths(ws, **{key: value})
    line = len((ws / "opsledger.yaml").read_text().splitlines())
    code, out = cli("review", str(ws), "--now", NOW)
    assert code == 2, out
    assert f"paths.{key}" in out and value in out and f"line {line}" in out
    assert "leaves the workspace" in out
    assert untouched(outside)


def test_a_paths_value_through_a_symlink_out_is_a_config_error(ws: Path, outside: Path) -> None:
    (ws / "plans").symlink_to(outside)
    add_paths(ws, roadmap="plans/victim.md")
    code, out = cli("run", "p09", str(ws), "--now", NOW)
    assert code == 2, out
    assert "paths.roadmap" in out and "plans/victim.md" in out
    assert f"symbolic link (to {outside / 'victim.md'})" in out
    assert untouched(outside)


def test_a_committed_symlink_under_a_default_output_folder_is_refused(
    ws: Path, outside: Path
) -> None:
    reports = ws / "reports/ops"
    shutil.rmtree(reports, ignore_errors=True)
    reports.symlink_to(outside)
    code, out = cli("review", str(ws), "--now", NOW)
    assert code == 2, out
    assert "paths.reports" in out and "'reports/ops' (the default)" in out
    assert untouched(outside)


@pytest.mark.parametrize(
    ("link", "command"),
    [
        (".artifacts/protocol-09/rollback", ("rollback", "runbooks")),
        (".artifacts/protocol-09/prometheus", ("slo", "rules")),
    ],
)
def test_a_symlinked_folder_inside_an_output_folder_is_refused_at_write_time(
    ws: Path, outside: Path, link: str, command: tuple[str, ...]
) -> None:
    target = ws / link
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(target, ignore_errors=True)
    target.symlink_to(outside)
    code, out = cli(*command, str(ws))
    assert code == 2, out
    assert "refusing to write here: a symbolic link leads it out of the workspace" in out
    assert "Traceback" not in out
    assert untouched(outside)


def test_an_approval_log_symlinked_out_is_not_appended_to(tmp_path: Path, outside: Path) -> None:
    evidence = tmp_path / "ws" / EVIDENCE_18
    evidence.mkdir(parents=True)
    ledger = approval_ledger(evidence, P18)
    ledger.path.symlink_to(outside / "victim.md")
    with writes_confined_to(tmp_path / "ws"), pytest.raises(InputError, match="symbolic link"):
        ledger.append({"decision": "approved"})
    assert untouched(outside)


def test_a_file_the_user_names_outside_the_workspace_may_be_written(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    junit = root / ".." / "gates.xml"  # e.g. --junit ../gates.xml from inside the workspace
    with writes_confined_to(root):
        atomic_write_text(junit, "<testsuites/>\n")
        assert confined_output(root / "reports" / "x.md") == root / "reports" / "x.md"
    assert (tmp_path / "gates.xml").read_text() == "<testsuites/>\n"


# Finding 10: every command that writes the workspace takes the lock.

WRITING_COMMANDS: dict[str, tuple[str, ...]] = {
    "review": ("review", "{ws}", "--now", NOW),
    "run p18": ("run", "p18", "{ws}", "--now", NOW),
    "gates p18": ("gates", "p18", "{ws}", "--now", NOW),
    "approve p18": (
        "approve",
        "p18",
        "{ws}",
        "--step",
        "3.2-approvals",
        "--as",
        "support-lead",
        "--decision",
        "approved",
        "--now",
        NOW,
    ),
    "waive": (
        "waive",
        "p18-backlog-integrity",
        "{ws}",
        "--justification",
        "test",
        "--expires",
        "2026-12-01",
        "--by",
        "operations-director",
        "--now",
        NOW,
    ),
    "patch plan": ("patch", "plan", "{ws}", "--now", NOW),
    "slo rules": ("slo", "rules", "{ws}"),
    "slo dashboards": ("slo", "dashboards", "{ws}"),
    "slo export": ("slo", "export", "{ws}", "--now", NOW),
    "incidents escalation": ("incidents", "escalation", "{ws}"),
    "incidents postmortem-drafts": (
        "incidents",
        "postmortem-drafts",
        "{ws}",
        "--no-budget",
        "--now",
        NOW,
    ),
    "quality check": ("quality", "check", "{ws}", "--now", NOW),
    "rollback runbooks": ("rollback", "runbooks", "{ws}", "--now", NOW),
    "rollback canary": (
        "rollback",
        "canary",
        "{ws}",
        "--baseline",
        "reports/perf.json",
        "--canary",
        "reports/perf.json",
        "--now",
        NOW,
    ),
    "forecast tickets": ("forecast", "tickets", "{ws}", "--now", NOW),
}


@pytest.fixture(scope="module")
def locked_demo(tmp_path_factory: pytest.TempPathFactory, small_demo: Path) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("locked") / "ws"
    shutil.copytree(small_demo, root)
    with workspace_lock(open_workspace(root).state_dir, "holder"):
        yield root


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("command", WRITING_COMMANDS, ids=list(WRITING_COMMANDS))
def test_a_writing_command_waits_for_the_lock_and_writes_nothing(
    locked_demo: Path, command: str
) -> None:
    before = snapshot(locked_demo)
    args = [a.format(ws=locked_demo) for a in WRITING_COMMANDS[command]]
    code, out = cli(*args)
    assert code == 2, out
    assert "another opsledger process is working on this workspace" in out
    assert "holder" in out
    assert snapshot(locked_demo) == before


# Finding 9: the approval log's head, a deleted log, a byte-order mark.


def approve_all_but_security(root: Path) -> None:
    for role in ("operations-director", "support-lead", "product-owner"):
        code, out = cli(
            "approve",
            "p18",
            str(root),
            "--step",
            "3.2-approvals",
            "--as",
            role,
            "--decision",
            "approved",
            "--now",
            NOW,
        )
        assert code == 0, out
    code, out = cli(
        "approve",
        "p18",
        str(root),
        "--step",
        "3.2-approvals",
        "--as",
        "security-lead",
        "--decision",
        "rejected",
        "--conditions",
        "patch first",
        "--now",
        NOW,
    )
    assert code == 0, out


def test_cut_log_and_deleted_head_or_deleted_log_are_caught(ws: Path) -> None:
    walk_to_approvals(ws, DEMO_NOW)
    approve_all_but_security(ws)
    outcome = run(ws, DEMO_NOW)
    assert outcome.halts[0].kind is HaltKind.APPROVAL_REFUSED
    ledger = approval_ledger(ws / EVIDENCE_18, P18)
    saved_log, saved_head = ledger.path.read_bytes(), ledger.head_path.read_bytes()

    # Attack 1: drop the rejection and the head that would show the log got shorter.
    lines = ledger.path.read_text().splitlines(keepends=True)
    ledger.path.write_text("".join(lines[:-1]))
    ledger.head_path.unlink()
    outcome = run(ws, DEMO_NOW)
    assert outcome.halts[0].kind is HaltKind.FAILED_CHECK
    detail = " ".join(outcome.halts[0].details)
    kept = len(lines) - 2  # less the header and the rejection
    assert f".approval-log.csv.head is missing beside a log of {kept} row(s)" in detail
    assert "git checkout --" in detail
    code, out = cli("gates", "p18", str(ws), "--now", NOW, "--json")
    approval = next(g for g in json.loads(out) if g["id"] == "p18-stakeholder-approval")
    assert approval["passed"] is False and approval["actual"] == "approval log tampered with"
    code, out = cli(
        "approve",
        "p18",
        str(ws),
        "--step",
        "3.2-approvals",
        "--as",
        "security-lead",
        "--decision",
        "approved",
        "--now",
        NOW,
    )
    assert code == 2 and "is missing beside a log" in out and "nothing was added" in out
    assert len(ledger.rows()) == kept

    # Attack 2: delete the log and its head together; the run state remembers the refusal.
    ledger.path.unlink()
    outcome = run(ws, DEMO_NOW)
    assert outcome.halts[0].kind is HaltKind.FAILED_CHECK
    detail = " ".join(outcome.halts[0].details)
    assert "approval-log.csv and its head .approval-log.csv.head are missing" in detail
    assert (
        "runs/p18.json records step '2.2-prioritise' as halted on a broken approval log" in detail
        and "git checkout" in detail
    )
    code, out = cli(
        "approve",
        "p18",
        str(ws),
        "--step",
        "3.2-approvals",
        "--as",
        "security-lead",
        "--decision",
        "approved",
        "--now",
        NOW,
    )
    assert code == 2 and "the log was deleted" in out
    assert not ledger.path.exists()

    # Restoring both files, as the message says, brings the rejection back.
    ledger.path.write_bytes(saved_log)
    ledger.head_path.write_bytes(saved_head)
    assert ledger.verify() == []
    assert run(ws, DEMO_NOW).halts[0].kind is HaltKind.APPROVAL_REFUSED


def test_a_deleted_log_stays_caught_run_after_run(ws: Path) -> None:
    walk_to_approvals(ws, DEMO_NOW)
    approve_all_but_security(ws)
    run(ws, DEMO_NOW)
    ledger = approval_ledger(ws / EVIDENCE_18, P18)
    ledger.path.unlink()
    ledger.head_path.unlink()
    for recorded in ("'3.2-approvals' as refused by a stakeholder",
                     "'2.2-prioritise' as halted on a broken approval log"):
        outcome = run(ws, DEMO_NOW)
        assert outcome.halts[0].kind is HaltKind.FAILED_CHECK
        assert f"records step {recorded}" in " ".join(outcome.halts[0].details)
    code, out = cli("gates", "p18", str(ws), "--now", NOW, "--json")
    approval = next(g for g in json.loads(out) if g["id"] == "p18-stakeholder-approval")
    assert code == 1 and approval["passed"] is False


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    log = approval_ledger(tmp_path, P18)
    for decision in ("approved", "rejected"):
        log.append({"step": "3.2-approvals", "decision": decision})
    return log


def test_a_byte_order_mark_is_named_as_such(ledger: Ledger) -> None:
    ledger.path.write_bytes(b"\xef\xbb\xbf" + ledger.path.read_bytes())
    [problem] = ledger.verify()
    assert "byte-order mark (BOM): an editor added it; remove it" in str(problem)
    assert "tamper" not in str(problem)
    with pytest.raises(InputError, match="byte-order mark"):
        ledger.append({"decision": "approved"})


def test_a_head_with_a_byte_order_mark_is_named_as_such(ledger: Ledger) -> None:
    ledger.head_path.write_bytes(b"\xef\xbb\xbf" + ledger.head_path.read_bytes())
    assert any("byte-order mark" in str(b) for b in ledger.verify())


def test_a_log_without_its_head_fails_even_with_one_row(tmp_path: Path) -> None:
    log = approval_ledger(tmp_path, P18)
    log.append({"decision": "approved"})
    log.append({"decision": "rejected"})
    rows = list(csv.reader(log.path.open()))
    log.path.write_text("\n".join(",".join(r) for r in rows[:2]) + "\n")
    log.head_path.unlink()
    assert any("is missing beside a log of 1 row(s)" in str(b) for b in log.verify())


def test_a_crash_before_the_first_row_leaves_a_log_that_verifies(tmp_path: Path) -> None:
    """The head is written as row 0 before the first row; a crash right after is harmless."""
    log = approval_ledger(tmp_path, P18)
    row = log.append({"decision": "approved"})
    log.head_path.write_text(f"0,{'0' * 64}\n")  # as if killed before the head moved on
    assert log.verify() == []
    log.path.unlink()  # as if killed before the first row was written
    assert log.verify() == []
    assert row["seq"] == "1"


# Finding 10: catalog addresses in rollback runbooks.

HOSTILE_URLS = {
    "javascript": "javascript:alert(document.cookie)",
    "data": "data:text/html,<script>alert(1)</script>",
    "vbscript": "vbscript:msgbox(1)",
    "tab in scheme": "java\tscript:alert(1)",
    "upper case": "JaVaScRiPt:alert(1)",
    "file": "file:///etc/passwd",
    "relative": "//evil.example/x",
}


@pytest.mark.parametrize("name", HOSTILE_URLS, ids=list(HOSTILE_URLS))
def test_a_catalog_address_that_is_not_http_is_never_linked(name: str) -> None:
    url = HOSTILE_URLS[name]
    facts = ServiceFacts(
        "checkout",
        Deployment.KUBERNETES,
        "service catalog",
        dashboard=url,
        catalog_runbook="https://wiki.example/run book (v2)",
    )
    text = runbook_markdown(build_runbook(facts, SloBudget()))
    assert link_destination(url) is None and unlinkable_reason(url)
    assert url not in text and "alert(" not in text
    assert "Not linked: the service catalog's dashboard address for checkout" in text
    assert "See also: [service runbook](https://wiki.example/run%20book%20%28v2%29)." in text


def test_a_service_name_cannot_inject_a_link_into_the_runbook_index() -> None:
    name = "x](javascript:alert(1)) [y"
    facts = ServiceFacts(name, Deployment.KUBERNETES, "service catalog")
    index = runbook_index([build_runbook(facts, SloBudget())])
    row = next(line for line in index.splitlines() if line.startswith("| ["))
    assert row.count("](") == 1 and "](javascript:" not in row


# Finding 10: unknown values in the run state.


@pytest.mark.parametrize(
    ("step", "saved", "expected"),
    [
        ("1.1-handover", {"status": "exploded"}, "unknown status 'exploded'"),
        ("1.1-handover", {"status": "completed", "halts": "none"}, "'halts' is not a list"),
        ("2.1-backlog", "completed", "step '2.1-backlog' is not a mapping"),
    ],
)
def test_an_unknown_value_in_the_run_state_is_a_clear_error(
    ws: Path, step: str, saved: object, expected: str
) -> None:
    state = ws / ".opsledger/runs/p18.json"
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(json.dumps({"schema_version": 1, "procedure": "p18", "steps": {step: saved}}))
    for args in (("run", "p18", str(ws), "--status"), ("run", "p18", str(ws), "--now", NOW)):
        code, out = cli(*args)
        assert code == 2, out
        assert "p18.json" in out and step in out and expected in out
        assert "delete it to start over" in out
        assert "internal error" not in out
