"""Backstage catalog-info.yaml: entities read, others passed over, unsafe YAML refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from opsledger.core.problems import Level
from opsledger.model.handover import CatalogService
from opsledger.readers import backstage

FIXTURES = Path(__file__).parent / "fixtures" / "catalog"


def test_components_systems_and_resources_become_catalog_services():
    result = backstage.read(FIXTURES / "catalog-info.yaml")
    # The Group is passed over, and said to be.
    [passed_over] = result.problems
    assert (passed_over.level, passed_over.location) == (Level.WARNING, "line 24")
    assert passed_over.message.startswith("passed over 1 Group entity (backstage.io/v1alpha1)")
    assert result.detected_format == "backstage"
    assert result.records == [
        CatalogService(
            name="checkout",
            owner="payments",
            team="payments",
            tier=0,
            lifecycle="production",
            deployment=None,
            dependencies=("auth", "ledger-db"),
            dashboard="https://grafana.example.com/d/checkout",
            runbook="https://wiki.example.com/runbooks/checkout",
            oncall="PCHK001",
            source="backstage",
        ),
        # A user owner is an owner but not a team; the Grafana selector stands in for a link.
        CatalogService(
            "auth",
            "jane.doe",
            None,
            None,
            "production",
            None,
            (),
            "tags @> 'auth'",
            None,
            None,
            source="backstage",
        ),
        # An owner reference without a kind is a group.
        CatalogService(
            "ledger-db",
            "payments",
            "payments",
            None,
            None,
            None,
            (),
            None,
            None,
            None,
            source="backstage",
            kind="resource",
        ),
    ]


def test_invalid_yaml_is_fatal_with_line_and_column():
    path = FIXTURES / "catalog-info-bad-yaml.yaml"
    result = backstage.read(path)
    [problem] = result.problems
    assert problem.level is Level.FATAL
    assert problem.location == "line 6, column 1"
    assert "invalid YAML" in problem.message
    assert str(problem).startswith(f"{path}: line 6, column 1: invalid YAML")
    assert result.records == []


def test_python_tag_refuses_the_file_without_constructing_anything(tmp_path):
    path = FIXTURES / "catalog-info-python-tag.yaml"
    result = backstage.read(path)
    [problem] = result.problems
    assert problem.level is Level.FATAL
    assert problem.location == "line 11"
    assert "tag not allowed" in problem.message
    assert "python/object/apply" in problem.found
    assert result.records == []
    assert not Path("/tmp/pwned").exists()


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("kind: !custom Component\n", 1, "tag not allowed"),
        ("a: &a [*a, *a]\n", 1, "too many values"),
        ("<<: {kind: Component}\n", 1, "merge keys"),
        ("? [a, b]\n: 1\n", 1, "plain value"),
    ],
)
def test_unsafe_yaml_constructs_are_refused_with_their_line(tmp_path, text, line, message):
    path = tmp_path / "catalog-info.yaml"
    path.write_text(text)
    [problem] = backstage.read(path).problems
    assert problem.level is Level.FATAL
    assert problem.location == f"line {line}"
    assert message in problem.message


def test_alias_bomb_is_bounded(tmp_path):
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    path = tmp_path / "catalog-info.yaml"
    path.write_text("\n".join(lines) + "\n")
    [problem] = backstage.read(path).problems
    assert "alias bomb" in problem.message


def test_bad_entities_are_quarantined_with_their_line_and_the_rest_read():
    path = FIXTURES / "catalog-info-bad-entities.yaml"
    result = backstage.read(path)
    assert [r.name for r in result.records] == ["search"]
    assert [(p.level, p.location, p.message) for p in result.problems] == [
        (Level.ROW, "line 7", "spec.dependsOn is not a list"),
        (Level.ROW, "line 9", "not a Backstage entity"),
        (Level.ROW, "line 16", "entity has no metadata.name"),
    ]
    assert all(p.path == str(path) for p in result.problems)


def test_duplicate_names_keep_the_first(tmp_path):
    path = tmp_path / "catalog-info.yaml"
    path.write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: a}\n"
        "spec: {owner: x}\n---\n"
        "apiVersion: backstage.io/v1alpha1\nkind: System\nmetadata:\n  name: a\n"
        "spec: {owner: y}\n"
    )
    result = backstage.read(path)
    assert [(r.name, r.owner) for r in result.records] == [("a", "x")]
    [problem] = result.problems
    assert problem.location == "line 9"
    assert problem.found == "also at line 3"


def test_empty_file_is_fatal(tmp_path):
    path = tmp_path / "catalog-info.yaml"
    path.write_text("# nothing yet\n---\n")
    [problem] = backstage.read(path).problems
    assert problem.level is Level.FATAL
    assert problem.message == "no entities in the file"


@pytest.mark.parametrize(
    "ref, expected",
    [
        ("component:default/payments-api", ("component", "payments-api")),
        ("resource:ledger-db", ("resource", "ledger-db")),
        ("group:payments", ("group", "payments")),
        ("default/auth", (None, "auth")),
        ("auth", (None, "auth")),
        ("Component:Auth", ("component", "Auth")),
    ],
)
def test_entity_references(ref, expected):
    assert backstage.parse_reference(ref) == expected
