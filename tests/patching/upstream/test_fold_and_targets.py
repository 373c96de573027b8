"""Folding one vulnerability reported by several tools, ecosystem version order, patch
targets per release line, and the severity policy, on the scanners' own outputs."""

from __future__ import annotations

import copy
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from cvss import CVSS3

from opsledger.core.config import (
    ChangeWindow,
    Config,
    RatingSource,
    SeverityDays,
    SeverityRating,
    VulnerabilitySla,
)
from opsledger.model.common import Severity
from opsledger.model.security import Finding
from opsledger.patching.cadence import (
    PlacementStatus,
    assess_posture,
    own_targets,
    plan_updates,
    release_line,
)
from opsledger.readers import scan_npm_audit, scan_osv, scan_trivy, security
from opsledger.readers.findings import (
    compare_versions,
    ecosystem_of,
    fold_findings,
    is_prerelease,
    package_identity,
    rate,
    version_scheme,
)

from .upstream import GRYPE, OSV, TRIVY, load, npm_reports, write_json

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
WINDOW = ChangeWindow(name="weekly", cron="0 2 * * 2", timezone="UTC", duration_minutes=120)


def folder(tmp_path: Path) -> Path:
    root = tmp_path / "security"
    root.mkdir(parents=True)
    return root


# --- one vulnerability, four tools --------------------------------------------------------


def test_trivy_json_sarif_grype_and_osv_scanner_fold_into_one_finding(tmp_path: Path) -> None:
    root = folder(tmp_path)
    trivy = load(TRIVY / "alpine-310.json.golden")
    target = next(v for r in trivy["Results"] for v in r["Vulnerabilities"]
                  if v["PkgName"] == "libcrypto1.1" and v["VulnerabilityID"] == "CVE-2019-1549")
    cve, name, installed = target["VulnerabilityID"], target["PkgName"], target["InstalledVersion"]
    shutil.copy(TRIVY / "alpine-310.json.golden", root / "trivy.json")
    shutil.copy(TRIVY / "alpine-310.sarif.golden", root / "trivy.sarif")
    # Grype's own snapshot, its first match pointed at the same Alpine package.
    grype = load(GRYPE / "TestJsonImgsPresenter.golden")
    match = copy.deepcopy(grype["matches"][0])
    match["vulnerability"]["id"] = cve
    match["vulnerability"]["fix"] = {"versions": [target["FixedVersion"]], "state": "fixed"}
    match["artifact"].update(name=name, version=installed, type="apk",
                             purl=f"pkg:apk/alpine/{name}@{installed}?arch=x86_64")
    match["matchDetails"][0]["searchedBy"] = {"distro": {"type": "alpine", "version": "3.10.2"}}
    grype["matches"] = [match]
    write_json(root, "grype.json", grype)
    # osv-scanner's own SARIF, its first result naming the same package.
    osv = load(OSV / "test-vuln-results-a.sarif")
    run = osv["runs"][0]
    run["results"] = [run["results"][0]]
    run["results"][0]["ruleId"] = cve
    run["results"][0]["message"]["text"] = (
        f"Package '{name}@{installed}' is vulnerable to '{cve}'.")
    location = run["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]
    location["uri"] = "file:///lib/apk/db/installed"  # the image's Alpine package database
    rule = run["tool"]["driver"]["rules"][0]
    rule["id"], rule["deprecatedIds"] = cve, [cve]
    rule["help"]["text"] = rule["help"]["markdown"] = (
        f"### Fixed Versions\n\n| Vulnerability ID | Package Name | Fixed Version |\n"
        f"| --- | --- | --- |\n| {cve} | {name} | {target['FixedVersion']} |\n")
    write_json(root, "osv.sarif", osv)

    result = security.read(root)
    same = [f for f in result.records if f.package == name and f.id == cve]
    assert len(same) == 1
    [finding] = same
    assert finding.sources == ("grype", "osv-scanner", "trivy")
    assert finding.ecosystem == "Alpine" and finding.installed == installed
    # Every other Trivy vulnerability is one finding too: JSON and SARIF fold.
    trivy_count = sum(len(r["Vulnerabilities"]) for r in trivy["Results"])
    assert len(result.records) == trivy_count
    posture = assess_posture(result.records, VulnerabilitySla(), NOW)
    [item] = [i for i in posture.items if i.finding.package == name and i.finding.id == cve]
    assert item.first_seen == date.fromisoformat(trivy["CreatedAt"][:10])
    due_dates = {(i.finding.package, i.finding.id): i.due_date for i in posture.items}
    assert len(due_dates) == len(posture.items)


def test_an_unknown_ecosystem_is_not_normalised_like_python() -> None:
    sarif = Finding("CVE-2019-1549", (), "libcrypto1.1", "", "1.1.1c-r0", sources=("trivy",))
    assert package_identity(sarif) == ("", "libcrypto1.1")
    alpine = Finding("CVE-2019-1549", (), "libcrypto1.1", "Alpine", "1.1.1c-r0",
                     sources=("trivy",))
    assert package_identity(alpine) == ("apk", "libcrypto1.1")
    pypi = Finding("CVE-1", (), "Zope.Interface", "PyPI", "1.0", sources=("pip-audit",))
    assert package_identity(pypi) == ("pypi", "zope-interface")
    [folded] = fold_findings([sarif, alpine])
    assert folded.ecosystem == "Alpine" and folded.package == "libcrypto1.1"


# --- versions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ecosystem", "lower", "higher"),
    [
        ("Alpine", "1.1.1c-r0", "1.1.1d-r0"),
        ("Alpine", "1.1.1d-r0", "1.1.1d-r2"),
        ("Debian", "2.0.5-1", "2.0.5-1+deb10u1"),
        ("Debian", "1.0~rc1-1", "1.0-1"),
        ("CentOS", "1:1.0.2k-16.el7", "1:1.0.2k-19.el7"),
        ("RPM", "1.0.2k-25.el7", "1:1.0.2k-19.el7"),  # the epoch outranks the version
        ("PyPI", "0.11", "0.11.6"),
        ("PyPI", "2.0.0rc1", "2.0.0"),
        ("npm", "4.5.2", "4.10.0"),
        ("Maven", "2.9.10", "2.9.10.1"),
    ],
)
def test_versions_compare_by_their_ecosystem(ecosystem: str, lower: str, higher: str) -> None:
    scheme = version_scheme(ecosystem)
    assert compare_versions(lower, higher, scheme) == -1
    assert compare_versions(higher, lower, scheme) == 1


@pytest.mark.parametrize(
    ("ecosystem", "version", "pre"),
    [("PyPI", "2.0.0rc1", True), ("PyPI", "2.0.0", False), ("npm", "7.0.0-beta.2", True),
     ("npm", "7.0.0", False), ("Debian", "1.0~rc1-1", True), ("Debian", "1.0-1", False),
     ("Alpine", "1.2.3_rc1-r0", True), ("Maven", "2.15.0-rc1", True),
     ("Maven", "2.15.0", False)],
)
def test_pre_releases_are_known_per_ecosystem(ecosystem: str, version: str, pre: bool) -> None:
    assert is_prerelease(version, version_scheme(ecosystem)) is pre


def test_os_package_fixes_reach_the_plan() -> None:
    findings = []
    for name in ("alpine-310.json.golden", "debian-buster.json.golden", "centos-7.json.golden"):
        findings += scan_trivy.read(TRIVY / name).records
        expected = {(v["PkgName"], v["InstalledVersion"], v["FixedVersion"])
                    for r in load(TRIVY / name)["Results"] for v in r["Vulnerabilities"]
                    if v.get("FixedVersion")}
        targets = {(f.package, f.installed, t) for f in findings for _, t in own_targets(f)}
        # Each package has one fix per CVE here, so the lowest above installed is that fix.
        assert expected <= targets, name
    posture = assess_posture(fold_findings(findings), VulnerabilitySla(), NOW)
    plan = plan_updates(posture, [], [WINDOW], [], NOW)
    planned = {(u.package, u.current, u.target) for p in plan.placements
               for u in p.group.updates}
    assert ("libidn2-0", "2.0.5-1", "2.0.5-1+deb10u1") in planned
    assert ("openssl-libs", "1:1.0.2k-16.el7", "1:1.0.2k-19.el7") in planned
    # libcrypto1.1 has fixes 1.1.1d-r0 and 1.1.1d-r2: one update to the higher.
    assert ("libcrypto1.1", "1.1.1c-r0", "1.1.1d-r2") in planned
    no_fix = [p for p in plan.placements if p.status is PlacementStatus.NO_FIX]
    assert {u.package for p in no_fix for u in p.group.updates} == {"bash"}


def test_a_pre_release_is_a_target_only_for_a_pre_release() -> None:
    stable = Finding("CVE-1", (), "example", "PyPI", "1.0.0", ("1.0.5", "2.0.0rc1"))
    assert own_targets(stable) == [("1.0.0", "1.0.5")]
    only_pre = Finding("CVE-2", (), "example", "PyPI", "1.0.0", ("2.0.0rc1",))
    assert own_targets(only_pre) == []
    on_pre = Finding("CVE-3", (), "example", "PyPI", "2.0.0b1", ("2.0.0rc1", "2.0.1"))
    assert own_targets(on_pre) == [("2.0.0b1", "2.0.0rc1")]


# --- npm audit: one target per release line, fixes through another package ---------------


def _upper_bounds(native: str) -> list[tuple[int, ...]]:
    """Fixed versions of an npm range, read by hand: each '<x.y.z' clause."""
    bounds = []
    for clause in native.split("||"):
        for part in clause.split():
            if part.startswith("<") and not part.startswith("<="):
                bounds.append(tuple(int(n) for n in part[1:].split(".")))
    return bounds


def test_npm_packages_on_several_lines_get_one_target_per_line(tmp_path: Path) -> None:
    data = npm_reports()["test/audit-report.js TAP all severity levels > json version 1"]
    result = scan_npm_audit.read(write_json(tmp_path, "audit.json", data))
    posture = assess_posture(fold_findings(result.records), VulnerabilitySla(), NOW)
    plan = plan_updates(posture, [], [WINDOW], [], NOW)
    updates = [u for p in plan.placements for u in p.group.updates]
    for name in ("handlebars", "set-value", "node-weakauras-parser"):
        bounds = [b for a in data["vulnerabilities"][name]["via"] if isinstance(a, dict)
                  for b in _upper_bounds(a["range"])]
        per_line: dict[int, tuple[int, ...]] = {}
        for bound in bounds:
            per_line[bound[0]] = max(per_line.get(bound[0], bound), bound)
        expected = {(f"{major}.x", ".".join(map(str, v))) for major, v in per_line.items()}
        got = {(u.current, u.target) for u in updates if u.package == name}
        assert got == expected, name
        assert len(got) > 1  # installed on several lines


def test_a_fix_through_another_package_is_an_update_of_that_package(tmp_path: Path) -> None:
    data = npm_reports()["test/audit-report.js TAP all severity levels > json version 1"]
    result = scan_npm_audit.read(write_json(tmp_path, "audit.json", data))
    posture = assess_posture(fold_findings(result.records), VulnerabilitySla(), NOW)
    plan = plan_updates(posture, [], [WINDOW], [], NOW)
    through = {(u.package, u.target, u.fixes) for p in plan.placements for u in p.group.updates
               if u.fixes}
    parents = {
        (e["fixAvailable"]["name"], e["fixAvailable"]["version"], (name,))
        for name, e in data["vulnerabilities"].items()
        if isinstance(e["fixAvailable"], dict) and e["fixAvailable"]["name"] != name
        and any(isinstance(a, dict) for a in e["via"])
    }
    assert through == parents and parents


def test_release_line_is_the_major_number() -> None:
    assert [release_line(v) for v in ("5.7.4", "v0.27.11", "1:1.0.2k")] == ["5.x", "0.x", "1.x"]


# --- severity: whose rating drives the SLA ------------------------------------------------


def test_the_vendor_rating_drives_os_packages_by_default_and_cvss_when_configured() -> None:
    data = load(TRIVY / "debian-buster.json.golden")
    bash_json = next(v for r in data["Results"] for v in r["Vulnerabilities"]
                     if v["PkgName"] == "bash")
    created = date.fromisoformat(data["CreatedAt"][:10])
    [bash] = [f for f in scan_trivy.read(TRIVY / "debian-buster.json.golden").records
              if f.package == "bash"]
    sla = SeverityDays()
    default = assess_posture([bash], VulnerabilitySla(), NOW).items[0]
    assert default.finding.severity is Severity.LOW
    assert default.due_date == created + timedelta(days=sla.low)
    assert "debian low (via trivy)" in default.basis and "CVSS 3.1 high" in default.basis
    by_cvss = VulnerabilitySla(rated_by=SeverityRating(os_packages=RatingSource.CVSS))
    item = assess_posture([bash], by_cvss, NOW).items[0]
    score = float(CVSS3(bash_json["CVSS"]["nvd"]["V3Vector"]).base_score)
    expected_band = Severity.CRITICAL if score >= 9 else Severity.HIGH
    assert item.finding.severity is expected_band
    assert item.due_date == created + timedelta(days=sla.high)


def test_language_packages_follow_cvss_by_default() -> None:
    data = load(TRIVY / "pip.json.golden")
    vulns = {v["VulnerabilityID"]: v for r in data["Results"] for v in r["Vulnerabilities"]}
    for finding in scan_trivy.read(TRIVY / "pip.json.golden").records:
        vector = vulns[finding.id]["CVSS"]["nvd"]["V3Vector"]
        score = float(CVSS3(vector).base_score)
        band = (Severity.CRITICAL if score >= 9 else Severity.HIGH if score >= 7
                else Severity.MEDIUM if score >= 4 else Severity.LOW)
        assert rate(finding) == (band, "cvss vector")
        by_vendor = SeverityRating(language_packages=RatingSource.VENDOR)
        ghsa = {1: Severity.LOW, 2: Severity.MEDIUM, 3: Severity.HIGH, 4: Severity.CRITICAL}[
            vulns[finding.id]["VendorSeverity"]["ghsa"]]
        assert rate(finding, by_vendor) == (ghsa, "vendor rating (ghsa)")


def test_a_malicious_package_advisory_is_critical(tmp_path: Path) -> None:
    data = load(OSV / "test-vuln-results-a.json.golden")
    package = data["results"][0]["packages"][0]
    package["vulnerabilities"][0]["id"] = "MAL-2024-1234"
    package["vulnerabilities"][0]["aliases"] = []
    result = scan_osv.read(write_json(tmp_path, "osv.json", data))
    [malicious] = [f for f in result.records if f.id == "MAL-2024-1234"]
    assert malicious.severity is Severity.CRITICAL
    assert malicious.severity_basis == "malicious package advisory"


def test_the_rating_choice_is_a_validated_config_field() -> None:
    config = Config.model_validate({"policies": {"vulnerability_sla_days": {
        "critical": 3, "rated_by": {"os_packages": "cvss", "language_packages": "highest"}}}})
    sla = config.policies.vulnerability_sla_days
    assert isinstance(sla, VulnerabilitySla) and sla.critical == 3
    assert sla.rated_by == SeverityRating(os_packages=RatingSource.CVSS,
                                          language_packages=RatingSource.HIGHEST)
    assert Config().policies.vulnerability_sla_days.rated_by == SeverityRating(
        os_packages=RatingSource.VENDOR, language_packages=RatingSource.CVSS)
    with pytest.raises(ValueError, match="rated_by"):
        Config.model_validate({"policies": {"vulnerability_sla_days": {
            "rated_by": {"os_packages": "loudest"}}}})


def test_ecosystem_names_come_from_package_urls_first() -> None:
    assert ecosystem_of("centos", "pkg:rpm/centos/bash@4.2") == "CentOS"
    assert ecosystem_of(None, "pkg:deb/ubuntu/bash@5.0") == "Ubuntu"
    assert ecosystem_of("python", None) == "PyPI"
    assert ecosystem_of("Debian:10", None) == "Debian"
    assert ecosystem_of("javascript", "pkg:javascript/jquery@3.2.1") == "javascript"


# --- validate: which files were the KEV catalog, EPSS scores and outdated lists -----------


def test_the_folder_read_names_its_kev_epss_and_outdated_files(tmp_path: Path) -> None:
    fixtures = Path(__file__).parents[1] / "fixtures"
    root = folder(tmp_path)
    for source, name in (("kev.json", "catalog.json"), ("epss.csv", "scores.csv"),
                         ("pip-outdated.json", "pip.json"), ("npm-outdated.json", "npm.json")):
        shutil.copy(fixtures / source, root / name)
    shutil.copy(TRIVY / "pip.json.golden", root / "scan.json")
    described = security.read(root).detected_format
    assert "CISA KEV: catalog.json" in described and "EPSS: scores.csv" in described
    assert "outdated: npm.json, pip.json" in described
    assert "1 scanner file" in described
    empty = folder(tmp_path / "other")
    shutil.copy(TRIVY / "pip.json.golden", empty / "scan.json")
    assert "CISA KEV: none; EPSS: none; outdated: none" in security.read(empty).detected_format
