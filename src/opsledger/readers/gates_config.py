"""Numeric quality gates from ``gates_config.yaml``, every error located at file:line.

Schema (documented in ``docs/formats.md``)::

    version: 1
    gates:
      - name: availability          # unique
        metric: worst_critical_availability  # the measured value the gate compares
        operator: ">="              # >= > <= < == != (or ge gt le lt eq ne)
        threshold: 0.999            # fails when ``value <operator> threshold`` is false
        warn_threshold: 0.9995      # optional: passes, but warns, short of this level
        weight: 3                   # optional, > 0, default 1
        advisory: false             # optional: an advisory gate warns instead of failing
        description: "..."          # optional
        # key: true                 # deprecated, still read: every gate blocks unless
        #                           # advisory (opsledger.quality warns where it is used;
        #                           # key: true with advisory: true is refused here)

The warning level must sit on the *passing* side of the threshold, so that a value moves
pass -> warn -> fail as it degrades: for ``>=``/``>`` it must be at or above the threshold,
for ``<=``/``<`` at or below it. An equality gate has no "nearly failing" side, so it takes
no warning level.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from opsledger.core.errors import ConfigError
from opsledger.core.problems import ReadResult
from opsledger.core.yamlfile import MAX_YAML_BYTES, parse_yaml, validation_problems
from opsledger.formats.textfile import load_text
from opsledger.model.gates import GateSpec, Operator

OPERATOR_WORDS: dict[str, Operator] = {
    **{op.value: op for op in Operator},
    "ge": Operator.GE,
    "gte": Operator.GE,
    "=>": Operator.GE,
    "gt": Operator.GT,
    "le": Operator.LE,
    "lte": Operator.LE,
    "=<": Operator.LE,
    "lt": Operator.LT,
    "eq": Operator.EQ,
    "=": Operator.EQ,
    "ne": Operator.NE,
    "<>": Operator.NE,
}
_HIGHER_PASSES = (Operator.GE, Operator.GT)
_LOWER_PASSES = (Operator.LE, Operator.LT)
_LOCATED = re.compile(r"^(line \d+(?:, column \d+)?): (.*)$", re.DOTALL)


class GateEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    metric: str = Field(min_length=1)
    operator: Operator
    threshold: float
    warn_threshold: float | None = None
    weight: float = Field(default=1.0, gt=0)
    key: bool = False
    description: str = ""
    advisory: bool = False

    @field_validator("advisory")
    @classmethod
    def _not_key_and_advisory(cls, value: bool, info: ValidationInfo) -> bool:
        if value and info.data.get("key"):
            raise ValueError(
                "a gate cannot be both 'key: true' and 'advisory: true': every gate blocks "
                "unless it is advisory, so remove 'key'"
            )
        return value

    @field_validator("operator", mode="before")
    @classmethod
    def _operator(cls, value: Any) -> Operator:
        operator = OPERATOR_WORDS.get(str(value).strip().lower()) if value is not None else None
        if operator is None:
            raise ValueError(
                f"unknown operator {value!r}: use one of >=, >, <=, <, ==, != "
                "(or ge, gt, le, lt, eq, ne)"
            )
        return operator

    @field_validator("warn_threshold")
    @classmethod
    def _warn_on_passing_side(cls, value: float | None, info: ValidationInfo) -> float | None:
        operator, threshold = info.data.get("operator"), info.data.get("threshold")
        if value is None or operator is None or threshold is None:
            return value
        if operator in _HIGHER_PASSES and value < threshold:
            raise ValueError(
                f"warn_threshold {value:g} is below threshold {threshold:g}: with "
                f"'{operator.value}' higher values pass, so the warning level must be at or "
                "above the threshold (warn before failing)"
            )
        if operator in _LOWER_PASSES and value > threshold:
            raise ValueError(
                f"warn_threshold {value:g} is above threshold {threshold:g}: with "
                f"'{operator.value}' lower values pass, so the warning level must be at or "
                "below the threshold (warn before failing)"
            )
        if operator in (Operator.EQ, Operator.NE):
            raise ValueError(
                f"an '{operator.value}' gate cannot have a warn_threshold: it has no "
                "'nearly failing' side"
            )
        return value

    def spec(self, where: str = "") -> GateSpec:
        return GateSpec(
            self.name,
            self.metric,
            self.operator,
            self.threshold,
            self.warn_threshold,
            self.weight,
            self.key,
            self.description,
            self.advisory,
            where,
            frozenset(self.model_fields_set),
        )


class GatesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    gates: list[GateEntry] = Field(min_length=1)


def read(path: Path) -> ReadResult[GateSpec]:
    """Return the gates declared in ``path``."""
    result: ReadResult[GateSpec] = ReadResult(path, detected_format="gates yaml")
    text = load_text(path, result, limit=MAX_YAML_BYTES)
    if text is None:
        return result
    try:
        data, lines = parse_yaml(text, str(path))
    except ConfigError as exc:
        message = str(exc.args[0]).removeprefix(f"{path}: ")
        located = _LOCATED.match(message)
        if located:
            return result.fail(located.group(1), located.group(2))
        return result.fail("", message)
    if data is None:
        return result.fail("line 1", "file is empty", "a 'gates:' list")
    try:
        document = GatesFile.model_validate(data)
    except ValidationError as exc:
        result.extend(validation_problems(str(path), exc, lines))
        return result
    seen: dict[str, int] = {}
    places: list[str] = []
    for index, gate in enumerate(document.gates):
        line = lines.line_of(("gates", index, "name"))
        if gate.name in seen:
            return result.fail(
                f"line {line}" if line else "",
                f"gate '{gate.name}' is declared twice (first at item {seen[gate.name] + 1})",
                "unique gate names",
            )
        seen[gate.name] = index
        places.append(f"line {line}" if line else "")
    result.records.extend(gate.spec(where) for gate, where in zip(document.gates, places,
                                                                  strict=True))
    return result
