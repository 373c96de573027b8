"""SERVICE-CATALOG.xlsx: the service inventory handed over by Operations.

One row per service on the sheet named ``Services`` (or, failing that, the first sheet whose
header has a ``service`` or ``name`` column). Columns, matched loosely (``Service Name``,
``On-call``...): ``service`` and ``owner`` are required; ``team``, ``tier``, ``lifecycle``,
``deployment``, ``dependencies`` (a comma-separated list), ``dashboard``, ``runbook`` and
``oncall`` are optional. An empty owner cell is kept (ownership unclear is a finding, not a
reading error).

The workbook is inspected as an archive before openpyxl opens it (see
:mod:`opsledger.formats.workbook`). Formulas are not trusted: a cell holding one, or text
that starts with ``=``, quarantines its row rather than being read as its cached value, and so
does a cell whose stored text does not fit its type (``abc`` in a number cell), named by its
sheet and cell. The sheets are parsed once, formulas as written; only a workbook that holds
formulas is parsed a second time for the cached values of its other cells.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from itertools import takewhile
from pathlib import Path
from typing import Any

from openpyxl.utils import get_column_letter

from opsledger.core.problems import Problem, ReadResult, shown
from opsledger.formats.csvrows import header_key, require_columns
from opsledger.formats.fields import Fields
from opsledger.formats.workbook import (
    SheetRow,
    UnfitCell,
    inspect_workbook_archive,
    load_workbook_safely,
    sheet_rows,
    unreadable_found,
    unreadable_message,
)
from opsledger.model.handover import CatalogService

PREFERRED_SHEET = "services"
REQUIRED = ("service", "owner")
ALIASES: dict[str, tuple[str, ...]] = {
    "service": ("name", "service_name", "component", "system"),
    "owner": ("service_owner", "owned_by", "owner_name"),
    "team": ("owner_team", "owning_team", "squad", "group"),
    "tier": ("criticality", "service_tier"),
    "lifecycle": ("stage", "lifecycle_stage", "state"),
    "deployment": ("deployment_kind", "deploy", "deployment_type", "platform", "runtime"),
    "dependencies": ("depends_on", "dependency", "upstreams", "deps"),
    "dashboard": ("dashboard_url", "dashboards", "grafana"),
    "runbook": ("runbook_url", "runbooks", "playbook"),
    "oncall": ("on_call", "on_call_rotation", "rotation", "escalation_policy", "pagerduty"),
}
_REVERSE = {alias: name for name, names in ALIASES.items() for alias in names}
# Title rows above the header are common in hand-kept workbooks.
HEADER_SEARCH_ROWS = 20
TIER_EXPECTED = "a tier 0-5 (e.g. 1, T1, Tier 1)"
_LIST_SEPARATORS = re.compile(r"[,;\n]")
_NO_DEPENDENCIES = frozenset({"-", "none", "n/a", "na"})
_TIER = re.compile(r"^(?:tier|t)?[\s_-]*([0-5])$", re.IGNORECASE)


def read(path: Path) -> ReadResult[CatalogService]:
    """Return one :class:`CatalogService` per row of the workbook's services sheet."""
    result: ReadResult[CatalogService] = ReadResult(path, detected_format="xlsx")
    if not inspect_workbook_archive(path, result):
        return result
    written = _stored_sheets(path, result, data_only=False)
    if written is None:
        return result
    formulas = {title: _formula_cells(rows) for title, rows in written}
    # Without a formula, the cells read as written are the cached values: no second pass.
    sheets = _stored_sheets(path, result, data_only=True) if any(formulas.values()) else written
    if sheets is None:
        return result
    try:
        _read_workbook(sheets, path, result, formulas)
    except Exception as exc:  # whatever a cell holds, the file is reported, not a traceback
        result.fail(
            "",
            unreadable_message(exc),
            "a well-formed .xlsx workbook",
            unreadable_found(exc),
        )
    return result


Sheet = tuple[str, list[SheetRow]]  # a sheet's title and its stored rows


def _stored_sheets(
    path: Path, result: ReadResult[CatalogService], data_only: bool
) -> list[Sheet] | None:
    """Return every sheet's stored rows: formulas as written, or (``data_only``) their cached
    values; ``None`` after recording why the workbook cannot be read."""
    workbook = load_workbook_safely(path, result, data_only=data_only)
    if workbook is None:
        return None
    try:
        return [(sheet.title, list(sheet_rows(sheet))) for sheet in workbook.worksheets]
    except Exception as exc:  # openpyxl parses sheets lazily: a bad part fails mid-read
        result.fail(
            "",
            unreadable_message(exc),
            "a well-formed .xlsx workbook",
            unreadable_found(exc),
        )
        return None
    finally:
        workbook.close()


def _formula_cells(rows: list[SheetRow]) -> dict[str, str]:
    """Return {cell coordinate: formula} of rows read without ``data_only``."""
    return {
        f"{get_column_letter(index + 1)}{row.number}": str(row.values[index])
        for row in rows
        for index, kind in enumerate(row.kinds)
        if kind == "f"
    }


def _read_workbook(
    sheets: list[Sheet],
    path: Path,
    result: ReadResult[CatalogService],
    formulas: dict[str, dict[str, str]],
) -> None:
    ordered = sorted(sheets, key=lambda sheet: sheet[0].strip().lower() != PREFERRED_SHEET)
    for title, rows in ordered:
        found = _find_header(rows)
        if found is not None:
            header_row, keys = found
            _read_sheet(title, rows, header_row, keys, path, result, formulas.get(title, {}))
            return
    titles = ", ".join(f"'{title}'" for title, _ in sheets) or "none"
    result.fail(
        "",
        "wrong sheet: no sheet lists services",
        "a sheet named 'Services', or a sheet whose header has a 'service' or 'name' column",
        f"sheets {titles}",
    )


def _find_header(rows: list[SheetRow]) -> tuple[int, list[str]] | None:
    """Return (row number, normalised column keys) of the sheet's header, if it has one."""
    for row in takewhile(lambda row: row.number <= HEADER_SEARCH_ROWS, rows):
        keys = [_column_key(value) for value in row.values]
        if "service" in keys:
            return row.number, keys
    return None


def _column_key(value: object) -> str:
    if value is None:
        return ""
    key = header_key(str(value))
    return _REVERSE.get(key, key)


def _read_sheet(
    title: str,
    rows: list[SheetRow],
    header_row: int,
    keys: list[str],
    path: Path,
    result: ReadResult[CatalogService],
    formulas: dict[str, str],
) -> None:
    if not require_columns(
        result, f"sheet '{title}' row {header_row}", keys, REQUIRED, [k for k in keys if k]
    ):
        return
    columns = {key: index for index, key in reversed(list(enumerate(keys))) if key}
    seen: dict[str, int] = {}
    for row in rows:
        number, cells = row.number, row.values
        if number <= header_row:
            continue
        if all(value is None or (isinstance(value, str) and not value.strip()) for value in cells):
            continue
        untrusted = list(_untrusted_cells(title, number, cells, columns, formulas, str(path)))
        if untrusted:
            result.extend(untrusted)
            continue
        values = {
            key: cells[index] if index < len(cells) else None for key, index in columns.items()
        }
        fields = Fields(str(path), values, _locator(title, number, columns))
        record = _record(fields)
        if record is None or fields.problems:
            result.extend(fields.problems)
            continue
        if record.name in seen:
            result.quarantine(
                fields.locate("service"),
                f"duplicate service '{record.name}'",
                "each service on one row",
                f"also on row {seen[record.name]}",
            )
            continue
        seen[record.name] = number
        result.records.append(record)


def _untrusted_cells(
    title: str,
    row: int,
    cells: Sequence[object],
    columns: dict[str, int],
    formulas: dict[str, str],
    path: str,
) -> Iterable[Problem]:
    used = set(columns.values())
    for index, value in enumerate(cells):
        if index not in used:
            continue
        coordinate = f"{get_column_letter(index + 1)}{row}"
        if isinstance(value, UnfitCell):
            yield Problem(
                path,
                f"sheet '{title}' cell {coordinate}",
                "cell value does not fit the cell's type; the row is quarantined",
                f"{value.expected} (the cell is stored as that type)",
                shown(value.text),
            )
            continue
        formula = formulas.get(coordinate)
        if formula is None and isinstance(value, str) and value.lstrip().startswith("="):
            formula = value
        if formula is not None:
            yield Problem(
                path,
                f"sheet '{title}' cell {coordinate}",
                "cell holds a formula; formulas are not trusted, so the row is quarantined",
                "a plain value",
                shown(formula),
            )


def _locator(title: str, row: int, columns: dict[str, int]) -> Any:
    def locate(name: str) -> str:
        index = columns.get(name)
        if index is None:
            return f"sheet '{title}' row {row}"
        return f"sheet '{title}' cell {get_column_letter(index + 1)}{row}"

    return locate


def _record(fields: Fields) -> CatalogService | None:
    name = fields.text("service")
    owner = fields.text("owner", required=False)
    tier = _tier(fields)
    raw_dependencies = fields.raw("dependencies")
    dependencies = [
        dep.strip()
        for dep in _LIST_SEPARATORS.split("" if raw_dependencies is None else str(raw_dependencies))
        if dep.strip() and dep.strip().lower() not in _NO_DEPENDENCIES
    ]
    if name is None:
        return None
    return CatalogService(
        name=name,
        owner=owner,
        team=fields.text("team", required=False),
        tier=tier,
        lifecycle=_lower(fields.text("lifecycle", required=False)),
        deployment=fields.text("deployment", required=False),
        dependencies=tuple(dependencies),
        dashboard=fields.text("dashboard", required=False),
        runbook=fields.text("runbook", required=False),
        oncall=fields.text("oncall", required=False),
        source="catalog",
    )


def parse_tier(value: object) -> int | None:
    """Return the tier (0-5) written as ``1``, ``1.0``, ``T1``, ``tier-1`` or ``Tier 1``.

    Return ``None`` when ``value`` is not a tier.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value) if float(value).is_integer() and 0 <= value <= 5 else None
    match = _TIER.match(str(value).strip())
    return int(match.group(1)) if match else None


def _tier(fields: Fields) -> int | None:
    value = fields.raw("tier")
    if value is None:
        return None
    tier = parse_tier(value)
    if tier is None:
        fields.bad("tier", "'tier' is not a tier", TIER_EXPECTED, value)
    return tier


def _lower(text: str | None) -> str | None:
    return text.lower() if text else text
