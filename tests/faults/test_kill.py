"""SIGKILL at random moments of approvals and a procedure run, many times over.

After every kill: each JSON artifact parses, the approval log verifies, no acknowledged
approval is lost and none is duplicated, and the next run removes any temporary file the
kill left behind and completes.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import IO

from opsledger.core.workspace import open_workspace
from opsledger.protocols.approval_log import approval_ledger
from opsledger.protocols.p18 import PROCEDURE as P18
from opsledger.protocols.state import StepStatus, load_state, state_path

from .kill_workload import PROCEDURE, run_once

ROUNDS = 50
TIME_BUDGET = 150.0  # seconds for all rounds, even on a loaded machine; then it fails
CONFIG = """
stakeholders:
  - {name: Olu Ops, email: olu@example.com, role: operations-director}
"""


def temp_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*.tmp") if p.name.startswith(".")]


class LineReader:
    """Lines from a pipe with an overall deadline.

    Reads the raw descriptor into its own buffer: a buffered text stream may already
    hold the next lines while ``select`` on the descriptor reports nothing new.
    """

    def __init__(self, stream: IO[bytes]) -> None:
        self._fd = stream.fileno()
        self._pending = b""

    def line(self, deadline: float) -> str:
        while b"\n" not in self._pending:
            timeout = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._fd], [], [], timeout)
            assert ready, "the kill harness stopped answering"
            chunk = os.read(self._fd, 4096)
            assert chunk, "the kill harness exited"
            self._pending += chunk
        line, self._pending = self._pending.split(b"\n", 1)
        return line.decode().strip()


def check_artifacts(root: Path) -> None:
    """Every JSON artifact is whole (an atomic write leaves old or new, never half)."""
    for path in root.rglob("*.json"):
        json.loads(path.read_text(encoding="utf-8"))
    log = root / ".artifacts/kill/communication-log.md"
    if log.exists():
        assert log.read_text(encoding="utf-8").endswith("\n"), "half a line in the log"


def test_sigkill_at_random_moments_loses_nothing(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "opsledger.yaml").write_text(CONFIG)
    evidence = PROCEDURE.evidence_dir(open_workspace(root))
    ledger = approval_ledger(evidence, P18)
    chooser = random.Random(20261121)
    zygote = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("zygote.py"))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert zygote.stdin is not None and zygote.stdout is not None
    answers = LineReader(zygote.stdout)
    acknowledged: list[str] = []
    in_flight_landed = 0
    temp_left = 0
    started = time.monotonic()
    deadline = started + TIME_BUDGET
    try:
        for round_id in range(ROUNDS):
            zygote.stdin.write(f"fork {round_id} {root}\n".encode())
            zygote.stdin.flush()
            pid = int(answers.line(deadline).split()[1])
            time.sleep(chooser.uniform(0.0, 0.25))
            os.kill(pid, signal.SIGKILL)
            acks = []
            while not (line := answers.line(deadline)).startswith("reaped"):
                acks.append(line.split()[1])
            assert line.split()[2] == str(signal.SIGKILL), line  # died by the kill, not a crash
            acknowledged += acks

            check_artifacts(root)
            assert ledger.verify() == []
            ids = [row["conditions"] for row in ledger.rows()]
            duplicates = [i for i, n in Counter(ids).items() if n > 1]
            assert not duplicates, f"round {round_id}: duplicated approvals {duplicates}"
            missing = set(acknowledged) - set(ids)
            assert not missing, f"round {round_id}: acknowledged approvals lost: {missing}"
            unacknowledged = set(ids) - set(acknowledged)
            # Only the append under way when the kill came may have landed unacknowledged.
            assert len(unacknowledged) <= in_flight_landed + 1
            in_flight_landed = len(unacknowledged)
            temp_left += len(temp_files(root))

            outcome = run_once(root)  # the next run resumes and tidies up
            assert outcome.complete, outcome.to_json()
            assert temp_files(root) == []
            check_artifacts(root)
            state = load_state(state_path(open_workspace(root).state_dir, "kill"), "kill")
            assert {s.status for s in state.steps.values()} == {StepStatus.COMPLETED}
            assert time.monotonic() < deadline, f"only {round_id + 1} rounds in the budget"
    finally:
        zygote.kill()
        zygote.wait()
    assert len(acknowledged) >= ROUNDS // 2, "the kills came too early to test appends"
    print(f"{ROUNDS} kills, {len(acknowledged)} acknowledged appends, "
          f"{temp_left} temporary files left by kills and removed by the next run, "
          f"{time.monotonic() - started:.1f} s")


def test_only_interrupted_write_leftovers_are_removed(tmp_path: Path) -> None:
    from opsledger.core.fileio import atomic_write_text, remove_stale_temp_files

    leftovers = [tmp_path / ".plan.md.k2j_9xq0.tmp", tmp_path / ".state.json.abcdefgh.tmp"]
    kept = [tmp_path / ".approval-log.csv.head", tmp_path / "notes.tmp",
            tmp_path / ".plan.md.tmp", tmp_path / "plan.md"]
    for path in leftovers + kept:
        path.write_text("x")
    atomic_write_text(tmp_path / "plan.md", "whole")  # its own temporary file is gone already
    assert sorted(remove_stale_temp_files(tmp_path)) == sorted(leftovers)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in leftovers)
    assert remove_stale_temp_files(tmp_path / "absent") == []
