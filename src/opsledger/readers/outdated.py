"""Outdated dependencies: ``pip list --outdated --format json`` (an array of ``{name,
version, latest_version, latest_filetype}``) and ``npm outdated --json`` (an object
``{package: {current, wanted, latest, dependent, location, type}}``, with an array of such
objects when a workspace installs the package in several places)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from opsledger.core.problems import ReadResult
from opsledger.formats.textfile import json_path, load_json
from opsledger.model.security import OutdatedPackage, Scope
from opsledger.readers.scan_common import describe

PIP_FORMAT = "pip-list-outdated"
NPM_FORMAT = "npm-outdated"
_NPM_KEYS = frozenset({"current", "wanted", "latest"})


def detect_pip(data: Any) -> bool:
    return (
        isinstance(data, list)
        and bool(data)
        and all(isinstance(d, dict) and "latest_version" in d and "name" in d for d in data)
    )


def detect_npm(data: Any) -> bool:
    if not isinstance(data, dict) or not data:
        return False
    for value in data.values():
        entries = value if isinstance(value, list) else [value]
        if not entries or not all(
            isinstance(e, dict) and "latest" in e and (_NPM_KEYS & set(e)) for e in entries
        ):
            return False
    return True


def parse_pip(data: Any, result: ReadResult[OutdatedPackage]) -> None:
    for i, item in enumerate(data):
        name, current, latest = item.get("name"), item.get("version"), item.get("latest_version")
        if not all(isinstance(v, str) and v.strip() for v in (name, current, latest)):
            result.quarantine(
                json_path(i),
                "entry lacks name, version or latest_version",
                "three non-empty strings",
                describe(item),
            )
            continue
        result.records.append(OutdatedPackage(name, "PyPI", current, latest))


def parse_npm(data: Any, result: ReadResult[OutdatedPackage]) -> None:
    for name, value in sorted(data.items()):
        entries = value if isinstance(value, list) else [value]
        for k, entry in enumerate(entries):
            where = json_path(name, k) if isinstance(value, list) else json_path(name)
            latest = entry.get("latest")
            if not isinstance(latest, str) or not latest.strip():
                result.quarantine(where + ".latest", "no latest version", "a version", repr(latest))
                continue
            current = entry.get("current") if isinstance(entry.get("current"), str) else None
            kind = str(entry.get("type") or "")
            scope = (
                Scope.DEV
                if kind == "devDependencies"
                else (
                    Scope.RUNTIME
                    if kind in ("dependencies", "optionalDependencies", "peerDependencies")
                    else Scope.UNKNOWN
                )
            )
            result.records.append(
                OutdatedPackage(
                    name,
                    "npm",
                    current,
                    latest,
                    wanted=entry.get("wanted") if isinstance(entry.get("wanted"), str) else None,
                    scope=scope,
                    dependent=str(entry.get("dependent") or ""),
                    location=str(entry.get("location") or ""),
                )
            )


def read(path: Path) -> ReadResult[OutdatedPackage]:
    """Return the outdated packages in ``path`` (either format, told apart by structure)."""
    result: ReadResult[OutdatedPackage] = ReadResult(path)
    data = load_json(path, result)
    if result.fatal:
        return result
    if detect_pip(data):
        result.detected_format = PIP_FORMAT
        parse_pip(data, result)
    elif detect_npm(data):
        result.detected_format = NPM_FORMAT
        parse_npm(data, result)
    else:
        result.fail(
            "$",
            "not a list of outdated packages",
            "pip list --outdated --format json, or npm outdated --json",
            describe(data),
        )
    return result
