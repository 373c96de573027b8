"""Trivy ``--format json``: schema 2 ``{"SchemaVersion": 2, "CreatedAt", "Results":
[{Target, Class, Type, Vulnerabilities: [...]}]}`` and the bare array of results that
Trivy wrote before schema 2.

A vulnerability has ``VulnerabilityID``, ``PkgName``, ``PkgIdentifier.PURL``,
``InstalledVersion``, ``FixedVersion`` (comma separated), ``Severity``, ``SeveritySource``
and ``CVSS: {vendor: {V2Vector, V3Vector, V40Vector, ...}}``; the vectors of the vendor
Trivy took the severity from are used, then NVD's, then GHSA's.
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
)
from opsledger.readers.textfile import json_path

FORMAT = "trivy"
SOURCE = "trivy"
VENDOR_ORDER = ("nvd", "ghsa")


def _is_result(item: Any) -> bool:
    return (
        isinstance(item, dict)
        and "Target" in item
        and ("Vulnerabilities" in item or "Class" in item or "Type" in item)
    )


def detect(data: Any) -> bool:
    if isinstance(data, dict):
        results = data.get("Results")
        return "SchemaVersion" in data and (results is None or isinstance(results, list))
    return isinstance(data, list) and bool(data) and all(_is_result(r) for r in data)


def parse(data: Any, result: ReadResult[Finding]) -> None:
    if isinstance(data, dict):
        if data.get("SchemaVersion") != 2:
            result.warn(
                "$.SchemaVersion",
                "unknown Trivy schema version; read as schema 2",
                "2",
                repr(data.get("SchemaVersion")),
            )
        scanned = day_of(data.get("CreatedAt"))
        results, prefix = as_list(data.get("Results")), "Results"
    else:
        result.detected_format = "trivy (pre-schema-2 array)"
        scanned, results, prefix = None, data, ""
    for i, entry in enumerate(results):
        entry = as_dict(entry)
        where = json_path(prefix, i) if prefix else f"$[{i}]"
        vulns = entry.get("Vulnerabilities")
        if vulns is None:
            continue  # Trivy writes null for a target without findings
        if not isinstance(vulns, list):
            result.quarantine(
                where + ".Vulnerabilities",
                "'Vulnerabilities' is not a list",
                "a JSON array or null",
            )
            continue
        for j, vuln in enumerate(vulns):
            _vulnerability(as_dict(vuln), entry, f"{where}.Vulnerabilities[{j}]", scanned, result)


def _vulnerability(
    vuln: dict[str, Any],
    entry: dict[str, Any],
    where: str,
    scanned: Any,
    result: ReadResult[Finding],
) -> None:
    fixed = str(vuln.get("FixedVersion") or "")
    report = Report(
        SOURCE,
        where,
        ids=[vuln["VulnerabilityID"]] if isinstance(vuln.get("VulnerabilityID"), str) else [],
        package=string(vuln, "PkgName"),
        ecosystem=string(entry, "Type"),
        installed=string(vuln, "InstalledVersion"),
        fixed=[f.strip() for f in fixed.split(",") if f.strip()],
        purl=as_dict(vuln.get("PkgIdentifier")).get("PURL"),
        vectors=_vectors(vuln),
        tool_label=string(vuln, "Severity"),
        first_seen=scanned,
        summary=str(vuln.get("Title") or vuln.get("Description") or ""),
        manifest=str(entry.get("Target") or ""),
    )
    finding = build_finding(report, result)
    if finding is not None:
        result.records.append(finding)


def _vectors(vuln: dict[str, Any]) -> list[str]:
    cvss = as_dict(vuln.get("CVSS"))
    source = vuln.get("SeveritySource")
    order = [source, *VENDOR_ORDER] if isinstance(source, str) else list(VENDOR_ORDER)
    order += sorted(k for k in cvss if k not in order)
    for vendor in order:
        scores = as_dict(cvss.get(vendor))
        vectors = [
            scores[k]
            for k in ("V3Vector", "V40Vector", "V2Vector")
            if isinstance(scores.get(k), str) and scores[k]
        ]
        if vectors:
            return vectors
    return []


def read(path: Path) -> ReadResult[Finding]:
    return read_report(
        path,
        FORMAT,
        detect,
        parse,
        "an object with 'SchemaVersion' and 'Results', or an array of results",
    )
