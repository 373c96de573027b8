"""Grype ``-o json``: ``{"matches": [{"vulnerability": {id, severity, cvss: [{version,
vector, metrics: {baseScore}}], fix: {versions, state}}, "relatedVulnerabilities": [{id,
cvss}], "artifact": {name, version, type, purl, locations}}], "descriptor": {name,
version, timestamp}}``.

Grype often matches a GHSA and lists the CVE under ``relatedVulnerabilities``; both become
identifiers of one finding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opsledger.model.security import Finding
from opsledger.problems import ReadResult
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
from opsledger.readers.textfile import json_path

FORMAT = "grype"
SOURCE = "grype"


def detect(data: Any) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("matches"), list):
        return False
    return "descriptor" in data or all(
        isinstance(m, dict) and "vulnerability" in m and "artifact" in m for m in data["matches"]
    )


def parse(data: Any, result: ReadResult[Finding]) -> None:
    scanned = day_of(as_dict(data.get("descriptor")).get("timestamp"))
    for i, match in enumerate(as_list(data.get("matches"))):
        match = as_dict(match)
        where = json_path("matches", i)
        vuln = as_dict(match.get("vulnerability"))
        artifact = as_dict(match.get("artifact"))
        related = [as_dict(r) for r in as_list(match.get("relatedVulnerabilities"))]
        # Grype's own record first; NVD's related record supplies the vector when it lacks one.
        vectors = _vectors(vuln) or [v for r in related for v in _vectors(r)]
        fix = as_dict(vuln.get("fix"))
        locations = [as_dict(loc).get("path") for loc in as_list(artifact.get("locations"))]
        report = Report(
            SOURCE,
            where,
            ids=texts([vuln.get("id"), *(r.get("id") for r in related)]),
            package=string(artifact, "name"),
            ecosystem=string(artifact, "type"),
            installed=string(artifact, "version"),
            fixed=texts(as_list(fix.get("versions"))) if fix.get("state") != "wont-fix" else [],
            purl=string(artifact, "purl"),
            vectors=vectors,
            tool_label=string(vuln, "severity"),
            first_seen=scanned,
            summary=str(vuln.get("description") or ""),
            manifest=next((p for p in texts(locations)), ""),
        )
        finding = build_finding(report, result)
        if finding is not None:
            result.records.append(finding)


def _vectors(record: dict[str, Any]) -> list[str]:
    return texts(as_dict(c).get("vector") for c in as_list(record.get("cvss")))


def read(path: Path) -> ReadResult[Finding]:
    return read_report(path, FORMAT, detect, parse, "an object with a 'matches' array")
