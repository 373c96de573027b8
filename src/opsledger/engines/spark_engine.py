"""SLI counts from event files (Parquet, CSV, JSONL) with Spark, for data beyond one machine.

The same definitions as the DuckDB engine (files under the workspace, a timestamp column,
SQL predicates for good/bad/total) and the same answer: per minute of ``[start, end)``, the
rows in the span matching ``total``, and among them those matching ``good`` (or not matching
``bad``). SLOs over the same files are counted in one pass: one ``GROUP BY minute`` with two
filtered counts per SLO. Only the per-minute counts come back to Python.

The session is started on the first query, not at import, and stopped by :meth:`close`
(a session that was already running, as in a notebook, is used and left running).
Predicates are user-written, so the session refuses SQL over arbitrary files, and each
predicate is checked by :mod:`opsledger.engines.predicates` (one expression, allow-listed
functions only: ``reflect``, ``java_method`` and UDFs are unreachable in any spelling) and
the query is rendered from the checked tree, never from the user's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from opsledger.core.errors import EngineError
from opsledger.engines.duckdb_engine import READ_FUNCTIONS, sql_source
from opsledger.engines.interface import minutes_between
from opsledger.engines.predicates import PredicateRefused, SqlDialect, sli_predicates
from opsledger.engines.spark_session import DEFAULT_MASTER, active_session, start_session
from opsledger.model.slo import DuckDbSource, SliSeries, Slo

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# One aggregate pair per SLO; past this, a scan is split so the plan stays small.
SLOS_PER_SCAN = 64


class SparkEngine:
    """Counts events in files under ``root`` (the workspace) on a Spark cluster or locally."""

    name = "spark"

    def __init__(
        self,
        root: Path,
        master: str = DEFAULT_MASTER,
        session: SparkSession | None = None,
    ) -> None:
        self.root = root.resolve()
        self.master = master
        self._session = session
        self._owns_session = session is None
        self._views: dict[tuple[str, ...], tuple[str, str]] = {}  # files -> (view, ts type)

    def supports(self, slo: Slo) -> bool:
        return isinstance(slo.indicator, DuckDbSource)

    @property
    def session(self) -> SparkSession:
        if self._session is None:
            # A session the caller already runs is used and left running.
            running = active_session()
            self._owns_session = running is None
            self._session = running or start_session(self.master)
        return self._session

    def close(self) -> None:
        """Drop this engine's views and stop the session if this engine started it."""
        if self._session is not None:
            for view, _ in self._views.values():
                self._session.catalog.dropTempView(view)
            if self._owns_session:
                self._session.stop()
                self._session = None
        self._views.clear()

    # --- files --------------------------------------------------------------------------

    def source_files(self, relative: str) -> tuple[list[Path], str]:
        """Return the files a source names and their suffix, chosen as the DuckDB engine does.

        A folder stands for every file (recursively) of the first format found in it, in the
        order Parquet, CSV, TSV, JSONL, NDJSON, JSON; a glob must not leave the workspace.
        """
        if Path(relative).is_absolute() or ".." in Path(relative).parts:
            raise EngineError(f"{relative}: event files must be inside the workspace")
        candidate = (self.root / relative).resolve() if "*" not in relative else None
        if candidate is not None and candidate.is_dir():
            for suffix in READ_FUNCTIONS:
                found = sorted(p for p in candidate.rglob(f"*{suffix}") if p.is_file())
                if found:
                    return found, suffix
            raise EngineError(f"{relative}: no Parquet, CSV or JSONL files in this folder")
        files = sorted(p for p in self.root.glob(relative) if p.is_file())
        if not files:
            raise EngineError(f"{relative}: no files match under {self.root}")
        suffix = Path(relative.removesuffix(".gz")).suffix.lower()
        if suffix not in READ_FUNCTIONS:
            raise EngineError(
                f"{relative}: cannot tell the file format from '{suffix or relative}' "
                "(expected .parquet, .csv, .jsonl or .json)"
            )
        return files, suffix

    def _view(self, source: DuckDbSource) -> tuple[str, str]:
        """Return the temporary view over the source's files and its timestamp column's type."""
        files, suffix = self.source_files(source.path)
        key = (source.timestamp, *(str(p) for p in files))
        if key not in self._views:
            frame = self._read(files, suffix)
            if source.timestamp not in frame.columns:
                raise EngineError(
                    f"{source.path}: no timestamp column '{source.timestamp}' "
                    f"(columns: {', '.join(frame.columns)})"
                )
            view = f"opsledger_events_{len(self._views)}"
            frame.createOrReplaceTempView(view)
            ts_type = frame.schema[source.timestamp].dataType.typeName()
            self._views[key] = (view, ts_type)
        return self._views[key]

    def _read(self, files: list[Path], suffix: str) -> DataFrame:
        reader = self.session.read
        paths = [str(p) for p in files]
        try:
            if suffix == ".parquet":
                return reader.parquet(*paths)
            if suffix in (".csv", ".tsv"):
                return reader.csv(
                    paths, header=True, inferSchema=True, sep="\t" if suffix == ".tsv" else ","
                )
            multiline = suffix == ".json" and _starts_with_array(files[0])
            return reader.json(paths, multiLine=multiline)
        except Exception as exc:  # Spark reports unreadable files as several exception types
            message = _first_line(exc)
            raise EngineError(f"{files[0]}: Spark cannot read the events: {message}") from None

    # --- queries ------------------------------------------------------------------------

    def query_sql(self, slos: Sequence[Slo], start: datetime, end: datetime) -> str:
        """Return the ``GROUP BY minute`` counting every SLO in ``slos`` (same files) per minute.

        For SLO ``i`` the columns are ``total_i`` (rows matching ``total``) and ``marked_i``
        (of those, rows matching ``good``, or ``bad`` when the SLO counts bad events).
        """
        first = slos[0].indicator
        assert isinstance(first, DuckDbSource)
        view, ts_type = self._view(first)
        ts, lower, upper = _timestamp_terms(first.timestamp, ts_type, start, end)
        start_us = int(start.timestamp() * 1_000_000)
        counts = []
        for i, slo in enumerate(slos):
            checked = sli_predicates(slo, SqlDialect.SPARK)
            scope, verdict = checked.scope.sql, checked.verdict.sql
            counts.append(f"count(*) FILTER (WHERE ({scope})) AS total_{i}")
            counts.append(f"count(*) FILTER (WHERE ({scope}) AND ({verdict})) AS marked_{i}")
        return (
            f"SELECT CAST((unix_micros({ts}) - {start_us}) DIV 60000000 AS INT) AS minute, "
            f"{', '.join(counts)} FROM {view} "
            f"WHERE {ts} >= {lower} AND {ts} < {upper} GROUP BY 1"
        )

    def series(self, slo: Slo, start: datetime, end: datetime) -> SliSeries:
        if not isinstance(slo.indicator, DuckDbSource):
            raise EngineError(f"{slo.key}: not an event-file SLI")
        return self._count([slo], start, end)[slo.key]

    def series_many(
        self, slos: Sequence[Slo], start: datetime, end: datetime
    ) -> dict[str, SliSeries]:
        """Return counts for several SLOs, scanning each set of files once."""
        groups: dict[tuple[str, ...], list[Slo]] = {}
        for slo in slos:
            source = slo.indicator
            if not isinstance(source, DuckDbSource):
                raise EngineError(f"{slo.key}: not an event-file SLI")
            files, _ = self.source_files(source.path)
            groups.setdefault((source.timestamp, *(str(p) for p in files)), []).append(slo)
        result: dict[str, SliSeries] = {}
        for members in groups.values():
            for first in range(0, len(members), SLOS_PER_SCAN):
                batch = members[first : first + SLOS_PER_SCAN]
                try:
                    result.update(self._count(batch, start, end))
                except EngineError:
                    if len(batch) == 1:
                        raise
                    # Name the SLO at fault: run each alone so its own error is reported.
                    for slo in batch:
                        result.update(self._count([slo], start, end))
        return result

    def _count(self, slos: Sequence[Slo], start: datetime, end: datetime) -> dict[str, SliSeries]:
        minutes = minutes_between(start, end)
        label = slos[0].key if len(slos) == 1 else f"{len(slos)} SLOs"
        where = slos[0].where if len(slos) == 1 else sql_source(slos[0])
        try:
            sql = self.query_sql(slos, start, end)
            rows = self.session.sql(sql).toPandas()
        except PredicateRefused:
            raise  # already names the SLO, its file and line
        except EngineError as exc:
            raise EngineError(f"{label} (defined at {where}): {exc}") from None
        except Exception as exc:  # AnalysisException, ParseException, Py4JJavaError...
            raise EngineError(
                f"{label} (defined at {where}): the SLI query failed: {_first_line(exc)}"
            ) from None
        index = rows["minute"].to_numpy(dtype=np.int64)
        out = {}
        for i, slo in enumerate(slos):
            source = slo.indicator
            assert isinstance(source, DuckDbSource)
            total = np.zeros(minutes, dtype=np.float64)
            marked = np.zeros(minutes, dtype=np.float64)
            total[index] = rows[f"total_{i}"].to_numpy(dtype=np.float64)
            marked[index] = rows[f"marked_{i}"].to_numpy(dtype=np.float64)
            good = marked if source.good is not None else total - marked
            out[slo.key] = SliSeries(start, good, total, source=f"spark:{source.path}")
        return out


def _timestamp_terms(
    column: str, ts_type: str, start: datetime, end: datetime
) -> tuple[str, str, str]:
    """Return the timestamp expression and span literals typed like the column.

    The session runs in UTC, so a timestamp without zone is read as UTC, as DuckDB does.
    """
    name = "`" + column.replace("`", "``") + "`"
    naive = "%Y-%m-%d %H:%M:%S.%f"
    lo, hi = start.astimezone(UTC).strftime(naive), end.astimezone(UTC).strftime(naive)
    if ts_type == "timestamp":
        return name, f"TIMESTAMP '{lo}'", f"TIMESTAMP '{hi}'"
    if ts_type == "timestamp_ntz":
        return name, f"TIMESTAMP_NTZ '{lo}'", f"TIMESTAMP_NTZ '{hi}'"
    if ts_type in ("string", "date"):
        cast = f"CAST({name} AS TIMESTAMP)"
        return cast, f"TIMESTAMP '{lo}'", f"TIMESTAMP '{hi}'"
    raise EngineError(
        f"timestamp column '{column}' has type {ts_type}; expected a timestamp or ISO 8601 text"
    )


def _starts_with_array(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4096).lstrip()
    return head.startswith(b"[")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    # Spark prefixes messages with an error class such as [UNRESOLVED_COLUMN...]; keep it.
    return text.splitlines()[0] if text else type(exc).__name__
