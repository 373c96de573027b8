"""The examples in docs/formats.md read cleanly with the readers they document."""

from __future__ import annotations

import re
from pathlib import Path

from opsledger.readers import slo_definitions, utilisation

DOCS = Path(__file__).resolve().parents[1] / "docs" / "formats.md"


def block_after(heading: str, language: str) -> str:
    text = DOCS.read_text()
    section = text[text.index(heading):]
    match = re.search(rf"```{language}\n(.*?)```", section, flags=re.S)
    assert match, f"no {language} example under {heading}"
    return match.group(1)


def test_native_slo_example_reads(tmp_path: Path) -> None:
    (tmp_path / "slos.yaml").write_text(block_after("## SLO definitions", "yaml"))
    result = slo_definitions.read(tmp_path)
    assert result.problems == []
    assert [(s.service, s.name) for s in result.records] == [
        ("orders", "availability"), ("orders", "health")]
    assert result.records[0].objective == 0.995


def test_utilisation_example_reads(tmp_path: Path) -> None:
    folder = tmp_path / "utilisation"
    folder.mkdir()
    (folder / "u.csv").write_text(block_after("## Utilisation series", "csv"))
    result = utilisation.read(tmp_path)
    assert not result.fatal and len(result.log.frame) == 2
