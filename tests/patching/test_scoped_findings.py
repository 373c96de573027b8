"""A team's or a service's view of the vulnerability findings (``patch findings --team``,
``--service``), the report section and the plan on a scoped run.

The expected views are the unscoped findings filtered here by the services each one names,
and the left-out counts are counted here from those findings and from the raw files.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from opsledger.cli.patch import app
from opsledger.core.catalog import open_scoped
from opsledger.core.config import ChangeWindow, SeverityDays
from opsledger.core.workspace import open_workspace
from opsledger.demo.config import write_config
from opsledger.demo.security import ADVISORIES, write_security
from opsledger.demo.world import Size, build_world
from opsledger.model.common import Severity
from opsledger.model.security import Finding
from opsledger.patching.attribution import finding_services
from opsledger.patching.cadence import assess_posture, plan_updates
from opsledger.patching.section import patch_section, security_result
from opsledger.readers import security as security_reader

from .upstream.upstream import TRIVY

NOW = datetime(2026, 11, 20, tzinfo=UTC)
NOW_ARG = ("--now", NOW.isoformat())
# A service's own scan, placed by its folder: team identity owns auth in the demo.
AUTH_SCAN = "auth/trivy.json"
CHECKOUT_OUTDATED = [{"name": "flask", "version": "2.0.0", "latest_version": "3.0.3",
                      "latest_filetype": "wheel"}]
# A list of outdated packages whose file name names no service.
SHARED_OUTDATED = [{"name": "click", "version": "8.0.0", "latest_version": "8.1.7",
                    "latest_filetype": "wheel"}]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's configuration and scans, plus auth's own scan, checkout's own list of
    outdated packages and a list that names no service."""
    root = tmp_path_factory.mktemp("scoped") / "ws"
    world = build_world(Size.SMALL, 7, NOW)
    write_config(world, root)
    write_security(world, root)
    (root / "security" / "auth").mkdir()
    shutil.copyfile(TRIVY / "debian-buster.json.golden", root / "security" / AUTH_SCAN)
    (root / "security" / "checkout").mkdir()
    (root / "security" / "checkout" / "pip-outdated.json").write_text(
        json.dumps(CHECKOUT_OUTDATED), encoding="utf-8")
    (root / "security" / "outdated.json").write_text(
        json.dumps(SHARED_OUTDATED), encoding="utf-8")
    return root


def findings(root: Path, *options: str) -> Any:
    run = CliRunner().invoke(app, ["findings", str(root), "--json", *NOW_ARG, *options])
    assert run.exit_code == 0, run.output
    return json.loads(run.stdout)


def owned_by(root: Path, team: str) -> set[str]:
    config = yaml.safe_load((root / "opsledger.yaml").read_text(encoding="utf-8"))
    return {s["name"] for s in config["services"] if s.get("owner") == team}


def checkout_packages(root: Path) -> set[tuple[str, str]]:
    """Return (package, version) of every report in the checkout image's two scans and in
    checkout's pip-audit report."""
    trivy = json.loads((root / "security" / "trivy-checkout-image.json").read_text())
    grype = json.loads((root / "security" / "grype-checkout-image.json").read_text())
    pip = json.loads((root / "security" / "pip-audit-checkout.json").read_text())
    found = {(v["PkgName"], v["InstalledVersion"]) for r in trivy["Results"]
             for v in r.get("Vulnerabilities") or []}
    found |= {(d["name"], d["version"]) for d in pip["dependencies"] if d.get("vulns")}
    return found | {(m["artifact"]["name"], m["artifact"]["version"]) for m in grype["matches"]}


def catalog_packages(root: Path) -> set[tuple[str, str]]:
    """Return (package, version) of every report on catalog's lockfile: osv-scanner's
    results for it and Trivy's SARIF results pointing at it."""
    lockfile = "catalog/web/package-lock.json"
    osv = json.loads((root / "security" / "osv-scanner.json").read_text())
    sarif = json.loads((root / "security" / "trivy-catalog-web.sarif").read_text())
    found = {(p["package"]["name"], p["package"]["version"]) for r in osv["results"]
             if r["source"]["path"].endswith(lockfile) for p in r["packages"]}
    messages = [loc["message"]["text"] for run in sarif["runs"] for r in run["results"]
                for loc in r["locations"]]
    for message in messages:  # "<lockfile>: <package>@<version>"
        package, version = message.removeprefix(f"{lockfile}: ").rsplit("@", 1)
        found.add((package, version))
    return found


def test_unscoped_findings_name_the_services_their_scans_name(workspace: Path) -> None:
    everything = findings(workspace)
    assert isinstance(everything, list)  # the unscoped document keeps its shape
    checkout = {(f["package"], f["installed"]) for f in everything if "checkout" in f["services"]}
    # The demo names checkout in its image scans' file names and image and in its pip-audit
    # report's file name; every finding reported there (alone or folded with other scans)
    # is checkout's. catalog's are those reported on its lockfile.
    assert checkout == checkout_packages(workspace)
    catalog = {(f["package"], f["installed"]) for f in everything if "catalog" in f["services"]}
    assert catalog == catalog_packages(workspace)
    auth_scan = json.loads((workspace / "security" / AUTH_SCAN).read_text())
    auth = {(v["PkgName"], v["InstalledVersion"]) for r in auth_scan["Results"]
            for v in r["Vulnerabilities"]}
    assert {(f["package"], f["installed"]) for f in everything if f["services"] == ["auth"]} == auth


@pytest.mark.parametrize("size", list(Size))
def test_demo_scans_name_the_same_services_at_every_size(size: Size, tmp_path: Path) -> None:
    # Python and Go packages are checkout's (its image, requirements and pip-audit report),
    # npm packages catalog's (its lockfile); npm audit's report names no service, so an
    # advisory only it reports stays unplaced. The large demo's numbered services
    # (checkout-2, catalog-2, ...) take none of them.
    world = build_world(size, 7, NOW)
    result = security_reader.read(write_security(world, tmp_path)[0].parent)
    known = [s.name for s in world.services]
    expected = {a.package: () if a.tools == ("npm-audit",)
                else ("catalog",) if a.ecosystem == "npm" else ("checkout",)
                for a in ADVISORIES}
    assert {f.package: finding_services(f, known) for f in result.records} == expected


def test_team_view_is_the_findings_naming_its_services(workspace: Path) -> None:
    everything = findings(workspace)
    payments = owned_by(workspace, "payments")
    assert payments == {"checkout", "payments-api"}
    named = {s for f in everything for s in f["services"]}
    assert named <= {s for team in ("payments", "identity", "storefront")
                     for s in owned_by(workspace, team)}
    view = findings(workspace, "--team", "payments")
    expected = [f for f in everything if set(f["services"]) & payments]
    assert expected and view["findings"] == expected
    other = sum(1 for f in everything if f["services"] and not set(f["services"]) & payments)
    unplaced = sum(1 for f in everything if not f["services"])
    assert other == 5 and unplaced == 1  # auth's two, catalog's three; npm audit's own
    scope = view["scope"]
    assert (scope["team"], scope["service"], scope["services"]) == (
        "payments", None, sorted(payments))
    assert scope["left_out"]["findings"] == {"other": other, "unplaced": unplaced}
    assert len(view["findings"]) + other + unplaced == len(everything)


def test_service_view_is_the_findings_naming_the_service(workspace: Path) -> None:
    everything = findings(workspace)
    view = findings(workspace, "--service", "auth")
    assert view["findings"] == [f for f in everything if "auth" in f["services"]]
    assert view["scope"]["service"] == "auth" and view["scope"]["team"] == "identity"


def test_scoped_table_has_services_and_says_what_it_left_out(workspace: Path) -> None:
    run = CliRunner().invoke(app, ["findings", str(workspace), *NOW_ARG, "--team", "payments"])
    assert run.exit_code == 0, run.output
    assert "Services" in run.stdout and "checkout" in run.stdout
    text = " ".join(run.stdout.split())
    assert ("Not in the view of team payments: 5 finding(s) of other teams' services, "
            "1 finding(s) from scans that name no service") in text
    assert "put a service's scans under security/<service>/" in text


def test_unknown_team_is_a_usage_error_with_a_suggestion(workspace: Path) -> None:
    run = CliRunner().invoke(app, ["findings", str(workspace), *NOW_ARG, "--team", "paymnts"])
    assert run.exit_code == 2
    assert "did you mean 'payments'" in " ".join(run.output.split())


def test_section_and_overdue_count_on_a_team_view(workspace: Path) -> None:
    everything = findings(workspace)
    identity = owned_by(workspace, "identity")
    mine = [f for f in everything if set(f["services"]) & identity]
    ctx = open_scoped(open_workspace(workspace), NOW, team="identity")
    section = patch_section(ctx)
    # auth's scan dates from 2021: both of its findings are past their SLA.
    assert section.data["overdue"] == sum(1 for f in mine if f["overdue"]) == 2
    assert [f["id"] for f in section.data["findings"]] == [f["id"] for f in mine]
    left_out = section.data["scope"]["left_out"]["findings"]
    assert left_out == {"other": sum(1 for f in everything if f["services"]
                                     and not set(f["services"]) & identity),
                        "unplaced": sum(1 for f in everything if not f["services"])}
    assert "Not in the view of team identity" in section.body
    whole = patch_section(open_scoped(open_workspace(workspace), NOW))
    assert "scope" not in whole.data and "Not in the view" not in whole.body


def test_outdated_packages_are_scoped_by_the_list_they_came_from(workspace: Path) -> None:
    security = workspace / "security"
    pip = json.loads((security / "pip-outdated-checkout.json").read_text())
    npm = json.loads((security / "npm-outdated.json").read_text())
    catalog = sorted(name for name, entry in npm.items() if entry["dependent"] == "catalog")
    assert len(catalog) == len(npm)  # npm outdated's list is all catalog's
    ctx = open_scoped(open_workspace(workspace), NOW, team="payments")
    assert sorted(p.name for p in security_result(ctx).outdated) == sorted(
        [p["name"] for p in pip] + [p["name"] for p in CHECKOUT_OUTDATED])
    section = patch_section(ctx)
    assert section.data["scope"]["left_out"]["outdated"] == {
        "other": len(catalog), "unplaced": len(SHARED_OUTDATED)}
    storefront = open_scoped(open_workspace(workspace), NOW, team="storefront")
    assert sorted(p.name for p in security_result(storefront).outdated) == catalog
    identity = open_scoped(open_workspace(workspace), NOW, team="identity")
    assert security_result(identity).outdated == []
    whole = open_scoped(open_workspace(workspace), NOW)
    assert len(security_result(whole).outdated) == (
        len(pip) + len(catalog) + len(CHECKOUT_OUTDATED) + len(SHARED_OUTDATED))


def test_a_view_uses_only_windows_open_to_its_services() -> None:
    finding = Finding("CVE-2024-34064", (), "jinja2", "PyPI", "3.1.3", ("3.1.4",),
                      severity=Severity.MEDIUM)
    now = datetime(2026, 3, 16, 12, 0, tzinfo=UTC)  # a Monday
    gateway = ChangeWindow(name="gateway", cron="0 22 * * 2", duration_minutes=60,
                           timezone="UTC", services=["api-gateway"])  # Tuesday 17th
    checkout = ChangeWindow(name="checkout", cron="0 22 * * 4", duration_minutes=60,
                            timezone="UTC", services=["checkout"])  # Thursday 19th
    posture = assess_posture([finding], SeverityDays(), now)
    whole = plan_updates(posture, [], [gateway, checkout], [], now)
    view = plan_updates(posture, [], [gateway, checkout], [], now,
                        services=frozenset({"checkout", "payments-api"}))
    slot = whole.placements[0].slot
    assert slot is not None and (slot.window, slot.start.day) == ("gateway", 17)
    slot = view.placements[0].slot
    assert slot is not None and (slot.window, slot.start.day) == ("checkout", 19)
