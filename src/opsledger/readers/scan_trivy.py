"""Trivy ``--format json``: schema 2 ``{"SchemaVersion": 2, "CreatedAt", "Results":
[{Target, Class, Type, Vulnerabilities: [...]}]}`` and the bare array of results that
Trivy wrote before schema 2.

A vulnerability has ``VulnerabilityID``, ``PkgName``, ``PkgIdentifier.PURL``,
``InstalledVersion``, ``FixedVersion`` (comma separated), ``Severity``, ``SeveritySource``
and ``CVSS: {vendor: {V2Vector, V3Vector, V40Vector, ...}}``; the vectors of the vendor
Trivy took the severity from are used, then NVD's, then GHSA's.

``Severity`` is Trivy's own word; ``VendorSeverity`` (0 unknown … 4 critical) holds each
vendor's rating, of which the distribution's (for an OS package, by ``Metadata.OS.Family``
or the result's ``Type``) or the advisory database's (``DataSource.ID``, GHSA by default,
for a language package) is kept as the vendor's rating. ``Status`` values other than
``fixed`` and ``affected`` (``will_not_fix``, ``fix_deferred``, ``end_of_life``...) are
counted in a warning; misconfigurations, secrets and licences in the report are not
vulnerabilities and are named in a warning too.
"""

from __future__ import annotations

from collections import Counter
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
from opsledger.readers.scan_targets import trivy_artifact

FORMAT = "trivy"
SOURCE = "trivy"
VENDOR_ORDER = ("nvd", "ghsa")
# VendorSeverity numbers, as Trivy's types.Severity enumerates them.
VENDOR_SEVERITY = {0: "UNKNOWN", 1: "LOW", 2: "MEDIUM", 3: "HIGH", 4: "CRITICAL"}
# The VendorSeverity key of each OS family's security tracker, where it differs.
OS_VENDOR = {
    "centos": "redhat",
    "rhel": "redhat",
    "redhat": "redhat",
    "oracle": "oracle-oval",
    "suse linux enterprise server": "suse-cvrf",
    "opensuse": "suse-cvrf",
    "opensuse.leap": "suse-cvrf",
    "opensuse.tumbleweed": "suse-cvrf",
    "cbl-mariner": "cbl-mariner",
    "azurelinux": "azure",
}
USUAL_STATUSES = frozenset({"fixed", "affected", ""})
NOT_VULNERABILITIES = ("Misconfigurations", "Secrets", "Licenses")


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
        family = str(as_dict(as_dict(data.get("Metadata")).get("OS")).get("Family") or "")
    else:
        result.detected_format = "trivy (pre-schema-2 array)"
        scanned, results, prefix, family = None, data, "", ""
    artifact = trivy_artifact(data)
    statuses: Counter[str] = Counter()
    other: Counter[str] = Counter()
    for i, entry in enumerate(results):
        entry = as_dict(entry)
        where = json_path(prefix, i) if prefix else f"$[{i}]"
        for kind in NOT_VULNERABILITIES:
            other[kind] += len(as_list(entry.get(kind)))
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
            vuln = as_dict(vuln)
            statuses[str(vuln.get("Status") or "")] += 1
            _vulnerability(vuln, entry, f"{where}.Vulnerabilities[{j}]", scanned, family,
                           artifact, result)
    unusual = {s: n for s, n in sorted(statuses.items()) if s not in USUAL_STATUSES}
    if unusual:
        result.warn(
            "$",
            "Trivy status "
            + ", ".join(f"'{s}' ({n})" for s, n in unusual.items())
            + ": kept as findings; without a fixed version they need a mitigation or a waiver",
        )
    if any(other.values()):
        result.warn(
            "$",
            ", ".join(f"{n} {k.lower()}" for k, n in other.items() if n)
            + " in the report are not package vulnerabilities; left out",
        )


def _vulnerability(
    vuln: dict[str, Any],
    entry: dict[str, Any],
    where: str,
    scanned: Any,
    family: str,
    artifact: list[str],
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
        vendor_ratings=_vendor_rating(vuln, entry, family),
        first_seen=scanned,
        summary=str(vuln.get("Title") or vuln.get("Description") or ""),
        manifest=str(entry.get("Target") or ""),
        targets=[*artifact, *texts([entry.get("Target")])],
    )
    finding = build_finding(report, result)
    if finding is not None:
        result.records.append(finding)


def _vendor_rating(
    vuln: dict[str, Any], entry: dict[str, Any], family: str
) -> list[tuple[str, str]]:
    """Return the rating of the package's own vendor: the distribution's security tracker
    for an OS package, the advisory database Trivy matched for a language package."""
    ratings = as_dict(vuln.get("VendorSeverity"))
    if entry.get("Class") == "os-pkgs" or (family and not entry.get("Class")):
        os_family = str(entry.get("Type") or family).lower()
        vendor = OS_VENDOR.get(os_family, os_family)
    else:
        vendor = str(as_dict(vuln.get("DataSource")).get("ID") or "ghsa")
    number = ratings.get(vendor)
    label = VENDOR_SEVERITY.get(number) if isinstance(number, int) else None
    return [(vendor, label)] if label and label != "UNKNOWN" else []


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
