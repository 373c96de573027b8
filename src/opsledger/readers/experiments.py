"""The ``experiments/`` folder: one YAML definition per experiment, and its observations.

``experiments/<file>.yaml`` defines an experiment (schema in ``docs/experiments.md``);
``experiments/<name>/observations.parquet`` or ``observations.csv`` holds one row per unit:
``unit_id``, ``variant``, one column per metric (two for a ratio metric: its numerator and
denominator) and the pre-period covariate columns.

A definition with errors is reported (file and line) and left out; the other experiments
are still read. An observation row with a bad cell, an undeclared variant or a unit seen
twice is quarantined with its line (CSV) or row number (Parquet), and so is a row whose
ratio denominator is 0.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from pydantic import ValidationError

from opsledger.core.errors import ConfigError
from opsledger.core.problems import ReadResult
from opsledger.core.yamlfile import MAX_YAML_BYTES, parse_yaml, validation_problems
from opsledger.formats.csvrows import csv_rows, header_key
from opsledger.formats.fields import (
    DATE_RANGE,
    FALSE_WORDS,
    TRUE_WORDS,
    DateOutOfRange,
    Fields,
    day_within_range,
)
from opsledger.formats.textfile import MAX_TEXT_BYTES, load_text
from opsledger.model.assignment import assign_unit, assign_units
from opsledger.model.experiments import (
    Experiment,
    ExperimentDefinition,
    MetricKind,
    Observations,
)

FORMAT = "experiment definitions (YAML) + observations (CSV/Parquet)"
OBSERVATION_FILES = ("observations.parquet", "observations.csv")
ALIASES: dict[str, tuple[str, ...]] = {
    "unit_id": ("unit", "user_id", "session_id", "account_id", "id"),
    "variant": ("arm", "group", "bucket", "treatment"),
}
_LOCATED = re.compile(r"^(line \d+(?:, column \d+)?): (.*)$", re.DOTALL)


def read(path: Path) -> ReadResult[Experiment]:
    """Return every valid experiment under ``path`` (the folder, or one YAML file)."""
    result: ReadResult[Experiment] = ReadResult(path, detected_format=FORMAT)
    files = [path] if path.is_file() else sorted(
        p for p in path.iterdir()
        if p.is_file() and p.suffix.lower() in (".yaml", ".yml") and not p.name.startswith(".")
    )
    folder = path.parent if path.is_file() else path
    seen: dict[str, Path] = {}
    for file in files:
        definition = read_definition(file, result)
        if definition is None:
            continue
        if definition.name in seen:
            result.fail(
                "",
                f"experiment '{definition.name}' is also defined in {seen[definition.name].name}",
                "one file per experiment",
            )
            continue
        seen[definition.name] = file
        observations = read_observations(folder / definition.name, definition, result)
        result.records.append(Experiment(definition, str(file), observations))
    return result


def read_definition(file: Path, result: ReadResult[Any]) -> ExperimentDefinition | None:
    """Return the definition in ``file``, or ``None`` with its problems added to ``result``."""
    own: ReadResult[Any] = ReadResult(file)
    text = load_text(file, own, limit=MAX_YAML_BYTES)
    if text is None:
        result.extend(own.problems)
        return None
    try:
        data, lines = parse_yaml(text, str(file))
    except ConfigError as exc:
        message = str(exc.args[0]).removeprefix(f"{file}: ")
        located = _LOCATED.match(message)
        if located:
            own.fail(located.group(1), located.group(2))
        else:
            own.fail("", message)
        result.extend(own.problems)
        return None
    if not isinstance(data, dict):
        own.fail("line 1", "not an experiment definition", "a mapping with 'name:'",
                 type(data).__name__ if data is not None else "an empty file")
        result.extend(own.problems)
        return None
    try:
        definition = ExperimentDefinition.model_validate(data)
    except ValidationError as exc:
        result.extend(validation_problems(str(file), exc, lines))
        return None
    for key, day in (("start", definition.start), ("end", definition.end)):
        try:
            day_within_range(day)
        except DateOutOfRange:
            line = lines.line_of((key,))
            own.fail(f"line {line}" if line else "", f"'{key}' is outside the supported dates",
                     f"a date from {DATE_RANGE}", day.isoformat())
    if own.problems:
        result.extend(own.problems)
        return None
    return definition


def read_observations(
    folder: Path, definition: ExperimentDefinition, result: ReadResult[Any]
) -> Observations | None:
    """Return the observations in ``folder`` (Parquet preferred), or ``None`` if absent."""
    present = [folder / name for name in OBSERVATION_FILES if (folder / name).is_file()]
    if not present:
        return None
    file = present[0]
    own: ReadResult[Any] = ReadResult(file)
    if len(present) > 1:
        own.warn("", f"both {OBSERVATION_FILES[0]} and {OBSERVATION_FILES[1]} exist; "
                     f"{file.name} is used")
    observations = read_columns(file, definition, own)
    if observations is None:  # some row needs a located problem: read row by row
        rows = _parquet_rows(file, definition, own) if file.suffix == ".parquet" else (
            csv_rows(file, own, _required(definition), ALIASES)
        )
        observations = _collect(file, rows, definition, own)
    result.extend(own.problems)
    return None if own.fatal else observations


def read_columns(
    file: Path, definition: ExperimentDefinition, result: ReadResult[Any]
) -> Observations | None:
    """Return the observations read column by column, or ``None`` when any row has a problem.

    Every check of the row-by-row path holds here for whole columns at once: ids and
    variants present, each variant declared, each unit once, every metric cell a finite
    number (0 or 1 for a binary metric), no ratio denominator 0. The first column that
    fails any of them sends the file to the row-by-row path, which names each bad row.
    """
    try:
        if file.stat().st_size > MAX_TEXT_BYTES:
            return None
        table = _table(file)
    except (OSError, UnicodeDecodeError, csv.Error, pa.ArrowException):
        return None
    reverse = {alias: name for name, names in ALIASES.items() for alias in names}
    keys = [reverse.get(header_key(n), header_key(n)) for n in table.column_names]
    if len(set(keys)) != len(keys) or not set(_required(definition)) <= set(keys):
        return None
    column = {key: table.column(index) for index, key in enumerate(keys)}
    units, variants = _labels(column["unit_id"]), _labels(column["variant"])
    if units is None or variants is None or len(set(units)) != len(units):
        return None
    declared = [v.name for v in definition.variants]
    if not set(variants) <= set(declared):
        return None
    numbers: dict[str, np.ndarray] = {}
    binary = {header_key(m.name) for m in definition.metrics
              if m.ratio is None and m.kind is MetricKind.BINARY}
    for key in dict.fromkeys(header_key(name) for name in definition.columns):
        values = _finite_numbers(column[key])
        if values is None or (key in binary and not np.isin(values, (0, 1)).all()):
            return None
        numbers[key] = values
    for metric in definition.metrics:
        if metric.ratio is not None and (numbers[header_key(metric.ratio.denominator)] == 0).any():
            return None
    if not units:
        result.warn("", "no observation rows", "one row per unit")
    weights = [(v.name, v.weight) for v in definition.variants]
    assigned = assign_units(definition.salt, definition.name, units, weights)
    mismatched = [(u, v, a) for u, v, a in zip(units, variants, assigned, strict=True) if v != a]
    _warn_mismatched(result, mismatched, len(units))
    return Observations(str(file), np.array(units, dtype=object),
                        np.array(variants, dtype=object),
                        {name: numbers[header_key(name)] for name in definition.columns})


def _table(file: Path) -> pa.Table:
    """Return the file's table; a CSV's cells all as text, as the row-by-row path reads them."""
    if file.suffix == ".parquet":
        return pq.ParquetFile(file).read()
    with file.open(newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle), [])
    return pacsv.read_csv(
        file,
        convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header}),
    )


def _labels(values: pa.ChunkedArray) -> list[str] | None:
    """Return ids or variant names as trimmed text; ``None`` if any is missing or not text."""
    if pa.types.is_dictionary(values.type):
        values = values.cast(pa.string())
    if not (pa.types.is_string(values.type) or pa.types.is_integer(values.type)):
        return None
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    if text.null_count or pc.any(pc.equal(text, "")).as_py():
        return None
    labels: list[str] = text.to_pylist()
    return labels


def _finite_numbers(values: pa.ChunkedArray) -> np.ndarray | None:
    """Return the cells as floats; ``None`` if any is missing, not a number or not finite."""
    kind = values.type
    if not (pa.types.is_string(kind) or pa.types.is_integer(kind)
            or pa.types.is_floating(kind) or pa.types.is_boolean(kind)):
        return None
    if values.null_count:
        return None
    try:
        numbers = values.cast(pa.float64()).to_numpy()
    except pa.ArrowException:
        return None
    return numbers if np.isfinite(numbers).all() else None


def _warn_mismatched(
    result: ReadResult[Any], mismatched: list[tuple[str, str, str]], units: int
) -> None:
    if mismatched:
        unit, found, expected = mismatched[0]
        result.warn(
            "",
            f"{len(mismatched)} of {units} units are recorded in another variant than "
            f"the salted hash assigns (e.g. unit '{unit}' in '{found}', hash says "
            f"'{expected}'): check the salt and the assignment service",
        )


def _required(definition: ExperimentDefinition) -> list[str]:
    return ["unit_id", "variant", *dict.fromkeys(header_key(c) for c in definition.columns)]


def _parquet_rows(
    file: Path, definition: ExperimentDefinition, result: ReadResult[Any]
) -> Iterator[Fields]:
    try:
        if file.stat().st_size > MAX_TEXT_BYTES:
            result.fail("", "file is too large", f"at most {MAX_TEXT_BYTES} bytes")
            return
        table = pq.ParquetFile(file).read()
    except (OSError, pa.ArrowException) as exc:
        result.fail("", f"unreadable Parquet file: {exc}", "a Parquet file")
        return
    reverse = {alias: name for name, names in ALIASES.items() for alias in names}
    keys = [reverse.get(header_key(n), header_key(n)) for n in table.column_names]
    required = _required(definition)
    missing = [name for name in required if name not in keys]
    if missing:
        result.fail(
            "schema",
            "missing required column" + ("s " if len(missing) > 1 else " ") + ", ".join(missing),
            "columns " + ", ".join(required),
            "columns " + ", ".join(table.column_names),
        )
        return
    wanted = {key: index for index, key in reversed(list(enumerate(keys))) if key in required}
    columns = {key: table.column(index).to_pylist() for key, index in wanted.items()}
    for row in range(table.num_rows):
        values = {key: column[row] for key, column in columns.items()}
        yield Fields(str(file), values, _row_locator(row + 1))


def _row_locator(row: int) -> Callable[[str], str]:
    return lambda column: f"row {row}, column '{column}'"


def _binary(fields: Fields, name: str) -> float | None:
    """Return 0.0 or 1.0 from 0/1, true/false, yes/no; record a problem otherwise."""
    value = fields.raw(name)
    if value is None:
        fields.bad(name, f"missing value for '{name}'", "0 or 1", "an empty cell")
        return None
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float) and value in (0, 1):
        return float(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS or word in ("1.0",):
        return 1.0
    if word in FALSE_WORDS or word in ("0.0",):
        return 0.0
    fields.bad(name, f"'{name}' is not 0 or 1 (a binary metric)", "0 or 1", value)
    return None


def _collect(
    file: Path,
    rows: Iterator[Fields],
    definition: ExperimentDefinition,
    result: ReadResult[Any],
) -> Observations:
    kinds: dict[str, MetricKind] = {
        header_key(m.name): m.kind for m in definition.metrics if m.ratio is None
    }
    for column in definition.columns:  # ratio parts and covariates: plain numbers
        kinds.setdefault(header_key(column), MetricKind.CONTINUOUS)
    denominators: dict[str, list[str]] = {}
    for metric in definition.metrics:
        if metric.ratio is not None:
            denominators.setdefault(header_key(metric.ratio.denominator), []).append(metric.name)
    declared = [v.name for v in definition.variants]
    weights = [(v.name, v.weight) for v in definition.variants]
    first_seen: dict[str, str] = {}
    unit_ids: list[str] = []
    variants: list[str] = []
    values: dict[str, list[float]] = {key: [] for key in kinds}
    mismatched: list[tuple[str, str, str]] = []
    for fields in rows:
        unit = fields.text("unit_id")
        variant = fields.text("variant")
        cells = {
            key: _binary(fields, key) if kind is MetricKind.BINARY else fields.number(key)
            for key, kind in kinds.items()
        }
        for key, metrics in denominators.items():
            if cells[key] == 0:
                fields.bad(key, f"'{key}' is 0: the denominator of ratio metric "
                                f"{', '.join(repr(m) for m in metrics)}",
                           "a denominator other than 0",
                           fields.raw(key))
        if variant is not None and variant not in declared:
            fields.bad("variant", f"variant '{variant}' is not declared in the definition",
                       "one of " + ", ".join(declared), variant)
        if unit is not None and unit in first_seen:
            fields.bad("unit_id", f"unit '{unit}' appears twice (first at {first_seen[unit]})",
                       "one row per unit", unit)
        if fields.problems or unit is None or variant is None:
            result.extend(fields.problems)
            continue
        first_seen[unit] = fields.locate("unit_id").split(",")[0]
        unit_ids.append(unit)
        variants.append(variant)
        for key, cell in cells.items():
            values[key].append(float(cell))  # type: ignore[arg-type]  # None was a problem
        expected = assign_unit(definition.salt, definition.name, unit, weights)
        if expected != variant:
            mismatched.append((unit, variant, expected))
    _warn_mismatched(result, mismatched, len(unit_ids))
    if not unit_ids and not result.fatal:
        result.warn("", "no observation rows", "one row per unit")
    arrays = {key: np.asarray(column, dtype=float) for key, column in values.items()}
    return Observations(
        str(file),
        np.array(unit_ids, dtype=object),
        np.array(variants, dtype=object),
        {name: arrays[header_key(name)] for name in definition.columns},
    )
