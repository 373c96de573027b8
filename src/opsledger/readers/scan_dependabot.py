"""Dependabot alerts from the GitHub REST API (``GET /repos/{owner}/{repo}/dependabot/alerts``):
an array of alerts with ``state``, ``dependency: {package: {ecosystem, name}, manifest_path,
scope, relationship, version_requirement}``, ``security_advisory: {ghsa_id, cve_id,
identifiers, severity, cvss, cvss_severities}``, ``security_vulnerability:
{first_patched_version: {identifier}}`` and ``created_at``.

Only open alerts are findings. Organisation-wide lists (``GET
/orgs/{org}/dependabot/alerts``) name each alert's ``repository``, which prefixes the
manifest path. ``created_at`` is when Dependabot first saw the dependency
vulnerable: the finding's first-seen date. The installed version is known only when
``version_requirement`` is an exact version (lockfiles); otherwise it stays unknown.
``security_advisory.severity`` is GitHub's rating, kept as the advisory database's. An
alert whose advisory GitHub has withdrawn (``withdrawn_at``) is not a finding and is named
in a warning.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from opsledger.core.problems import ReadResult
from opsledger.model.security import Finding, Relationship, Scope
from opsledger.readers.scan_common import (
    Report,
    as_dict,
    as_list,
    build_finding,
    day_of,
    read_report,
    string,
    texts,
)

FORMAT = "dependabot-alerts"
SOURCE = "dependabot"
_EXACT_VERSION = re.compile(r"^=?\s*v?\d[\w.+-]*$")


def detect(data: Any) -> bool:
    return (
        isinstance(data, list)
        and bool(data)
        and all(
            isinstance(a, dict) and "security_advisory" in a and "dependency" in a for a in data
        )
    )


def parse(data: Any, result: ReadResult[Finding]) -> None:
    closed = 0
    withdrawn: list[str] = []
    for i, alert in enumerate(data):
        if alert.get("state", "open") != "open":
            closed += 1
            continue
        dependency = as_dict(alert.get("dependency"))
        package = as_dict(dependency.get("package"))
        advisory = as_dict(alert.get("security_advisory"))
        if advisory.get("withdrawn_at"):
            withdrawn.append(str(advisory.get("ghsa_id") or f"alert #{alert.get('number', i)}"))
            continue
        vulnerability = as_dict(alert.get("security_vulnerability"))
        severities = as_dict(advisory.get("cvss_severities"))
        requirement = dependency.get("version_requirement")
        installed = None
        if isinstance(requirement, str) and _EXACT_VERSION.match(requirement.strip()):
            installed = requirement.strip().lstrip("=").strip()
        report = Report(
            SOURCE,
            f"$[{i}] (alert #{alert.get('number', '?')})",
            ids=texts(
                [
                    advisory.get("cve_id"),
                    advisory.get("ghsa_id"),
                    *(as_dict(x).get("value") for x in as_list(advisory.get("identifiers"))),
                ]
            ),
            package=string(package, "name"),
            ecosystem=string(package, "ecosystem"),
            installed=installed,
            fixed=texts([as_dict(vulnerability.get("first_patched_version")).get("identifier")]),
            vectors=texts(
                [
                    as_dict(severities.get("cvss_v3")).get("vector_string"),
                    as_dict(severities.get("cvss_v4")).get("vector_string"),
                    as_dict(advisory.get("cvss")).get("vector_string"),
                ]
            ),
            tool_score=as_dict(advisory.get("cvss")).get("score") or None,
            tool_label=advisory.get("severity") or vulnerability.get("severity"),
            vendor_ratings=[("ghsa", s) for s in texts([advisory.get("severity")])],
            scope={"runtime": Scope.RUNTIME, "development": Scope.DEV}.get(
                str(dependency.get("scope")), Scope.UNKNOWN
            ),
            relationship={"direct": Relationship.DIRECT, "transitive": Relationship.TRANSITIVE}.get(
                str(dependency.get("relationship")), Relationship.UNKNOWN
            ),
            first_seen=day_of(alert.get("created_at")),
            summary=str(advisory.get("summary") or ""),
            manifest=_manifest(alert, dependency),
            targets=texts([as_dict(alert.get("repository")).get("full_name"),
                           _manifest(alert, dependency)]),
        )
        if report.first_seen is None:
            result.warn(
                report.location,
                "alert has no readable 'created_at'",
                "an ISO 8601 date-time",
                repr(alert.get("created_at")),
            )
        finding = build_finding(report, result)
        if finding is not None:
            result.records.append(finding)
    if closed:
        result.warn("$", f"{closed} alert(s) are fixed or dismissed; only open alerts are findings")
    if withdrawn:
        result.warn(
            "$",
            f"{len(withdrawn)} alert(s) on withdrawn advisories left out: {', '.join(withdrawn)}",
        )


def _manifest(alert: dict[str, Any], dependency: dict[str, Any]) -> str:
    """Return the manifest path, prefixed with the repository for organisation alerts."""
    path = str(dependency.get("manifest_path") or "")
    repository = as_dict(alert.get("repository")).get("full_name")
    return f"{repository}/{path}" if isinstance(repository, str) and repository else path


def read(path: Path) -> ReadResult[Finding]:
    return read_report(path, FORMAT, detect, parse, "an array of Dependabot alert objects")
