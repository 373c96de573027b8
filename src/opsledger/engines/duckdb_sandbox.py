"""The settings every DuckDB connection over workspace files is opened with.

A workspace is untrusted: no extension is installed or loaded on demand (a query naming
one cannot fetch code), no secret is persisted, and Python variables are not visible to
SQL by name. Memory a query's tasks freed goes back to the system as soon as they have
freed a few megabytes, rather than being kept for later queries: a review runs a few large
queries among much other work, which would otherwise find its peak raised by what DuckDB
keeps (some 25 MiB in a medium review, at no cost in time measured).

Kept apart from the SLI engine so that readers using DuckDB do not import the SQL parser
the engine needs.
"""

from __future__ import annotations

SANDBOX_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_persistent_secrets": False,
    "python_enable_replacements": False,
    # DuckDB's defaults: 128 MiB and 512 MiB.
    "allocator_flush_threshold": "8MB",
    "allocator_bulk_deallocation_flush_threshold": "8MB",
}
