"""Two opsledger processes on one workspace: the second is refused at once, clearly.

The first process is a real ``opsledger run p18``; once it holds the lock it is paused
(SIGSTOP), so the overlap does not depend on timing. The second ``run`` and an
``approve`` must exit 2 naming the holder; after the first resumes and ends, the lock is
free again.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from opsledger.core.errors import WorkspaceLockedError
from opsledger.core.lock import LOCK_NAME, workspace_lock
from opsledger.core.workspace import open_workspace
from opsledger.protocols.registry import ProcedureId, procedure

OPSLEDGER = str(Path(sys.executable).with_name("opsledger"))
NOW = "2026-11-01T00:00:00Z"


def holds_flock(pid: int) -> bool:
    """Return True if ``pid`` holds a flock (from the kernel's table of locks)."""
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if len(fields) > 4 and fields[1] == "FLOCK" and fields[4] == str(pid):
            return True
    return False


def start_paused_holder(ws: Path) -> subprocess.Popen[str]:
    """Start ``opsledger run p18`` and pause it as soon as it holds the workspace lock."""
    holder = subprocess.Popen(
        [OPSLEDGER, "run", "p18", str(ws), "--now", NOW],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lock = open_workspace(ws).state_dir / LOCK_NAME
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and holder.poll() is None:
        if lock.exists() and f"pid {holder.pid}:" in lock.read_text(errors="replace"):
            holder.send_signal(signal.SIGSTOP)
            if holds_flock(holder.pid):
                return holder
            holder.send_signal(signal.SIGCONT)
            break
        time.sleep(0.002)
    holder.kill()
    holder.wait()
    pytest.fail("could not catch 'opsledger run p18' while it held the lock")


def test_second_process_is_refused_while_the_first_runs(small_demo: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(small_demo, ws)
    p18 = procedure(ProcedureId.P18)
    step = next(s for s in p18.steps if s.approvals)
    role = step.approvals[0].value
    approve = [OPSLEDGER, "approve", "p18", str(ws), "--step", step.id, "--as", role,
               "--decision", "approved", "--now", NOW]

    holder = start_paused_holder(ws)
    try:
        contenders = [
            subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for args in ([OPSLEDGER, "run", "p18", str(ws), "--now", NOW], approve)
        ]
        for contender in contenders:
            _, err = contender.communicate(timeout=60)
            assert contender.returncode == 2, err
            assert "another opsledger process is working on this workspace" in err
            assert f"pid {holder.pid}: run p18" in err  # names who holds it
            assert "Traceback" not in err
        state = open_workspace(ws).state_dir
        with pytest.raises(WorkspaceLockedError, match="another opsledger process"), \
                workspace_lock(state, "test"):
            pass
    finally:
        holder.send_signal(signal.SIGCONT)
    _, err = holder.communicate(timeout=120)
    assert holder.returncode in (0, 1), err  # finished (done or halted), undisturbed

    after = subprocess.run(approve, capture_output=True, text=True, timeout=60)
    assert "another opsledger process" not in after.stderr
    assert after.returncode in (0, 2), after.stderr  # recorded, or nothing to approve yet


def test_lock_is_released_when_its_holder_is_killed(tmp_path: Path) -> None:
    state = tmp_path / ".opsledger"
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from opsledger.core.lock import workspace_lock\n"
        "with workspace_lock(Path(sys.argv[1]), 'run p18'):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(state)],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    with pytest.raises(WorkspaceLockedError), workspace_lock(state, "approve p18"):
        pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    with workspace_lock(state, "approve p18"):  # no stale lock survives its holder
        assert f"pid {os.getpid()}: approve p18" in (state / LOCK_NAME).read_text()
