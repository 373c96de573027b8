"""A small hand-checked set of incidents (period February-March 2026, UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opsledger.incidents.kpis import Period
from opsledger.model.incidents import Incident

PERIOD = Period(datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
NOW = datetime(2026, 4, 1, tzinfo=UTC)


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def incident(identifier: str, service: str, severity: str, created: str, **more: Any) -> Incident:
    for key in ("acknowledged_at", "resolved_at", "detected_at", "started_at"):
        if isinstance(more.get(key), str):
            more[key] = t(more[key])
    status = "resolved" if more.get("resolved_at") else "acknowledged"
    return Incident(
        id=identifier,
        title=more.pop("title", f"{service} failure {identifier}"),
        service=service,
        severity=severity,
        status=status,
        created_at=t(created),
        **more,
    )


# Monday 10:00 (business hours).
A = incident(
    "A",
    "api",
    "SEV1",
    "2026-02-02 10:00",
    acknowledged_at="2026-02-02 10:05",
    resolved_at="2026-02-02 11:00",
    started_at="2026-02-02 09:50",
    detected_at="2026-02-02 09:56",
    team="core",
    assignee="ann",
)
# Saturday 14:00 (off hours, not sleep).
B = incident(
    "B",
    "api",
    "SEV3",
    "2026-02-07 14:00",
    acknowledged_at="2026-02-07 14:10",
    resolved_at="2026-02-07 14:30",
    team="core",
    assignee="bob",
)
# Tuesday 02:00 (sleep hours).
C = incident(
    "C",
    "db",
    "SEV2",
    "2026-03-03 02:00",
    acknowledged_at="2026-03-03 02:20",
    resolved_at="2026-03-03 03:30",
    started_at="2026-03-03 01:40",
    detected_at="2026-03-03 01:52",
    team="data",
    escalation_policy="data-ep",
    assignee="ann",
)
# Tuesday 20:00 (off hours), never acknowledged, nobody assigned.
D = incident(
    "D",
    "api",
    "SEV4",
    "2026-03-10 20:00",
    resolved_at="2026-03-10 22:00",
    team="core",
    data_loss=True,
)
# Friday 23:30 (sleep hours), still open at the end of the period.
E = incident(
    "E",
    "db",
    "SEV2",
    "2026-03-20 23:30",
    acknowledged_at="2026-03-20 23:45",
    team="data",
    escalation_policy="data-ep",
    assignee="cat",
)
# Before the period, but its impact runs one hour into it.
F = incident(
    "F",
    "api",
    "SEV1",
    "2026-01-31 23:00",
    resolved_at="2026-02-01 01:00",
    started_at="2026-01-31 23:00",
    team="core",
)
# After now: in no figure.
G = incident("G", "db", "SEV1", "2026-04-02 00:00", team="data")

ALL = (A, B, C, D, E, F, G)
