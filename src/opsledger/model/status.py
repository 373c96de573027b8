"""The closed set of outcomes shared by report sections, checks, gates and procedure steps."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """Closed set of outcomes for a section, a check or a gate."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"
    ERROR = "error"
