"""osv-scanner ``--format json``: ``{"results": [{"source": {path, type}, "packages":
[{"package": {name, version, ecosystem}, "dependency_groups": [...], "groups": [{ids,
aliases, max_severity}], "vulnerabilities": [OSV records]}]}]}``.

Each OSV record carries ``severity: [{type: CVSS_V3|CVSS_V4|CVSS_V2, score: vector}]`` and
``affected[].ranges[].events[].fixed``; the group's ``max_severity`` is a score used only
when no record has a vector. ``database_specific.severity`` is the rating of the database
that published the record (GitHub's for a GHSA, the distribution's for a DSA or USN) and is
kept as that vendor's rating.

Fixed versions come from ``ECOSYSTEM`` and ``SEMVER`` ranges; a ``GIT`` range's fix is a
commit, not a version, and is named in a warning. A package known only by a commit has no
version to compare and is named in a warning too. ``MAL-`` records (malicious packages) are
critical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opsledger.core.problems import ReadResult
from opsledger.formats.textfile import json_path
from opsledger.model.security import Finding, Scope
from opsledger.readers.findings import ecosystem_of, name_key, version_scheme
from opsledger.readers.scan_common import (
    Report,
    as_dict,
    as_list,
    build_finding,
    read_report,
    string,
    texts,
)

FORMAT = "osv-scanner"
SOURCE = "osv-scanner"
DEV_GROUPS = frozenset({"dev", "development", "test", "devdependencies", "dev-dependencies"})
VERSION_RANGES = frozenset({"ECOSYSTEM", "SEMVER"})
# The database that publishes records with an id prefix, for their severity word.
RECORD_VENDORS = {
    "GHSA": "ghsa",
    "DSA": "debian",
    "DLA": "debian",
    "DTSA": "debian",
    "DEBIAN": "debian",
    "USN": "ubuntu",
    "UBUNTU": "ubuntu",
    "RHSA": "redhat",
    "RHBA": "redhat",
    "ALSA": "alma",
    "RLSA": "rocky",
    "SUSE": "suse",
    "OPENSUSE": "suse",
    "ALPINE": "alpine",
    "PYSEC": "pypa",
    "RUSTSEC": "rustsec",
    "GO": "go",
}


def detect(data: Any) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        return False
    return all(
        isinstance(r, dict)
        and isinstance(r.get("packages", []), list)
        and ("packages" in r or "source" in r)
        for r in data["results"]
    )


def parse(data: Any, result: ReadResult[Finding]) -> None:
    for i, entry in enumerate(as_list(data.get("results"))):
        manifest = str(as_dict(entry.get("source")).get("path") or "")
        for j, item in enumerate(as_list(entry.get("packages"))):
            _package(as_dict(item), json_path("results", i, "packages", j), manifest, result)


def _package(item: dict[str, Any], where: str, manifest: str, result: ReadResult[Finding]) -> None:
    package = as_dict(item.get("package"))
    name, ecosystem = package.get("name"), package.get("ecosystem")
    if not package.get("version") and package.get("commit"):
        result.warn(
            where + ".package",
            f"'{name}' is known by a git commit ({str(package['commit'])[:12]}), not a version: "
            "no fixed version can be chosen for it",
        )
    groups = {str(g).lower() for g in as_list(item.get("dependency_groups"))}
    scope = Scope.UNKNOWN
    if groups:
        scope = Scope.DEV if groups <= DEV_GROUPS else Scope.RUNTIME
    max_severity = {}
    for group in as_list(item.get("groups")):
        group = as_dict(group)
        for vid in texts(as_list(group.get("ids")) + as_list(group.get("aliases"))):
            max_severity[vid] = group.get("max_severity")
    vulns = item.get("vulnerabilities")
    if not isinstance(vulns, list):
        result.quarantine(
            where + ".vulnerabilities", "'vulnerabilities' is not a list", "a JSON array"
        )
        return
    for k, vuln in enumerate(vulns):
        vuln = as_dict(vuln)
        ids = texts([vuln.get("id"), *as_list(vuln.get("aliases"))])
        report = Report(
            SOURCE,
            f"{where}.vulnerabilities[{k}]",
            ids=ids,
            package=name if isinstance(name, str) else None,
            ecosystem=ecosystem if isinstance(ecosystem, str) else None,
            installed=string(package, "version"),
            fixed=_fixed_versions(vuln, name, ecosystem, f"{where}.vulnerabilities[{k}]", result),
            purl=string(package, "purl"),
            vectors=[
                str(s.get("score"))
                for s in map(as_dict, as_list(vuln.get("severity")))
                if str(s.get("type", "")).startswith("CVSS") and s.get("score")
            ],
            tool_score=next((max_severity[i] for i in ids if max_severity.get(i)), None),
            vendor_ratings=_vendor_rating(vuln),
            scope=scope,
            summary=vuln.get("summary") or vuln.get("details") or "",
            manifest=manifest,
            targets=[manifest],
        )
        finding = build_finding(report, result)
        if finding is not None:
            result.records.append(finding)


def _vendor_rating(vuln: dict[str, Any]) -> list[tuple[str, str]]:
    label = as_dict(vuln.get("database_specific")).get("severity")
    if not isinstance(label, str) or not label.strip():
        return []
    prefix = str(vuln.get("id") or "").split("-", 1)[0].upper()
    return [(RECORD_VENDORS.get(prefix, prefix.lower() or "osv"), label)]


def _fixed_versions(
    vuln: dict[str, Any], name: Any, ecosystem: Any, where: str, result: ReadResult[Finding]
) -> list[str]:
    fixed: list[str] = []
    scheme = version_scheme(ecosystem_of(ecosystem if isinstance(ecosystem, str) else ""))
    key = name_key(str(name or ""), scheme)
    commits = 0
    for affected in map(as_dict, as_list(vuln.get("affected"))):
        pkg = as_dict(affected.get("package"))
        if pkg and name_key(str(pkg.get("name", "")), scheme) != key:
            continue
        for rng in map(as_dict, as_list(affected.get("ranges"))):
            found = texts(as_dict(e).get("fixed") for e in as_list(rng.get("events")))
            if str(rng.get("type", "")).upper() in VERSION_RANGES:
                fixed += found
            else:
                commits += len(found)
    if commits:
        result.warn(
            where,
            f"{commits} fix(es) given as git commits (a GIT range), not versions; not used as "
            "fixed versions",
        )
    return fixed


def read(path: Path) -> ReadResult[Finding]:
    return read_report(path, FORMAT, detect, parse, "an object with a 'results' array of packages")
