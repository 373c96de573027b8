"""``opsledger validate`` on a workspace whose every input is the same hostile file.

The command must list each refused file with its problem and exit 2 (or 0 when nothing
was refused), never 3 (internal error) and never print a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from .corpus import CASES, HostileCase
from .harness import Worker, accepted_suffixes, place, reader_targets, seed_for

CLI_TIMEOUT = 180.0
# --json is checked on one case per kind of input: text, YAML, archive.
JSON_CASES = ("gigabyte-line", "yaml-tag-mapping", "zip-slip-parent")


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    running = Worker()
    yield running
    running.close()


def hostile_workspace(root: Path, demo: Path, case: HostileCase) -> list[Path]:
    """Write the case at every input it fits; return the files written."""
    written = []
    for target in reader_targets():
        fitting = sorted(accepted_suffixes(target) & case.suffixes)
        if not fitting:
            continue
        file = place(root, target, fitting[0])
        case.build(file, seed_for(demo, target, fitting[0]))
        written.append(file)
    return written


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_validate_lists_hostile_files_without_crashing(
    worker: Worker, small_demo: Path, tmp_path: Path, case: HostileCase
) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    written = hostile_workspace(root, small_demo, case)
    assert written

    text = worker.ask({"op": "cli", "args": ["validate", str(root)]}, CLI_TIMEOUT)
    assert "error" not in text, text.get("error")
    assert text["exit_code"] in (0, 2), text["output"][-2000:]
    assert not text["exception"], text["exception"]
    assert "Traceback" not in text["output"] and "internal error" not in text["output"]

    if case.expect == "refuse":
        assert text["exit_code"] == 2
        for file in written:
            assert str(file) in text["output"], f"{file} not listed"


@pytest.mark.parametrize("name", JSON_CASES)
def test_validate_json_names_each_refused_file(
    worker: Worker, small_demo: Path, tmp_path: Path, name: str
) -> None:
    case = next(c for c in CASES if c.name == name)
    root = tmp_path / "ws"
    root.mkdir()
    written = hostile_workspace(root, small_demo, case)
    answer = worker.ask({"op": "cli", "args": ["validate", str(root), "--json"]}, CLI_TIMEOUT)
    assert answer["exit_code"] == 2 and not answer["exception"], answer["output"][-2000:]
    # The JSON document is the whole of the output: nothing else is printed with --json.
    inventory = json.loads(answer["output"])
    refused = {p["path"] for entry in inventory for p in entry["problems"]
               if p["level"] != "warning"}
    assert {str(f) for f in written} <= refused
