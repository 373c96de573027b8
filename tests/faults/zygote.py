"""Forks one worker per kill round from a process that has already imported opsledger.

Commands on stdin: ``fork ROUND WORKSPACE``. Answers on stdout: ``pid N`` once the child
runs, then ``reaped N STATUS`` after it died. The child writes ``ack ID`` lines to the
same stdout. Forking a ready process keeps 50 rounds fast; the child is a real process
doing real file I/O, killed by a real SIGKILL.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import kill_workload  # imported before forking, so each child starts at once


def main() -> None:
    for line in sys.stdin:
        command, round_id, root = line.split()
        assert command == "fork"
        pid = os.fork()
        if pid == 0:
            try:
                kill_workload.work_forever(Path(root), int(round_id))
            finally:
                os._exit(1)
        os.write(1, f"pid {pid}\n".encode())
        _, status = os.waitpid(pid, 0)
        os.write(1, f"reaped {pid} {status}\n".encode())


if __name__ == "__main__":
    main()
