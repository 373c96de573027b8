"""Escalation matrix from config and catalog; Alertmanager config checked by amtool."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from opsledger.core.config import Config
from opsledger.core.incident_policy import (
    EscalationSettings,
    IncidentPolicy,
    RotationReceiver,
)
from opsledger.incidents.alertmanager import alertmanager_config, alertmanager_yaml, matcher
from opsledger.incidents.escalation import EscalationMatrix, escalation_matrix
from opsledger.incidents.escalation_matrix import escalation_markdown
from opsledger.model.handover import CatalogService

AMTOOL = shutil.which("amtool")

CONFIG = Config.model_validate({
    "organisation": "Example",
    "services": [
        {"name": "checkout", "owner": "payments", "tier": 0, "oncall": "payments-primary"},
        {"name": "search", "owner": "storefront", "oncall": "storefront-primary"},
        {"name": 'odd "name"', "owner": "storefront", "tier": 3},
    ],
    "stakeholders": [
        {"name": "Sam Manager", "email": "sam@example.com", "role": "sre-manager"},
        {"name": "Dee Director", "email": "dee@example.com", "role": "operations-director"},
    ],
})
CATALOG = [
    CatalogService("search", "Nia Kowalski", "storefront", 1, None, None, (), None, None,
                   "storefront-secondary"),
    CatalogService("ledger", None, "finance", 2, None, None, (), None, None, None),
]


@pytest.fixture(scope="module")
def matrix() -> EscalationMatrix:
    return escalation_matrix(CONFIG, CATALOG)


def test_levels_and_delays_follow_the_tier(matrix: EscalationMatrix) -> None:
    services = {s.service: s for s in matrix.services}
    checkout = services["checkout"]
    # Tier 0: delay 5 min; owner = the owning team (no catalog entry); director for tier <= 1.
    assert [(lv.level, lv.after_minutes, lv.target) for lv in checkout.levels] == [
        (1, 0, "payments-primary"), (2, 5, "payments"), (3, 10, "Sam Manager"),
        (4, 15, "Dee Director")]
    search = services["search"]
    # The config names no tier for search, so the catalog's tier 1 stands; the configured
    # rotation wins over the catalog's; the catalog names the owner.
    assert (search.tier, search.rotation, search.owner, search.source) == (
        1, "storefront-primary", "Nia Kowalski", "config+catalog")
    assert [lv.after_minutes for lv in search.levels] == [0, 10, 20, 30]


def test_catalog_only_service_and_gaps(matrix: EscalationMatrix) -> None:
    ledger = next(s for s in matrix.services if s.service == "ledger")
    assert (ledger.tier, ledger.rotation, ledger.source) == (2, "finance-oncall", "catalog")
    assert any("no on-call rotation" in gap for gap in ledger.gaps)
    assert any("no named owner" in gap for gap in ledger.gaps)
    # Tier 2: no director level.
    assert [lv.role for lv in ledger.levels] == ["primary on-call", "service owner",
                                                 "sre-manager"]


def test_response_targets_scale_with_tier(matrix: EscalationMatrix) -> None:
    services = {s.service: s for s in matrix.services}
    sev1 = {s: next(t for t in services[s].targets if t.severity == "SEV1")
            for s in ("checkout", "ledger", 'odd "name"')}
    # Base SEV1 acknowledgement 5 min x factor 1 (tier 0), 2 (tier 2), 4 (tier 3).
    assert [sev1[s].ack_minutes for s in ("checkout", "ledger", 'odd "name"')] == [5, 10, 20]
    sev3 = {s.service: next(t for t in s.targets if t.severity == "SEV3")
            for s in matrix.services}
    # SEV3 pages around the clock on tiers 0-1 only.
    assert sev3["checkout"].around_the_clock and not sev3["ledger"].around_the_clock


def test_markdown_lists_every_service(matrix: EscalationMatrix) -> None:
    text = escalation_markdown(matrix, "Example")
    assert text.startswith("# Escalation matrix — Example")
    for service in ("checkout", "search", "ledger"):
        assert f"## {service} (tier" in text
    assert "| SEV1 | 5 min | 30 min | 4 h | 24x7 (pages) |" in text


def test_matchers_are_escaped() -> None:
    assert matcher("service", 'odd "name"') == 'service="odd \\"name\\""'
    assert matcher("severity", "page|SEV1", regex=True) == 'severity=~"page|SEV1"'


def test_routes_and_receivers_hold_no_secret(matrix: EscalationMatrix) -> None:
    policy = IncidentPolicy(escalation=EscalationSettings(receivers={
        "payments-primary": RotationReceiver(
            pagerduty_routing_key_file="/etc/alertmanager/payments.key")}))
    config = alertmanager_config(matrix, policy)
    names = {r["name"] for r in config["receivers"]}
    assert {"payments-primary-page", "payments-primary-ticket", "finance-oncall-page"} <= names
    payments = next(r for r in config["receivers"] if r["name"] == "payments-primary-page")
    assert payments["pagerduty_configs"][0]["routing_key_file"] == "/etc/alertmanager/payments.key"
    assert payments["webhook_configs"][0]["url"] == (
        "http://localhost:9095/alerts/payments-primary/page")
    text = alertmanager_yaml(matrix, policy)
    assert "routing_key:" not in text and "service_key:" not in text
    checkout = config["route"]["routes"][0]
    assert checkout["matchers"] == ['service="checkout"']
    assert checkout["routes"][0]["repeat_interval"] == "30m"
    assert checkout["routes"][1]["active_time_intervals"] == ["business-hours"]


def _amtool_check(path: Path) -> subprocess.CompletedProcess[str]:
    assert AMTOOL is not None
    return subprocess.run([AMTOOL, "check-config", str(path)], capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.skipif(AMTOOL is None, reason="amtool not installed (Debian prometheus-alertmanager)")
def test_amtool_accepts_the_generated_config(matrix: EscalationMatrix, tmp_path: Path) -> None:
    policy = IncidentPolicy(
        timezone="Europe/Berlin",
        escalation=EscalationSettings(receivers={"payments-primary": RotationReceiver(
            pagerduty_routing_key_file="/etc/alertmanager/payments.key")}),
    )
    path = tmp_path / "alertmanager.yml"
    path.write_text(alertmanager_yaml(matrix, policy))
    checked = _amtool_check(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS" in checked.stdout
    # Receivers: unrouted + page/ticket for 4 rotations.
    assert len(yaml.safe_load(path.read_text())["receivers"]) == 1 + 2 * 4
    assert "9 receivers" in checked.stdout


@pytest.mark.skipif(AMTOOL is None, reason="amtool not installed (Debian prometheus-alertmanager)")
def test_amtool_rejects_a_broken_config(tmp_path: Path) -> None:
    # The check is real: a route to an undefined receiver fails.
    path = tmp_path / "broken.yml"
    path.write_text("route:\n  receiver: nobody\nreceivers:\n  - name: someone\n")
    assert _amtool_check(path).returncode != 0
