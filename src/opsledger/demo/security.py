"""Demo ``security/`` folder: the same vulnerabilities as several scanners report them.

One table of advisories (real CVE ids, with the packages and versions they affect) is
rendered as pip-audit, osv-scanner, Trivy (schema 2), Grype, SARIF (Trivy's), npm audit v2
and Dependabot alerts output, so that tools overlap the way they do in practice: the Jinja2
advisory is reported by pip-audit, osv-scanner, Trivy and Grype (under its GHSA id, the CVE
as a related vulnerability); the HTTP/2 "Rapid Reset" CVE in a Go module is in the KEV
file; the ``ecdsa`` advisory has no fix. Dates are relative to ``world.now``.

The scans name the services they are about, so that a team's view can place them: the
Python packages are checkout's (its image, ``checkout/requirements.txt``, the ``-checkout``
file names), the npm packages catalog's (``catalog/web/package-lock.json``). npm audit's
report names no service, so the one advisory only it reports stays unplaced.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from opsledger.core.fileio import atomic_write_text
from opsledger.demo.world import World


@dataclass(frozen=True)
class Advisory:
    cve: str
    ghsa: str
    package: str
    ecosystem: str  # OSV name
    installed: str
    fixed: str | None
    vector: str
    severity: str  # the GHSA severity word
    title: str
    tools: tuple[str, ...]


ADVISORIES = (
    Advisory("CVE-2024-34064", "GHSA-h75v-3vvj-5mfj", "jinja2", "PyPI", "3.1.3", "3.1.4",
             "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N", "moderate",
             "Jinja vulnerable to HTML attribute injection when passing user input as keys to "
             "xmlattr filter", ("pip-audit", "osv-scanner", "trivy", "grype")),
    Advisory("CVE-2024-1135", "GHSA-w3h3-4rj7-4ph4", "gunicorn", "PyPI", "21.2.0", "22.0.0",
             "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:H/A:N", "high",
             "Request smuggling leading to endpoint restriction bypass in Gunicorn",
             ("pip-audit", "osv-scanner", "trivy")),
    Advisory("CVE-2023-50782", "GHSA-3ww4-gg4f-jr7f", "cryptography", "PyPI", "41.0.7", "42.0.0",
             "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "high",
             "Python Cryptography package vulnerable to Bleichenbacher timing oracle attack",
             ("pip-audit", "dependabot")),
    Advisory("CVE-2024-35195", "GHSA-9wx4-h78v-vm56", "requests", "PyPI", "2.31.0", "2.32.0",
             "CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:H/I:H/A:N", "moderate",
             "Requests Session object does not verify requests after making first request with "
             "verify=False", ("pip-audit", "dependabot")),
    Advisory("CVE-2024-37891", "GHSA-34jh-p97f-mpxf", "urllib3", "PyPI", "2.2.1", "2.2.2",
             "CVSS:3.1/AV:N/AC:H/PR:H/UI:N/S:U/C:H/I:N/A:N", "moderate",
             "urllib3's Proxy-Authorization request header isn't stripped during cross-origin "
             "redirects", ("pip-audit",)),
    Advisory("CVE-2024-23342", "GHSA-wj6h-64fc-37mp", "ecdsa", "PyPI", "0.18.0", None,
             "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", "high",
             "Minerva timing attack on P-256 in python-ecdsa", ("pip-audit", "osv-scanner")),
    Advisory("CVE-2023-44487", "GHSA-qppj-fm5r-hxr3", "golang.org/x/net", "Go", "0.15.0",
             "0.17.0", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "high",
             "HTTP/2 rapid reset can cause excessive work in net/http", ("trivy", "grype")),
    Advisory("CVE-2021-44906", "GHSA-xvch-5gv4-984h", "minimist", "npm", "1.2.5", "1.2.6",
             "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "critical",
             "Prototype Pollution in minimist", ("npm-audit", "osv-scanner")),
    Advisory("CVE-2024-4068", "GHSA-grv7-fg5c-xmjg", "braces", "npm", "3.0.2", "3.0.3",
             "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "high",
             "Uncontrolled resource consumption in braces", ("npm-audit", "sarif", "osv-scanner")),
    Advisory("CVE-2024-37890", "GHSA-3h5v-q93c-6h6q", "ws", "npm", "8.16.0", "8.17.1",
             "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "high",
             "ws affected by a DoS when handling a request with many HTTP headers",
             ("npm-audit", "sarif", "dependabot")),
    Advisory("CVE-2022-25883", "GHSA-c2qf-rxjj-qqgw", "semver", "npm", "7.5.1", "7.5.2",
             "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:L", "moderate",
             "semver vulnerable to Regular Expression Denial of Service", ("npm-audit",)),
)
KEV_CVES = ("CVE-2023-44487",)
# The tag starts with "v": "checkout:2.14.0" reads as naming "checkout-2", a service of the
# large demo.
IMAGE = "registry.example.com/shop/checkout:v2.14.0"
PIP_OUTDATED = (("Django", "4.2.11", "5.1.3"), ("jinja2", "3.1.3", "3.1.4"),
                ("requests", "2.31.0", "2.32.3"), ("boto3", "1.34.10", "1.35.60"),
                ("pydantic", "2.6.1", "2.9.2"), ("gunicorn", "21.2.0", "23.0.0"),
                ("urllib3", "2.2.1", "2.2.3"))
NPM_OUTDATED = (("react", "18.2.0", "18.3.1", "dependencies"),
                ("webpack", "5.89.0", "5.96.1", "devDependencies"),
                ("express", "4.18.2", "4.21.1", "dependencies"),
                ("eslint", "8.56.0", "9.15.0", "devDependencies"),
                ("ws", "8.16.0", "8.18.0", "dependencies"),
                ("typescript", "5.3.3", "5.6.3", "devDependencies"))


def _with(tool: str) -> list[Advisory]:
    return [a for a in ADVISORIES if tool in a.tools]


def _stamp(world: World, days: float) -> str:
    return (world.now - timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pip_audit_report() -> dict[str, Any]:
    return {"dependencies": [
        {"name": a.package, "version": a.installed, "vulns": [{
            "id": a.ghsa, "fix_versions": [a.fixed] if a.fixed else [],
            "aliases": [a.cve], "description": a.title}]}
        for a in _with("pip-audit")
    ] + [{"name": "flask", "version": "3.0.3", "vulns": []},
         {"name": "example-internal-sdk", "skip_reason": "Dependency not found on PyPI and could "
          "not be audited: example-internal-sdk (1.4.0)"}], "fixes": []}


def osv_report() -> dict[str, Any]:
    results = []
    manifests = (("/src/checkout/requirements.txt", "PyPI"),
                 ("/src/catalog/web/package-lock.json", "npm"))
    for manifest, ecosystem in manifests:
        packages = []
        for a in (x for x in _with("osv-scanner") if x.ecosystem == ecosystem):
            events: list[dict[str, str]] = [{"introduced": "0"}]
            if a.fixed:
                events.append({"fixed": a.fixed})
            packages.append({
                "package": {"name": a.package, "version": a.installed, "ecosystem": ecosystem},
                "dependency_groups": ["dev"] if a.package == "minimist" else [],
                "vulnerabilities": [{
                    "modified": "2024-06-10T19:32:11Z", "published": "2024-05-06T15:11:02Z",
                    "schema_version": "1.6.0", "id": a.ghsa, "aliases": [a.cve],
                    "summary": a.title,
                    "affected": [{"package": {"ecosystem": ecosystem, "name": a.package},
                                  "ranges": [{"type": "ECOSYSTEM", "events": events}]}],
                    "severity": [{"type": "CVSS_V3", "score": a.vector}],
                    "database_specific": {"severity": a.severity.upper(),
                                          "github_reviewed": True},
                }],
                "groups": [{"ids": [a.ghsa], "aliases": [a.ghsa, a.cve],
                            "max_severity": ""}],
            })
        results.append({"source": {"path": manifest, "type": "lockfile"}, "packages": packages})
    return {"results": results, "experimental_config": {"licenses": {"summary": False}}}


def trivy_report(world: World) -> dict[str, Any]:
    def vuln(a: Advisory) -> dict[str, Any]:
        purl_type = {"PyPI": "pypi", "Go": "golang"}[a.ecosystem]
        return {
            "VulnerabilityID": a.cve, "PkgID": f"{a.package}@{a.installed}",
            "PkgName": a.package,
            "PkgIdentifier": {"PURL": f"pkg:{purl_type}/{a.package}@{a.installed}"},
            "InstalledVersion": a.installed, "FixedVersion": a.fixed or "", "Status": "fixed",
            "SeveritySource": "ghsa", "PrimaryURL": f"https://avd.aquasec.com/nvd/{a.cve.lower()}",
            "Title": a.title,
            "Severity": {"moderate": "MEDIUM"}.get(a.severity, a.severity.upper()),
            "CVSS": {"ghsa": {"V3Vector": a.vector}},
        }
    python = [vuln(a) for a in _with("trivy") if a.ecosystem == "PyPI"]
    golang = [vuln(a) for a in _with("trivy") if a.ecosystem == "Go"]
    return {
        "SchemaVersion": 2, "CreatedAt": _stamp(world, 1),
        "ArtifactName": IMAGE, "ArtifactType": "container_image",
        "Metadata": {"OS": {"Family": "debian", "Name": "12.7"}},
        "Results": [
            {"Target": f"{IMAGE} (debian 12.7)", "Class": "os-pkgs",
             "Type": "debian", "Vulnerabilities": None},
            {"Target": "Python", "Class": "lang-pkgs", "Type": "python-pkg",
             "Vulnerabilities": python},
            {"Target": "usr/local/bin/envoy-sidecar", "Class": "lang-pkgs", "Type": "gobinary",
             "Vulnerabilities": golang},
        ],
    }


def grype_report(world: World) -> dict[str, Any]:
    matches = []
    for a in _with("grype"):
        purl_type = {"PyPI": "pypi", "Go": "golang"}[a.ecosystem]
        matches.append({
            "vulnerability": {
                "id": a.ghsa, "dataSource": f"https://github.com/advisories/{a.ghsa}",
                "namespace": f"github:language:{purl_type}", "severity": a.severity.title(),
                "cvss": [{"version": "3.1", "vector": a.vector}],
                "fix": {"versions": [a.fixed] if a.fixed else [], "state": "fixed"},
                "description": a.title,
            },
            "relatedVulnerabilities": [{"id": a.cve, "dataSource":
                                        f"https://nvd.nist.gov/vuln/detail/{a.cve}",
                                        "namespace": "nvd:cpe"}],
            "matchDetails": [{"type": "exact-direct-match", "matcher": f"{purl_type}-matcher"}],
            "artifact": {"name": a.package, "version": a.installed,
                         "type": {"PyPI": "python", "Go": "go-module"}[a.ecosystem],
                         "purl": f"pkg:{purl_type}/{a.package}@{a.installed}",
                         "locations": [{"path": "/usr/local/lib/python3.12/site-packages"}]},
        })
    return {"matches": matches,
            "source": {"type": "image", "target": {"userInput": IMAGE}},
            "descriptor": {"name": "grype", "version": "0.82.0", "timestamp": _stamp(world, 1)}}


def sarif_report(world: World) -> dict[str, Any]:
    rules, results = [], []
    for i, a in enumerate(_with("sarif")):
        score = "7.5"
        rules.append({
            "id": a.cve, "name": "LanguageSpecificPackageVulnerability",
            "shortDescription": {"text": a.title}, "fullDescription": {"text": a.title},
            "defaultConfiguration": {"level": "error"},
            "helpUri": f"https://avd.aquasec.com/nvd/{a.cve.lower()}",
            "help": {"text": f"Vulnerability {a.cve}\nSeverity: HIGH\nPackage: {a.package}\n"
                             f"Fixed Version: {a.fixed}\nLink: [{a.cve}]"},
            "properties": {"precision": "very-high", "security-severity": score,
                           "tags": ["vulnerability", "security", "HIGH"],
                           "cvssv3_vector": a.vector},
        })
        results.append({
            "ruleId": a.cve, "ruleIndex": i, "level": "error",
            "message": {"text": f"Package: {a.package}\nInstalled Version: {a.installed}\n"
                                f"Vulnerability {a.cve}\nSeverity: HIGH\nFixed Version: {a.fixed}\n"
                                f"Link: [{a.cve}](https://avd.aquasec.com/nvd/{a.cve.lower()})"},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": "catalog/web/package-lock.json",
                                     "uriBaseId": "ROOTPATH"},
                "region": {"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 1}},
                "message": {"text": f"catalog/web/package-lock.json: {a.package}@{a.installed}"}}],
        })
    return {"version": "2.1.0",
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "runs": [{"tool": {"driver": {"fullName": "Trivy Vulnerability Scanner",
                                          "informationUri": "https://github.com/aquasecurity/trivy",
                                          "name": "Trivy", "rules": rules, "version": "0.57.0"}},
                      "results": results, "columnKind": "utf16CodeUnits",
                      "invocations": [{"executionSuccessful": True,
                                       "startTimeUtc": _stamp(world, 2)}]}]}


def npm_audit_report() -> dict[str, Any]:
    vulnerabilities: dict[str, Any] = {}
    for n, a in enumerate(_with("npm-audit")):
        vulnerabilities[a.package] = {
            "name": a.package, "severity": a.severity, "isDirect": a.package != "braces",
            "via": [{"source": 1096300 + n, "name": a.package, "dependency": a.package,
                     "title": a.title, "url": f"https://github.com/advisories/{a.ghsa}",
                     "severity": a.severity, "cwe": ["CWE-400"],
                     "cvss": {"score": 0, "vectorString": a.vector},
                     "range": f"<{a.fixed}"}],
            "effects": [], "range": f"<{a.fixed}", "nodes": [f"node_modules/{a.package}"],
            "fixAvailable": True,
        }
    vulnerabilities["micromatch"] = {
        "name": "micromatch", "severity": "high", "isDirect": False, "via": ["braces"],
        "effects": [], "range": "<=4.0.7", "nodes": ["node_modules/micromatch"],
        "fixAvailable": True}
    return {"auditReportVersion": 2, "vulnerabilities": vulnerabilities,
            "metadata": {"vulnerabilities": {"info": 0, "low": 0, "moderate": 2, "high": 3,
                                             "critical": 1, "total": 6},
                         "dependencies": {"prod": 212, "dev": 604, "optional": 31,
                                          "peer": 0, "peerOptional": 0, "total": 815}}}


def dependabot_alerts(world: World) -> list[dict[str, Any]]:
    ages = {"cryptography": 45, "requests": 60, "ws": 40}
    alerts = []
    for n, a in enumerate(_with("dependabot"), start=11):
        ecosystem = "pip" if a.ecosystem == "PyPI" else "npm"
        alerts.append({
            "number": n, "state": "open",
            "dependency": {"package": {"ecosystem": ecosystem, "name": a.package},
                           "manifest_path": "checkout/requirements.txt" if ecosystem == "pip"
                           else "catalog/web/package-lock.json",
                           "scope": "runtime", "relationship": "direct",
                           "version_requirement": f"= {a.installed}"},
            "security_advisory": {
                "ghsa_id": a.ghsa, "cve_id": a.cve, "summary": a.title, "severity": a.severity
                .replace("moderate", "medium"),
                "identifiers": [{"value": a.ghsa, "type": "GHSA"}, {"value": a.cve, "type": "CVE"}],
                "cvss_severities": {"cvss_v3": {"vector_string": a.vector, "score": 0},
                                    "cvss_v4": {"vector_string": None, "score": 0.0}},
            },
            "security_vulnerability": {"package": {"ecosystem": ecosystem, "name": a.package},
                                       "severity": a.severity, "vulnerable_version_range":
                                       f"< {a.fixed}",
                                       "first_patched_version": {"identifier": a.fixed}},
            "url": f"https://api.github.com/repos/example/shop/dependabot/alerts/{n}",
            "html_url": f"https://github.com/example/shop/security/dependabot/{n}",
            "created_at": _stamp(world, ages.get(a.package, 20)),
            "updated_at": _stamp(world, 1), "dismissed_at": None, "fixed_at": None,
        })
    alerts.append({**alerts[0], "number": 3, "state": "fixed", "fixed_at": _stamp(world, 70)})
    return alerts


def kev_catalog(world: World) -> dict[str, Any]:
    added = (world.now - timedelta(days=10)).date()
    return {"title": "CISA Catalog of Known Exploited Vulnerabilities",
            "catalogVersion": added.strftime("%Y.%m.%d"), "dateReleased": _stamp(world, 10),
            "count": len(KEV_CVES),
            "vulnerabilities": [{
                "cveID": cve, "vendorProject": "IETF", "product": "HTTP/2",
                "vulnerabilityName": "HTTP/2 Rapid Reset Attack Vulnerability",
                "dateAdded": added.isoformat(),
                "shortDescription": "HTTP/2 contains a rapid reset vulnerability that allows "
                                    "for a distributed denial-of-service attack (DDoS).",
                "requiredAction": "Apply mitigations per vendor instructions or discontinue use "
                                  "of the product if mitigations are unavailable.",
                "dueDate": (added + timedelta(days=21)).isoformat(),
                "knownRansomwareCampaignUse": "Unknown", "notes": "", "cwes": ["CWE-400"]}
                for cve in KEV_CVES]}


def epss_csv(world: World) -> str:
    rng = world.rng("security-epss")
    lines = [f"#model_version:v2023.03.01,score_date:{world.now:%Y-%m-%d}T00:00:00+0000",
             "cve,epss,percentile"]
    for a in sorted(ADVISORIES, key=lambda x: x.cve):
        epss = 0.8 if a.cve in KEV_CVES else round(rng.uniform(0.0004, 0.02), 5)
        percentile = 0.99 if a.cve in KEV_CVES else round(rng.uniform(0.1, 0.85), 5)
        lines.append(f"{a.cve},{epss},{percentile}")
    return "\n".join(lines) + "\n"


def write_security(world: World, root: Path) -> list[Path]:
    """Write the demo scanner reports, KEV, EPSS and outdated lists under ``root/security``."""
    folder = root / "security"
    documents: dict[str, Any] = {
        "pip-audit-checkout.json": pip_audit_report(),
        "osv-scanner.json": osv_report(),
        "trivy-checkout-image.json": trivy_report(world),
        "grype-checkout-image.json": grype_report(world),
        "trivy-catalog-web.sarif": sarif_report(world),
        "npm-audit.json": npm_audit_report(),
        "dependabot-alerts.json": dependabot_alerts(world),
        "kev.json": kev_catalog(world),
        "pip-outdated-checkout.json": [{"name": n, "version": c, "latest_version": latest,
                                        "latest_filetype": "wheel"}
                                       for n, c, latest in PIP_OUTDATED],
        "npm-outdated.json": {n: {"current": c, "wanted": c, "latest": latest,
                                  "dependent": "catalog", "location": f"node_modules/{n}",
                                  "type": kind} for n, c, latest, kind in NPM_OUTDATED},
    }
    written = []
    for name, document in documents.items():
        path = folder / name
        atomic_write_text(path, json.dumps(document, indent=2) + "\n")
        written.append(path)
    path = folder / "epss.csv"
    atomic_write_text(path, epss_csv(world))
    written.append(path)
    return written
