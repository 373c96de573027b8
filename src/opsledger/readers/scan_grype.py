"""Grype ``-o json``: ``{"matches": [{"vulnerability": {id, severity, cvss: [{version,
vector, metrics: {baseScore}}], fix: {versions, state}}, "relatedVulnerabilities": [{id,
cvss}], "artifact": {name, version, type, purl, locations}}], "descriptor": {name,
version, timestamp}}``.

Grype often matches a GHSA and lists the CVE under ``relatedVulnerabilities``; both become
identifiers of one finding.

``vulnerability.severity`` is the rating of the record Grype matched: the distribution's for
a distro match (``namespace`` ``debian:distro:debian:12``, or ``matchDetails[].searchedBy
.distro``), GitHub's for ``github:language:*``, NVD's for ``nvd:cpe``; it is kept as that
vendor's rating and as Grype's word. Newer Grype writes ``knownExploited`` (CISA KEV) and
``epss``, which the finding takes as well.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opsledger.core.problems import ReadResult
from opsledger.formats.textfile import json_path
from opsledger.model.security import Finding
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
from opsledger.readers.scan_targets import grype_source

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
    source, scanned_files = grype_source(data)
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
            vendor_ratings=_vendor_rating(vuln, match),
            kev=bool(as_list(vuln.get("knownExploited"))),
            epss=_epss(vuln, "epss"),
            epss_percentile=_epss(vuln, "percentile"),
            first_seen=scanned,
            summary=str(vuln.get("description") or ""),
            manifest=next((p for p in texts(locations)), ""),
            targets=[*source, *(texts(locations) if scanned_files else [])],
        )
        finding = build_finding(report, result)
        if finding is not None:
            result.records.append(finding)


def _vendor_rating(vuln: dict[str, Any], match: dict[str, Any]) -> list[tuple[str, str]]:
    label = string(vuln, "severity")
    if not label:
        return []
    namespace = str(vuln.get("namespace") or "")
    if ":distro:" in namespace:
        return [(namespace.split(":distro:", 1)[1].split(":", 1)[0], label)]
    if namespace.startswith("github:"):
        return [("ghsa", label)]
    if namespace.startswith("nvd:"):
        return [("nvd", label)]
    for detail in map(as_dict, as_list(match.get("matchDetails"))):
        distro = as_dict(as_dict(detail.get("searchedBy")).get("distro")).get("type")
        if isinstance(distro, str) and distro:
            return [(distro, label)]
    return []


def _epss(vuln: dict[str, Any], key: str) -> float | None:
    values = [as_dict(e).get(key) for e in as_list(vuln.get("epss"))]
    numbers = [float(v) for v in values if isinstance(v, int | float) and 0.0 <= v <= 1.0]
    return max(numbers) if numbers else None


def _vectors(record: dict[str, Any]) -> list[str]:
    return texts(as_dict(c).get("vector") for c in as_list(record.get("cvss")))


def read(path: Path) -> ReadResult[Finding]:
    return read_report(path, FORMAT, detect, parse, "an object with a 'matches' array")
