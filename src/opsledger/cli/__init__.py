"""The command line: a thin shell over the library."""

from __future__ import annotations

import gc
import os
import sys

# A command makes millions of short-lived objects, nearly all freed by reference counting.
# At Python's default thresholds (700, 10, 10) the cycle collector still runs thousands of
# times, and each full pass walks every live object: about a second of a large review. A
# first generation of 10,000 objects finds the same garbage, some fourteen times less often.
COLLECT_EVERY = 10_000

# Arrow's allocator, read when Arrow first allocates. Since pyarrow 20 its default is mimalloc,
# which keeps freed memory mapped: a medium review peaked about 40 MiB higher with it than with
# jemalloc, a large one about 60 MiB higher, and no faster. jemalloc is built into pyarrow's
# Linux wheels; elsewhere, and wherever the variable is set already, Arrow's choice stands.
ARROW_ALLOCATOR = "ARROW_DEFAULT_MEMORY_POOL"


def choose_arrow_allocator(platform: str = sys.platform) -> None:
    """Have Arrow allocate with jemalloc on Linux, unless its allocator was chosen already."""
    if platform == "linux":
        os.environ.setdefault(ARROW_ALLOCATOR, "jemalloc")


def main() -> None:
    """Run the command line; ``--version`` answers before any command is loaded."""
    if sys.argv[1:] == ["--version"]:
        from opsledger.version import __version__

        print(f"opsledger {__version__}")
        return
    gc.set_threshold(COLLECT_EVERY, 10, 10)
    choose_arrow_allocator()
    from opsledger.cli.main import main as run

    run()
