"""The settings every DuckDB connection over workspace files is opened with.

A workspace is untrusted: no extension is installed or loaded on demand (a query naming
one cannot fetch code), no secret is persisted, and Python variables are not visible to
SQL by name. Kept apart from the SLI engine so that readers using DuckDB do not import
the SQL parser the engine needs.
"""

from __future__ import annotations

SANDBOX_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_persistent_secrets": False,
    "python_enable_replacements": False,
}
