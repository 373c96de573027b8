"""The ``security/`` folder: every scanner report in it, told apart by structure (not by
file name), folded into one finding per vulnerability and package, enriched with the CISA
Known Exploited Vulnerabilities catalog (``kev.json``) and FIRST EPSS scores
(``epss.csv``) when present, plus the outdated-package lists.

Findings are the records; outdated packages and what was read from each file ride along
on :class:`SecurityReadResult`. Each finding and outdated package keeps the path of the file
that reported it, relative to the folder (``checkout/trivy.json``), in ``reported_in``
beside the images and lockfiles the tool named, so that it can be placed with a service.
The result's format names the files taken as the KEV catalog, the EPSS scores and the
outdated lists, so that ``opsledger validate`` shows them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from opsledger.core.problems import Level, Problem, ReadResult
from opsledger.formats.textfile import json_path, load_json, load_text
from opsledger.model.security import Finding, OutdatedPackage, is_cve
from opsledger.readers import (
    outdated,
    scan_dependabot,
    scan_grype,
    scan_npm_audit,
    scan_osv,
    scan_pip_audit,
    scan_sarif,
    scan_trivy,
)
from opsledger.readers.findings import EpssScore, KevEntry, enrich, fold_findings
from opsledger.readers.scan_common import as_dict, as_list, day_of, describe

Detector = Callable[[Any], bool]
Parser = Callable[[Any, ReadResult[Finding]], None]
SCANNERS: tuple[tuple[str, Detector, Parser], ...] = (
    (scan_sarif.FORMAT, scan_sarif.detect, scan_sarif.parse),
    (scan_trivy.FORMAT, scan_trivy.detect, scan_trivy.parse),
    (scan_grype.FORMAT, scan_grype.detect, scan_grype.parse),
    (scan_osv.FORMAT, scan_osv.detect, scan_osv.parse),
    (scan_pip_audit.FORMAT, scan_pip_audit.detect, scan_pip_audit.parse),
    (scan_npm_audit.FORMAT, scan_npm_audit.detect, scan_npm_audit.parse),
    (scan_dependabot.FORMAT, scan_dependabot.detect, scan_dependabot.parse),
)
KEV_FORMAT = "cisa-kev"
EPSS_FORMAT = "first-epss"
SUFFIXES = frozenset({".json", ".sarif", ".csv"})
EXPECTED = (
    "pip-audit, osv-scanner, Trivy, Grype, SARIF 2.1.0, Dependabot alerts or npm audit v2 JSON; "
    "pip/npm outdated JSON; CISA KEV JSON"
)


@dataclass(frozen=True)
class FileRead:
    """What one file in the folder was taken for and how many records it gave."""

    name: str
    detected_format: str
    records: int


@dataclass
class SecurityReadResult(ReadResult[Finding]):
    outdated: list[OutdatedPackage] = field(default_factory=list)
    files: list[FileRead] = field(default_factory=list)
    kev_entries: int = 0
    epss_entries: int = 0
    reported: int = 0  # findings before folding


def read(path: Path) -> SecurityReadResult:
    """Return the folded, enriched findings of every report under ``path`` (file or folder)."""
    result = SecurityReadResult(path, detected_format="security reports")
    files = (
        [path]
        if path.is_file()
        else sorted(
            p
            for p in path.rglob("*")
            if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
        )
    )
    raw: list[Finding] = []
    kev: dict[str, KevEntry] = {}
    epss: dict[str, EpssScore] = {}
    for file in files:
        name = file.name if path.is_file() else file.relative_to(path).as_posix()
        if file.suffix.lower() not in SUFFIXES:
            result.problems.append(Problem(
                str(file), "", "not a security report (ignored)", ".json, .sarif or .csv",
                file.suffix or "no extension", Level.WARNING))
            continue
        if file.suffix.lower() == ".csv":
            scores = _read_epss(file, result)
            epss.update(scores)
            result.files.append(
                FileRead(name, EPSS_FORMAT if scores else "unrecognised", len(scores))
            )
            continue
        _read_json(file, name, result, raw, kev)
    result.epss_entries, result.kev_entries = len(epss), len(kev)
    result.reported = len(raw)
    result.records = enrich(fold_findings(raw), kev, epss)
    result.detected_format = describe_files(result.files)
    return result


def describe_files(files: list[FileRead]) -> str:
    """Return what the folder held: scanner reports, and which files were KEV, EPSS and
    outdated lists (``none`` when no file was)."""

    def named(formats: set[str]) -> str:
        names = [f.name for f in files if f.detected_format in formats]
        return ", ".join(names) if names else "none"

    scanners = {fmt for fmt, _, _ in SCANNERS}
    reports = [f for f in files if f.detected_format.split(" ", 1)[0] in scanners]
    return (
        f"security reports ({len(reports)} scanner file(s)); CISA KEV: {named({KEV_FORMAT})}; "
        f"EPSS: {named({EPSS_FORMAT})}; "
        f"outdated: {named({outdated.PIP_FORMAT, outdated.NPM_FORMAT})}"
    )


def _read_json(
    file: Path,
    name: str,
    result: SecurityReadResult,
    raw: list[Finding],
    kev: dict[str, KevEntry],
) -> None:
    scratch: ReadResult[Any] = ReadResult(file)
    data = load_json(file, scratch)
    fmt = "malformed"
    if not scratch.fatal:
        fmt = _sniff_and_parse(data, name, scratch, result, raw, kev)
    result.extend(scratch.problems)
    count = len(scratch.records)
    result.files.append(FileRead(name, fmt, count))


def _sniff_and_parse(
    data: Any,
    name: str,
    scratch: ReadResult[Any],
    result: SecurityReadResult,
    raw: list[Finding],
    kev: dict[str, KevEntry],
) -> str:
    for fmt, detect, parse in SCANNERS:
        if detect(data):
            scratch.detected_format = fmt
            parse(data, scratch)
            raw.extend(replace(f, reported_in=tuple(sorted({name, *f.reported_in})))
                       for f in scratch.records)
            return scratch.detected_format
    if outdated.detect_pip(data) or outdated.detect_npm(data):
        is_pip = outdated.detect_pip(data)
        (outdated.parse_pip if is_pip else outdated.parse_npm)(data, scratch)
        result.outdated.extend(_listed_in(name, p) for p in scratch.records)
        return outdated.PIP_FORMAT if is_pip else outdated.NPM_FORMAT
    if _is_kev(data):
        entries = _parse_kev(data, scratch)
        kev.update(entries)
        scratch.records = list(entries)
        return KEV_FORMAT
    if isinstance(data, dict) and "advisories" in data and "auditReportVersion" not in data:
        scratch.fail(
            "$",
            "npm audit report in the old (v1) format",
            "npm audit --json from npm 7 or later ('auditReportVersion': 2)",
        )
        return "npm-audit v1"
    if data in ([], {}):
        scratch.warn("$", "empty report (nothing to read)")
        return "empty"
    scratch.fail("$", "not a recognised security report", EXPECTED, describe(data))
    return "unrecognised"


def _listed_in(name: str, package: OutdatedPackage) -> OutdatedPackage:
    """Return the package with the list it came from (and, for npm, the package.json
    that declares it) as where it was reported."""
    return replace(package, reported_in=tuple(sorted({name, package.dependent} - {""})))


def _is_kev(data: Any) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("vulnerabilities"), list)
        and (
            "catalogVersion" in data
            or any(isinstance(v, dict) and "cveID" in v for v in data["vulnerabilities"])
        )
    )


def _parse_kev(data: dict[str, Any], result: ReadResult[Any]) -> dict[str, KevEntry]:
    entries: dict[str, KevEntry] = {}
    for i, item in enumerate(as_list(data.get("vulnerabilities"))):
        item = as_dict(item)
        cve = str(item.get("cveID") or "").strip().upper()
        if not is_cve(cve):
            result.quarantine(
                json_path("vulnerabilities", i, "cveID"),
                "not a CVE id",
                "CVE-YYYY-NNNN",
                repr(item.get("cveID")),
            )
            continue
        due = day_of(item.get("dueDate"))
        if item.get("dueDate") and due is None:
            result.warn(
                json_path("vulnerabilities", i, "dueDate"),
                "not a date",
                "YYYY-MM-DD",
                repr(item.get("dueDate")),
            )
        entries[cve] = KevEntry(
            cve,
            day_of(item.get("dateAdded")),
            due,
            str(item.get("knownRansomwareCampaignUse", "")).lower() == "known",
        )
    return entries


def _read_epss(file: Path, result: SecurityReadResult) -> dict[str, EpssScore]:
    """Return EPSS scores from FIRST's CSV: a ``#model_version:…`` line, then
    ``cve,epss,percentile`` rows."""
    scratch: ReadResult[Any] = ReadResult(file)
    scores = _parse_epss(file, scratch)
    result.extend(scratch.problems)
    return scores


def _parse_epss(file: Path, result: ReadResult[Any]) -> dict[str, EpssScore]:
    text = load_text(file, result)
    if text is None:
        return {}
    lines = text.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.strip() and not line.startswith("#")), None
    )
    if start is None:
        result.warn("", "CSV file holds no rows")
        return {}
    try:
        header = [h.strip().lower() for h in next(csv.reader([lines[start]]))]
    except csv.Error as exc:
        result.fail(f"line {start + 1}", f"unreadable CSV header: {exc}", "a CSV header row")
        return {}
    if not {"cve", "epss"} <= set(header):
        result.fail(
            f"line {start + 1}",
            "CSV is not an EPSS file",
            "columns cve, epss, percentile",
            ", ".join(header),
        )
        return {}
    scores: dict[str, EpssScore] = {}
    reader = csv.DictReader(io.StringIO("\n".join(lines[start + 1 :])), fieldnames=header)
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            result.quarantine(f"line {start + 1 + reader.line_num}", f"unreadable CSV row: {exc}")
            continue
        line = start + 1 + reader.line_num
        cve = str(row.get("cve") or "").strip().upper()
        try:
            value = float(row.get("epss") or "")
            percentile = float(row.get("percentile") or "nan")
        except ValueError:
            result.quarantine(
                f"line {line}", "EPSS score is not a number", "a number 0-1", repr(row.get("epss"))
            )
            continue
        if not is_cve(cve) or not 0.0 <= value <= 1.0:
            result.quarantine(
                f"line {line}",
                "row is not a CVE with a probability",
                "CVE id and a score 0-1",
                f"{cve!r}, {value}",
            )
            continue
        scores[cve] = EpssScore(cve, value, percentile if percentile == percentile else 0.0)
    return scores
