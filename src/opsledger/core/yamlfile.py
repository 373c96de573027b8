"""Safe YAML loading that remembers where each value came from.

``load_yaml`` returns plain data plus a :class:`LineMap` from a key path (as pydantic
reports it, e.g. ``("services", 3, "owner")``) to the line in the file, so every schema
error can name file and line.

Every workspace YAML file is composed by :func:`compose_documents` under one budget: at
most ``MAX_YAML_NODES`` nodes as written and ``MAX_YAML_SECONDS`` of work, on top of the
size cap. The nodes come from libyaml's C parser when PyYAML has it (ten times faster than
the pure-Python scanner); the composing, and every check on tags, keys and aliases, stays
in Python so both parsers are held to the same rules.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from opsledger.core.errors import ConfigError
from opsledger.core.problems import Level, Problem
from opsledger.formats.textfile import wide_encoding

M = TypeVar("M", bound=BaseModel)

# Workspace YAML is configuration and catalogs: a few hundred kilobytes in practice. The
# caps below agree with each other: ordinary YAML averages 10-20 bytes a node, so a file
# under the size cap either holds fewer nodes than the node cap and parses in about two
# seconds, or reaches the node cap and is refused, also within seconds.
MAX_YAML_BYTES = 8 * 1024 * 1024
# Nodes as written, and also nodes once aliases are expanded (the billion-laughs guard).
MAX_YAML_NODES = 500_000
# Wall-clock budget for composing and building one file: a backstop for inputs that are
# slow for a reason the caps above do not foresee.
MAX_YAML_SECONDS = 10.0
_CLOCK_EVERY = 4096  # nodes between two looks at the clock

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


class YamlBudgetError(yaml.YAMLError):
    """A document over the node cap or the time budget; the message says which."""


def _deadline() -> float:
    return time.monotonic() + MAX_YAML_SECONDS


def _check_clock(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise YamlBudgetError(
            f"took longer than {MAX_YAML_SECONDS:g} s to parse; "
            "split the file or remove what is not needed"
        )


class _Walker:
    def __init__(self, deadline: float) -> None:
        self.count = 0
        self.deadline = deadline
        self.lines: dict[tuple[Key, ...], int] = {}

    def build(self, node: yaml.Node, path: tuple[Key, ...]) -> Any:
        self.count += 1
        if self.count > MAX_YAML_NODES:
            # The composer already held the document as written under this cap, so only
            # aliases, each standing for a whole copy of its anchor, can get here.
            raise YamlBudgetError(
                f"aliases expand the document to too many nodes, past {MAX_YAML_NODES} "
                "(alias bomb?)"
            )
        if self.count % _CLOCK_EVERY == 0:
            _check_clock(self.deadline)
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
                None,
                None,
                f"collections nested deeper than {MAX_FLOW_DEPTH} levels",
                self.get_mark(),
            )
        super().fetch_flow_collection_start(TokenClass)


class _Budget(Composer):
    """Composer that counts nodes as written and watches the clock while it composes."""

    deadline = 0.0
    nodes = 0

    def start_budget(self, deadline: float) -> None:
        self.deadline = deadline
        self.nodes = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self.nodes += 1
        if self.nodes > MAX_YAML_NODES:
            raise YamlBudgetError(
                f"{self._count_rest()} nodes, over the limit of {MAX_YAML_NODES}; "
                "split the file or remove what is not needed"
            )
        if self.nodes % _CLOCK_EVERY == 0:
            _check_clock(self.deadline)
        node: yaml.Node | None = super().compose_node(parent, index)
        return node

    def _count_rest(self) -> str:
        """Return how many nodes the stream holds, counting the rest without building it."""
        counted = self.nodes - 1  # the node over the cap is still the next event
        node_events = (yaml.ScalarEvent, yaml.AliasEvent, yaml.CollectionStartEvent)
        try:
            while self.check_event():  # type: ignore[attr-defined]
                if isinstance(self.get_event(), node_events):  # type: ignore[attr-defined]
                    counted += 1
                    if counted % _CLOCK_EVERY == 0 and time.monotonic() > self.deadline:
                        return f"more than {counted}"
        except yaml.YAMLError:
            return f"at least {counted}"  # the rest is malformed; the cap is what matters
        return str(counted)


class _PythonBudgetLoader(_Budget, BoundedSafeLoader):
    """Pure-Python scanner and parser (PyYAML without libyaml)."""


if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _CBudgetLoader(_Budget, CParser, SafeConstructor, Resolver):
        """libyaml's scanner and parser (which caps nesting at 1,000 levels itself) under
        the same Python composer: ``Composer`` comes first, so its ``get_single_node``
        and ``compose_node`` are used rather than the C ones, which cannot be watched."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    _LOADER_CLASS: type[_Budget] = _CBudgetLoader
else:
    _LOADER_CLASS = _PythonBudgetLoader


def syntax_error(exc: yaml.MarkedYAMLError) -> tuple[str, str]:
    """Return where a YAML syntax error was found and what it is, naming the construct it
    interrupted and where that began (libyaml reports an unclosed ``[`` at the end of the
    file, so the opening line is the one the reader needs)."""
    mark = exc.problem_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = str(exc.problem)
    begun = exc.context_mark
    if exc.context and begun is not None and (mark is None or begun.line != mark.line):
        start = f"line {begun.line + 1}, column {begun.column + 1}"
        problem += f" ({exc.context} that starts at {start})"
    return where, problem


def compose_documents(text: str, deadline: float | None = None) -> list[yaml.Node]:
    """Return the composed node of each non-empty document in ``text``, within the budget.

    Raises ``yaml.YAMLError`` (``YamlBudgetError`` past the node cap or the time budget)
    or ``RecursionError`` for nesting deeper than Python's stack allows.
    """
    loader = _LOADER_CLASS(text)  # type: ignore[call-arg]
    loader.start_budget(_deadline() if deadline is None else deadline)
    try:
        documents: list[yaml.Node] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                documents.append(node)
        return documents
    finally:
        loader.dispose()  # type: ignore[attr-defined]


def compose_one(text: str, deadline: float | None = None) -> yaml.Node | None:
    """Return the node of a single-document stream (``None`` if empty), within the budget."""
    loader = _LOADER_CLASS(text)  # type: ignore[call-arg]
    loader.start_budget(_deadline() if deadline is None else deadline)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()  # type: ignore[attr-defined]


_LOADER = yaml.SafeLoader("")
_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


def load_yaml(path: Path) -> tuple[Any, LineMap]:
    """Return the document's data and its line map; raise :class:`ConfigError` if unreadable."""
    try:
        # Sized before it is read, so a huge file is refused without loading it.
        size = path.stat().st_size
        if size > MAX_YAML_BYTES:
            raise ConfigError(f"{path}: file is too large ({size} bytes, at most {MAX_YAML_BYTES})")
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
    deadline = _deadline()
    try:
        node = compose_one(text, deadline)
    except RecursionError:
        raise ConfigError(f"{name}: invalid YAML: nested too deeply") from None
    except yaml.MarkedYAMLError as exc:
        where, problem = syntax_error(exc)
        raise ConfigError(f"{name}: {where or '?'}: invalid YAML: {problem}") from None
    except YamlBudgetError as exc:
        raise ConfigError(f"{name}: YAML refused: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{name}: invalid YAML: {exc}") from None
    if node is None:
        return None, LineMap()
    walker = _Walker(deadline)
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
    except YamlBudgetError as exc:
        raise ConfigError(f"{name}: YAML refused: {exc}") from None
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
