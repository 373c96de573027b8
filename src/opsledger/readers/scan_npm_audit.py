"""``npm audit --json`` (npm 7+, ``"auditReportVersion": 2``): ``{"vulnerabilities":
{name: {name, severity, isDirect, via: [advisory | name of a vulnerable dependency],
effects, range, nodes, fixAvailable}}, "metadata": {...}}``.

An advisory in ``via`` has ``source``, ``name``, ``title``, ``url`` (the GHSA link),
``severity``, ``cvss: {score, vectorString}`` and ``range``. A string in ``via`` means the
package is vulnerable only through another one; that package has its own entry, so only
advisories whose ``name`` is the entry's package become findings. npm audit reports ranges,
not the installed version.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from opsledger.model.security import VULN_ID, Finding, Relationship
from opsledger.problems import ReadResult
from opsledger.readers.scan_common import Report, as_dict, build_finding, read_report, texts
from opsledger.readers.textfile import json_path

FORMAT = "npm-audit"
_UPPER_BOUND = re.compile(r"<(?!=)\s*v?(\d[\w.+-]*)")
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
    for name, entry in sorted(as_dict(data.get("vulnerabilities")).items()):
        entry = as_dict(entry)
        where = json_path("vulnerabilities", name)
        via = entry.get("via")
        if not isinstance(via, list):
            result.quarantine(where + ".via", "'via' is not a list", "a JSON array")
            continue
        fix = as_dict(entry.get("fixAvailable"))
        direct_fix = [str(fix["version"])] if fix.get("name") == name and fix.get("version") else []
        for j, advisory in enumerate(via):
            if not isinstance(advisory, dict):
                continue  # vulnerable through another package, which has its own entry
            if advisory.get("name", name) != name:
                continue
            cvss = as_dict(advisory.get("cvss"))
            url = str(advisory.get("url") or "")
            ids = texts(VULN_ID.findall(url)) or (
                [f"NPM-{advisory['source']}"] if advisory.get("source") is not None else []
            )
            # An advisory range "<7.5.2" (or ">=7.0.0 <7.5.2") is fixed in its upper bound.
            fixed = direct_fix + _UPPER_BOUND.findall(str(advisory.get("range") or ""))
            report = Report(
                SOURCE,
                f"{where}.via[{j}]",
                ids=ids,
                package=name,
                ecosystem="npm",
                installed=None,
                fixed=fixed,
                vectors=texts([cvss.get("vectorString")]),
                tool_score=cvss.get("score") or None,
                tool_label=advisory.get("severity") or entry.get("severity"),
                relationship=(
                    Relationship.DIRECT if entry.get("isDirect") else Relationship.TRANSITIVE
                ),
                summary=str(advisory.get("title") or ""),
                manifest=", ".join(texts(entry.get("nodes") or [])),
            )
            finding = build_finding(report, result)
            if finding is not None:
                result.records.append(finding)


def read(path: Path) -> ReadResult[Finding]:
    return read_report(
        path,
        FORMAT,
        detect,
        parse,
        "an npm audit v2 object with 'auditReportVersion': 2 and 'vulnerabilities'",
    )
