"""The examples in the handover format documentation read without problems."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from opsledger.core.problems import ReadResult
from opsledger.readers import (
    handover_record,
    kt_feedback,
    observability_baseline,
    perf_backlog,
    postmortems,
    tech_debt,
)

DOCS = Path(__file__).parents[2] / "docs"
SECTION_READERS: dict[str, tuple[Callable[[Path], ReadResult[Any]], str]] = {
    "operational-handover-record.json": (handover_record.read, ".json"),
    "knowledge-transfer-feedback.json": (kt_feedback.read, ".json"),
    "OBSERVABILITY-BASELINE.md": (observability_baseline.read, ".md"),
    "PERFORMANCE-IMPROVEMENT-BACKLOG.json": (perf_backlog.read, ".json"),
    "TECH-DEBT-REGISTER.md": (tech_debt.read, ".md"),
}


def handover_docs() -> str:
    """Return the format documentation, which must describe the handover documents."""
    text = (DOCS / "formats.md").read_text()
    assert "## Handover documents" in text
    return text


def example(section: str) -> str:
    text = handover_docs()
    start = text.index(f"### `{section}`")
    end = text.find("\n### ", start + 1)
    body = text[start : end if end > 0 else len(text)]
    blocks = re.findall(r"^```(?:json|markdown)\n(.*?)^```$", body, re.S | re.M)
    assert blocks, section
    return blocks[-1]


@pytest.mark.parametrize("section", sorted(SECTION_READERS))
def test_documented_example_reads_cleanly(section: str, tmp_path: Path) -> None:
    read, suffix = SECTION_READERS[section]
    path = tmp_path / f"example{suffix}"
    path.write_text(example(section))
    result = read(path)
    assert result.problems == []
    assert result.records


def test_documented_postmortem_example_reads_cleanly(tmp_path: Path) -> None:
    folder = tmp_path / "INCIDENT-POSTMORTEMS"
    folder.mkdir()
    (folder / "INC-1021.md").write_text(example("INCIDENT-POSTMORTEMS/"))
    result = postmortems.read(folder)
    assert result.problems == []
    (pm,) = result.records
    assert pm.incident_id == "INC-1021"
    assert len(pm.action_items) == 1
