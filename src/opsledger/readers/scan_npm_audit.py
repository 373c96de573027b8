"""``npm audit --json`` (npm 7+, ``"auditReportVersion": 2``): ``{"vulnerabilities":
{name: {name, severity, isDirect, via: [advisory | name of a vulnerable dependency],
effects, range, nodes, fixAvailable}}, "metadata": {...}}``.

An advisory in ``via`` has ``source``, ``name``, ``title``, ``url`` (the GHSA link, or an
older ``npmjs.com/advisories/N``), ``severity``, ``cvss: {score, vectorString}`` and
``range``. A string in ``via`` means the package is vulnerable only through another one;
that package has its own entry, so only advisories whose ``name`` is the entry's package
become findings. npm audit lists an advisory only when an installed copy is in its range.

npm audit reports ranges, not installed versions. The fixed versions are the upper bounds
of the advisory's range, one per release line (``<5.7.4 || >=6.0.0 <6.4.1`` is fixed in
5.7.4 on 5.x and in 6.4.1 on 6.x), so that a package installed on several lines gets a
target on each. ``fixAvailable: {name, version}`` naming another package means the fix
comes by updating that one (``fix available via webpack@5.0.0``): it is kept as a fixed
entry in package-URL form, ``pkg:npm/webpack@5.0.0``. ``fixAvailable: false`` (npm can
apply no fix) is named in a warning. The severity word is GitHub's (the advisory
database's) rating.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from univers.version_range import NpmVersionRange

from opsledger.core.problems import ReadResult
from opsledger.formats.textfile import json_path
from opsledger.model.security import VULN_ID, Finding, Relationship
from opsledger.readers.scan_common import Report, as_dict, build_finding, read_report, texts

FORMAT = "npm-audit"
SOURCE = "npm-audit"


def detect(data: Any) -> bool:
    if not isinstance(data, dict):
        return False
    if data.get("auditReportVersion") == 2 and isinstance(data.get("vulnerabilities"), dict):
        return True
    vulns = data.get("vulnerabilities")
    return (
        isinstance(vulns, dict)
        and bool(vulns)
        and all(isinstance(v, dict) and "via" in v for v in vulns.values())
    )


def parse(data: Any, result: ReadResult[Finding]) -> None:
    unfixable: list[str] = []
    for name, entry in sorted(as_dict(data.get("vulnerabilities")).items()):
        entry = as_dict(entry)
        where = json_path("vulnerabilities", name)
        via = entry.get("via")
        if not isinstance(via, list):
            result.quarantine(where + ".via", "'via' is not a list", "a JSON array")
            continue
        fix = entry.get("fixAvailable")
        if fix is False:
            unfixable.append(name)
        for j, advisory in enumerate(via):
            if not isinstance(advisory, dict):
                continue  # vulnerable through another package, which has its own entry
            if advisory.get("name", name) != name:
                continue
            _advisory(name, entry, advisory, fix, f"{where}.via[{j}]", result)
    if unfixable:
        shown = ", ".join(unfixable[:5]) + ("…" if len(unfixable) > 5 else "")
        result.warn(
            "$.vulnerabilities",
            f"npm can apply no fix for {len(unfixable)} package(s) (fixAvailable: false): "
            f"{shown}; the advisories' fixed versions are still listed",
        )


def _advisory(
    name: str,
    entry: dict[str, Any],
    advisory: dict[str, Any],
    fix: Any,
    where: str,
    result: ReadResult[Finding],
) -> None:
    cvss = as_dict(advisory.get("cvss"))
    url = str(advisory.get("url") or "")
    ids = texts(VULN_ID.findall(url)) or (
        [f"NPM-{advisory['source']}"] if advisory.get("source") is not None else []
    )
    fixed = _line_fixes(str(advisory.get("range") or ""), where, result)
    fix = as_dict(fix)
    if fix.get("name") and fix.get("version"):
        if fix["name"] == name:
            fixed.append(str(fix["version"]))
        else:
            fixed.append(npm_purl(str(fix["name"]), str(fix["version"])))
    severity = advisory.get("severity") or entry.get("severity")
    report = Report(
        SOURCE,
        where,
        ids=ids,
        package=name,
        ecosystem="npm",
        installed=None,
        fixed=fixed,
        vectors=texts([cvss.get("vectorString")]),
        tool_score=cvss.get("score") or None,
        tool_label=severity,
        vendor_ratings=[("ghsa", str(severity))] if severity else [],
        relationship=Relationship.DIRECT if entry.get("isDirect") else Relationship.TRANSITIVE,
        summary=str(advisory.get("title") or ""),
        manifest=", ".join(texts(entry.get("nodes") or [])),
    )
    finding = build_finding(report, result)
    if finding is not None:
        result.records.append(finding)


def _line_fixes(native: str, where: str, result: ReadResult[Finding]) -> list[str]:
    """Return the version that ends each vulnerable interval of an npm range (its ``<``)."""
    if not native.strip():
        return []
    try:
        constraints = NpmVersionRange.from_native(native).constraints
    except Exception as exc:  # univers raises several types for a malformed range
        result.warn(where + ".range", f"unreadable npm range: {exc}", "a semver range", native)
        return []
    return [str(c.version) for c in constraints if c.comparator == "<"]


def npm_purl(name: str, version: str) -> str:
    """Return the package URL of an npm package version (``@scope`` becomes ``%40scope``)."""
    return f"pkg:npm/{quote(name, safe='/')}@{quote(version, safe='')}"


def read(path: Path) -> ReadResult[Finding]:
    return read_report(
        path,
        FORMAT,
        detect,
        parse,
        "an npm audit v2 object with 'auditReportVersion': 2 and 'vulnerabilities'",
    )
