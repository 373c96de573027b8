"""The sizes a demo workspace comes in (what each holds: ``opsledger.demo.world.SCALES``)."""

from __future__ import annotations

from enum import StrEnum


class Size(StrEnum):
    SMALL = "small"
    MEDIUM = "medium"
    LARGE = "large"
