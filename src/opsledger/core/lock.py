"""One writer per workspace: an advisory lock held while a command changes the workspace."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from opsledger.core.errors import WorkspaceLockedError
from opsledger.core.fileio import confined_output, writes_confined_to
from opsledger.core.workspace import Workspace

LOCK_NAME = "lock"


@contextmanager
def workspace_lock(state_dir: Path, command: str) -> Iterator[None]:
    """Hold the workspace's lock for the duration of ``command``; fail at once if taken.

    The lock is ``flock`` on a file in the state folder: the kernel releases it when the
    process ends, however it ends, so a killed run never leaves a stale lock behind.
    """
    path = confined_output(state_dir / LOCK_NAME)
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(fd)
            raise WorkspaceLockedError(
                f"{state_dir.parent}: another opsledger process is working on this workspace"
                f"{f' ({holder})' if holder else ''}; wait for it to finish and try again"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"pid {os.getpid()}: {command}\n".encode())
        yield
    finally:
        os.close(fd)


def _holder(fd: int) -> str:
    try:
        return os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
    except OSError:
        return ""


@contextmanager
def writing(ws: Workspace, command: str) -> Iterator[None]:
    """Hold the workspace lock while ``command`` changes ``ws``; keep its writes inside ``ws``.

    Every command that writes the workspace goes through here, so two writers never
    interleave and no symlinked folder can carry an output out of the workspace.
    """
    with writes_confined_to(ws.root), workspace_lock(ws.state_dir, command):
        yield
