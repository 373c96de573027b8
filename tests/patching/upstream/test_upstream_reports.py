"""Each scanner reader on the outputs the scanners' own repositories publish.

Expected values come from the files themselves, read here with the json module (and
counted by hand where a comment says so), never from opsledger.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from cvss import CVSS3

from opsledger.core.problems import Level
from opsledger.model.common import Severity
from opsledger.readers import (
    scan_dependabot,
    scan_grype,
    scan_npm_audit,
    scan_sarif,
    scan_trivy,
    security,
)
from opsledger.readers.findings import package_identity

from .upstream import (
    DEPENDABOT,
    DEPENDENCY_CHECK,
    GRYPE,
    OSV,
    TRIVY,
    dependabot_bodies,
    load,
    npm_reports,
    write_json,
)


def trivy_expected(name: str) -> set[tuple[str, str, str, tuple[str, ...]]]:
    """(id, package, installed, fixed versions) of every vulnerability in a Trivy JSON."""
    data = load(TRIVY / name)
    return {
        (v["VulnerabilityID"], v["PkgName"], v["InstalledVersion"],
         tuple(sorted(f.strip() for f in v.get("FixedVersion", "").split(",") if f.strip())))
        for r in data["Results"] for v in r.get("Vulnerabilities") or []
    }


def as_tuples(records: list) -> set[tuple[str, str, str, tuple[str, ...]]]:
    return {(f.id, f.package, f.installed, tuple(sorted(f.fixed))) for f in records}


def test_trivy_json_and_sarif_of_one_scan_read_the_same_vulnerabilities() -> None:
    expected = trivy_expected("alpine-310.json.golden")
    assert len(expected) == 4  # two CVEs in each of libcrypto1.1 and libssl1.1
    as_json = scan_trivy.read(TRIVY / "alpine-310.json.golden")
    as_sarif = scan_sarif.read(TRIVY / "alpine-310.sarif.golden")
    assert not as_json.problems and as_tuples(as_json.records) == expected
    assert as_tuples(as_sarif.records) == expected
    # The names are kept as Alpine writes them: no Python-style rewriting of "1.1".
    assert {f.package for f in as_sarif.records} == {"libcrypto1.1", "libssl1.1"}
    assert all(f.ecosystem == "Alpine" for f in as_json.records)
    created = load(TRIVY / "alpine-310.json.golden")["CreatedAt"][:10]
    assert {f.first_seen for f in as_json.records} == {date.fromisoformat(created)}
    # SARIF names no distribution for an OS package; the reader says so.
    [warning] = [p for p in as_sarif.problems if p.level is Level.WARNING]
    assert "name no distribution" in warning.message


def test_trivy_debian_keeps_the_vendor_rating_and_the_cvss_score() -> None:
    data = load(TRIVY / "debian-buster.json.golden")
    vulns = {v["PkgName"]: v for r in data["Results"] for v in r["Vulnerabilities"]}
    found = {f.package: f for f in scan_trivy.read(TRIVY / "debian-buster.json.golden").records}
    bash = found["bash"]
    nvd_score = float(CVSS3(vulns["bash"]["CVSS"]["nvd"]["V3Vector"]).base_score)
    assert bash.cvss_score == nvd_score and nvd_score >= 7.0  # NVD: high
    # Debian rates it low (VendorSeverity 1); for an OS package that rating decides.
    assert vulns["bash"]["VendorSeverity"]["debian"] == 1
    assert bash.severity is Severity.LOW and bash.severity_basis == "vendor rating (debian)"
    assert "trivy/debian:LOW" in bash.tool_severities and "trivy:LOW" in bash.tool_severities
    libidn = found["libidn2-0"]
    assert libidn.fixed == (vulns["libidn2-0"]["FixedVersion"],)  # 2.0.5-1+deb10u1


def test_trivy_centos_keeps_rpm_epochs_and_names_unusual_statuses() -> None:
    result = scan_trivy.read(TRIVY / "centos-7.json.golden")
    assert as_tuples(result.records) == trivy_expected("centos-7.json.golden")
    statuses = {v["Status"] for r in load(TRIVY / "centos-7.json.golden")["Results"]
                for v in r["Vulnerabilities"]}
    unusual = statuses - {"fixed", "affected"}
    assert unusual == {"will_not_fix"}
    assert any("'will_not_fix'" in p.message for p in result.problems)
    assert {f.ecosystem for f in result.records} == {"CentOS"}


def test_grype_json_reads_matches_fixes_and_known_exploited() -> None:
    for name in ("TestJsonImgsPresenter.golden", "TestJsonDirsPresenter.golden"):
        data = load(GRYPE / name)
        result = scan_grype.read(GRYPE / name)
        expected = {
            (m["vulnerability"]["id"], m["artifact"]["name"], m["artifact"]["version"],
             tuple(m["vulnerability"]["fix"]["versions"]),
             bool(m["vulnerability"].get("knownExploited")))
            for m in data["matches"]
        }
        got = {(f.id, f.package, f.installed, f.fixed, f.kev) for f in result.records}
        assert got == expected, name


def test_grype_sarif_reads_the_same_matches_as_grype_json() -> None:
    for json_name, sarif_name in (
        ("TestJsonImgsPresenter.golden", "TestSarifPresenter_image.golden"),
        ("TestJsonDirsPresenter.golden", "TestSarifPresenter_directory.golden"),
    ):
        matches = load(GRYPE / json_name)["matches"]
        expected = {(m["vulnerability"]["id"], m["artifact"]["name"], m["artifact"]["version"],
                     tuple(m["vulnerability"]["fix"]["versions"])) for m in matches}
        result = scan_sarif.read(GRYPE / sarif_name)
        assert {(f.id, f.package, f.installed, f.fixed) for f in result.records} == expected
        # The package type in Grype's message names the ecosystem.
        types = {m["artifact"]["name"]: m["artifact"]["type"] for m in matches}
        ecosystems = {f.package: f.ecosystem for f in result.records}
        assert ecosystems == {name: {"rpm": "RPM", "deb": "Debian"}[t] for name, t in types.items()}


def osv_expected() -> set[tuple[str, str, frozenset[str]]]:
    """(package, version, ids) of each vulnerable package in osv-scanner's JSON."""
    data = load(OSV / "test-vuln-results-a.json.golden")
    found = set()
    for result in data["results"]:
        for item in result["packages"]:
            ids: set[str] = set()
            for vuln in item["vulnerabilities"]:
                ids |= {vuln["id"], *vuln.get("aliases", [])}
            found.add((item["package"]["name"], item["package"]["version"], frozenset(ids)))
    return found


def test_osv_scanner_sarif_reads_packages_from_its_messages() -> None:
    sarif = load(OSV / "test-vuln-results-a.sarif")
    results = sarif["runs"][0]["results"]
    assert len(results) == 3  # regex is listed twice, gogo/protobuf once
    read = scan_sarif.read(OSV / "test-vuln-results-a.sarif")
    assert len(read.records) == len(results)
    expected = {(name, version) for name, version, _ in osv_expected()}
    assert {(f.package, f.installed) for f in read.records} == expected
    # The ecosystems come from the lockfiles' names (Cargo.lock, go.mod).
    assert {f.package: f.ecosystem for f in read.records} == {
        "regex": "crates.io", "github.com/gogo/protobuf": "Go"}
    # The fixed versions come from the rule help's "Fixed Versions" table.
    assert {f.package: f.fixed for f in read.records} == {
        "regex": ("1.5.5",), "github.com/gogo/protobuf": ("1.3.2",)}
    assert not [p for p in read.problems if p.level is not Level.WARNING]


def test_osv_scanner_json_and_sarif_of_one_scan_fold_together(tmp_path: Path) -> None:
    root = tmp_path / "security"
    root.mkdir()
    shutil.copy(OSV / "test-vuln-results-a.json.golden", root / "osv.json")
    shutil.copy(OSV / "test-vuln-results-a.sarif", root / "osv.sarif")
    result = security.read(root)
    expected = osv_expected()
    assert {(f.package, f.installed) for f in result.records} == {(n, v) for n, v, _ in expected}
    for finding in result.records:
        [ids] = [i for n, _, i in expected if n == finding.package]
        assert ids <= finding.ids


def test_dependency_check_sarif_reads_packages_from_package_urls() -> None:
    data = load(DEPENDENCY_CHECK)
    run = data["runs"][0]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}

    def purl_of(result: dict) -> str | None:
        location = result["locations"][0]
        for logical in location.get("logicalLocations", []):
            return logical["fullyQualifiedName"]
        index = location["physicalLocation"]["artifactLocation"]["index"]
        ids = [v for k, v in run["artifacts"][index]["properties"].items() if k.startswith("id")]
        return ids[0] if ids else None

    identified = [r for r in run["results"] if purl_of(r)]
    assert (len(run["results"]), len(identified)) == (47, 46)  # one names only CPEs
    read = scan_sarif.read(DEPENDENCY_CHECK)
    assert len(read.records) == len(identified)
    assert sorted((f.id, f.purl) for f in read.records) == sorted(
        (r["ruleId"], purl_of(r)) for r in identified)
    maven = [f for f in read.records if f.purl and f.purl.startswith("pkg:maven/")]
    assert {f.package for f in maven} >= {"org.apache.derby:derby", "jline:jline"}
    assert all(f.ecosystem == "Maven" for f in maven)
    # The CVSS v3 metrics written one by one give the score dependency-check wrote.
    for finding in read.records:
        props = rules[finding.id]["properties"]
        if "cvssv3_attackVector" in props:
            assert finding.cvss_score == float(props["cvssv3_baseScore"]), finding.id
    messages = " | ".join(p.message for p in read.problems)
    assert "pkg:javascript" in messages  # retire.js files are no registry ecosystem
    assert "no package URL" in messages and "CVE-2023-33202" in messages
    assert "'possible XSS'" in messages  # retire.js names that are not advisory ids
    assert "reports no fixed versions" in messages


def test_npm_audit_snapshots_read_every_advisory_of_the_package_itself(tmp_path: Path) -> None:
    reports = npm_reports()
    assert len(reports) >= 10
    for name, data in reports.items():
        advisories = [
            (entry_name, str(advisory["source"]))
            for entry_name, entry in data["vulnerabilities"].items()
            for advisory in entry["via"]
            if isinstance(advisory, dict) and advisory.get("name", entry_name) == entry_name
        ]
        result = scan_npm_audit.read(write_json(tmp_path, "audit.json", data))
        got = sorted((f.package, f.id.removeprefix("NPM-")) for f in result.records)
        assert got == sorted(advisories), name
        unfixable = [n for n, e in data["vulnerabilities"].items() if e["fixAvailable"] is False]
        assert any("fixAvailable: false" in p.message for p in result.problems) == bool(unfixable)


def test_npm_audit_keeps_a_fix_through_another_package(tmp_path: Path) -> None:
    data = npm_reports()["test/audit-report.js TAP all severity levels > json version 1"]
    via_other = {
        name: entry["fixAvailable"]
        for name, entry in data["vulnerabilities"].items()
        if isinstance(entry["fixAvailable"], dict) and entry["fixAvailable"]["name"] != name
    }
    assert via_other["minimist"] == {"name": "nyc", "version": "15.1.0", "isSemVerMajor": True}
    with_advisories = {name for name, entry in data["vulnerabilities"].items()
                       if any(isinstance(a, dict) for a in entry["via"])}
    found = {f.package: f for f in
             scan_npm_audit.read(write_json(tmp_path, "audit.json", data)).records}
    assert set(via_other) & with_advisories
    for name in set(via_other) & with_advisories:
        fix = via_other[name]
        assert f"pkg:npm/{fix['name']}@{fix['version']}" in found[name].fixed


def test_dependabot_recorded_responses_give_the_open_alerts(tmp_path: Path) -> None:
    for name in ("DependabotAlert.testMultipleAlerts.txt",
                 "Organization.testGetDependabotAlerts.txt"):
        for body in dependabot_bodies(name):
            open_alerts = [a for a in body if a["state"] == "open"
                           and not a["security_advisory"].get("withdrawn_at")]
            result = scan_dependabot.read(write_json(tmp_path, "alerts.json", body))
            assert len(result.records) == len(open_alerts), name
            expected = {
                (a["dependency"]["package"]["name"],
                 date.fromisoformat(a["created_at"][:10]),
                 a["security_vulnerability"]["first_patched_version"]["identifier"])
                for a in open_alerts
            }
            got = {(f.package, f.first_seen, f.fixed[0]) for f in result.records}
            assert got == expected
            closed = len(body) - len(open_alerts)
            assert any("fixed or dismissed" in p.message for p in result.problems) == bool(closed)
            # Organisation alerts name their repository in the manifest path.
            repos = {a.get("repository", {}).get("full_name") for a in open_alerts} - {None}
            for finding in result.records:
                assert not repos or any(loc.split("/", 2)[:2] == r.split("/")
                                        for loc in finding.locations for r in repos)


def test_every_upstream_report_is_read_or_refused_by_name(tmp_path: Path) -> None:
    root = tmp_path / "security"
    root.mkdir()
    files = {
        TRIVY / "alpine-310.json.golden": "trivy-alpine.json",
        TRIVY / "alpine-310.sarif.golden": "trivy-alpine.sarif",
        TRIVY / "debian-buster.json.golden": "trivy-debian.json",
        TRIVY / "centos-7.json.golden": "trivy-centos.json",
        TRIVY / "pip.json.golden": "trivy-pip.json",
        GRYPE / "TestJsonImgsPresenter.golden": "grype.json",
        GRYPE / "TestSarifPresenter_image.golden": "grype.sarif",
        OSV / "test-vuln-results-a.json.golden": "osv.json",
        OSV / "test-vuln-results-a.sarif": "osv.sarif",
        DEPENDENCY_CHECK: "dependency-check.sarif",
    }
    for source, name in files.items():
        shutil.copy(source, root / name)
    write_json(root, "dependabot.json",
               dependabot_bodies("Organization.testGetDependabotAlerts.txt")[0])
    result = security.read(root)
    assert not result.fatal
    formats = {f.name: f.detected_format for f in result.files}
    assert formats["dependency-check.sarif"] == formats["osv.sarif"] == "sarif"
    assert formats["dependabot.json"] == "dependabot-alerts"
    assert all(f.records > 0 for f in result.files)
    # Reports of one package from several tools became one finding per vulnerability.
    keys = [(package_identity(f), f.installed, f.id) for f in result.records]
    assert len(keys) == len(set(keys))
    assert DEPENDABOT.exists()
