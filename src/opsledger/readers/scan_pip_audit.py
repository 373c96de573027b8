"""pip-audit ``--format json``: ``{"dependencies": [{name, version, vulns: [{id,
fix_versions, aliases, description}]} | {name, skip_reason}], "fixes": [...]}``.

pip-audit reports no severity; findings stay ``unknown`` unless another tool (or the
advisory's CVSS vector from another report) rates them when reports are folded.
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
    read_report,
    string,
    texts,
)

FORMAT = "pip-audit"
SOURCE = "pip-audit"


def detect(data: Any) -> bool:
    deps = data.get("dependencies") if isinstance(data, dict) else None
    if not isinstance(deps, list) or "runs" in data or "Results" in data:
        return False
    return all(
        isinstance(d, dict) and "name" in d and ("vulns" in d or "skip_reason" in d) for d in deps
    )


def parse(data: Any, result: ReadResult[Finding]) -> None:
    for i, dep in enumerate(as_list(data.get("dependencies"))):
        where = json_path("dependencies", i)
        if "skip_reason" in dep and not dep.get("vulns"):
            result.warn(where, f"pip-audit skipped '{dep.get('name')}': {dep.get('skip_reason')}")
            continue
        vulns = dep.get("vulns")
        if not isinstance(vulns, list):
            result.quarantine(where + ".vulns", "'vulns' is not a list", "a JSON array")
            continue
        for j, vuln in enumerate(vulns):
            vuln = as_dict(vuln)
            report = Report(
                SOURCE,
                f"{where}.vulns[{j}]",
                ids=texts([vuln.get("id"), *as_list(vuln.get("aliases"))]),
                package=string(dep, "name"),
                ecosystem="PyPI",
                installed=string(dep, "version"),
                fixed=texts(as_list(vuln.get("fix_versions"))),
                summary=vuln.get("description") or "",
            )
            finding = build_finding(report, result)
            if finding is not None:
                result.records.append(finding)


def read(path: Path) -> ReadResult[Finding]:
    return read_report(path, FORMAT, detect, parse, "an object with a 'dependencies' array")
