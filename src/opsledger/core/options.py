"""Choices and defaults shared by the configuration and the command line.

Plain enumerations and numbers: the command line offers them as options before any library
behind them is imported.
"""

from __future__ import annotations

from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

# The configuration file at the root of every workspace.
CONFIG_FILE = "opsledger.yaml"


class Role(StrEnum):
    """The approver roles the procedures name."""

    OPERATIONS_DIRECTOR = "operations-director"
    SUPPORT_LEAD = "support-lead"
    PRODUCT_OWNER = "product-owner"
    SECURITY_LEAD = "security-lead"
    SRE_MANAGER = "sre-manager"
    ENGINEERING_MANAGER = "engineering-manager"
    FINANCE = "finance"


# How long one SLI statement may run before it is interrupted: minutes of scanning is
# already far beyond a workspace's events, and CI must not hang on a hostile definition.
QUERY_DEADLINE_SECONDS = 300.0


class EngineChoice(StrEnum):
    """Which engine counts event-file SLIs: DuckDB on this machine, or Spark."""

    DUCKDB = "duckdb"
    SPARK = "spark"


# Fewer events than this in a window and an SLI is not judged (too little to decide on).
DEFAULT_MIN_EVENTS = 100


class ProcedureId(StrEnum):
    """The procedures opsledger runs."""

    P18 = "p18"
    P09 = "p09"


def iana_zone(value: str) -> str:
    """Return ``value`` when it names an IANA time zone; refuse it otherwise."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA time zone '{value}'") from None
    return value
