"""Cost and utilisation records: FOCUS charge lines, OpenCost allocations, utilisation samples.

Cost lines are many (a year of daily rows for a thousand services is a million lines), so
they are kept as columns: a :class:`CostLedger` holds one table row per charge line, and a
:class:`CostLine` is the typed view of one row (for building small ledgers and reading
single lines).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple

import pandas as pd


class ChargeCategory(StrEnum):
    """FOCUS ``ChargeCategory`` (the allowed values of FOCUS 1.0 and later)."""

    USAGE = "Usage"
    PURCHASE = "Purchase"
    TAX = "Tax"
    CREDIT = "Credit"
    ADJUSTMENT = "Adjustment"


class CostLine(NamedTuple):
    """One FOCUS charge row, with the service and team taken from its tags.

    ``day`` is the UTC date of ``ChargePeriodStart`` (the period the charge is for);
    ``billing_period`` the first day of ``BillingPeriodStart`` (the invoice it is on). A
    ``correction`` (``ChargeClass = Correction``) fixes an earlier, already invoiced period.
    A line stands for the source rows with the same values on the same day (the hourly
    rows of one resource, say): their amounts are summed and ``rows`` counts them. Source
    lines are named by the problems found in them, not by the ledger.
    """

    day: date
    billing_period: date
    category: ChargeCategory
    correction: bool
    billed_cost: float
    effective_cost: float
    list_cost: float | None
    contracted_cost: float | None
    currency: str
    service: str | None
    team: str | None
    resource_id: str | None
    resource_name: str | None
    provider_service: str | None  # FOCUS ServiceName: the provider's offering
    sub_account: str | None
    rows: int = 1  # source rows summed into this line
    service_source: str | None = None  # the cost_mapping rule that named the service


LEDGER_COLUMNS: tuple[str, ...] = CostLine._fields
_DATES = ("day", "billing_period")
_TEXT = ("currency", "service", "team", "resource_id", "resource_name", "provider_service",
         "sub_account")


@dataclass(frozen=True, eq=False)
class CostLedger:
    """Charge lines as a table: one row per :class:`CostLine` field set.

    Columns: ``day`` and ``billing_period`` (``datetime64``, midnight), ``category`` (the
    :class:`ChargeCategory` value), ``correction`` (bool), the four amounts (float, NaN when
    absent), the text columns (missing when absent), ``rows`` and ``service_source``. Text
    columns are plain objects or categoricals (a large export names few distinct resources
    and services on many lines); analyses accept both.
    """

    frame: pd.DataFrame

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def empty(cls) -> CostLedger:
        return cls.from_lines(())

    @classmethod
    def from_lines(cls, lines: Iterable[CostLine]) -> CostLedger:
        frame = pd.DataFrame.from_records(list(lines), columns=list(LEDGER_COLUMNS))
        for column in _DATES:
            frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
        frame["category"] = frame["category"].map(lambda c: ChargeCategory(c).value)
        frame["correction"] = frame["correction"].astype(bool)
        for column in ("billed_cost", "effective_cost", "list_cost", "contracted_cost"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
        frame["rows"] = frame["rows"].astype("int64")
        return cls(frame)

    @classmethod
    def concat(cls, ledgers: Sequence[CostLedger]) -> CostLedger:
        frames = [ledger.frame for ledger in ledgers if len(ledger)]
        if not frames:
            return cls.empty()
        return cls(pd.concat(frames, ignore_index=True))

    def lines(self) -> Iterator[CostLine]:
        """Yield each row as a :class:`CostLine`."""
        frame = self.frame
        columns = [
            [ts.date() for ts in frame["day"]],
            [ts.date() for ts in frame["billing_period"]],
            [ChargeCategory(c) for c in frame["category"]],
            frame["correction"].tolist(),
            frame["billed_cost"].tolist(),
            frame["effective_cost"].tolist(),
            [None if v != v else v for v in frame["list_cost"].tolist()],
            [None if v != v else v for v in frame["contracted_cost"].tolist()],
            *(_texts(frame[c]) for c in _TEXT),
            frame["rows"].tolist(),
            _texts(frame["service_source"]),
        ]
        for row in zip(*columns, strict=True):
            yield CostLine._make(row)


def _texts(column: pd.Series) -> list[str | None]:
    """Return a text column's values with ``None`` for the missing ones (of either dtype)."""
    return [None if value is None or value != value else value for value in column.tolist()]


@dataclass(frozen=True)
class Allocation:
    """One OpenCost allocation: a workload's cost over a window, split by resource.

    Efficiencies are usage over request (0-1, above 1 when a workload uses more than it
    requests); ``None`` when the export does not give them.
    """

    name: str
    start: datetime
    end: datetime
    service: str | None
    team: str | None
    namespace: str | None
    cluster: str | None
    cpu_cost: float
    ram_cost: float
    pv_cost: float
    network_cost: float
    gpu_cost: float
    shared_cost: float
    total_cost: float
    cpu_efficiency: float | None
    ram_efficiency: float | None
    total_efficiency: float | None
    idle: bool  # OpenCost's __idle__ (unrequested cluster capacity)
    service_source: str | None = None  # the cost_mapping rule that named the service

    @property
    def days(self) -> float:
        return max((self.end - self.start).total_seconds() / 86400, 0.0)


class UtilisationResource(StrEnum):
    CPU = "cpu"
    MEMORY = "memory"
    DISK = "disk"
    CONNECTIONS = "connections"


class UtilisationSample(NamedTuple):
    """How full one resource of one service was at one time (``utilisation`` 0-1)."""

    time: datetime
    service: str
    resource: UtilisationResource
    utilisation: float
    used: float | None
    capacity: float | None
