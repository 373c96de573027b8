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


def test_quality_gates_example_reads_without_deprecations(tmp_path: Path) -> None:
    from opsledger.quality.gate_definitions import resolve_definitions
    from opsledger.quality.metrics import METRICS
    from opsledger.readers import gates_config

    path = tmp_path / "gates_config.yaml"
    path.write_text(block_after("## Quality gates", "yaml"))
    result = gates_config.read(path)
    assert result.problems == []
    definitions = resolve_definitions(result.records, str(path))
    assert definitions.warnings == ()  # no `key`, no former metric name
    assert {g.metric for g in definitions.gates} <= METRICS.keys()
    assert [g.blocking for g in definitions.gates] == [True, False]  # as the example says


def test_configuration_snippets_are_valid_configurations(tmp_path: Path) -> None:
    import yaml

    from opsledger.core.config import Config, load_config

    blocks = re.findall(r"^( *)```yaml\n(.*?)^\1```", DOCS.read_text(), flags=re.S | re.M)
    snippets = ["\n".join(line[len(indent):] for line in body.splitlines())
                for indent, body in blocks]
    # A snippet of opsledger.yaml is one whose top-level keys are all configuration keys.
    config_snippets = [s for s in snippets if isinstance(data := yaml.safe_load(s), dict)
                       and set(data) <= set(Config.model_fields)]
    assert len(config_snippets) >= 4
    for snippet in config_snippets:
        (tmp_path / "opsledger.yaml").write_text(snippet)
        load_config(tmp_path)
