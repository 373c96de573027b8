"""The current month so far: a few counts shown beside the review of the last complete month.

A review covers a complete month; the days of the month in progress are shown separately,
plainly labelled as incomplete, and never recorded in the KPI history.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from opsledger.core.inputs import Context
from opsledger.core.workspace import InputKey
from opsledger.model.handover import Ticket
from opsledger.model.health import ProbeHistory, ProbeResult
from opsledger.model.incidents import Incident
from opsledger.readers.health import probe_history
from opsledger.review.history import month_start, month_title


@dataclass(frozen=True)
class MonthToDate:
    """Counts over ``[start, end)``: the month in progress, up to the clock."""

    month: str
    start: datetime
    end: datetime
    probes: int
    probes_ok: int
    incidents: int
    tickets: int

    @property
    def availability(self) -> float | None:
        return self.probes_ok / self.probes if self.probes else None

    @property
    def text(self) -> str:
        """Return e.g. "December 2026 so far (… to …, not complete, not recorded): …"."""
        availability = ("no probes" if self.availability is None else
                        f"availability {self.availability * 100:.3f}% over "
                        f"{self.probes:,} probes")
        return (f"{month_title(self.month)} so far ({self.start.isoformat()} to "
                f"{self.end.isoformat()}, not complete, not recorded): {availability}; "
                f"{self.incidents} incident(s) opened; {self.tickets} ticket(s) created")

    def to_json(self) -> dict[str, Any]:
        return {"month": self.month, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "probes": self.probes,
                "probes_ok": self.probes_ok, "availability": self.availability,
                "incidents": self.incidents, "tickets": self.tickets}


def month_to_date(probes: Iterable[ProbeResult] | ProbeHistory, incidents: Iterable[Incident],
                  tickets: Iterable[Ticket], clock: datetime) -> MonthToDate | None:
    """Return the counts of the month in progress at ``clock``; None on its first instant."""
    instant = clock.astimezone(UTC)
    month = f"{instant.year:04d}-{instant.month:02d}"  # the month the clock stands in
    start = month_start(month)
    if start >= clock:  # the clock stands at the start of a month: nothing so far
        return None

    # A probe history has millions of rows: counted by column.
    history = ProbeHistory.of(probes)
    shown = history.between(start, clock)
    return MonthToDate(
        month, start, clock, int(np.count_nonzero(shown)),
        int(np.count_nonzero(shown & history.ok)),
        sum(1 for i in incidents if start <= i.created_at < clock),
        sum(1 for t in tickets if start <= t.created_at < clock),
    )


def workspace_month_to_date(ctx: Context, clock: datetime) -> MonthToDate | None:
    """Return the month to date at ``clock`` from the workspace's probes, incidents, tickets."""
    probes = probe_history(ctx.inputs.read(InputKey.HEALTH))
    incidents: list[Incident] = ctx.inputs.records(InputKey.INCIDENTS)
    tickets: list[Ticket] = ctx.inputs.records(InputKey.TICKETS)
    return month_to_date(probes, incidents, tickets, clock)
