"""Backstage's own example entities: services read, every other kind passed over by name,
what Backstage refuses refused."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from opsledger.core.problems import Level
from opsledger.readers import backstage

from .upstream import BACKSTAGE

FILES = sorted(BACKSTAGE.rglob("*.yaml"))
SERVICE_KINDS = {"Component", "System", "Resource"}
# Backstage's isValidObjectName, restated for the test.
VALID_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")


def expected(path: Path) -> tuple[list[str], dict[str, int], list[str]]:
    """Return (service names, passed-over kinds with counts, refused names) from the YAML."""
    names, passed, refused = [], {}, []
    for doc in yaml.safe_load_all(path.read_text()):
        if doc["kind"] not in SERVICE_KINDS:
            passed[doc["kind"]] = passed.get(doc["kind"], 0) + 1
        elif len(doc["metadata"]["name"]) <= 63 and VALID_NAME.match(doc["metadata"]["name"]):
            names.append(doc["metadata"]["name"])
        else:
            refused.append(doc["metadata"]["name"])
    return names, passed, refused


def test_every_kind_of_the_examples_is_covered() -> None:
    kinds = {doc["kind"] for path in FILES for doc in yaml.safe_load_all(path.read_text())}
    assert kinds == {"API", "Component", "Environment", "Group", "Location", "Resource",
                     "System", "Template"}


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(BACKSTAGE)))
def test_each_example_is_read_passed_over_or_refused_by_name(path: Path) -> None:
    names, passed, refused = expected(path)
    result = backstage.read(path)
    assert [r.name for r in result.records] == names
    warnings = [p.message for p in result.problems if p.level is Level.WARNING]
    assert len(warnings) == len(passed)
    for kind, count in passed.items():
        plural = "entity" if count == 1 else "entities"
        assert any(m.startswith(f"passed over {count} {kind} {plural}") for m in warnings)
    rows = [p for p in result.problems if p.level is Level.ROW]
    assert [p.found for p in rows] == [repr(name) for name in refused]
    assert not result.fatal


def test_a_scaffolder_template_is_passed_over_not_rejected() -> None:
    path = BACKSTAGE / "scaffolder-backend/sample-templates/notifications-demo/template.yaml"
    assert yaml.safe_load(path.read_text())["apiVersion"] == "scaffolder.backstage.io/v1beta3"
    [problem] = backstage.read(path).problems
    assert problem.level is Level.WARNING and problem.location == "line 1"
    assert "(scaffolder.backstage.io/v1beta3)" in problem.message


def test_a_location_names_the_files_that_are_not_read() -> None:
    path = BACKSTAGE / "catalog-model/examples/all-components.yaml"
    targets = yaml.safe_load(path.read_text())["spec"]["targets"]
    [problem] = backstage.read(path).problems
    assert problem.message.endswith("the files it points to are not read: " + ", ".join(targets))


def test_the_fields_of_an_example_component() -> None:
    path = BACKSTAGE / "catalog-model/examples/components/artist-lookup-component.yaml"
    doc = yaml.safe_load(path.read_text())
    [service] = backstage.read(path).records
    dashboard = next(link["url"] for link in doc["metadata"]["links"]
                     if "dashboard" in link["title"].lower())
    assert (service.name, service.owner, service.team, service.lifecycle, service.kind) == (
        doc["metadata"]["name"], doc["spec"]["owner"], doc["spec"]["owner"],
        doc["spec"]["lifecycle"], "component")
    assert service.dependencies == tuple(d.split(":")[-1] for d in doc["spec"]["dependsOn"])
    assert service.dashboard == dashboard


def test_a_user_owner_is_no_team() -> None:
    path = BACKSTAGE / "catalog-model/examples/systems/podcast-system.yaml"
    [system] = backstage.read(path).records
    assert (system.owner, system.team) == ("team-b", None)  # owner: user:team-b
