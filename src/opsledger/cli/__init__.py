"""The command line: a thin shell over the library."""

from __future__ import annotations

import gc
import sys

# A command makes millions of short-lived objects, nearly all freed by reference counting.
# At Python's default thresholds (700, 10, 10) the cycle collector still runs thousands of
# times, and each full pass walks every live object: about a second of a large review. A
# first generation of 10,000 objects finds the same garbage, some fourteen times less often.
COLLECT_EVERY = 10_000


def main() -> None:
    """Run the command line; ``--version`` answers before any command is loaded."""
    if sys.argv[1:] == ["--version"]:
        from opsledger.version import __version__

        print(f"opsledger {__version__}")
        return
    gc.set_threshold(COLLECT_EVERY, 10, 10)
    from opsledger.cli.main import main as run

    run()
