"""DuckDB SQL for instants held in a column of any of DuckDB's time types.

A Parquet file may hold its times in seconds, milliseconds, microseconds or nanoseconds, with
a zone (UTC instants) or without one (taken as UTC). DuckDB's ``epoch_us`` reads all of them
but a zoned time in nanoseconds (``TIMESTAMPTZ_NS``, what pandas writes for an aware
column), which is first cast to microseconds.
"""

from __future__ import annotations


def is_zoned(column_type: str) -> bool:
    """Return whether a DuckDB column type holds times with a zone (instants)."""
    return "TIME ZONE" in column_type or column_type.startswith("TIMESTAMPTZ")


def epoch_micros_sql(expression: str, column_type: str) -> str:
    """Return SQL for the microseconds since 1970-01-01 UTC of ``expression``, a time of
    DuckDB type ``column_type``."""
    if column_type.startswith("TIMESTAMP") and is_zoned(column_type):
        return f"epoch_us(CAST({expression} AS TIMESTAMPTZ))"
    return f"epoch_us({expression})"
