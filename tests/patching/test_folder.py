"""The security/ folder: sniffing formats by structure, folding tools, KEV and EPSS."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

from opsledger.core.problems import Level
from opsledger.model.common import Severity
from opsledger.model.security import Finding
from opsledger.readers import security
from opsledger.readers.findings import alias_classes, fold_findings

FIXTURES = Path(__file__).parent / "fixtures"


def folder(tmp_path: Path, names: dict[str, str]) -> Path:
    """Copy fixtures under new, meaningless names: the format must come from the content."""
    root = tmp_path / "security"
    root.mkdir()
    for fixture, name in names.items():
        shutil.copy(FIXTURES / fixture, root / name)
    return root


def test_three_tools_fold_into_one_finding_with_three_sources(tmp_path: Path) -> None:
    root = folder(
        tmp_path,
        {"pip-audit.json": "a.json", "trivy-schema2.json": "b.json", "grype.json": "nested-c.json"},
    )
    result = security.read(root)
    assert not result.fatal
    jinja = [f for f in result.records if f.package_key == "jinja2"]
    assert len(jinja) == 1
    [finding] = jinja
    assert finding.sources == ("grype", "pip-audit", "trivy")
    assert finding.id == "CVE-2024-34064" and finding.aliases == ("GHSA-h75v-3vvj-5mfj",)
    # pip-audit had no severity; the folded finding takes the vector from the others.
    assert finding.cvss_score == 5.4 and finding.severity is Severity.MEDIUM
    assert finding.first_seen == date(2026, 11, 2)  # the earliest report
    assert finding.purl == "pkg:pypi/jinja2@3.1.3"
    assert result.reported == 6 and len(result.records) == 4


def test_formats_are_sniffed_from_structure(tmp_path: Path) -> None:
    names = {
        f: f"report-{i}.json"
        for i, f in enumerate(
            [
                "pip-audit.json",
                "osv-scanner.json",
                "trivy-schema2.json",
                "trivy-legacy.json",
                "grype.json",
                "dependabot-alerts.json",
                "npm-audit.json",
                "pip-outdated.json",
                "npm-outdated.json",
                "kev.json",
            ]
        )
    }
    names |= {"trivy.sarif": "scan.sarif", "epss.csv": "scores.csv"}
    result = security.read(folder(tmp_path, names))
    formats = {f.name: f.detected_format for f in result.files}
    assert formats == {
        "report-0.json": "pip-audit",
        "report-1.json": "osv-scanner",
        "report-2.json": "trivy",
        "report-3.json": "trivy (pre-schema-2 array)",
        "report-4.json": "grype",
        "report-5.json": "dependabot-alerts",
        "report-6.json": "npm-audit",
        "report-7.json": "pip-list-outdated",
        "report-8.json": "npm-outdated",
        "report-9.json": "cisa-kev",
        "scan.sarif": "sarif",
        "scores.csv": "first-epss",
    }
    assert not result.fatal
    assert len(result.outdated) == 9 and result.kev_entries == 2 and result.epss_entries == 3


def test_npm_audit_ghsa_meets_trivy_cve_through_another_tools_aliases(tmp_path: Path) -> None:
    # npm audit names braces' GHSA only, Trivy's SARIF the CVE only; Dependabot-style
    # aliases from osv-scanner are absent, so a third report linking both is needed.
    root = folder(tmp_path, {"npm-audit.json": "npm.json", "trivy.sarif": "t.sarif"})
    separate = [f for f in security.read(root).records if f.package == "braces"]
    assert len(separate) == 2
    shutil.copy(FIXTURES / "grype.sarif", root / "g.sarif")
    (root / "link.json").write_text(
        '{"results": [{"source": {"path": "package-lock.json"}, "packages": [{"package": '
        '{"name": "braces", "version": "3.0.2", "ecosystem": "npm"}, "vulnerabilities": '
        '[{"id": "GHSA-grv7-fg5c-xmjg", "aliases": ["CVE-2024-4068"]}]}]}]}'
    )
    [braces] = [f for f in security.read(root).records if f.package == "braces"]
    assert braces.sources == ("grype", "npm-audit", "osv-scanner", "trivy")
    assert braces.installed == "3.0.2" and braces.id == "CVE-2024-4068"


def test_kev_and_epss_enrich_findings(tmp_path: Path) -> None:
    root = folder(
        tmp_path,
        {
            "trivy-schema2.json": "t.json",
            "kev.json": "known.json",
            "epss.csv": "e.csv",
            "grype.json": "g.json",
        },
    )
    found = {f.package: f for f in security.read(root).records}
    net = found["golang.org/x/net"]
    assert net.kev and net.kev_due == date(2023, 10, 31) and net.kev_added == date(2023, 10, 10)
    assert net.epss == 0.94393 and net.epss_percentile == 0.99956
    assert found["libc6"].kev  # CVE-2023-4911, named by Grype
    assert not found["Jinja2"].kev and found["Jinja2"].epss == 0.00043


def test_malformed_files_are_reported_and_the_rest_still_read(tmp_path: Path) -> None:
    root = folder(
        tmp_path,
        {
            "truncated.json": "broken.json",
            "npm-audit-v1.json": "old.json",
            "unrecognised.json": "other.json",
            "epss-bad.csv": "e.csv",
            "osv-scanner.json": "osv.json",
        },
    )
    (root / "notes.txt").write_text("scan notes")
    (root / ".hidden.json").write_text("{")
    result = security.read(root)
    assert len(result.records) == 2  # osv-scanner's two findings stand
    fatal = {Path(p.path).name: p for p in result.problems if p.level is Level.FATAL}
    assert set(fatal) == {"broken.json", "old.json", "other.json"}
    assert "invalid JSON" in fatal["broken.json"].message
    assert "npm 7" in fatal["old.json"].expected
    assert "Trivy" in fatal["other.json"].expected
    rows = sorted(p.location for p in result.quarantined)
    assert rows == ["line 3", "line 4"]  # 'high' is not a number; 'not-a-cve' is not a CVE
    assert any(
        Path(p.path).name == "notes.txt" and p.level is Level.WARNING for p in result.problems
    )


def finding(
    ids: tuple[str, ...], package: str, installed: str | None, source: str, **extra: object
) -> Finding:
    return Finding(
        ids[0],
        ids[1:],
        package,
        extra.pop("ecosystem", "PyPI"),
        installed,  # type: ignore[arg-type]
        sources=(source,),
        **extra,
    )  # type: ignore[arg-type]


def test_fold_keeps_different_installed_versions_apart() -> None:
    findings = [
        finding(("CVE-2024-34064",), "jinja2", "3.1.3", "trivy"),
        finding(("CVE-2024-34064",), "Jinja2", "3.1.2", "grype"),
        finding(("GHSA-h75v-3vvj-5mfj", "CVE-2024-34064"), "jinja2", None, "dependabot"),
    ]
    folded = fold_findings(findings)
    # The range-only report matches two installed versions: it is not forced into either.
    assert sorted((f.installed or "", f.sources) for f in folded) == [
        ("", ("dependabot",)),
        ("3.1.2", ("grype",)),
        ("3.1.3", ("trivy",)),
    ]


def test_fold_joins_a_range_only_report_to_the_single_installed_version() -> None:
    folded = fold_findings(
        [
            finding(
                ("CVE-2021-44906",),
                "minimist",
                "1.2.5",
                "osv-scanner",
                ecosystem="npm",
                severity=Severity.CRITICAL,
                cvss_score=9.8,
                cvss_vector="CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                cvss_version="3.1",
            ),
            finding(
                ("GHSA-xvch-5gv4-984h", "CVE-2021-44906"),
                "minimist",
                None,
                "npm-audit",
                ecosystem="npm",
                severity=Severity.HIGH,
            ),
            finding(("CVE-2021-44906",), "minimist", "1.2.5", "pip-audit", ecosystem="PyPI"),
        ]
    )
    npm = [f for f in folded if f.ecosystem == "npm"]
    assert len(npm) == 1 and npm[0].sources == ("npm-audit", "osv-scanner")
    assert npm[0].severity is Severity.CRITICAL  # the vector outranks a tool's label
    assert len(folded) == 2  # the PyPI package of the same name is another finding


def test_alias_classes_are_transitive() -> None:
    classes = alias_classes(
        [
            finding(("PYSEC-2024-38", "GHSA-h75v-3vvj-5mfj"), "jinja2", "3.1.3", "pip-audit"),
            finding(("GHSA-h75v-3vvj-5mfj", "CVE-2024-34064"), "jinja2", "3.1.3", "osv-scanner"),
        ]
    )
    assert classes["PYSEC-2024-38"] == {"PYSEC-2024-38", "GHSA-h75v-3vvj-5mfj", "CVE-2024-34064"}
