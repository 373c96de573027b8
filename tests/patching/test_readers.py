"""Each scanner reader on a realistic report and on malformed input."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsledger.core.problems import Level, ReadResult
from opsledger.model.common import Severity
from opsledger.model.security import Finding, Relationship, Scope, UpdateKind
from opsledger.readers import (
    outdated,
    scan_dependabot,
    scan_grype,
    scan_npm_audit,
    scan_osv,
    scan_pip_audit,
    scan_sarif,
    scan_trivy,
    security,
)

FIXTURES = Path(__file__).parent / "fixtures"


def by_package(records: list) -> dict:
    return {r.package.lower(): r for r in records}


def test_pip_audit_reads_vulns_and_notes_skipped_dependencies() -> None:
    result = scan_pip_audit.read(FIXTURES / "pip-audit.json")
    assert not result.fatal
    found = by_package(result.records)
    assert set(found) == {"jinja2", "gunicorn"}
    jinja = found["jinja2"]
    assert (jinja.id, jinja.aliases) == ("CVE-2024-34064", ("GHSA-h75v-3vvj-5mfj",))
    assert (jinja.ecosystem, jinja.installed, jinja.fixed) == ("PyPI", "3.1.3", ("3.1.4",))
    # pip-audit reports no severity: it stays unknown until another tool rates it.
    assert jinja.severity is Severity.UNKNOWN and jinja.cvss_score is None
    assert jinja.sources == ("pip-audit",)
    warnings = [p for p in result.problems if p.level is Level.WARNING]
    assert any("example-internal-sdk" in p.message for p in warnings)


def test_osv_scanner_scores_from_the_vector_and_takes_scope_from_groups() -> None:
    result = scan_osv.read(FIXTURES / "osv-scanner.json")
    found = by_package(result.records)
    assert found["jinja2"].cvss_score == 5.4 and found["jinja2"].severity is Severity.MEDIUM
    minimist = found["minimist"]
    assert minimist.severity is Severity.CRITICAL and minimist.cvss_score == 9.8
    assert minimist.scope is Scope.DEV
    # Both ranges' fixes are listed, in version order.
    assert minimist.fixed == ("0.2.4", "1.2.6")
    assert minimist.locations == ("/src/web/package-lock.json",)


def test_trivy_schema_2_uses_the_severity_source_vendor_vector() -> None:
    result = scan_trivy.read(FIXTURES / "trivy-schema2.json")
    assert result.detected_format == "trivy"
    found = by_package(result.records)
    jinja = found["jinja2"]
    # ghsa is the SeveritySource: its 5.4 vector is used, not Red Hat's 4.2.
    assert jinja.cvss_vector == "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N"
    assert jinja.cvss_score == 5.4
    assert jinja.purl == "pkg:pypi/jinja2@3.1.3" and jinja.ecosystem == "PyPI"
    assert jinja.first_seen == date(2026, 11, 2)
    net = found["golang.org/x/net"]
    assert net.ecosystem == "Go" and net.severity is Severity.HIGH and net.cvss_score == 7.5


def test_trivy_legacy_bare_array() -> None:
    result = scan_trivy.read(FIXTURES / "trivy-legacy.json")
    assert not result.fatal
    assert "pre-schema-2" in result.detected_format
    [lodash] = result.records
    assert (lodash.id, lodash.package, lodash.installed) == ("CVE-2018-16487", "lodash", "4.17.4")
    assert lodash.severity is Severity.HIGH and lodash.severity_basis == "tool label"
    assert lodash.fixed == ("4.17.11",)  # written as ">=4.17.11"


def test_grype_joins_the_related_cve_and_takes_nvd_vector_when_missing() -> None:
    result = scan_grype.read(FIXTURES / "grype.json")
    found = by_package(result.records)
    jinja = found["jinja2"]
    assert jinja.id == "CVE-2024-34064" and "GHSA-h75v-3vvj-5mfj" in jinja.aliases
    assert jinja.first_seen == date(2026, 11, 3)
    libc = found["libc6"]
    assert libc.cvss_score == 7.8 and libc.severity is Severity.HIGH
    assert libc.ecosystem == "Debian"


def test_sarif_reads_trivy_and_grype_texts_and_leaves_code_findings_out() -> None:
    trivy = scan_sarif.read(FIXTURES / "trivy.sarif")
    found = by_package(trivy.records)
    assert set(found) == {"ws", "braces"}
    ws = found["ws"]
    assert (ws.installed, ws.fixed) == ("8.16.0", ("7.5.10", "8.17.1"))
    assert ws.cvss_score == 7.5 and ws.severity_basis == "cvss vector"
    assert ws.sources == ("trivy",) and ws.first_seen == date(2026, 11, 4)
    # braces' rule has only the security-severity score.
    assert found["braces"].severity_basis == "tool score" and found["braces"].cvss_score == 7.5
    assert any("codeql" in p.message and "left out" in p.message for p in trivy.problems)
    grype = scan_sarif.read(FIXTURES / "grype.sarif")
    [braces] = grype.records
    assert (braces.id, braces.package, braces.installed) == ("CVE-2024-4068", "braces", "3.0.2")
    assert braces.fixed == ("3.0.3",) and braces.ecosystem == "npm"
    assert braces.sources == ("grype",)


def test_dependabot_alerts_only_open_ones_with_created_at_as_first_seen() -> None:
    result = scan_dependabot.read(FIXTURES / "dependabot-alerts.json")
    [alert] = result.records
    assert (alert.id, alert.package) == ("CVE-2023-50782", "cryptography")
    assert alert.installed == "41.0.7"
    assert alert.first_seen == date(2026, 9, 28)
    assert alert.scope is Scope.RUNTIME and alert.relationship is Relationship.DIRECT
    assert alert.severity is Severity.HIGH and alert.cvss_score == 7.5
    assert any("dismissed" in p.message for p in result.problems)


def test_npm_audit_v2_skips_via_strings_and_reads_fix_from_range() -> None:
    result = scan_npm_audit.read(FIXTURES / "npm-audit.json")
    found = by_package(result.records)
    assert set(found) == {"braces", "minimist"}  # micromatch is vulnerable only via braces
    assert found["braces"].id == "GHSA-grv7-fg5c-xmjg" and found["braces"].installed is None
    assert found["braces"].fixed == ("3.0.3",)
    assert found["braces"].relationship is Relationship.TRANSITIVE
    assert found["minimist"].fixed == ("1.2.6", "1.2.8")
    assert found["minimist"].severity is Severity.CRITICAL


def test_outdated_pip_and_npm() -> None:
    pip = outdated.read(FIXTURES / "pip-outdated.json")
    assert pip.detected_format == outdated.PIP_FORMAT
    kinds = {p.name: p.update_kind for p in pip.records}
    assert kinds == {
        "Django": UpdateKind.MAJOR,
        "requests": UpdateKind.MINOR,
        "urllib3": UpdateKind.PATCH,
        "httpx": UpdateKind.MAJOR,
    }  # 0.26 -> 0.27
    npm = outdated.read(FIXTURES / "npm-outdated.json")
    assert npm.detected_format == outdated.NPM_FORMAT
    lodash = [p for p in npm.records if p.name == "lodash"]
    assert [p.current for p in lodash] == ["4.17.20", "4.17.15"]
    eslint = next(p for p in npm.records if p.name == "eslint")
    assert eslint.scope is Scope.DEV and eslint.update_kind is UpdateKind.MAJOR
    left_pad = next(p for p in npm.records if p.name == "left-pad")
    assert left_pad.current is None and left_pad.update_kind is UpdateKind.UNKNOWN


READERS = [
    scan_pip_audit,
    scan_osv,
    scan_trivy,
    scan_grype,
    scan_sarif,
    scan_dependabot,
    scan_npm_audit,
    outdated,
]


@pytest.mark.parametrize("reader", READERS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_truncated_json_is_a_fatal_problem_with_line_and_column(reader: ModuleType) -> None:
    result = reader.read(FIXTURES / "truncated.json")
    assert result.fatal and not result.records
    [problem] = result.problems
    assert problem.location.startswith("line 3, column") and "invalid JSON" in problem.message


@pytest.mark.parametrize("reader", READERS, ids=lambda m: m.__name__.rsplit(".", 1)[-1])
def test_wrong_structure_is_named_with_what_was_found(reader: ModuleType) -> None:
    result = reader.read(FIXTURES / "unrecognised.json")
    assert result.fatal and not result.records
    assert "rows, title" in result.problems[0].found


def test_bad_records_are_quarantined_not_fatal(tmp_path: Path) -> None:
    report = json.loads((FIXTURES / "pip-audit.json").read_text())
    report["dependencies"][0]["vulns"].append({"fix_versions": ["1.0"]})  # no id
    report["dependencies"][2]["vulns"] = "oops"
    path = tmp_path / "audit.json"
    path.write_text(json.dumps(report))
    result = scan_pip_audit.read(path)
    assert not result.fatal
    assert [r.package for r in result.records] == ["jinja2"]
    locations = sorted(p.location for p in result.quarantined)
    assert locations == ["$.dependencies[0].vulns[1]", "$.dependencies[2].vulns"]


def test_malformed_vector_falls_back_to_the_tool_severity_with_a_warning(tmp_path: Path) -> None:
    report = json.loads((FIXTURES / "trivy-legacy.json").read_text())
    report[1]["Vulnerabilities"][0]["CVSS"] = {"nvd": {"V3Vector": "CVSS:3.1/AV:N/AC:H"}}
    path = tmp_path / "trivy.json"
    path.write_text(json.dumps(report))
    result = scan_trivy.read(path)
    [finding] = result.records
    assert finding.severity is Severity.HIGH and finding.severity_basis == "tool label"
    assert any("malformed CVSS vector" in p.message for p in result.problems)


# Keys the parsers look for, so that generated documents reach past the format checks.
KEYS = [
    "dependencies",
    "vulns",
    "name",
    "version",
    "id",
    "aliases",
    "results",
    "packages",
    "package",
    "vulnerabilities",
    "SchemaVersion",
    "Results",
    "Vulnerabilities",
    "Target",
    "VulnerabilityID",
    "PkgName",
    "CVSS",
    "matches",
    "vulnerability",
    "artifact",
    "cvss",
    "runs",
    "tool",
    "driver",
    "rules",
    "ruleId",
    "message",
    "text",
    "properties",
    "security_advisory",
    "dependency",
    "auditReportVersion",
    "via",
    "severity",
    "fix",
]

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), children, max_size=5)
    ),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_no_json_shape_makes_a_parser_raise(data: object) -> None:
    for name, detect, parse in security.SCANNERS:
        result: ReadResult[Finding] = ReadResult(Path(f"{name}.json"))
        if detect(data):
            parse(data, result)  # must record problems, never raise
            assert all(isinstance(f, Finding) for f in result.records)
