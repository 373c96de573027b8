"""Parsing budget: YAML and JSON that is slow or large inside the size cap.

Before the budget, a 15 MB YAML list (no aliases) kept ``validate`` busy for more than 300 s,
and from 1 MB such a list was refused as "alias bomb?", which it is not. JSON objects with a
repeated key silently kept the last value.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from opsledger.core import yamlfile
from opsledger.core.errors import ConfigError
from opsledger.core.problems import Level, ReadResult
from opsledger.core.yamlfile import MAX_YAML_BYTES, MAX_YAML_NODES, load_yaml, parse_yaml
from opsledger.formats import textfile
from opsledger.formats.textfile import load_json
from opsledger.readers import backstage


def plain_list(size: int) -> str:
    lines: list[str] = []
    total = 0
    while total < size:
        line = f"- item-{len(lines)}\n"
        lines.append(line)
        total += len(line)
    return "".join(lines)


def alias_bomb() -> str:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    return "\n".join(lines) + "\n"


@pytest.fixture(params=["libyaml", "python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with libyaml's parser (when PyYAML has it) and with the pure-Python one."""
    if request.param == "python":
        monkeypatch.setattr(yamlfile, "_LOADER_CLASS", yamlfile._PythonBudgetLoader)
    elif not hasattr(yamlfile, "_CBudgetLoader"):
        pytest.skip("PyYAML is built without libyaml")
    return str(request.param)


def test_a_plain_yaml_list_under_the_size_cap_is_refused_quickly_and_honestly(tmp_path: Path):
    path = tmp_path / "list.yaml"
    path.write_text(plain_list(MAX_YAML_BYTES - 4096))
    started = time.monotonic()
    with pytest.raises(ConfigError) as refused:
        load_yaml(path)
    elapsed = time.monotonic() - started
    message = str(refused.value)
    # On a loaded machine the time budget may end it first; either reason is the honest one.
    assert (
        f"nodes, over the limit of {MAX_YAML_NODES}" in message
        or f"took longer than {yamlfile.MAX_YAML_SECONDS:g} s to parse" in message
    ), message
    assert "alias" not in message
    assert elapsed < yamlfile.MAX_YAML_SECONDS + 10, f"took {elapsed:.1f} s"


def test_a_15_mb_yaml_list_is_refused_by_size_at_once(tmp_path: Path):
    path = tmp_path / "list.yaml"
    path.write_text(plain_list(15 * 1024 * 1024))
    started = time.monotonic()
    with pytest.raises(ConfigError, match="file is too large"):
        load_yaml(path)
    assert time.monotonic() - started < 1


def test_a_1_mb_yaml_list_is_read_not_called_an_alias_bomb(loader: str):
    data, _ = parse_yaml(plain_list(1024 * 1024), "list.yaml")
    assert len(data) > 80_000


def test_alias_expansion_keeps_its_own_message(loader: str):
    with pytest.raises(
        ConfigError, match=r"aliases expand the document to too many nodes, past \d+ "
    ):
        parse_yaml(alias_bomb(), "bomb.yaml")


def test_node_cap_holds_with_either_parser(loader: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(yamlfile, "MAX_YAML_NODES", 1000)
    with pytest.raises(ConfigError, match=r"\b3001 nodes, over the limit of 1000"):
        parse_yaml(_items(3000), "f")


def _items(count: int) -> str:
    return "".join(f"- {i}\n" for i in range(count))


def test_time_budget_is_reported_as_time(loader: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(yamlfile, "MAX_YAML_SECONDS", -1.0)
    monkeypatch.setattr(yamlfile, "_CLOCK_EVERY", 1)
    with pytest.raises(ConfigError, match=r"took longer than -1 s to parse"):
        parse_yaml(_items(10), "slow.yaml")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("x: !!python/object/apply:os.system ['true']\n", "no constructor for the tag"),
        ("<<: {a: 1}\n", "merge keys"),
        ("a: 1\nb: 2\na: 3\n", "line 3: duplicate key 'a'"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", "nest"),
    ],
)
def test_guards_hold_with_either_parser(loader: str, document: str, message: str):
    with pytest.raises(ConfigError, match=message):
        parse_yaml(document, "guarded.yaml")


def test_backstage_catalog_over_the_node_cap_is_refused_not_called_invalid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(yamlfile, "MAX_YAML_NODES", 1000)
    path = tmp_path / "catalog-info.yaml"
    path.write_text(_items(3000))
    [problem] = backstage.read(path).problems
    assert problem.level is Level.FATAL
    assert "YAML refused: 3001 nodes, over the limit of 1000" in problem.message


def test_duplicate_json_key_refuses_the_document_naming_key_and_line(tmp_path: Path):
    # Attack: a second "severity" later in the record silently won over the first.
    path = tmp_path / "alerts.json"
    path.write_text(
        '[\n  {"id": "A-1", "severity": "critical"},\n'
        '  {"id": "A-2",\n   "severity": "critical",\n   "note": {"x": 1},\n'
        '   "severity": "low"}\n]\n'
    )
    result: ReadResult[object] = ReadResult(path)
    assert load_json(path, result) is None
    [problem] = result.problems
    assert problem.level is Level.FATAL
    assert problem.location == "line 6, column 4"
    assert problem.message == 'invalid JSON: duplicate key "severity" in one object'


def test_same_key_in_different_objects_is_fine():
    assert textfile.parse_json('[{"id": 1, "x": {"id": 2}}, {"id": 3}]') == [
        {"id": 1, "x": {"id": 2}},
        {"id": 3},
    ]


def test_json_over_the_member_cap_is_refused_honestly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(textfile, "MAX_JSON_MEMBERS", 100)
    path = tmp_path / "big.json"
    path.write_text("[" + ", ".join('{"a": 1}' for _ in range(100)) + "]")
    result: ReadResult[object] = ReadResult(path)
    assert load_json(path, result) is None
    [problem] = result.problems
    assert problem.message.startswith("JSON refused: more than 100 object members")
