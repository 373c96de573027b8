"""Where the scanners' own published outputs live, and how to take the JSON out of the
files that wrap it (npm's tap snapshots, PyGithub's recorded HTTP exchanges)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

UPSTREAM = Path(__file__).parents[2] / "fixtures" / "upstream"
TRIVY = UPSTREAM / "trivy"
GRYPE = UPSTREAM / "grype"
OSV = UPSTREAM / "osv-scanner"
NPM = UPSTREAM / "npm-cli" / "audit-report.js.test.cjs"
DEPENDENCY_CHECK = UPSTREAM / "dependency-check" / "dependency-check-report.sarif"
DEPENDABOT = UPSTREAM / "dependabot"

_SNAPSHOT = re.compile(r"exports\[`(?P<name>.*?)`\] = `\n(?P<body>.*?)\n`\n", re.DOTALL)


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def npm_reports() -> dict[str, dict[str, Any]]:
    """Return the ``npm audit --json`` documents in npm's snapshot, by test name."""
    text = NPM.read_text(encoding="utf-8")
    reports = {}
    for match in _SNAPSHOT.finditer(text):
        body = match.group("body")
        if body.startswith("{") and '"auditReportVersion": 2' in body:
            reports[match.group("name")] = json.loads(body)
    return reports


def dependabot_bodies(name: str) -> list[list[dict[str, Any]]]:
    """Return the alert lists in a PyGithub recording (the response lines that are JSON
    arrays of objects)."""
    lines = (DEPENDABOT / name).read_text(encoding="utf-8").splitlines()
    bodies = []
    for line in lines:
        if line.startswith("[{") or line == "[]":
            bodies.append(json.loads(line))
    return bodies


def write_json(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path
