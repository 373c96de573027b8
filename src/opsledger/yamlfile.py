"""Safe YAML loading that remembers where each value came from.

``load_yaml`` returns plain data plus a :class:`LineMap` from a key path (as pydantic
reports it, e.g. ``("services", 3, "owner")``) to the line in the file, so every schema
error can name file and line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from opsledger.errors import ConfigError
from opsledger.problems import Level, Problem
from opsledger.readers.textfile import wide_encoding

M = TypeVar("M", bound=BaseModel)

MAX_YAML_BYTES = 16 * 1024 * 1024
# Billion-laughs guard: an alias expanding into more nodes than this is refused.
MAX_YAML_NODES = 200_000

Key = str | int


@dataclass
class LineMap:
    lines: dict[tuple[Key, ...], int] = field(default_factory=dict)

    def line_of(self, loc: Sequence[Key]) -> int | None:
        """Return the line of the longest known prefix of ``loc``."""
        path = tuple(loc)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)


class _Walker:
    def __init__(self) -> None:
        self.count = 0
        self.lines: dict[tuple[Key, ...], int] = {}

    def build(self, node: yaml.Node, path: tuple[Key, ...]) -> Any:
        self.count += 1
        if self.count > MAX_YAML_NODES:
            raise yaml.YAMLError("document expands to too many nodes (alias bomb?)")
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode | yaml.SequenceNode) and node.tag not in _PLAIN_TAGS:
            line = node.start_mark.line + 1
            raise yaml.YAMLError(f"line {line}: no constructor for the tag '{node.tag}'")
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if key_node.tag.endswith(":merge"):
                    line = key_node.start_mark.line + 1
                    raise yaml.YAMLError(f"line {line}: merge keys ('<<') are not supported")
                key = self._scalar(key_node)
                if key in out:
                    raise _DuplicateKey(key, key_node.start_mark.line + 1)
                out[key] = self.build(value_node, (*path, str(key)))
                self.lines[(*path, str(key))] = key_node.start_mark.line + 1
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node)

    @staticmethod
    def _scalar(node: yaml.Node) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            raise yaml.YAMLError(f"line {node.start_mark.line + 1}: a key must be a plain value")
        try:
            return _LOADER.construct_object(node, deep=True)
        except ValueError as exc:  # e.g. an integer past Python's 4,300-digit limit
            raise yaml.YAMLError(
                f"line {node.start_mark.line + 1}: unreadable value ({str(exc)[:80]})"
            ) from None


class _DuplicateKey(Exception):
    def __init__(self, key: object, line: int) -> None:
        super().__init__(key)
        self.key = key
        self.line = line


# Real files nest flow collections ("[...]", "{...}") a few levels deep. PyYAML's scanner
# does work proportional to the depth for every token, so a file of nothing but brackets
# costs seconds before the recursion limit stops it; refusing depth early keeps it cheap.
MAX_FLOW_DEPTH = 100


class BoundedSafeLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing flow collections nested past ``MAX_FLOW_DEPTH``."""

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        if self.flow_level >= MAX_FLOW_DEPTH:
            raise yaml.scanner.ScannerError(
                None, None, f"collections nested deeper than {MAX_FLOW_DEPTH} levels",
                self.get_mark(),
            )
        super().fetch_flow_collection_start(TokenClass)


_LOADER = yaml.SafeLoader("")
_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


def load_yaml(path: Path) -> tuple[Any, LineMap]:
    """Return the document's data and its line map; raise :class:`ConfigError` if unreadable."""
    try:
        # Sized before it is read, so a huge file is refused without loading it.
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError(
                f"{path}: file is too large ({size} bytes, at most {MAX_YAML_BYTES})"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_yaml(data, str(path))


def parse_yaml(data: bytes | str, name: str) -> tuple[Any, LineMap]:
    if isinstance(data, bytes):
        encoding = wide_encoding(data)
        if encoding:
            raise ConfigError(f"{name}: line 1: file is {encoding} text; save it as UTF-8")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            raise ConfigError(f"{name}: line {line}: not valid UTF-8") from None
    else:
        text = data
    try:
        node = yaml.compose(text, Loader=BoundedSafeLoader)
    except RecursionError:
        raise ConfigError(f"{name}: invalid YAML: nested too deeply") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ConfigError(f"{name}: {where}: invalid YAML: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: invalid YAML: {exc}") from None
    if node is None:
        return None, LineMap()
    walker = _Walker()
    try:
        value = walker.build(node, ())
    except _DuplicateKey as dup:
        raise ConfigError(f"{name}: line {dup.line}: duplicate key '{dup.key}'") from None
    except RecursionError:
        raise ConfigError(f"{name}: invalid YAML: nested too deeply") from None
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}" if mark else "?"
        raise ConfigError(f"{name}: {where}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: {exc}") from None
    return value, LineMap(walker.lines)


def validation_problems(path: str, error: ValidationError, lines: LineMap) -> list[Problem]:
    """Return one problem per pydantic error, located at the file's line."""
    problems = []
    for item in error.errors():
        loc = tuple(item["loc"])
        line = lines.line_of(loc)
        dotted = ".".join(str(p) for p in loc) or "(document)"
        found = item.get("input")
        found_text = "" if isinstance(found, dict | list) else repr(found)
        problems.append(
            Problem(
                path,
                f"line {line}" if line else "",
                f"{dotted}: {item['msg']}",
                found=found_text[:60],
                level=Level.FATAL,
            )
        )
    return problems


def load_model(path: Path, model: type[M]) -> M:
    """Return ``model`` validated from the YAML file, or raise with every problem located."""
    data, lines = load_yaml(path)
    if data is None:
        data = {}
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(str(path), exc, lines)
        message = f"{path}: {len(problems)} problem(s) in configuration"
        raise ConfigError(message, problems) from None
