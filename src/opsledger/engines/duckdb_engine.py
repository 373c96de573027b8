"""SLI counts from event files (Parquet, CSV, JSONL) with DuckDB, streaming.

One ``GROUP BY`` per SLO: rows in the span and matching the ``total`` predicate are grouped by
minute, counting good rows (or total minus bad rows). DuckDB streams the files, so memory is
bounded by the number of minutes, not the number of events; the events never reach Python.
The connection may read only the workspace, and its configuration is locked before any
user-written predicate runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

from opsledger.engines.interface import minutes_between
from opsledger.errors import EngineError
from opsledger.model.slo import DuckDbSource, SliSeries, Slo

MASK_SLOS = 31  # two bits per SLO in a signed 64-bit mask
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

READ_FUNCTIONS = {
    ".parquet": "read_parquet",
    ".csv": "read_csv",
    ".tsv": "read_csv",
    ".jsonl": "read_json",
    ".ndjson": "read_json",
    ".json": "read_json",
}


class DuckDbEngine:
    """Counts events in files under ``root`` (the workspace)."""

    name = "duckdb"

    def __init__(self, root: Path, memory_limit: str = "512MB", threads: int | None = None) -> None:
        self.root = root.resolve()
        self._connection: duckdb.DuckDBPyConnection | None = None
        self._memory_limit = memory_limit
        self._threads = threads
        self._column_types: dict[tuple[str, str], str] = {}
        self._schemas: dict[tuple[str, str], dict[str, str]] = {}

    def supports(self, slo: Slo) -> bool:
        return isinstance(slo.indicator, DuckDbSource)

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._connection is None:
            con = duckdb.connect(":memory:")
            con.execute(f"SET memory_limit = '{self._memory_limit}'")
            if self._threads:
                con.execute(f"SET threads = {int(self._threads)}")
            con.execute("SET TimeZone = 'UTC'")
            con.execute("SET preserve_insertion_order = false")
            root = str(self.root).replace("'", "''")
            con.execute(f"SET allowed_directories = ['{root}/']")
            con.execute("SET enable_external_access = false")
            con.execute("SET lock_configuration = true")
            self._connection = con
        return self._connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

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

    def _compactable(self, relation: str, timestamp: str, predicates: list[str]) -> list[str]:
        """Return the quoted columns the predicates read when all are discrete, else []."""
        where = " AND ".join(f"({p})" for p in predicates).replace("'", "''")
        try:
            row = self.connection.execute(
                f"SELECT json_serialize_sql('SELECT 1 WHERE {where}')"
            ).fetchone()
            tree = json.loads(row[0]) if row else {"error": True}
        except (duckdb.Error, ValueError):
            return []
        found: set[str] = set()
        if tree.get("error") or not _column_refs(tree, found) or not found:
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
                rows = self.connection.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()
            except duckdb.Error:
                rows = []
            self._schemas[key] = {str(r[0]): str(r[1]).upper() for r in rows}
        return self._schemas[key]

    def _timestamp_type(self, relation: str, column: str) -> str:
        key = (relation, column)
        if key not in self._column_types:
            try:
                rows = self.connection.execute(
                    f"DESCRIBE SELECT {_ident(column)} FROM {relation}"
                ).fetchall()
            except duckdb.Error as exc:
                raise EngineError(f"cannot read timestamp column '{column}': {exc}") from None
            self._column_types[key] = str(rows[0][1]).upper()
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
        total = source.total or "TRUE"
        if source.good is not None:
            good = f"count(*) FILTER (WHERE ({source.good}))"
        else:
            good = f"count(*) - count(*) FILTER (WHERE ({source.bad}))"
        return (
            f"SELECT CAST((epoch_us({ts}) - {start_us}) // 60000000 AS INTEGER) AS minute, "
            f"{good} AS good, count(*) AS total "
            f"FROM {relation} "
            f"WHERE {ts} >= {lower} AND {ts} < {upper} AND ({total}) "
            "GROUP BY minute"
        )

    def series(self, slo: Slo, start: datetime, end: datetime) -> SliSeries:
        minutes = minutes_between(start, end)
        sql = self.query_sql(slo, start, end)
        try:
            columns: dict[str, Any] = self.connection.execute(sql).fetchnumpy()
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

    def _masked(
        self,
        slos: Sequence[Slo],
        relation: str,
        column: str,
        start: datetime,
        end: datetime,
        minutes: int,
    ) -> dict[str, SliSeries]:
        ts, lower, upper = _timestamp_terms(
            column, self._timestamp_type(relation, column), start, end
        )
        start_us = int(start.timestamp() * 1_000_000)
        bits = []
        predicates = []
        for i, slo in enumerate(slos):
            source = slo.indicator
            assert isinstance(source, DuckDbSource)
            scope = source.total or "TRUE"
            verdict = source.good if source.good is not None else source.bad
            predicates += [scope, str(verdict)]
            bits.append(f"(CASE WHEN ({scope}) THEN {1 << (2 * i)} ELSE 0 END)")
            bits.append(f"(CASE WHEN ({scope}) AND ({verdict}) THEN {1 << (2 * i + 1)} ELSE 0 END)")
        mask_sql = f"CAST({' | '.join(bits)} AS BIGINT)"
        minute_sql = f"CAST((epoch_us({ts}) - {start_us}) // 60000000 AS INTEGER)"
        span = f"{ts} >= {lower} AND {ts} < {upper}"
        keys = self._compactable(relation, column, predicates)
        if keys:
            # Predicates are evaluated once per distinct combination of the columns they
            # read, not once per event: events are first counted per minute and combination.
            listed = ", ".join(keys)
            joined = " AND ".join(f"c.{k} IS NOT DISTINCT FROM k.{k}" for k in keys)
            sql = (
                f"WITH c AS (SELECT {minute_sql} AS minute, {listed}, count(*) AS events "
                f"FROM {relation} WHERE {span} GROUP BY ALL), "
                f"k AS (SELECT {listed}, {mask_sql} AS mask "
                f"FROM (SELECT DISTINCT {listed} FROM c)) "
                f"SELECT c.minute AS minute, k.mask AS mask, sum(c.events) AS events "
                f"FROM c JOIN k ON {joined} WHERE k.mask <> 0 GROUP BY ALL"
            )
        else:
            sql = (
                f"SELECT {minute_sql} AS minute, {mask_sql} AS mask, count(*) AS events "
                f"FROM {relation} WHERE {span} GROUP BY ALL"
            )
        try:
            columns: dict[str, Any] = self.connection.execute(sql).fetchnumpy()
        except duckdb.Error:
            # Name the SLO at fault: run each alone so its own error is reported.
            return {slo.key: self.series(slo, start, end) for slo in slos}
        minute = np.asarray(columns["minute"], dtype=np.int64)
        mask = np.asarray(columns["mask"], dtype=np.int64)
        events = np.asarray(columns["events"], dtype=np.float64)
        # One bincount per distinct mask value (few), then each SLO sums the masks it is in.
        kinds, kind_of_row = np.unique(mask, return_inverse=True)
        per_kind = np.bincount(
            minute * kinds.size + kind_of_row, weights=events, minlength=minutes * kinds.size
        ).reshape(minutes, kinds.size)
        out = {}
        for i, slo in enumerate(slos):
            counted = per_kind[:, (kinds >> (2 * i)) & 1 == 1].sum(axis=1)
            marked = per_kind[:, (kinds >> (2 * i + 1)) & 1 == 1].sum(axis=1)
            by_good = isinstance(slo.indicator, DuckDbSource) and slo.indicator.good is not None
            good = marked if by_good else counted - marked
            out[slo.key] = SliSeries(
                start,
                np.asarray(good, dtype=np.float64),
                np.asarray(counted, dtype=np.float64),
                source=f"duckdb:{sql_source(slo)}",
            )
        return out


def _column_refs(node: Any, found: set[str]) -> bool:
    """Collect column names referenced in a serialised expression; False if not plain."""
    if isinstance(node, dict):
        kind = node.get("class") or node.get("type")
        if kind in ("SUBQUERY", "TABLE_FUNCTION", "WINDOW"):
            return False
        if kind == "COLUMN_REF":
            found.add(str(node["column_names"][-1]))
        return all(_column_refs(value, found) for value in node.values())
    if isinstance(node, list):
        return all(_column_refs(value, found) for value in node)
    return True


def sql_source(slo: Slo) -> str:
    return slo.indicator.path if isinstance(slo.indicator, DuckDbSource) else ""


def _ident(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _timestamp_terms(
    column: str, ts_type: str, start: datetime, end: datetime
) -> tuple[str, str, str]:
    """Return the timestamp expression and span literals typed like the column.

    Comparing the column with literals of its own type lets DuckDB skip Parquet row groups
    by their min/max statistics.
    """
    name = _ident(column)
    lo, hi = start.astimezone(UTC), end.astimezone(UTC)
    if ts_type.startswith("TIMESTAMP WITH TIME ZONE"):
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
