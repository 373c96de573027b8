"""docs/quality-gates.md says what ``quality check`` does: its example gives the verdict it
shows, and its metric tables list exactly the metrics and former names opsledger knows."""

from __future__ import annotations

import re
from pathlib import Path

from opsledger.patching.service import SECURITY_BANDS
from opsledger.quality.gate_definitions import resolve_definitions
from opsledger.quality.gates import evaluate_gates
from opsledger.quality.metrics import METRICS, RENAMED_METRICS, UNITS
from opsledger.readers import gates_config

DOC = Path(__file__).resolve().parents[2] / "docs" / "quality-gates.md"


def section(heading: str) -> str:
    text = DOC.read_text()
    start = text.index(heading)
    following = text.find("\n## ", start + len(heading))
    following_sub = text.find("\n### ", start + len(heading))
    ends = [i for i in (following, following_sub) if i != -1]
    return text[start:min(ends) if ends else len(text)]


def block(text: str, language: str) -> str:
    match = re.search(rf"```{language}\n(.*?)```", text, flags=re.S)
    assert match, f"no {language} block"
    return match.group(1)


def test_the_blocking_and_advisory_example_prints_what_the_page_says(tmp_path: Path):
    text = section("### Blocking and advisory gates")
    path = tmp_path / "gates_config.yaml"
    path.write_text(block(text, "yaml"))
    read = gates_config.read(path)
    assert read.problems == []
    definitions = resolve_definitions(read.records, "gates_config.yaml")
    assert definitions.warnings == ()
    # the figures the page states: 4 % errors, 17 overdue items, 72 % coverage
    card = evaluate_gates(definitions.gates, {"error_rate": 0.04, "overdue_action_items": 17.0,
                                              "coverage": 0.72}, units=UNITS)
    verdict, warning = block(text, "text").strip().splitlines()
    assert card.verdict == verdict
    assert f"warning: {card.advisory_warning}" == warning
    assert not card.passed and "exits 1" in text


def _names(cell: str) -> set[str]:
    names = set()
    for name in re.findall(r"`([^`]+)`", cell):
        if "<band>" in name:
            names |= {name.replace("<band>", band.value) for band in SECURITY_BANDS}
        else:
            names.add(name)
    return names


def test_the_metric_tables_match_the_metrics_measured():
    text = section("## Metric names")
    rows = [line.split("|")[1:-1] for line in text.splitlines()
            if line.startswith("| `")]
    renamed = {_names(r[0]).pop(): _names(r[1]).pop() for r in rows if len(r) == 3}
    documented = set().union(*(_names(r[0]) for r in rows if len(r) == 2))
    assert documented == set(METRICS)
    assert renamed == {old: new for old, (new, _) in RENAMED_METRICS.items()}
