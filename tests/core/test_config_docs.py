"""docs/configuration.md documents every key of opsledger.yaml, checked against the schema.

The schema is walked recursively (nested sections, list items, mappings of named entries),
so a key added to it fails these tests until it has a row (type, default, meaning) and
appears in one of the examples; every documented default is the schema's, and every example
is a valid configuration.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union, get_args, get_origin

import pytest
import yaml
from pydantic import BaseModel, Field, TypeAdapter

from opsledger.core.config import Config, load_config

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
HEADER = "| Key | Type | Default | Meaning |"
REQUIRED = "required"


@dataclass(frozen=True)
class SchemaKey:
    path: str  # a.b, a[].b (each item of a list), a.<*>.b (each entry of a mapping)
    annotation: Any
    default: Any  # the value taken when the key is absent, or REQUIRED


def nested_model(annotation: Any) -> tuple[type[BaseModel] | None, str]:
    """Return the model an annotation holds and how its keys nest under the field:
    ``.`` (a section, maybe optional), ``[].`` (list items), ``.<*>.`` (mapping values)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, "."
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        for arg in args:
            model, joint = nested_model(arg)
            if model is not None:
                return model, joint
    if origin is list and args:
        model, joint = nested_model(args[0])
        return (model, "[].") if joint == "." else (None, "")
    if origin is dict and len(args) == 2:
        model, joint = nested_model(args[1])
        return (model, ".<*>.") if joint == "." else (None, "")
    return None, ""


def schema_keys(
    model: type[BaseModel], instance: BaseModel | None, prefix: str = ""
) -> dict[str, SchemaKey]:
    """Return every key under ``model``; defaults come from ``instance`` when the section
    itself has a default (``Config()``), else from the field."""
    keys: dict[str, SchemaKey] = {}
    for name, field in model.model_fields.items():
        path = prefix + name
        if instance is not None:
            default = getattr(instance, name)
        elif field.is_required():
            default = REQUIRED
        else:
            default = field.get_default(call_default_factory=True)
        keys[path] = SchemaKey(path, field.annotation, default)
        child, joint = nested_model(field.annotation)
        if child is not None:
            section = default if joint == "." and isinstance(default, BaseModel) else None
            keys.update(schema_keys(child, section, path + joint))
    return keys


def normalised(key: str) -> str:
    return re.sub(r"<[^>]+>", "<*>", key)


def documented_rows(text: str) -> dict[str, list[str]]:
    """Return the rows of every key table: normalised key -> [type, default, meaning]."""
    rows: dict[str, list[str]] = {}
    in_table = False
    for line in text.splitlines():
        if line.strip() == HEADER:
            in_table = True
            continue
        if not line.startswith("|"):
            in_table = False
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if in_table and not set(cells[0]) <= {"-", " "}:
            key = re.fullmatch(r"`([^`]+)`", cells[0])
            assert key and len(cells) == 4, f"a key row needs 4 cells and a `key`: {line}"
            rows[normalised(key.group(1))] = cells[1:]
    return rows


def yaml_examples(text: str) -> list[str]:
    return re.findall(r"^```yaml\n(.*?)^```", text, flags=re.S | re.M)


def example_keys(model: type[BaseModel], data: Any, prefix: str = "") -> set[str]:
    """Return the keys (normalised like :func:`schema_keys`) an example's data uses."""
    used: set[str] = set()
    if not isinstance(data, dict):
        return used
    for name, value in data.items():
        field = model.model_fields.get(name)
        if field is None:
            continue
        path = prefix + name
        used.add(path)
        child, joint = nested_model(field.annotation)
        if child is None:
            continue
        if joint == ".":
            used |= example_keys(child, value, path + joint)
        elif joint == "[]." and isinstance(value, list):
            for item in value:
                used |= example_keys(child, item, path + joint)
        elif joint == ".<*>." and isinstance(value, dict):
            for item in value.values():
                used |= example_keys(child, item, path + joint)
    return used


def missing_message(what: str, keys: list[str]) -> str:
    return f"{len(keys)} key(s) of opsledger.yaml {what} in {DOCS.name}: " + ", ".join(keys)


TEXT = DOCS.read_text(encoding="utf-8")
SCHEMA = schema_keys(Config, Config())
ROWS = documented_rows(TEXT)


def test_every_key_of_the_schema_has_a_row() -> None:
    missing = sorted(set(SCHEMA) - set(ROWS))
    assert not missing, missing_message(
        "have no row (key, type, default, meaning) in a key table", missing)


def test_every_documented_key_is_in_the_schema() -> None:
    stale = sorted(set(ROWS) - set(SCHEMA))
    assert not stale, f"documented in {DOCS.name} but not in the schema: {', '.join(stale)}"


def test_every_key_appears_in_an_example() -> None:
    used: set[str] = set()
    for example in yaml_examples(TEXT):
        used |= example_keys(Config, yaml.safe_load(example))
    missing = sorted(set(SCHEMA) - used)
    assert not missing, missing_message("are used in no example", missing)


@pytest.mark.parametrize("index", range(len(yaml_examples(TEXT))))
def test_every_example_is_a_valid_configuration(index: int, tmp_path: Path) -> None:
    (tmp_path / "opsledger.yaml").write_text(yaml_examples(TEXT)[index], encoding="utf-8")
    load_config(tmp_path)


def test_documented_defaults_are_the_schema_defaults() -> None:
    wrong = []
    for path, (kind, default, meaning) in ROWS.items():
        key = SCHEMA.get(path)
        if key is None:
            continue
        assert kind and meaning, f"{path}: type and meaning must be given"
        if isinstance(key.default, BaseModel):
            continue  # a section: its keys carry the defaults
        if key.default is REQUIRED or key.default is None:
            expected = REQUIRED if key.default is REQUIRED else "none"
            if default != expected:
                wrong.append(f"{path}: documented {default}, the schema says {expected}")
            continue
        literal = re.fullmatch(r"`([^`]*)`", default)
        value = (TypeAdapter(key.annotation).validate_python(yaml.safe_load(literal.group(1)))
                 if literal else default)
        if value != key.default:
            wrong.append(f"{path}: documented {default}, the schema says {key.default!r}")
    assert wrong == []


def test_the_walk_reaches_nested_sections_list_items_and_named_entries() -> None:
    assert SCHEMA["policies.vulnerability_sla_days.rated_by.os_packages"].default == "vendor"
    assert SCHEMA["services[].name"].default is REQUIRED
    assert SCHEMA["slo_budgets.<*>.availability"].default == 0.999
    assert SCHEMA["incidents.escalation.receivers.<*>.webhook_url"].default is None
    # A section's default wins over its class's: backlog SLAs are not the generic days.
    assert SCHEMA["policies.backlog_sla_days.critical"].default == 15


def test_a_key_added_to_the_schema_is_named_as_missing() -> None:
    class Retention(BaseModel):
        keep_days: int = 30

    class Extended(Config):
        retention: Retention = Retention()
        archives: list[Retention] = Field(default_factory=list)

    missing = sorted(set(schema_keys(Extended, Extended())) - set(ROWS))
    assert missing == ["archives", "archives[].keep_days", "retention", "retention.keep_days"]
    assert missing_message("have no row", missing).endswith(
        "archives, archives[].keep_days, retention, retention.keep_days")
