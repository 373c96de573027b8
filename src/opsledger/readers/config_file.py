"""``opsledger.yaml`` as an input of the inventory (the schema lives in ``config``)."""

from __future__ import annotations

from pathlib import Path

from opsledger.core.config import Config
from opsledger.core.errors import ConfigError
from opsledger.core.problems import Level, Problem, ReadResult
from opsledger.core.yamlfile import load_model


def read(path: Path) -> ReadResult[Config]:
    result: ReadResult[Config] = ReadResult(path, detected_format="opsledger.yaml v1")
    try:
        result.records.append(load_model(path, Config))
    except ConfigError as exc:
        result.extend(
            exc.problems or [Problem(str(path), "", str(exc).split(": ", 1)[-1], level=Level.FATAL)]
        )
    return result
