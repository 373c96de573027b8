"""Numeric quality gates from gates_config.yaml."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from opsledger.model.status import Status


class Operator(StrEnum):
    GE = ">="
    GT = ">"
    LE = "<="
    LT = "<"
    EQ = "=="
    NE = "!="

    def holds(self, value: float, threshold: float) -> bool:
        return {
            Operator.GE: value >= threshold,
            Operator.GT: value > threshold,
            Operator.LE: value <= threshold,
            Operator.LT: value < threshold,
            Operator.EQ: value == threshold,
            Operator.NE: value != threshold,
        }[self]


@dataclass(frozen=True)
class GateSpec:
    name: str
    metric: str
    operator: Operator
    threshold: float
    warn_threshold: float | None
    weight: float
    key: bool  # the deprecated ``key:`` flag as written (False when absent); see ``blocking``
    description: str = ""
    advisory: bool = False  # a failing advisory gate warns; every other gate blocks
    where: str = field(default="", compare=False)  # its place in the file, e.g. "line 12"
    declared: frozenset[str] = field(default=frozenset(), compare=False)  # fields written

    @property
    def blocking(self) -> bool:
        """Return True when a failure of this gate fails the whole check."""
        return not self.advisory


@dataclass(frozen=True)
class GateResult:
    id: str
    title: str
    criteria: str
    threshold: str
    evidence: str
    actual: str
    status: Status
    failures: tuple[str, ...] = ()
    waiver: Mapping[str, str] | None = None
    remedy: str = ""

    @property
    def passed(self) -> bool:
        return self.status in (Status.PASS, Status.WARN) or self.waiver is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "criteria": self.criteria,
            "threshold": self.threshold,
            "evidence": self.evidence,
            "actual": self.actual,
            "status": self.status.value,
            "passed": self.passed,
            "failures": list(self.failures),
            "waiver": dict(self.waiver) if self.waiver else None,
            "remedy": self.remedy,
        }
