"""The command line: a thin shell over the library."""

from __future__ import annotations

import sys


def main() -> None:
    """Run the command line; ``--version`` answers before any command is loaded."""
    if sys.argv[1:] == ["--version"]:
        from opsledger.version import __version__

        print(f"opsledger {__version__}")
        return
    from opsledger.cli.main import main as run

    run()
