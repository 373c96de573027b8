"""A charge's service and team, from the workspace's ``cost_mapping`` rules.

A rule reads a key of the charge's tags (the FOCUS ``Tags`` object, OpenCost labels) or a
column (a FOCUS column such as ``ServiceName`` or ``x_Application``; an OpenCost allocation
property such as ``namespace``), may narrow the value with a regular expression and may
translate it with a lookup table. The rules are tried in order and the first that gives a
value wins; the label of that rule is kept, so that the report can say where the service
names came from and how much spend no rule names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opsledger.core.config import CostMapping, CostMappingRule


@dataclass(frozen=True)
class Mapped:
    """What the rules say about one charge: its service and team, and which rule named the
    service (``None`` when none did)."""

    service: str | None
    team: str | None
    source: str | None


NOT_MAPPED = Mapped(None, None, None)


def tag_forms(key: str) -> tuple[str, ...]:
    """Return the spellings a tag key may have, lower-cased: as written, and as OpenCost
    writes Kubernetes labels (``app.kubernetes.io/name`` → ``app_kubernetes_io_name``, also
    with a ``label_`` prefix)."""
    lowered = key.strip().lower()
    prometheus = re.sub(r"[^a-z0-9_]", "_", lowered)
    return tuple(dict.fromkeys((lowered, prometheus, "label_" + prometheus)))


@dataclass(frozen=True)
class _Rule:
    tag: str | None
    column: str | None
    pattern: re.Pattern[str] | None
    lookup: Mapping[str, str]

    @classmethod
    def of(cls, rule: CostMappingRule) -> _Rule:
        return cls(rule.tag, rule.column, re.compile(rule.pattern) if rule.pattern else None,
                   dict(rule.lookup))

    @property
    def label(self) -> str:
        text = f"tag '{self.tag}'" if self.tag is not None else f"column '{self.column}'"
        extras = [word for word, used in (("pattern", self.pattern), ("lookup", self.lookup))
                  if used]
        return text + (f" ({', '.join(extras)})" if extras else "")

    def value(self, tags: Mapping[str, Any], columns: Mapping[str, str | None]) -> str | None:
        if self.tag is not None:
            raw = next((tags[f] for f in tag_forms(self.tag) if f in tags), None)
            text = _scalar_text(raw)
        else:
            text = (columns.get(self.column or "") or "").strip() or None
        if text is None:
            return None
        if self.pattern is not None:
            match = self.pattern.search(text)
            if match is None:
                return None
            if "value" in self.pattern.groupindex:
                text = match.group("value")
            else:
                text = match.group(1) if self.pattern.groups else match.group(0)
            text = (text or "").strip()
            if not text:
                return None
        if self.lookup:
            found = self.lookup.get(text)
            return found.strip() or None if found is not None else None
        return text


def _scalar_text(value: Any) -> str | None:
    """Return a tag value as text: strings and numbers only (FOCUS Key-Value Format)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    return str(value).strip() or None


class ServiceMapping:
    """The ``cost_mapping`` rules, compiled once and applied to each distinct charge."""

    def __init__(self, config: CostMapping | None = None) -> None:
        config = config if config is not None else CostMapping()
        self.service_rules = tuple(_Rule.of(r) for r in config.service)
        self.team_rules = tuple(_Rule.of(r) for r in config.team)

    @property
    def columns(self) -> tuple[str, ...]:
        """Return the columns the rules read, each once, in rule order."""
        rules = self.service_rules + self.team_rules
        return tuple(dict.fromkeys(r.column for r in rules if r.column is not None))

    @property
    def reads_tags(self) -> bool:
        return any(r.tag is not None for r in self.service_rules + self.team_rules)

    def describe(self) -> str:
        """Return the service rules in order, as the report states them."""
        return ", then ".join(r.label for r in self.service_rules) or "no rules"

    def resolve(self, tags: Mapping[str, Any], columns: Mapping[str, str | None]) -> Mapped:
        """Return the service and team of a charge with these (lower-cased) tags and columns."""
        service, source = _first(self.service_rules, tags, columns)
        team, _ = _first(self.team_rules, tags, columns)
        return Mapped(service, team, source)


def _first(rules: Sequence[_Rule], tags: Mapping[str, Any], columns: Mapping[str, str | None]
           ) -> tuple[str | None, str | None]:
    for rule in rules:
        value = rule.value(tags, columns)
        if value is not None:
            return value, rule.label
    return None, None


def lowered_keys(tags: Mapping[str, Any]) -> dict[str, Any]:
    """Return the tags with lower-cased, stripped keys (the first spelling of a key wins)."""
    out: dict[str, Any] = {}
    for key, value in tags.items():
        out.setdefault(str(key).strip().lower(), value)
    return out


DEFAULT_MAPPING = ServiceMapping()
