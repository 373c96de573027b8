"""Month-over-month KPI history, kept in an embedded DuckDB file in the workspace.

Each ``review`` records the month's headline KPIs in ``.opsledger/history.duckdb`` (under
the configured state folder), one row per (month, KPI). Recording a month replaces that
month's rows and only those, in one transaction: the old rows are deleted and the new ones
inserted, then committed; any failure before the commit rolls the whole change back, and a
process killed before the commit leaves the file as it was (DuckDB writes through its
write-ahead log and replays only committed transactions when the file is next opened).

Month semantics (UTC): a review covers one complete month and evaluates it as of its very
end, the first instant of the following month; the month of an evaluation is the month of the
last instant before it. Without ``--month``, the month reviewed is the last complete month
at the clock (a review on 4 December covers November). Only a complete month is recorded:
KPIs evaluated at any other instant (a month to date) are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from opsledger.core.errors import InputError, OpsledgerError, WorkspaceLockedError
from opsledger.core.inputs import Context
from opsledger.core.workspace import Workspace
from opsledger.model import schema
from opsledger.review.changes import Verdict, verdict
from opsledger.review.input_digests import inputs_digest as digest_of
from opsledger.review.kpis import Better, KpiSet

HISTORY_FILE = "history.duckdb"
TREND_MONTHS = 12
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS history_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    "CREATE TABLE IF NOT EXISTS kpi_history ("
    " month VARCHAR NOT NULL,"
    " kpi VARCHAR NOT NULL,"
    " value DOUBLE NOT NULL,"
    " unit VARCHAR NOT NULL,"
    " better VARCHAR NOT NULL,"
    " recorded_at TIMESTAMP NOT NULL,"  # UTC
    " inputs_digest VARCHAR NOT NULL,"
    " PRIMARY KEY (month, kpi))",
)


class HistoryError(OpsledgerError):
    """The history file cannot be used (not a DuckDB file, a newer schema, ...)."""

    exit_code = 2


class HistoryLockedError(WorkspaceLockedError):
    """Another process has the history file open."""


def history_path(workspace: Workspace) -> Path:
    return workspace.state_dir / HISTORY_FILE


def parse_month(text: str) -> str:
    """Return ``text`` as a month ``YYYY-MM``; raise :class:`InputError` otherwise."""
    if not _MONTH.match(text.strip()):
        raise InputError(f"--month: expected a month as YYYY-MM (e.g. 2026-10), found '{text}'")
    return text.strip()


def month_end(month: str) -> datetime:
    """Return the first instant (UTC) of the month after ``month``: its evaluation instant."""
    year, number = (int(part) for part in parse_month(month).split("-"))
    return datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)


def last_complete_month(clock: datetime) -> str:
    """Return the last month that has ended by ``clock`` (on 4 December: November)."""
    instant = clock.astimezone(UTC)
    index = instant.year * 12 + instant.month - 2  # the month before the clock's, 0-based
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def month_start(month: str) -> datetime:
    """Return the first instant (UTC) of ``month``."""
    year, number = (int(part) for part in parse_month(month).split("-"))
    return datetime(year, number, 1, tzinfo=UTC)


def month_title(month: str) -> str:
    """Return ``month`` for people: "October 2026"."""
    return month_start(month).strftime("%B %Y")


def review_month(month: str | None, clock: datetime) -> str:
    """Return the month a review at ``clock`` covers: ``month``, else the last complete one.

    A month that has not ended by ``clock`` is refused: its end lies in the future, where
    there is no data yet (its days so far appear as the month to date of the review of the
    month before).
    """
    if month is None:
        return last_complete_month(clock)
    end = month_end(month)
    if end > clock:
        raise InputError(f"--month {month}: the month has not ended yet (it ends "
                         f"{end.isoformat()}); a review covers a complete month, and the "
                         "days so far show as the month to date of the review without --month")
    return parse_month(month)


def review_instant(month: str | None, clock: datetime) -> datetime:
    """Return the instant a review at ``clock`` evaluates: the end of the month it covers."""
    return month_end(review_month(month, clock))


def month_of(now: datetime) -> str:
    """Return the month an evaluation at ``now`` describes: that of the instant before it."""
    instant = now.astimezone(UTC) - timedelta(microseconds=1)
    return f"{instant.year:04d}-{instant.month:02d}"


def months_back(month: str, count: int) -> list[str]:
    """Return ``count`` months ending with ``month``, oldest first."""
    year, number = (int(part) for part in parse_month(month).split("-"))
    index = year * 12 + number - 1
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in range(index - count + 1, index + 1)]


@dataclass(frozen=True)
class HistoryRow:
    month: str
    kpi: str
    value: float
    unit: str
    better: Better
    recorded_at: datetime
    inputs_digest: str


def history_rows(kpis: KpiSet, month: str, recorded_at: datetime,
                 inputs_digest: str) -> list[HistoryRow]:
    """Return the rows to record: every computed KPI (skipped ones have no value to keep)."""
    return [HistoryRow(month, k.name, k.value, k.unit, k.better, recorded_at, inputs_digest)
            for k in kpis.computed.values()]


def _connect(path: Path, read_only: bool) -> Any:
    import duckdb

    try:
        connection = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        message = str(exc)
        if "lock" in message.lower():
            holder = re.search(r"\(PID (\d+)\)", message)
            raise HistoryLockedError(
                f"{path}: the KPI history is in use by another process"
                f"{f' (pid {holder.group(1)})' if holder else ''}; wait for it to finish "
                "and run again"
            ) from None
        raise HistoryError(f"{path}: cannot open the KPI history: {message}") from None
    except duckdb.Error as exc:
        raise HistoryError(f"{path}: cannot open the KPI history: {exc}") from None
    try:
        _check_schema(connection, path, read_only)
    except BaseException:
        connection.close()
        raise
    return connection


def _check_schema(connection: Any, path: Path, read_only: bool) -> None:
    tables = {row[0] for row in connection.execute(
        "SELECT table_name FROM information_schema.tables").fetchall()}
    if tables and "kpi_history" not in tables:
        raise HistoryError(f"{path}: a DuckDB file, but not an opsledger KPI history "
                           f"(tables: {', '.join(sorted(tables))})")
    if "history_meta" in tables:
        found = connection.execute(
            "SELECT value FROM history_meta WHERE key = 'schema_version'").fetchone()
        if found and int(found[0]) > schema.KPI_HISTORY:
            raise HistoryError(f"{path}: written by a newer opsledger (history schema "
                               f"{found[0]}, this version reads up to {schema.KPI_HISTORY})")
    if read_only:
        return
    for statement in _SCHEMA:
        connection.execute(statement)
    connection.execute("INSERT OR IGNORE INTO history_meta VALUES ('schema_version', ?)",
                       [str(schema.KPI_HISTORY)])


def replace_month(path: Path, month: str, rows: Sequence[HistoryRow],
                  before_commit: Callable[[], None] | None = None) -> None:
    """Replace the rows of ``month`` in the history at ``path`` with ``rows``, atomically.

    ``before_commit`` runs inside the transaction once the rows are written (a hook to
    observe or interrupt the write); if it or anything before it fails, nothing changes.
    """
    parse_month(month)
    stray = sorted({r.month for r in rows} - {month})
    if stray:
        raise ValueError(f"rows for {', '.join(stray)} given to replace {month}")
    path.parent.mkdir(parents=True, exist_ok=True)
    connection = _connect(path, read_only=False)
    try:
        connection.execute("BEGIN TRANSACTION")
        try:
            connection.execute("DELETE FROM kpi_history WHERE month = ?", [month])
            if rows:
                connection.executemany(
                    "INSERT INTO kpi_history VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [[r.month, r.kpi, r.value, r.unit, r.better.value,
                      r.recorded_at.astimezone(UTC).replace(tzinfo=None), r.inputs_digest]
                     for r in rows],
                )
            if before_commit is not None:
                before_commit()
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
    finally:
        connection.close()


def read_rows(path: Path, months: Sequence[str] | None = None,
              kpi: str | None = None) -> list[HistoryRow]:
    """Return the recorded rows (all, or of some months and/or one KPI), oldest month first."""
    if not path.exists():
        return []
    connection = _connect(path, read_only=True)
    try:
        query = ("SELECT month, kpi, value, unit, better, recorded_at, inputs_digest "
                 "FROM kpi_history WHERE TRUE")
        parameters: list[Any] = []
        if months is not None:
            query += " AND list_contains(?, month)"
            parameters.append(list(months))
        if kpi is not None:
            query += " AND kpi = ?"
            parameters.append(kpi)
        found = connection.execute(query + " ORDER BY month, kpi", parameters).fetchall()
    finally:
        connection.close()
    return [HistoryRow(m, k, float(v), u, Better(b), at.replace(tzinfo=UTC), d)
            for m, k, v, u, b, at, d in found]


@dataclass(frozen=True)
class RecordedMonth:
    path: Path
    month: str
    rows: int


def record_month(ctx: Context, kpis: KpiSet, month: str | None = None,
                 inputs_digest: str | None = None,
                 recorded_at: datetime | None = None) -> RecordedMonth:
    """Record ``kpis`` as the history of ``month`` (default: the month of ``ctx.now``),
    replacing what that month had and leaving every other month untouched.

    The KPIs must have been evaluated at the end of ``month``: figures of a month to date
    (or of any other instant) are refused, so the history only ever holds complete months.
    """
    month = parse_month(month) if month else month_of(ctx.now)
    if kpis.now != month_end(month):
        raise ValueError(f"KPIs evaluated at {kpis.now.isoformat()} are not those of the "
                         f"complete month {month} (evaluated at {month_end(month).isoformat()})")
    digest = inputs_digest if inputs_digest is not None else digest_of(ctx)
    rows = history_rows(kpis, month, recorded_at or datetime.now(UTC), digest)
    path = history_path(ctx.workspace)
    replace_month(path, month, rows)
    return RecordedMonth(path, month, len(rows))


@dataclass(frozen=True)
class TrendPoint:
    month: str
    value: float


@dataclass(frozen=True)
class KpiTrend:
    """One KPI over the months of a window ending with the month reviewed.

    Months without a value are absent from ``points``. The change compares the month
    reviewed with the calendar month before it: a month missing from the history is not
    bridged by an older one.
    """

    kpi: str
    unit: str
    better: Better
    window: tuple[str, ...]  # every month of the window, oldest first
    points: tuple[TrendPoint, ...]  # months with a value, oldest first

    def _at(self, month: str) -> TrendPoint | None:
        return next((p for p in self.points if p.month == month), None)

    @property
    def latest(self) -> TrendPoint | None:
        """Return the value of the month reviewed (the window's last month)."""
        return self._at(self.window[-1]) if self.window else None

    @property
    def previous(self) -> TrendPoint | None:
        """Return the value of the month before the month reviewed."""
        return self._at(self.window[-2]) if len(self.window) > 1 else None

    @property
    def change(self) -> float | None:
        """Return the reviewed month's value minus the month before's."""
        if self.latest is None or self.previous is None:
            return None
        return self.latest.value - self.previous.value

    @property
    def verdict(self) -> Verdict | None:
        """Return better/worse/same (see :mod:`opsledger.review.changes`), None without two
        months to compare."""
        if self.latest is None or self.previous is None:
            return None
        return verdict(self.previous.value, self.latest.value, self.unit, self.better)

    @property
    def improved(self) -> bool | None:
        """Return True if better, False if worse, None if the same or not comparable."""
        found = self.verdict
        return None if found in (None, Verdict.SAME) else found is Verdict.BETTER

    def values(self) -> list[float | None]:
        """Return one value per month of the window (None where there is none)."""
        by_month = {p.month: p.value for p in self.points}
        return [by_month.get(m) for m in self.window]

    def to_json(self) -> dict[str, Any]:
        found = self.verdict
        return {"kpi": self.kpi, "unit": self.unit, "months": list(self.window),
                "values": self.values(), "change": self.change,
                "verdict": found.value if found else None}


def trend(ctx: Context, kpi: str, months: int = TREND_MONTHS,
          current: KpiSet | None = None) -> KpiTrend:
    """Return ``kpi`` over the ``months`` months ending with the month of ``ctx.now``."""
    found = trends(ctx, months, current)
    window = tuple(months_back(month_of(ctx.now), months))
    return found.get(kpi) or KpiTrend(kpi, "", Better.HIGHER, window, ())


def trends(ctx: Context, months: int = TREND_MONTHS,
           current: KpiSet | None = None) -> dict[str, KpiTrend]:
    """Return every KPI's trend over the window ending with the month of ``ctx.now``.

    With ``current`` (this run's KPIs, evaluated at the end of that month), the month's
    values are this run's, whether or not the history records them; the months before come
    from the history. One read of the history file.

    The history holds the whole workspace's KPIs: a team's or a service's view has no
    months before in it, only ``current``.
    """
    month = month_of(ctx.now)
    window = tuple(months_back(month, months))
    grouped: dict[str, list[TrendPoint]] = {}
    kinds: dict[str, tuple[str, Better]] = {}
    recorded = read_rows(history_path(ctx.workspace), window) if ctx.scope.whole else []
    for row in recorded:
        if current is not None and row.month == month:
            continue
        grouped.setdefault(row.kpi, []).append(TrendPoint(row.month, row.value))
        kinds[row.kpi] = (row.unit, row.better)
    if current is not None:
        for name, kpi in current.computed.items():
            grouped.setdefault(name, []).append(TrendPoint(month, kpi.value))
            kinds[name] = (kpi.unit, kpi.better)
    return {name: KpiTrend(name, *kinds[name], window, tuple(points))
            for name, points in sorted(grouped.items())}
