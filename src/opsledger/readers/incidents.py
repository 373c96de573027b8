"""All incidents in the ``incidents/`` folder, whatever export each file came from.

JSON files (PagerDuty REST or analytics, Opsgenie alerts) are read by
:mod:`opsledger.readers.incidents_json`. Each CSV file is sniffed by its header: a native
incident CSV has ``id``, ``severity`` and ``created_at``; a PagerDuty export has PagerDuty's
own columns (``created_on``, ``service_name``, ``incident_number``...). The same incident can
be exported twice (a PagerDuty export and a team's own log); duplicates by id are folded
into the most complete record, with a warning naming both files.
"""

from __future__ import annotations

import csv
import io
from dataclasses import fields as dataclass_fields
from pathlib import Path

from opsledger.core.problems import Level, Problem, ReadResult
from opsledger.formats.csvrows import header_key
from opsledger.formats.textfile import load_text
from opsledger.model.incidents import Incident
from opsledger.readers import incidents_json, incidents_native, incidents_pagerduty_csv


def read(path: Path) -> ReadResult[Incident]:
    """Return the incidents of every CSV export in the folder (or the one file) at ``path``."""
    result: ReadResult[Incident] = ReadResult(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    else:
        return result.fail("", "no such file or folder", "a folder of incident exports")
    kept: dict[str, tuple[Incident, Path]] = {}
    formats: set[str] = set()
    for file in files:
        suffix = file.suffix.lower()
        if suffix == ".csv":
            part = read_file(file)
        elif suffix == ".json":
            part = incidents_json.read_file(file)
        else:
            result.warn("", f"ignored {file.name}: incidents are read from .csv and .json exports")
            continue
        result.problems.extend(part.problems)
        if part.detected_format:
            formats.add(part.detected_format)
        for incident in part.records:
            _fold(incident, file, kept, result)
    result.records.extend(incident for incident, _ in kept.values())
    result.records.sort(key=lambda incident: (incident.created_at, incident.id))
    result.detected_format = " + ".join(sorted(formats))
    return result


def sniff(header: list[str]) -> str | None:
    """Return ``"native"``, ``"pagerduty"`` or ``None`` for a CSV header row."""
    keys = {header_key(name) for name in header}
    if keys >= incidents_native.SIGNATURE:
        return "native"
    if keys & incidents_pagerduty_csv.SIGNATURE:
        return "pagerduty"
    return None


def read_file(path: Path) -> ReadResult[Incident]:
    """Return the incidents of one CSV file, read by the reader its header calls for."""
    result: ReadResult[Incident] = ReadResult(path)
    text = load_text(path, result)
    if text is None:
        return result
    try:
        header = next(csv.reader(io.StringIO(text, newline="")), [])
    except csv.Error as exc:
        return result.fail("line 1", f"unreadable CSV header: {exc}", "a CSV header row")
    kind = sniff(header)
    if kind == "native":
        result.detected_format = incidents_native.FORMAT
        incidents_native.read_text(path, text, result)
    elif kind == "pagerduty":
        result.detected_format = incidents_pagerduty_csv.FORMAT
        incidents_pagerduty_csv.read_text(path, text, result)
    else:
        result.fail(
            "line 1",
            "not a known incident export",
            "a native incident CSV (id, severity, created_at...) or a PagerDuty export "
            "(created_on, service_name...)",
            "header " + ", ".join(h.strip() for h in header[:10]),
        )
    return result


def completeness(incident: Incident) -> int:
    """Return how many of the incident's optional fields carry a value."""
    return sum(
        1
        for field in dataclass_fields(incident)
        if getattr(incident, field.name) not in (None, "", ())
    )


def _fold(
    incident: Incident,
    file: Path,
    kept: dict[str, tuple[Incident, Path]],
    result: ReadResult[Incident],
) -> None:
    previous = kept.get(incident.id)
    if previous is None:
        kept[incident.id] = (incident, file)
        return
    other, other_file = previous
    winner, winner_file, loser_file = (
        (incident, file, other_file)
        if completeness(incident) > completeness(other)
        else (other, other_file, file)
    )
    kept[incident.id] = (winner, winner_file)
    result.problems.append(
        Problem(
            str(loser_file),
            "",
            f"incident {incident.id} is also in {winner_file.name}; kept the more complete "
            f"record from {winner_file.name}",
            level=Level.WARNING,
        )
    )
