"""Sloth's example specs paired with the rules Sloth generated for them, and opsledger's rules.

``tests/fixtures/upstream/sloth/examples`` holds Sloth's example specs and, under ``_gen/``
with the same file name, the rules Sloth commits for each (see
``tests/fixtures/upstream/SOURCES``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from opsledger.readers import slo_definitions
from opsledger.slo.prometheus_rules import RuleTarget, rules_document, target_for

EXAMPLES = Path(__file__).parents[1] / "fixtures" / "upstream" / "sloth" / "examples"

# Labels Sloth's generator writes that name the generator, not the SLO: `cmd` is the extra
# label Sloth's examples script passes (--extra-labels), sloth_mode/sloth_version name the tool.
GENERATOR_LABELS = {"cmd", "sloth_mode", "sloth_version"}

# Examples whose rules differ from Sloth's on purpose, by difference (see docs/formats.md).
SLI_PLUGIN = {"plugin-getting-started.yml", "plugin-k8s-getting-started.yml"}
UNSUPPORTED_SLO_PLUGIN = {"contrib-denominator-corrected.yaml"}
OPENSLO_ALERTS = {"openslo-getting-started.yml", "openslo-kubernetes-apiserver.yml"}


def examples_with_rules() -> list[str]:
    """Return the names of the examples Sloth generated rules for."""
    return sorted(p.name for p in (EXAMPLES / "_gen").iterdir())


def example_spec(name: str) -> Path:
    return EXAMPLES / name


def generated_rules(name: str) -> Path:
    """Return the file holding the rules Sloth generated for the example ``name``."""
    return EXAMPLES / "_gen" / name


def sloth_groups(name: str) -> list[dict[str, Any]]:
    """Return Sloth's rule groups for an example, unwrapped from ``PrometheusRule`` objects."""
    groups = []
    for document in yaml.safe_load_all(generated_rules(name).read_text()):
        if not document:
            continue
        body = document["spec"] if document.get("kind") == "PrometheusRule" else document
        groups.extend(body["groups"])
    return groups


def our_groups(name: str) -> list[dict[str, Any]]:
    """Return opsledger's rule groups for an example."""
    result = slo_definitions.read(example_spec(name))
    targets = [target_for(slo) for slo in result.records]
    assert all(isinstance(t, RuleTarget) for t in targets), targets
    return rules_document([t for t in targets if isinstance(t, RuleTarget)])["groups"]
