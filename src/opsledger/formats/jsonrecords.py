"""Lists of records in hand-written JSON files, with keys matched loosely.

A file may be a bare list of objects or an object holding the list under one of a few
names (``{"items": [...]}``). Keys are normalised like CSV headers (``"Due Date"`` and
``"dueDate"`` both become ``due_date``), nested objects are flattened with ``_``
(``{"sla": {"response_minutes": 15}}`` gives ``sla_response_minutes``), and aliases map
other spellings to the canonical name. Locations are JSON paths such as ``$.items[3].owner``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from opsledger.core.problems import ReadResult, shown
from opsledger.formats.csvrows import header_key
from opsledger.formats.fields import Fields
from opsledger.formats.textfile import json_path

T = TypeVar("T")

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


@functools.lru_cache(maxsize=4096)  # every record of a list repeats the same few keys
def json_key(name: str) -> str:
    """Return a JSON key normalised for matching: ``"dueDate"`` → ``"due_date"``."""
    return header_key(_CAMEL.sub("_", name))


@dataclass(frozen=True)
class JsonItem:
    list_key: str  # the key holding the list, "" for a top-level list
    index: int
    fields: Fields


def json_items(
    path: Path,
    result: ReadResult[T],
    data: Any,
    list_keys: Sequence[str],
    aliases: Mapping[str, Sequence[str]] | None = None,
) -> Iterator[JsonItem]:
    """Yield a :class:`Fields` per object of the record list in ``data``.

    A document with no recognisable list fails as a whole; a list element that is not an
    object is quarantined.
    """
    list_key, items = _record_list(data, list_keys)
    if items is None:
        result.fail(
            "$",
            "no list of records found",
            "a JSON list, or an object with one of: " + ", ".join(list_keys),
            _describe(data),
        )
        return
    prefix: tuple[str, ...] = (list_key,) if list_key else ()
    for index, item in enumerate(items):
        where = json_path(*prefix, index)
        if not isinstance(item, dict):
            result.quarantine(
                where, "list element is not an object", "a JSON object", _describe(item)
            )
            continue
        flat, origin = flatten(item, aliases)
        fields = Fields(str(path), flat, _json_locator(where, origin))
        yield JsonItem(list_key, index, fields)


def _json_locator(where: str, origin: Mapping[str, str]) -> Callable[[str], str]:
    return lambda name: f"{where}.{origin.get(name, name)}"


def _record_list(data: Any, list_keys: Sequence[str]) -> tuple[str, list[Any] | None]:
    if isinstance(data, list):
        return "", data
    if not isinstance(data, dict):
        return "", None
    wanted = {json_key(k) for k in list_keys}
    for key, value in data.items():
        if isinstance(key, str) and json_key(key) in wanted and isinstance(value, list):
            return key, value
    return "", None


def document_fields(path: Path, data: Any) -> Fields | None:
    """Return the top-level object's scalar fields (``$.handover_date``...), if it is one."""
    if not isinstance(data, dict):
        return None
    flat, origin = flatten({k: v for k, v in data.items() if not isinstance(v, list)}, None)
    return Fields(str(path), flat, lambda name: "$." + origin.get(name, name))


def flatten(
    item: Mapping[str, Any], aliases: Mapping[str, Sequence[str]] | None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Return the object's values by canonical key, and each canonical key's written path."""
    reverse = {json_key(a): name for name, names in (aliases or {}).items() for a in names}
    flat: dict[str, Any] = {}
    origin: dict[str, str] = {}

    def visit(obj: Mapping[str, Any], key_prefix: str, path_prefix: str) -> None:
        for key, value in obj.items():
            text = str(key)
            normal = key_prefix + json_key(text)
            written = path_prefix + text
            if isinstance(value, dict):
                visit(value, normal + "_", written + ".")
                continue
            canonical = reverse.get(normal, normal)
            if canonical not in flat:
                flat[canonical] = value
                origin[canonical] = written

    visit(item, "", "")
    return flat, origin


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return "an object with keys " + ", ".join(str(k) for k in list(value)[:8])
    if isinstance(value, list):
        return f"a list of {len(value)}"
    return shown(value)
