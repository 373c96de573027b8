"""The fields of a probe result as the health history names them: canonical names, aliases,
and the words read as ok or failed. Shared by the row-by-row and the column-by-column reader.
"""

from __future__ import annotations

from opsledger.formats.csvrows import header_key
from opsledger.formats.fields import FALSE_WORDS, TRUE_WORDS

REQUIRED = ("time", "service", "ok")
DEFAULT_CHECK = "health"
ALIASES: dict[str, tuple[str, ...]] = {
    "time": ("timestamp", "ts", "checked_at", "probed_at", "datetime", "date_time", "at"),
    "service": ("service_name", "svc", "target", "component"),
    "check": ("check_name", "probe", "probe_name", "test", "name"),
    "ok": ("status", "success", "passed", "up", "healthy", "result"),
    "latency_ms": ("duration_ms", "response_time_ms", "elapsed_ms", "latency", "rtt_ms"),
}
OK_WORDS: dict[str, bool] = {**{w: True for w in TRUE_WORDS}, **{w: False for w in FALSE_WORDS}}

_REVERSE = {alias: name for name, names in ALIASES.items() for alias in names}


def canonical(key: str) -> str:
    """Return the field a column or JSON key names: ``Duration (ms)`` → ``latency_ms``."""
    normal = header_key(key)
    return _REVERSE.get(normal, normal)


def header_keys(header: list[str]) -> list[str]:
    """Return canonical column names; an exact name wins over an alias of it (ok over status)."""
    exact = {header_key(h) for h in header}
    keys = []
    for cell in header:
        normal = header_key(cell)
        name = _REVERSE.get(normal, normal)
        keys.append(normal if name != normal and name in exact else name)
    return keys
