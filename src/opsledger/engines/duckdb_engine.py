"""SLI counts from event files (Parquet, CSV, JSONL) with DuckDB, streaming.

One ``GROUP BY`` per SLO: rows in the span and matching the ``total`` predicate are grouped by
minute, counting good rows (or total minus bad rows). DuckDB streams the files, so memory is
bounded by the number of minutes, not the number of events; the events never reach Python.

Predicates come from workspace files, which CI runs from pull requests, so the engine trusts
none of them: each is checked by :mod:`opsledger.engines.predicates` and the query is built
from the checked tree, and DuckDB itself is sandboxed. Its connection may reach only the
event files' folders and a private temporary folder that the engine creates and removes
(never ``<cwd>/.tmp``); extensions cannot be installed or loaded, and the configuration is
locked before any query runs. Every statement has a deadline, after which it is interrupted.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import duckdb
import numpy as np

from opsledger.core.config import QUERY_DEADLINE_SECONDS
from opsledger.core.errors import EngineError
from opsledger.engines.duckdb_sandbox import SANDBOX_CONFIG as SANDBOX_CONFIG
from opsledger.engines.interface import minutes_between
from opsledger.engines.predicates import (
    Predicate,
    SliPredicates,
    SqlDialect,
    in_any_scope,
    sli_predicates,
)
from opsledger.engines.time_sql import epoch_micros_sql, is_zoned
from opsledger.model.slo import DuckDbSource, SliSeries, Slo

MASK_SLOS = 31  # two bits per SLO in a signed 64-bit mask
# Events sampled to tell whether leaving out those of no SLO's scope pays (_narrowing).
NARROWING_SAMPLE = 100_000
NARROWING_SHARE = 0.5
# Freed memory beyond this goes back to the system after a task (see DuckDbEngine._open).
ALLOCATOR_FLUSH = "8MB"
# Column types whose values repeat enough that counting per distinct value first pays off.
DISCRETE_TYPES = (
    "VARCHAR",
    "BOOLEAN",
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "ENUM",
    "DATE",
)

Fetched = TypeVar("Fetched")
GLOB_CHARACTERS = frozenset("*?[{")

READ_FUNCTIONS = {
    ".parquet": "read_parquet",
    ".csv": "read_csv",
    ".tsv": "read_csv",
    ".jsonl": "read_json",
    ".ndjson": "read_json",
    ".json": "read_json",
}


class QueryDeadlineExceeded(EngineError):
    """A statement ran past the engine's deadline and was interrupted."""


class StatementDeadline:
    """Interrupts the connection's running statement once it outlives ``seconds``.

    The lock makes "the statement finished" and "the deadline passed" exclusive, so a timer
    firing just as a statement returns cannot interrupt the next one.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self._connection = connection
        self._lock = threading.Lock()
        self._finished = False
        self.expired = False
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> StatementDeadline:
        self._timer.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        with self._lock:
            self._finished = True
        self._timer.cancel()

    def _expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
            self._connection.interrupt()


class DuckDbEngine:
    """Counts events in files under ``root`` (the workspace).

    ``deadline_seconds`` bounds each statement the engine runs.
    """

    name = "duckdb"

    def __init__(
        self,
        root: Path,
        memory_limit: str = "512MB",
        threads: int | None = None,
        deadline_seconds: float = QUERY_DEADLINE_SECONDS,
    ) -> None:
        self.root = root.resolve()
        self.deadline_seconds = deadline_seconds
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._memory_limit = memory_limit
        self._threads = threads
        self._column_types: dict[tuple[str, str], str] = {}
        self._schemas: dict[tuple[str, str], dict[str, str]] = {}
        self._event_folders: set[str] = set()  # folders of the event files named so far
        self._granted: frozenset[str] = frozenset()  # folders the open connection may read
        self._spill: Path | None = None
        self._remove_spill: weakref.finalize[Any, Any] | None = None
        # SLOs whose shared scan ran out of time, so they are not each scanned again.
        self._expired: dict[tuple[str, datetime, datetime], str] = {}

    def supports(self, slo: Slo) -> bool:
        return isinstance(slo.indicator, DuckDbSource)

    @property
    def spill_directory(self) -> Path | None:
        """The private folder DuckDB may spill to while a connection is open."""
        return self._spill

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The sandboxed connection, reopened when a query names a folder not granted yet.

        DuckDB's configuration is locked once set, so reaching another folder of event files
        takes a new connection; the cached schemas stay valid across it.
        """
        if self._connection is None or not self._event_folders <= self._granted:
            self._open()
        assert self._connection is not None
        return self._connection

    def _open(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._spill is None:
            self._spill = Path(tempfile.mkdtemp(prefix="opsledger-duckdb-"))
            self._remove_spill = weakref.finalize(self, shutil.rmtree, self._spill, True)
        granted = frozenset(self._event_folders)
        con = duckdb.connect(":memory:", config=dict(SANDBOX_CONFIG))
        try:
            con.execute(f"SET memory_limit = {_text(self._memory_limit)}")
            if self._threads:
                con.execute(f"SET threads = {int(self._threads)}")
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET preserve_insertion_order = false")
            con.execute("SET enable_progress_bar = false")  # not over the command's output
            # Memory an SLI query's tasks freed goes back to the system once they have freed
            # a few megabytes (DuckDB keeps up to 128 MiB, or 512 MiB after a bulk
            # deallocation, by default). The counting query is where a review peaks; with
            # this, the medium demo's review peaks some 25 MiB lower.
            con.execute(f"SET allocator_flush_threshold = {_text(ALLOCATOR_FLUSH)}")
            con.execute(
                f"SET allocator_bulk_deallocation_flush_threshold = {_text(ALLOCATOR_FLUSH)}")
            # Set before external access is switched off, or DuckDB falls back to <cwd>/.tmp
            # and grants it.
            con.execute(f"SET temp_directory = {_text(str(self._spill))}")
            folders = [*sorted(granted), str(self._spill) + os.sep]
            con.execute(f"SET allowed_directories = [{', '.join(map(_text, folders))}]")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
        except BaseException:
            con.close()
            raise
        self._connection = con
        self._granted = granted

    def close(self) -> None:
        """Close the connection and remove the spill folder."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        self._granted = frozenset()
        if self._remove_spill is not None:
            self._remove_spill()
            self._remove_spill = None
        self._spill = None

    def _run(
        self, sql: str, label: str, fetch: Callable[[duckdb.DuckDBPyConnection], Fetched]
    ) -> Fetched:
        """Run one SELECT and ``fetch`` its result under the deadline.

        ``label`` names what the statement is for in the deadline's message.
        """
        con = self.connection
        statements = con.extract_statements(sql)
        # Predicates are checked and rendered, so this holds; it is kept as the last word
        # before DuckDB: one SELECT, never a statement that writes, attaches or configures.
        if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
            raise EngineError(f"{label}: refusing to run anything but one SELECT")
        with StatementDeadline(con, self.deadline_seconds) as deadline:
            try:
                return fetch(con.execute(sql))
            except duckdb.InterruptException:
                if deadline.expired:
                    raise QueryDeadlineExceeded(
                        f"{label} exceeded the {self.deadline_seconds:g} s deadline "
                        "(sli_query_deadline_seconds in opsledger.yaml)"
                    ) from None
                raise

    def _counts(self, sql: str, label: str) -> dict[str, Any]:
        """Run a counting query; return its columns as arrays."""
        return self._run(sql, label, lambda result: dict(result.fetchnumpy()))

    def _columns_of(self, select: str, label: str) -> list[tuple[str, str]]:
        """Return the (name, type) of each column ``select`` yields, reading no rows."""
        described = self._run(f"{select} LIMIT 0", label, lambda result: result.description)
        return [(str(column[0]), str(column[1]).upper()) for column in described or []]

    def relation_sql(self, source: DuckDbSource) -> str:
        """Return the ``read_xxx(...)`` table function for the source's files."""
        pattern = self._pattern(source.path)
        suffix = Path(pattern.removesuffix(".gz")).suffix.lower()
        function = READ_FUNCTIONS.get(suffix)
        if function is None:
            raise EngineError(
                f"{source.path}: cannot tell the file format from '{suffix or pattern}' "
                "(expected .parquet, .csv, .jsonl or .json)"
            )
        self._event_folders.add(_folder_of(pattern))
        quoted = pattern.replace("'", "''")
        if function == "read_json":
            return f"read_json('{quoted}', format = 'auto')"
        return f"{function}('{quoted}')"

    def _pattern(self, relative: str) -> str:
        # A pattern may not leave the workspace (no '..' escapes, no absolute paths).
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise EngineError(f"{relative}: event files must be inside the workspace")
        candidate = (self.root / relative).resolve() if "*" not in relative else None
        if candidate is not None and candidate.is_dir():
            for suffix in READ_FUNCTIONS:
                if any(candidate.rglob(f"*{suffix}")):
                    return str(candidate / "**" / f"*{suffix}")
            raise EngineError(f"{relative}: no Parquet, CSV or JSONL files in this folder")
        full = self.root / relative
        if not any(self.root.glob(relative)):
            raise EngineError(f"{relative}: no files match under {self.root}")
        return str(full)

    def _compactable(self, relation: str, timestamp: str, predicates: list[Predicate]) -> list[str]:
        """Return the quoted columns the predicates read when all are discrete, else []."""
        found: set[str] = set()
        for predicate in predicates:
            columns = predicate.plain_columns()
            if columns is None:
                return []
            found |= columns
        if not found:
            return []
        types = self._column_types_of(relation)
        if any(name == timestamp or name not in types for name in found):
            return []
        if not all(types[name].startswith(DISCRETE_TYPES) for name in found):
            return []
        return [_ident(name) for name in sorted(found)]

    def _column_types_of(self, relation: str) -> dict[str, str]:
        key = (relation, "*")
        if key not in self._schemas:
            try:
                columns = self._columns_of(f"SELECT * FROM {relation}", f"reading {relation}")
            except duckdb.Error:
                columns = []
            self._schemas[key] = dict(columns)
        return self._schemas[key]

    def _timestamp_type(self, relation: str, column: str) -> str:
        key = (relation, column)
        if key not in self._column_types:
            try:
                columns = self._columns_of(
                    f"SELECT {_ident(column)} FROM {relation}", f"reading {relation}"
                )
            except duckdb.Error as exc:
                raise EngineError(f"cannot read timestamp column '{column}': {exc}") from None
            self._column_types[key] = columns[0][1] if columns else ""
        return self._column_types[key]

    def query_sql(self, slo: Slo, start: datetime, end: datetime) -> str:
        """Return the one ``GROUP BY`` that counts the SLO per minute over ``[start, end)``."""
        source = slo.indicator
        if not isinstance(source, DuckDbSource):
            raise EngineError(f"{slo.key}: not an event-file SLI")
        relation = self.relation_sql(source)
        ts_type = self._timestamp_type(relation, source.timestamp)
        ts, lower, upper = _timestamp_terms(source.timestamp, ts_type, start, end)
        start_us = int(start.timestamp() * 1_000_000)
        checked = sli_predicates(slo, SqlDialect.DUCKDB)
        verdict = f"count(*) FILTER (WHERE ({checked.verdict.sql}))"
        good = verdict if checked.counts_good else f"count(*) - {verdict}"
        return (
            f"SELECT CAST(({epoch_micros_sql(ts, ts_type)} - {start_us}) // 60000000 "
            "AS INTEGER) AS minute, "
            f"{good} AS good, count(*) AS total "
            f"FROM {relation} "
            f"WHERE {ts} >= {lower} AND {ts} < {upper} AND ({checked.scope.sql}) "
            "GROUP BY minute"
        )

    def series(self, slo: Slo, start: datetime, end: datetime) -> SliSeries:
        minutes = minutes_between(start, end)
        expired = self._expired.get((slo.key, start, end))
        if expired is not None:
            raise QueryDeadlineExceeded(expired)
        sql = self.query_sql(slo, start, end)
        try:
            columns = self._counts(sql, f"SLI query for SLO {slo.key} (defined at {slo.where})")
        except duckdb.Error as exc:
            message = str(exc).splitlines()[0]
            raise EngineError(
                f"{slo.key} (defined at {slo.where}): the SLI query failed: {message}"
            ) from None
        good = np.zeros(minutes, dtype=np.float64)
        total = np.zeros(minutes, dtype=np.float64)
        index = np.asarray(columns["minute"], dtype=np.int64)
        good[index] = np.asarray(columns["good"], dtype=np.float64)
        total[index] = np.asarray(columns["total"], dtype=np.float64)
        return SliSeries(start, good, total, source=f"duckdb:{sql_source(slo)}")

    def series_many(
        self, slos: Sequence[Slo], start: datetime, end: datetime
    ) -> dict[str, SliSeries]:
        """Return counts for several SLOs, scanning each set of files once.

        SLOs over the same files share one ``GROUP BY minute, mask`` whose mask holds two bits
        per SLO (in its total; good), so the files are read once instead of once per SLO.
        """
        minutes = minutes_between(start, end)
        groups: dict[tuple[str, str], list[Slo]] = {}
        for slo in slos:
            if not isinstance(slo.indicator, DuckDbSource):
                raise EngineError(f"{slo.key}: not an event-file SLI")
            key = (self.relation_sql(slo.indicator), slo.indicator.timestamp)
            groups.setdefault(key, []).append(slo)
        result: dict[str, SliSeries] = {}
        for (relation, column), members in groups.items():
            if len(members) == 1:
                result[members[0].key] = self.series(members[0], start, end)
                continue
            for first in range(0, len(members), MASK_SLOS):
                batch = members[first : first + MASK_SLOS]
                result.update(self._masked(batch, relation, column, start, end, minutes))
        return result

    def _narrowing(self, relation: str, scopes: list[Predicate]) -> Predicate | None:
        """Return the filter that leaves out the events of no SLO's scope, when it pays.

        Those events make no count, but grouping them costs memory: with a thousand
        services in the files and SLOs on a few, the groups would hold every service's
        events. When the scopes name their services (one column, one value each) and fewer
        than ``NARROWING_SHARE`` of the files' first ``NARROWING_SAMPLE`` events are in
        scope, they are left out before any grouping. Testing every event costs about a
        sixth of the scan, so a batch whose scopes take in most events is not filtered.
        """
        narrowed = in_any_scope(scopes)
        columns = narrowed.plain_columns() if narrowed is not None else None
        if narrowed is None or not columns:
            return None
        listed = ", ".join(_ident(name) for name in sorted(columns))
        sample = (f"SELECT count(*) FILTER (WHERE {narrowed.sql}) AS kept, count(*) AS seen "
                  f"FROM (SELECT {listed} FROM {relation} LIMIT {NARROWING_SAMPLE})")
        try:
            kept, seen = self._run(sample, f"sampling {relation}",
                                   lambda result: result.fetchone() or (0, 0))
        except duckdb.Error:
            return None  # the counting query reports what is wrong with the files
        return narrowed if seen and kept < NARROWING_SHARE * seen else None

    def _masked(
        self,
        slos: Sequence[Slo],
        relation: str,
        column: str,
        start: datetime,
        end: datetime,
        minutes: int,
    ) -> dict[str, SliSeries]:
        ts_type = self._timestamp_type(relation, column)
        ts, lower, upper = _timestamp_terms(column, ts_type, start, end)
        start_us = int(start.timestamp() * 1_000_000)
        bits = []
        predicates: list[Predicate] = []
        checked: list[SliPredicates] = [sli_predicates(slo, SqlDialect.DUCKDB) for slo in slos]
        for i, sli in enumerate(checked):
            scope, verdict = sli.scope.sql, sli.verdict.sql
            predicates += [sli.scope, sli.verdict]
            bits.append(f"(CASE WHEN ({scope}) THEN {1 << (2 * i)} ELSE 0 END)")
            bits.append(f"(CASE WHEN ({scope}) AND ({verdict}) THEN {1 << (2 * i + 1)} ELSE 0 END)")
        mask_sql = f"CAST({' | '.join(bits)} AS BIGINT)"
        minute_sql = f"CAST(({epoch_micros_sql(ts, ts_type)} - {start_us}) // 60000000 AS INTEGER)"
        span = f"{ts} >= {lower} AND {ts} < {upper}"
        narrowed = self._narrowing(relation, [sli.scope for sli in checked])
        if narrowed is not None:
            span += f" AND ({narrowed.sql})"
        keys = self._compactable(relation, column, predicates)
        if keys:
            # Predicates are evaluated once per distinct combination of the columns they
            # read, not once per event: events are first counted per minute and combination.
            listed = ", ".join(keys)
            joined = " AND ".join(f"c.{k} IS NOT DISTINCT FROM k.{k}" for k in keys)
            grouped = (
                f"c AS (SELECT {minute_sql} AS minute, {listed}, count(*) AS events "
                f"FROM {relation} WHERE {span} GROUP BY ALL), "
                f"k AS (SELECT {listed}, {mask_sql} AS mask "
                f"FROM (SELECT DISTINCT {listed} FROM c)), "
                f"m AS (SELECT c.minute AS minute, k.mask AS mask, sum(c.events) AS events "
                f"FROM c JOIN k ON {joined} WHERE k.mask <> 0 GROUP BY ALL)"
            )
            masks = "k WHERE mask <> 0"
        else:
            grouped = (
                f"m AS (SELECT {minute_sql} AS minute, {mask_sql} AS mask, count(*) AS events "
                f"FROM {relation} WHERE {span} GROUP BY ALL)"
            )
            masks = "m"
        # Each distinct mask gets a small number (its kind), so the counts can be binned by
        # minute and kind without sorting the masks here.
        sql = (
            f"WITH {grouped}, kinds AS (SELECT mask, (row_number() OVER ()) - 1 AS kind "
            f"FROM (SELECT DISTINCT mask FROM {masks})) "
            "SELECT m.minute AS minute, kinds.kind AS kind, m.mask AS mask, m.events AS events "
            "FROM m JOIN kinds ON m.mask = kinds.mask"
        )
        names = ", ".join(slo.key for slo in slos)
        try:
            columns = self._counts(sql, f"SLI query for SLOs {names} (counted in one scan)")
        except QueryDeadlineExceeded as exc:
            # The files are what is slow, not one predicate: scanning them again for each
            # SLO would take the deadline once more per SLO.
            for slo in slos:
                self._expired[(slo.key, start, end)] = str(exc)
            raise
        except duckdb.Error:
            # Name the SLO at fault: run each alone so its own error is reported.
            return {slo.key: self.series(slo, start, end) for slo in slos}
        minute = np.asarray(columns["minute"], dtype=np.int64)
        kind_of_row = np.asarray(columns["kind"], dtype=np.int64)
        events = np.asarray(columns["events"], dtype=np.float64)
        # One bincount per distinct mask value (few), then each SLO sums the masks it is in.
        kinds = np.zeros(int(kind_of_row.max()) + 1 if kind_of_row.size else 0, dtype=np.int64)
        kinds[kind_of_row] = np.asarray(columns["mask"], dtype=np.int64)
        per_kind = np.bincount(
            minute * kinds.size + kind_of_row, weights=events, minlength=minutes * kinds.size
        ).reshape(minutes, kinds.size)
        out = {}
        for i, (slo, sli) in enumerate(zip(slos, checked, strict=True)):
            counted = per_kind[:, (kinds >> (2 * i)) & 1 == 1].sum(axis=1)
            marked = per_kind[:, (kinds >> (2 * i + 1)) & 1 == 1].sum(axis=1)
            good = marked if sli.counts_good else counted - marked
            out[slo.key] = SliSeries(
                start,
                np.asarray(good, dtype=np.float64),
                np.asarray(counted, dtype=np.float64),
                source=f"duckdb:{sql_source(slo)}",
            )
        return out


def sql_source(slo: Slo) -> str:
    return slo.indicator.path if isinstance(slo.indicator, DuckDbSource) else ""


def _ident(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _text(value: str) -> str:
    """Return ``value`` as a DuckDB string literal."""
    return "'" + value.replace("'", "''") + "'"


def _folder_of(pattern: str) -> str:
    """Return the folder a file pattern reads under: its path up to the first wildcard."""
    fixed: list[str] = []
    for part in Path(pattern).parts[:-1]:
        if GLOB_CHARACTERS & set(part):
            break
        fixed.append(part)
    return str(Path(*fixed)) + os.sep


def _timestamp_terms(
    column: str, ts_type: str, start: datetime, end: datetime
) -> tuple[str, str, str]:
    """Return the timestamp expression and span literals typed like the column.

    Comparing the column with literals of its own type lets DuckDB skip Parquet row groups
    by their min/max statistics.
    """
    name = _ident(column)
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    if ts_type.startswith("TIMESTAMP") and is_zoned(ts_type):
        return name, f"TIMESTAMPTZ '{lo.isoformat()}'", f"TIMESTAMPTZ '{hi.isoformat()}'"
    if ts_type.startswith("TIMESTAMP"):
        naive = "%Y-%m-%d %H:%M:%S.%f"
        return name, f"TIMESTAMP '{lo.strftime(naive)}'", f"TIMESTAMP '{hi.strftime(naive)}'"
    if ts_type in ("VARCHAR", "DATE"):
        cast = f"CAST({name} AS TIMESTAMPTZ)"
        return cast, f"TIMESTAMPTZ '{lo.isoformat()}'", f"TIMESTAMPTZ '{hi.isoformat()}'"
    raise EngineError(
        f"timestamp column '{column}' has type {ts_type}; expected a timestamp or ISO 8601 text"
    )
