"""The DuckDB queries that read a FOCUS CSV file without loading it.

The first pass sums the file to one group per day, billing month, raw charge kind, currency
and naming set (resource, provider service, sub-account, tags, mapped columns: each distinct
set is numbered and returned once), with a flag for rows whose amounts are missing or not
finite. It reads typed (amounts as ``DOUBLE``), in parallel, and keeps DuckDB's rejected rows
(cells that do not convert, rows with the wrong number of cells) with their lines. Which
groups are bad is decided afterwards, once per group, from their keys. Only when some are
does a second pass number the rows and pick the first bad ones: it computes the same key
expressions, so it selects exactly the rows of the refused groups. Numbering rows costs the
first pass its parallel scan, which is why it is left to the second.

Columns are addressed by position (``c0``, ``c1`` …), so any header text is safe in SQL.
The connection is sandboxed like the SLI engine's: it may read the one file and spill to a
private folder, nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
import pyarrow as pa

from opsledger.core.problems import ReadResult, shown
from opsledger.formats.csvrows import header_key
from opsledger.formats.fields import EARLIEST, LATEST
from opsledger.readers.cost_mapping import ServiceMapping

REQUIRED = ("BilledCost", "EffectiveCost", "ChargePeriodStart", "BillingPeriodStart",
            "ChargeCategory")
OPTIONAL = ("ChargeClass", "BillingCurrency", "ListCost", "ContractedCost", "ServiceName",
            "ResourceId", "ResourceName", "SubAccountName", "Tags")
AMOUNTS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
# Read only to warn about FOCUS features that change what the totals mean.
SIGNALS = ("CommitmentDiscountStatus", "CapacityReservationStatus", "PricingCurrency")
NULL_TEXT = ("NULL", "null", "Null", "")
MAX_REJECTED = 10_000  # rows DuckDB could not read; past this the file is refused
MEMORY_LIMIT = "256MB"
FIRST_DAY, LAST_DAY = EARLIEST.date(), LATEST.date()
ATTRIBUTES = {"resource_id": "ResourceId", "resource_name": "ResourceName",
              "provider_service": "ServiceName", "sub_account": "SubAccountName",
              "tags": "Tags"}


def column_key(name: str) -> str:
    """Return a header reduced for matching: ``Billed Cost``/``billed_cost`` → ``billedcost``."""
    return header_key(name).replace("_", "")


@dataclass(frozen=True)
class FocusColumns:
    """Where each column opsledger reads sits in the file."""

    header: tuple[str, ...]
    index: dict[str, int]  # FOCUS column name (or mapping column as configured) -> position
    mapped: tuple[str, ...]  # the mapping's columns that the file has, as configured

    @classmethod
    def of(cls, header: Sequence[str], mapping: ServiceMapping, result: ReadResult[Any]
           ) -> FocusColumns | None:
        """Return the columns, or ``None`` after a fatal problem (missing, duplicated)."""
        by_key: dict[str, int] = {}
        for position, name in enumerate(header):
            by_key.setdefault(column_key(name), position)
        missing = [c for c in REQUIRED if column_key(c) not in by_key]
        if missing:
            result.fail("line 1", "missing required FOCUS column" + ("s " if len(missing) > 1
                        else " ") + ", ".join(missing), "columns " + ", ".join(REQUIRED),
                        "header " + shown(", ".join(header), 200))
            return None
        if len(set(header)) != len(header):
            result.fail("line 1", "duplicate column names", "each column once",
                        ", ".join(sorted({h for h in header if list(header).count(h) > 1})))
            return None
        index = {c: by_key[column_key(c)] for c in REQUIRED + OPTIONAL + SIGNALS
                 if column_key(c) in by_key}
        mapped = tuple(c for c in mapping.columns if column_key(c) in by_key)
        for name in mapped:
            index.setdefault(name, by_key[column_key(name)])
        return cls(tuple(header), index, mapped)

    def ref(self, name: str, kind: str = "VARCHAR") -> str:
        return f"c{self.index[name]}" if name in self.index else f"NULL::{kind}"

    def name_of(self, position: int) -> str:
        """Return the header text of a column (as the file writes it)."""
        return self.header[position] if 0 <= position < len(self.header) else f"#{position + 1}"

    def written(self, name: str) -> str:
        return self.name_of(self.index[name]) if name in self.index else name


def _source(columns: FocusColumns, keep_rejects: bool) -> str:
    amounts = {columns.index[c] for c in AMOUNTS if c in columns.index}
    types = ", ".join(f"'c{i}': '{'DOUBLE' if i in amounts else 'VARCHAR'}'"
                      for i in range(len(columns.header)))
    nulls = ", ".join(f"'{n}'" for n in NULL_TEXT)
    errors = (f"store_rejects = true, rejects_limit = {MAX_REJECTED}" if keep_rejects
              else "ignore_errors = true")
    return (f"read_csv($path, auto_detect = false, header = true, delim = ',', quote = '\"', "
            f"escape = '\"', columns = {{{types}}}, nullstr = [{nulls}], {errors})")


def _stamp(ref: str) -> str:
    # DuckDB's cast reads ISO 8601 and its shortenings (a space for the T, no seconds, no
    # zone: UTC with the session's time zone). It also reads 4/1/25 as year 4: such dates
    # fall outside the supported range and are refused with it.
    return f"TRY_CAST({ref} AS TIMESTAMPTZ)"


def _billing_month(text: str) -> str:
    return f"CAST(date_trunc('month', {_stamp(text)}) AS DATE)"


def _keys(columns: FocusColumns) -> dict[str, str]:
    """Return the checked keys of a row (name → SQL expression). The first pass computes
    the billing month from each distinct billing text instead (see :func:`summing_sql`)."""
    ref = columns.ref
    billed, effective = ref("BilledCost", "DOUBLE"), ref("EffectiveCost", "DOUBLE")
    listed, contracted = ref("ListCost", "DOUBLE"), ref("ContractedCost", "DOUBLE")
    return {
        "day": f"CAST({_stamp(ref('ChargePeriodStart'))} AS DATE)",
        "billing_month": _billing_month(ref("BillingPeriodStart")),
        "category_text": ref("ChargeCategory"),
        "class_text": ref("ChargeClass"),
        "amounts_ok": f"coalesce(isfinite({effective}) AND isfinite({billed}) AND "
                      f"coalesce(isfinite({listed}), true) AND "
                      f"coalesce(isfinite({contracted}), true), false)",
    }


def _attributes(columns: FocusColumns) -> dict[str, str]:
    """Return the naming attributes (name → column): ``ATTRIBUTES``, then ``m0``, ``m1`` …
    for the mapping's columns."""
    attributes = {name: columns.ref(column) for name, column in ATTRIBUTES.items()}
    return attributes | {f"m{i}": columns.ref(name) for i, name in enumerate(columns.mapped)}


def naming_columns(columns: FocusColumns) -> tuple[str, ...]:
    """Return the names of the first pass's naming attribute columns."""
    return tuple(_attributes(columns))


def _sums(columns: FocusColumns) -> dict[str, str]:
    """Return the sums of the first pass (name → SQL aggregate)."""
    ref = columns.ref
    effective = ref("EffectiveCost", "DOUBLE")
    sums = {"billed_cost": f"sum({ref('BilledCost', 'DOUBLE')})",
            "effective_cost": f"sum({effective})",
            "list_cost": f"sum({ref('ListCost', 'DOUBLE')})",
            "contracted_cost": f"sum({ref('ContractedCost', 'DOUBLE')})",
            "rows": "count(*)"}
    unused = " OR ".join(f"lower(trim({ref(c)})) = 'unused'" for c in SIGNALS[:2]
                         if c in columns.index)
    if unused:
        sums |= {"unused_rows": f"count(*) FILTER (WHERE {unused})",
                 "unused_cost": f"sum({effective}) FILTER (WHERE {unused})"}
    if "PricingCurrency" in columns.index:
        sums["other_pricing_rows"] = (
            f"count(*) FILTER (WHERE upper(trim({ref('PricingCurrency')})) <> "
            f"upper(trim(coalesce({ref('BillingCurrency')}, ''))))")
    return sums


def scanning_sql(columns: FocusColumns) -> str:
    """Return the first pass's scan: the file summed per charge day, raw
    ``BillingPeriodStart`` text, charge kind, currency and naming attributes (resource,
    provider service, sub-account, tags, the mapping's columns)."""
    ref = columns.ref
    keys = _keys(columns)
    scanned = {"day": keys["day"], "billing_text": ref("BillingPeriodStart"),
               **{name: keys[name] for name in ("category_text", "class_text", "amounts_ok")},
               "currency_text": ref("BillingCurrency")}
    selected = scanned | _attributes(columns) | _sums(columns)
    scan = ", ".join(f"{expr} AS {name}" for name, expr in selected.items())
    return f"SELECT {scan} FROM {_source(columns, True)} GROUP BY ALL"


def naming_sql(columns: FocusColumns, scanned: str) -> str:
    """Return each distinct set of naming attributes of the table ``scanned``, numbered
    from 0 in their sorted order (``naming``)."""
    names = ", ".join(_attributes(columns))
    return (f"SELECT row_number() OVER (ORDER BY {names}) - 1 AS naming, {names} "
            f"FROM (SELECT DISTINCT {names} FROM {scanned})")


def grouping_sql(columns: FocusColumns, scanned: str, namings: str) -> str:
    """Return the groups of the table ``scanned``, each naming set replaced by its number
    in ``namings``: the billing month is computed once per distinct billing text (a handful
    per file) rather than on every row, and groups whose texts name the same month are
    merged. The groups come ordered by naming number, then by their keys, so that one file
    always gives the same ledger lines in the same order."""
    sums = _sums(columns)
    # Counts are cast back to BIGINT: DuckDB sums integers into 128 bits.
    resummed = ", ".join(f"CAST(sum({name}) AS BIGINT) AS {name}" if name.endswith("rows")
                         else f"sum({name}) AS {name}" for name in sums)
    # Missing attributes are equal: a join on '=' would drop their groups.
    same = " AND ".join(f"s.{name} IS NOT DISTINCT FROM n.{name}"
                        for name in _attributes(columns))
    return (f"SELECT naming, day, {_billing_month('billing_text')} AS billing_month, "
            f"category_text, class_text, amounts_ok, currency_text, {resummed} "
            f"FROM {scanned} s JOIN {namings} n ON {same} GROUP BY ALL "
            "ORDER BY naming, day, billing_month, category_text, class_text, amounts_ok, "
            "currency_text")


def bad_rows_sql(columns: FocusColumns) -> str:
    """Return the second pass: the first ``$limit`` rows of the refused groups, numbered.

    Parameters ``$categories`` and ``$classes`` are the refused raw values; ``$no_category``
    says whether a missing category was refused.
    """
    ref = columns.ref
    keys = ", ".join(f"{expr} AS {name}" for name, expr in _keys(columns).items())
    # Amounts as text: a missing one is NULL, an infinite or NaN one reads 'inf' or 'nan'.
    raw = {f"{column}_text": f"CAST({ref(column, 'DOUBLE')} AS VARCHAR)" for column in AMOUNTS}
    raw |= {"charge_text": ref("ChargePeriodStart"), "billing_text": ref("BillingPeriodStart")}
    values = ", ".join(f"{expr} AS {name}" for name, expr in raw.items())
    first, last = FIRST_DAY.isoformat(), LAST_DAY.isoformat()
    refused = " OR ".join((
        "NOT amounts_ok",
        f"day IS NULL OR day < DATE '{first}' OR day > DATE '{last}'",
        f"billing_month IS NULL OR billing_month < DATE '{first}' "
        f"OR billing_month > DATE '{last}'",
        "list_contains(CAST($categories AS VARCHAR[]), category_text)",
        "(category_text IS NULL AND $no_category)",
        "list_contains(CAST($classes AS VARCHAR[]), class_text)"))
    return (f"SELECT * FROM ({_numbered(columns, f'{keys}, {values}')}) WHERE {refused} "
            "ORDER BY row_no LIMIT $limit")


def _numbered(columns: FocusColumns, selected: str) -> str:
    """Return a numbered read of the file that skips the rows the first pass rejected.

    DuckDB converts only the columns a query uses, so a cell that fails to convert rejects
    its row only if the column is read: every numbered read reads all amounts, as the first
    pass does, so that its row numbers match the first pass's rows.
    """
    amounts = "".join(f", {columns.ref(c, 'DOUBLE')} AS _{c}" for c in AMOUNTS
                      if c in columns.index)
    return (f"SELECT ordinality AS row_no, {selected}{amounts} "
            f"FROM {_source(columns, False)} WITH ORDINALITY")


@dataclass(frozen=True)
class Summed:
    """The first pass's result.

    ``groups`` holds one row per naming number, charge day, billing month, charge kind and
    currency, with the sums; ``namings`` holds each distinct set of naming attributes once,
    row ``n`` for naming number ``n``. A month of daily charges names each resource on
    every day: its texts are held once per resource, not once per day.
    """

    groups: pa.Table
    namings: pa.Table


class FocusQuery:
    """A sandboxed DuckDB connection that may read one file and spill to one folder."""

    def __init__(self, path: Path, spill: Path) -> None:
        import duckdb

        from opsledger.engines.duckdb_sandbox import SANDBOX_CONFIG

        self.path = path
        self.connection = duckdb.connect(":memory:", config=dict(SANDBOX_CONFIG))
        try:
            for setting in ("TimeZone = 'UTC'", "preserve_insertion_order = false",
                            "enable_progress_bar = false", f"memory_limit = '{MEMORY_LIMIT}'"):
                self.connection.execute(f"SET {setting}")
            # The spill folder is set before external access is switched off, or DuckDB
            # falls back to <cwd>/.tmp and grants it.
            self.connection.execute("SET temp_directory = $p", {"p": str(spill)})
            self.connection.execute("SET allowed_paths = [$p]", {"p": str(path)})
            self.connection.execute("SET allowed_directories = [$p]", {"p": f"{spill}/"})
            self.connection.execute("SET enable_external_access = false")
            self.connection.execute("SET lock_configuration = true")
        except BaseException:
            self.connection.close()
            raise

    def __enter__(self) -> FocusQuery:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.connection.close()

    def first_pass(self, columns: FocusColumns) -> Summed:
        """Return the first pass's groups and naming sets (see :class:`Summed`)."""
        params = {"path": str(self.path)}
        run = self.connection.execute
        run(f"CREATE TEMP TABLE scanned AS {scanning_sql(columns)}", params)
        try:
            run(f"CREATE TEMP TABLE namings AS {naming_sql(columns, 'scanned')}")
            namings = self.connection.sql(
                f"SELECT {', '.join(naming_columns(columns))} FROM namings ORDER BY naming"
            ).to_arrow_table()
            groups = self.connection.sql(
                grouping_sql(columns, "scanned", "namings")).to_arrow_table()
        finally:
            run("DROP TABLE IF EXISTS namings")
            run("DROP TABLE scanned")
        return Summed(groups, namings)

    def rejected(self) -> pd.DataFrame:
        """Return the rows DuckDB could not read in the first pass, by DuckDB's line."""
        return self.connection.sql(
            "SELECT line, column_idx, error_type, csv_line, error_message FROM reject_errors "
            "ORDER BY line").to_arrow_table().to_pandas()

    def bad_rows(self, columns: FocusColumns, categories: list[str], no_category: bool,
                 classes: list[str], limit: int) -> pa.Table:
        """Return the first ``limit`` rows of the refused groups, with their row numbers."""
        params = {"path": str(self.path), "categories": categories,
                  "no_category": no_category, "classes": classes, "limit": limit}
        return self.connection.sql(bad_rows_sql(columns), params=params).to_arrow_table()

    def first_rows(self, columns: FocusColumns, column: str, values: list[str]) -> dict[str, int]:
        """Return the number of the first row holding each of ``values`` in ``column``."""
        numbered = _numbered(columns, f"{columns.ref(column)} AS value")
        # The amounts are summed only so that the optimiser keeps reading them.
        read = "".join(f", sum(_{c})" for c in AMOUNTS if c in columns.index)
        sql = (f"SELECT value, min(row_no){read} FROM ({numbered}) "
               "WHERE list_contains(CAST($values AS VARCHAR[]), value) GROUP BY value")
        found = self.connection.sql(sql, params={"path": str(self.path), "values": values})
        return {str(row[0]): int(row[1]) for row in found.fetchall()}
