"""Backstage ``catalog-info.yaml``: Component, System and Resource entities as catalog services.

The file may hold several YAML documents (``---``), one entity each, in Backstage's
descriptor format (``apiVersion: backstage.io/v1alpha1``). Read per entity:

- ``metadata.name``; ``metadata.labels.tier`` (or ``spec.tier``) when present;
- ``spec.owner`` — an entity reference ``[kind:][namespace/]name``; a group (the default
  kind) is also the owning team;
- ``spec.lifecycle`` and ``spec.dependsOn`` (references, kind and namespace dropped);
- annotations ``pagerduty.com/service-id`` (on-call) and ``grafana/dashboard-selector``;
- ``metadata.links`` whose title (or type) mentions "dashboard" or "runbook".

Other kinds (API, Group, User, Domain, Location, Template from
``scaffolder.backstage.io/v1beta3``, or any other) are not services: they are passed over
with one warning per kind and file; a Location's ``spec.targets`` are named, since the files
they point to are not read. An ``apiVersion`` must be Backstage's (``backstage.io/...`` or a
plugin's ``*.backstage.io/...``), and ``metadata.name`` must follow Backstage's rule (1-63
letters, digits, ``-``, ``_`` or ``.``, starting and ending with a letter or digit), else
the entity is quarantined. The YAML is composed with the safe loader and walked by hand, so
any tag outside plain YAML (``!!python/object``, local ``!tags``) refuses the file, and alias
expansion is bounded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from opsledger.core.problems import ReadResult, shown
from opsledger.core.yamlfile import (
    MAX_YAML_BYTES,
    MAX_YAML_NODES,
    YamlBudgetError,
    compose_documents,
    syntax_error,
)
from opsledger.formats.textfile import load_text
from opsledger.model.handover import CatalogService
from opsledger.readers.service_catalog import TIER_EXPECTED, parse_tier

SERVICE_KINDS = ("component", "system", "resource")
# Backstage's entity name rule (catalog-model's KubernetesValidatorFunctions.isValidObjectName).
ENTITY_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
ENTITY_NAME_MAX = 63
PAGERDUTY_SERVICE = "pagerduty.com/service-id"
GRAFANA_SELECTOR = "grafana/dashboard-selector"
_SAFE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}"
    for name in ("str", "int", "float", "bool", "null", "map", "seq", "timestamp")
)

_MERGE_TAG = "tag:yaml.org,2002:merge"

Path_ = tuple[str | int, ...]


class UnsafeYaml(Exception):
    def __init__(self, message: str, line: int, found: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.found = found


@dataclass
class Document:
    """One YAML document as plain data, with the line of every value in it."""

    data: Any
    line: int
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, *path: str | int) -> int:
        key = tuple(path)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return self.line

    def where(self, *path: str | int) -> str:
        return f"line {self.line_of(*path)}"


class _Walker:
    """Turns composed nodes into plain data, refusing tags a safe loader would not build."""

    def __init__(self) -> None:
        self.loader = yaml.SafeLoader("")

    def document(self, node: yaml.Node) -> Document:
        if expanded_size(node) > MAX_YAML_NODES:
            raise UnsafeYaml(
                "document expands to too many values (alias bomb?)", node.start_mark.line + 1
            )
        doc = Document(None, node.start_mark.line + 1)
        doc.data = self._build(node, (), doc.lines)
        return doc

    def _build(self, node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
        line = node.start_mark.line + 1
        if node.tag == _MERGE_TAG:
            raise UnsafeYaml("merge keys ('<<') are not supported", line)
        if node.tag not in _SAFE_TAGS:
            raise UnsafeYaml("YAML tag not allowed", line, node.tag)
        lines.setdefault(path, line)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                key = self._build(key_node, path, {})
                if isinstance(key, dict | list):
                    raise UnsafeYaml("a key must be a plain value", key_node.start_mark.line + 1)
                key = str(key)
                lines[(*path, key)] = key_node.start_mark.line + 1
                out[key] = self._build(value_node, (*path, key), lines)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._build(item, (*path, i), lines) for i, item in enumerate(node.value)]
        constructor = self.loader.yaml_constructors[node.tag]
        return constructor(self.loader, node)


def expanded_size(node: yaml.Node) -> int:
    """Return how many values ``node`` stands for once every alias is expanded.

    Aliases share nodes, so this is computed once per distinct node; a node that contains
    itself (a recursive alias) counts as unbounded.
    """
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(current: yaml.Node) -> int:
        key = id(current)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            return MAX_YAML_NODES + 1
        open_nodes.add(key)
        total = 1
        if isinstance(current, yaml.MappingNode):
            for key_node, value_node in current.value:
                total += size(key_node) + size(value_node)
                if total > MAX_YAML_NODES:
                    break
        elif isinstance(current, yaml.SequenceNode):
            for item in current.value:
                total += size(item)
                if total > MAX_YAML_NODES:
                    break
        open_nodes.discard(key)
        sizes[key] = total
        return total

    return size(node)


def read(path: Path) -> ReadResult[CatalogService]:
    """Return one :class:`CatalogService` per Component, System or Resource in the file."""
    result: ReadResult[CatalogService] = ReadResult(path, detected_format="backstage")
    text = load_text(path, result, limit=MAX_YAML_BYTES)
    if text is None:
        return result
    documents = _documents(text, result)
    if documents is None:
        return result
    if not documents:
        return result.fail(
            "", "no entities in the file", "Backstage entity documents", "an empty file"
        )
    # Names key services elsewhere, so two entities of one name (of any kind) are ambiguous.
    seen: dict[str, int] = {}
    passed_over: dict[str, list[Document]] = {}
    for doc in documents:
        record = _entity(doc, result, passed_over)
        if record is None:
            continue
        if record.name in seen:
            result.quarantine(
                doc.where("metadata", "name"),
                f"duplicate entity name '{record.name}'",
                "each name once",
                f"also at line {seen[record.name]}",
            )
            continue
        seen[record.name] = doc.line_of("metadata", "name")
        result.records.append(record)
    for kind, docs in passed_over.items():
        _pass_over(kind, docs, result)
    return result


def _pass_over(kind: str, docs: list[Document], result: ReadResult[CatalogService]) -> None:
    """Say once per kind which entities were passed over, and what a Location points to."""
    lines = ", ".join(str(d.line) for d in docs)
    versions = sorted({str(d.data.get("apiVersion")) for d in docs})
    plural = "entity" if len(docs) == 1 else "entities"
    message = (f"passed over {len(docs)} {kind} {plural} ({', '.join(versions)}): not a "
               "service kind (services come from Component, System and Resource)")
    targets = [t for d in docs for t in _targets(d)]
    if kind.lower() == "location" and targets:
        message += f"; the files it points to are not read: {', '.join(targets)}"
    result.warn(f"line {lines}" if len(docs) == 1 else f"lines {lines}", message)


def _targets(doc: Document) -> list[str]:
    spec = doc.data.get("spec")
    if not isinstance(spec, dict):
        return []
    targets = spec.get("targets")
    found: list[Any] = list(targets) if isinstance(targets, list) else []
    if spec.get("target"):
        found.append(spec["target"])
    return [str(t) for t in found if str(t).strip()]


def _documents(text: str, result: ReadResult[CatalogService]) -> list[Document] | None:
    walker = _Walker()
    documents: list[Document] = []
    try:
        for node in compose_documents(text):
            document = walker.document(node)
            if document.data is not None:  # an empty document between two '---'
                documents.append(document)
    except UnsafeYaml as exc:
        result.fail(
            f"line {exc.line}",
            f"unsafe YAML: {exc}",
            "plain YAML (maps, lists, strings, numbers)",
            exc.found,
        )
        return None
    except yaml.MarkedYAMLError as exc:
        where, problem = syntax_error(exc)
        result.fail(where, f"invalid YAML: {problem}", "well-formed YAML")
        return None
    except YamlBudgetError as exc:
        result.fail("", f"YAML refused: {exc}", f"at most {MAX_YAML_NODES} YAML nodes")
        return None
    except (yaml.YAMLError, RecursionError, ValueError, OverflowError) as exc:
        result.fail("", f"invalid YAML: {exc}", "well-formed YAML")
        return None
    return documents


def _entity(
    doc: Document, result: ReadResult[CatalogService], passed_over: dict[str, list[Document]]
) -> CatalogService | None:
    data = doc.data
    if not isinstance(data, dict):
        result.quarantine(
            doc.where(), "entity is not a mapping", "a Backstage entity", type(data).__name__
        )
        return None
    kind = data.get("kind")
    if not isinstance(kind, str) or not kind.strip():
        result.quarantine(
            doc.where("kind"),
            "entity has no kind",
            "kind: Component, System or Resource",
            shown(kind),
        )
        return None
    api_version = data.get("apiVersion")
    if not _backstage_version(api_version):
        result.quarantine(
            doc.where("apiVersion"),
            "not a Backstage entity",
            "apiVersion: backstage.io/v1alpha1 (or a plugin's *.backstage.io/...)",
            shown(api_version),
        )
        return None
    if kind.strip().lower() not in SERVICE_KINDS:
        passed_over.setdefault(kind.strip(), []).append(doc)  # a Group, API, Template...
        return None
    metadata: dict[str, Any] = data["metadata"] if isinstance(data.get("metadata"), dict) else {}
    name = metadata.get("name")
    if not isinstance(name, str) or not name.strip():
        result.quarantine(
            doc.where("metadata", "name"), "entity has no metadata.name", "a name", shown(name)
        )
        return None
    if len(name.strip()) > ENTITY_NAME_MAX or not ENTITY_NAME.fullmatch(name.strip()):
        result.quarantine(
            doc.where("metadata", "name"),
            "metadata.name is not a valid Backstage entity name",
            f"1-{ENTITY_NAME_MAX} letters, digits, '-', '_' or '.', starting and ending "
            "with a letter or digit",
            shown(name),
        )
        return None
    spec: dict[str, Any] = data["spec"] if isinstance(data.get("spec"), dict) else {}
    problems_before = len(result.problems)
    owner, team = _owner(spec.get("owner"))
    if spec.get("owner") is not None and owner is None:
        result.quarantine(
            doc.where("spec", "owner"),
            "spec.owner is not an entity reference",
            "a reference such as group:default/payments",
            shown(spec.get("owner")),
        )
    dependencies = list(_references(doc, spec.get("dependsOn"), result))
    labels: dict[str, Any] = metadata["labels"] if isinstance(metadata.get("labels"), dict) else {}
    raw_tier = labels.get("tier", spec.get("tier"))
    tier = parse_tier(raw_tier)
    if raw_tier is not None and tier is None:
        where = ("metadata", "labels", "tier") if "tier" in labels else ("spec", "tier")
        result.quarantine(doc.where(*where), "tier is not a tier", TIER_EXPECTED, shown(raw_tier))
    if len(result.problems) > problems_before:
        return None
    annotations = metadata.get("annotations")
    annotations = annotations if isinstance(annotations, dict) else {}
    links = _links(metadata.get("links"))
    lifecycle = spec.get("lifecycle")
    return CatalogService(
        name=name.strip(),
        owner=owner,
        team=team,
        tier=tier,
        lifecycle=str(lifecycle).strip().lower() if lifecycle is not None else None,
        deployment=None,
        dependencies=tuple(dependencies),
        dashboard=links.get("dashboard") or _text(annotations.get(GRAFANA_SELECTOR)),
        runbook=links.get("runbook"),
        oncall=_text(annotations.get(PAGERDUTY_SERVICE)),
        source="backstage",
        kind=kind.strip().lower(),
    )


def _backstage_version(value: object) -> bool:
    """Return True for ``backstage.io/...`` and a plugin's ``<name>.backstage.io/...``."""
    if not isinstance(value, str) or "/" not in value:
        return False
    group = value.split("/", 1)[0].strip().lower()
    return group == "backstage.io" or group.endswith(".backstage.io")


def parse_reference(ref: str) -> tuple[str | None, str]:
    """Return (kind or None, name) of an entity reference ``[kind:][namespace/]name``."""
    text = ref.strip()
    kind: str | None = None
    if ":" in text:
        kind, text = text.split(":", 1)
        kind = kind.strip().lower() or None
    if "/" in text:
        text = text.split("/", 1)[1]
    return kind, text.strip()


def _owner(value: object) -> tuple[str | None, str | None]:
    if not isinstance(value, str) or not value.strip():
        return None, None
    kind, name = parse_reference(value)
    if not name:
        return None, None
    # Backstage takes an owner reference without a kind to be a Group.
    return name, name if kind in (None, "group") else None


def _references(doc: Document, value: object, result: ReadResult[CatalogService]) -> Iterator[str]:
    if value is None:
        return
    if not isinstance(value, list):
        result.quarantine(
            doc.where("spec", "dependsOn"),
            "spec.dependsOn is not a list",
            "a list of entity references",
            shown(value),
        )
        return
    for index, item in enumerate(value):
        name = parse_reference(item)[1] if isinstance(item, str) else ""
        if not name:
            result.quarantine(
                doc.where("spec", "dependsOn", index),
                "dependency is not an entity reference",
                "a reference such as component:payments-api",
                shown(item),
            )
            continue
        yield name


def _links(value: object) -> dict[str, str]:
    """Return the first dashboard and runbook URLs among ``metadata.links``."""
    found: dict[str, str] = {}
    if not isinstance(value, list):
        return found
    for link in value:
        if not isinstance(link, dict) or not isinstance(link.get("url"), str):
            continue
        label = f"{link.get('title') or ''} {link.get('type') or ''}".lower()
        for word in ("dashboard", "runbook"):
            if word in label:
                found.setdefault(word, link["url"].strip())
    return found


def _text(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
