"""Numeric quality gates from gates_config.yaml."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


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
    key: bool
    description: str = ""
