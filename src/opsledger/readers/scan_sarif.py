"""SARIF 2.1.0 from dependency scanners: ``runs[].tool.driver.rules[]`` (with the
``security-severity`` score property GitHub code scanning reads) and ``runs[].results[]``.

SARIF has no package field, so the package and version come from what the scanners put
in their text: Trivy writes ``Package: x`` / ``Installed Version: y`` / ``Fixed Version: z``
in the result message and ``cvssv3_vector`` in the rule properties; Grype writes
``... package: x, version y was found at: ...`` and a rule help with ``Fix Version: a,b``
and ``purls``. Results that name no package (code findings from a SAST tool) are counted
and left out with a warning: they are not dependency vulnerabilities.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from opsledger.model.security import VULN_ID, Finding
from opsledger.problems import ReadResult
from opsledger.readers.scan_common import (
    Report,
    as_dict,
    as_list,
    build_finding,
    day_of,
    read_report,
    texts,
)
from opsledger.readers.textfile import json_path

FORMAT = "sarif"
SEVERITY_TAGS = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")

_PACKAGE_PATTERNS = (
    re.compile(r"Package:\s*(?P<pkg>\S+)\s*\n\s*Installed Version:\s*(?P<ver>\S+)"),
    re.compile(r"package:\s*(?P<pkg>[^,\s]+),\s*version\s+(?P<ver>[^\s,]+)"),
    re.compile(r"Package:\s*(?P<pkg>\S+)\s*\n\s*Version:\s*(?P<ver>\S+)"),
    re.compile(r":\s*(?P<pkg>[^\s:@]+)@(?P<ver>[^\s@]+)\s*$"),
)
_FIXED_PATTERN = re.compile(r"Fix(?:ed)? Version:[ \t]*(?P<fixed>[^\n]*)")
_SEVERITY_WORD = re.compile(r"\b(critical|high|medium|moderate|low|negligible)\b", re.IGNORECASE)


def detect(data: Any) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        return False
    return str(data.get("version", "")).startswith("2.1") or "sarif" in str(data.get("$schema", ""))


def parse(data: Any, result: ReadResult[Finding]) -> None:
    if data.get("version") != "2.1.0":
        result.warn(
            "$.version",
            "SARIF version is not 2.1.0; read as 2.1.0",
            "2.1.0",
            repr(data.get("version")),
        )
    for r, run in enumerate(as_list(data.get("runs"))):
        run = as_dict(run)
        driver = as_dict(as_dict(run.get("tool")).get("driver"))
        source = str(driver.get("name") or "sarif").strip().lower()
        rules = [as_dict(x) for x in as_list(driver.get("rules"))]
        by_id = {str(x.get("id")): x for x in rules if x.get("id")}
        invocation = as_dict(next(iter(as_list(run.get("invocations"))), {}))
        scanned = day_of(invocation.get("startTimeUtc") or invocation.get("endTimeUtc"))
        not_dependencies = 0
        results = run.get("results")
        if not isinstance(results, list):
            result.quarantine(
                json_path("runs", r, "results"), "'results' is not a list", "a JSON array"
            )
            continue
        for i, item in enumerate(results):
            item = as_dict(item)
            rule = _rule(item, rules, by_id)
            report = _report(item, rule, source, json_path("runs", r, "results", i), scanned)
            if report.package is None:
                not_dependencies += 1
                continue
            finding = build_finding(report, result)
            if finding is not None:
                result.records.append(finding)
        if not_dependencies:
            result.warn(
                json_path("runs", r),
                f"{not_dependencies} {source} result(s) name no package (code findings, not "
                "dependency vulnerabilities); left out",
            )


def _rule(
    item: dict[str, Any], rules: list[dict[str, Any]], by_id: dict[str, Any]
) -> dict[str, Any]:
    index = item.get("ruleIndex")
    if isinstance(index, int) and 0 <= index < len(rules):
        return rules[index]
    return as_dict(by_id.get(str(item.get("ruleId"))))


def _text(value: Any) -> str:
    return str(as_dict(value).get("text") or "")


def _report(
    item: dict[str, Any], rule: dict[str, Any], source: str, where: str, scanned: Any
) -> Report:
    rule_id = str(item.get("ruleId") or rule.get("id") or "")
    message = _text(item.get("message"))
    help_text = _text(rule.get("help"))
    locations = [as_dict(x) for x in as_list(item.get("locations"))]
    location_texts = [_text(loc.get("message")) for loc in locations]
    package, installed = _package(message, help_text, location_texts)
    props = {**as_dict(rule.get("properties")), **as_dict(item.get("properties"))}
    ids = VULN_ID.findall(rule_id) or VULN_ID.findall(help_text) or VULN_ID.findall(message)
    if not ids and rule_id:
        ids = [rule_id]
    fixed_match = _FIXED_PATTERN.search(message) or _FIXED_PATTERN.search(help_text)
    fixed = [f.strip() for f in fixed_match.group("fixed").split(",")] if fixed_match else []
    tags = [str(t).upper() for t in as_list(props.get("tags"))]
    label = next((t for t in SEVERITY_TAGS if t in tags), None)
    if label is None:
        word = _SEVERITY_WORD.search(_text(rule.get("shortDescription")))
        label = word.group(1) if word else None
    uri = (
        as_dict(as_dict(locations[0].get("physicalLocation")).get("artifactLocation")).get("uri")
        if locations
        else None
    )
    purls = texts(as_list(props.get("purls")))
    return Report(
        source,
        where,
        ids=list(dict.fromkeys(ids)),
        package=package,
        installed=installed,
        fixed=[f for f in fixed if f],
        purl=purls[0] if purls else None,
        vectors=texts(
            [props.get("cvssv3_vector"), props.get("cvssv40_vector"), props.get("cvssv2_vector")]
        ),
        tool_score=props.get("security-severity"),
        tool_label=label,
        first_seen=scanned,
        summary=_text(rule.get("shortDescription")),
        manifest=str(uri or ""),
    )


def _package(
    message: str, help_text: str, location_texts: list[str]
) -> tuple[str | None, str | None]:
    for text in (message, *location_texts, help_text):
        for pattern in _PACKAGE_PATTERNS:
            match = pattern.search(text)
            if match:
                return match.group("pkg"), match.group("ver")
    return None, None


def read(path: Path) -> ReadResult[Finding]:
    return read_report(path, FORMAT, detect, parse, "a SARIF 2.1.0 log with 'runs'")
