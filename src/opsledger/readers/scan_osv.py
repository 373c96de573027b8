"""osv-scanner ``--format json``: ``{"results": [{"source": {path, type}, "packages":
[{"package": {name, version, ecosystem}, "dependency_groups": [...], "groups": [{ids,
aliases, max_severity}], "vulnerabilities": [OSV records]}]}]}``.

Each OSV record carries ``severity: [{type: CVSS_V3|CVSS_V4|CVSS_V2, score: vector}]`` and
``affected[].ranges[].events[].fixed``; the group's ``max_severity`` is a score used only
when no record has a vector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opsledger.model.security import Finding, Scope, normalise_ecosystem, normalise_package
from opsledger.problems import ReadResult
from opsledger.readers.scan_common import (
    Report,
    as_dict,
    as_list,
    build_finding,
    read_report,
    string,
    texts,
)
from opsledger.readers.textfile import json_path

FORMAT = "osv-scanner"
SOURCE = "osv-scanner"
DEV_GROUPS = frozenset({"dev", "development", "test", "devdependencies", "dev-dependencies"})


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
            fixed=_fixed_versions(vuln, name, ecosystem),
            purl=string(package, "purl"),
            vectors=[
                str(s.get("score"))
                for s in map(as_dict, as_list(vuln.get("severity")))
                if str(s.get("type", "")).startswith("CVSS") and s.get("score")
            ],
            tool_score=next((max_severity[i] for i in ids if max_severity.get(i)), None),
            tool_label=as_dict(vuln.get("database_specific")).get("severity"),
            scope=scope,
            summary=vuln.get("summary") or vuln.get("details") or "",
            manifest=manifest,
        )
        finding = build_finding(report, result)
        if finding is not None:
            result.records.append(finding)


def _fixed_versions(vuln: dict[str, Any], name: Any, ecosystem: Any) -> list[str]:
    fixed: list[str] = []
    eco = normalise_ecosystem(ecosystem if isinstance(ecosystem, str) else "")
    key = normalise_package(str(name or ""), eco)
    for affected in map(as_dict, as_list(vuln.get("affected"))):
        pkg = as_dict(affected.get("package"))
        if pkg and normalise_package(str(pkg.get("name", "")), eco) != key:
            continue
        for rng in map(as_dict, as_list(affected.get("ranges"))):
            fixed += texts(as_dict(e).get("fixed") for e in as_list(rng.get("events")))
    return fixed


def read(path: Path) -> ReadResult[Finding]:
    return read_report(path, FORMAT, detect, parse, "an object with a 'results' array of packages")
