"""Dates at the edges: every reader bounds dates to 1970-01-01 .. 2200-01-01.

Each case writes one date far outside that range into a file of the demo workspace, the way
an attacker (or a slipped key) would, and requires a located problem naming the value and
the range. Before the bound, a FOCUS row dated 9999-12-01 ended ``validate`` with an internal
error, and an incident created 9999-12-31T23:00-05:00 (a moment past year 9999 in UTC)
passed ``validate`` and then broke the incidents section of the report.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsledger.cli.main import app
from opsledger.core.config import Config
from opsledger.core.inputs import reader_for
from opsledger.core.problems import Level, Problem
from opsledger.core.workspace import InputKey, Workspace
from opsledger.formats.fields import DATE_RANGE

FAR_FUTURE_TIME = "9999-12-31T23:00:00-05:00"
FAR_PAST_TIME = "1900-01-01T00:00:00Z"
FAR_FUTURE_DAY = "9999-12-01"
FAR_PAST_DAY = "1900-01-01"


def set_csv_cell(path: Path, column: str, value: str) -> None:
    """Set ``column`` of the first data row of the CSV file ``path``."""
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    rows[1][rows[0].index(column)] = value
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")


def csv_having(folder: Path, column: str, pattern: str = "*.csv") -> Path:
    for path in sorted(folder.rglob(pattern)):
        with path.open(encoding="utf-8") as handle:
            if column in next(csv.reader(handle), []):
                return path
    raise AssertionError(f"no CSV file with a '{column}' column under {folder}")


def replace_first(path: Path, pattern: str, replacement: str) -> None:
    text = path.read_text(encoding="utf-8")
    changed, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
    assert count == 1, f"{pattern!r} not found in {path}"
    path.write_text(changed, encoding="utf-8")


def first(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert found, f"no {pattern} under {folder}"
    return found[0]


@dataclass(frozen=True)
class Case:
    name: str
    key: InputKey
    inject: Callable[[Path, str], None]  # (workspace root, value)
    values: tuple[str, str]


CASES = [
    Case(
        "focus",
        InputKey.COSTS,
        lambda ws, v: set_csv_cell(
            csv_having(ws / "costs", "ChargePeriodStart"), "ChargePeriodStart", v
        ),
        ("9999-12-01T00:00:00Z", FAR_PAST_TIME),
    ),
    Case(
        "opencost",
        InputKey.COSTS,
        lambda ws, v: replace_first(
            first(ws / "costs", "*.json"), r'"start": "[^"]*"', f'"start": "{v}"'
        ),
        (FAR_FUTURE_TIME, FAR_PAST_TIME),
    ),
    Case(
        "incidents-native",
        InputKey.INCIDENTS,
        lambda ws, v: set_csv_cell(csv_having(ws / "incidents", "created_at"), "created_at", v),
        (FAR_FUTURE_TIME, FAR_PAST_TIME),
    ),
    Case(
        "incidents-pagerduty-csv",
        InputKey.INCIDENTS,
        lambda ws, v: set_csv_cell(csv_having(ws / "incidents", "created_on"), "created_on", v),
        (FAR_FUTURE_TIME, FAR_PAST_TIME),
    ),
    Case(
        "alerts-opsgenie",
        InputKey.ALERTS,
        lambda ws, v: replace_first(
            first(ws / "incidents" / "alerts", "opsgenie*.json"),
            r'"createdAt": "[^"]*"',
            f'"createdAt": "{v}"',
        ),
        (FAR_FUTURE_TIME, FAR_PAST_TIME),
    ),
    Case(
        "health-csv",
        InputKey.HEALTH,
        lambda ws, v: set_csv_cell(csv_having(ws / "reports" / "health", "time"), "time", v),
        (FAR_FUTURE_TIME, FAR_PAST_TIME),
    ),
    Case(
        "health-jsonl",
        InputKey.HEALTH,
        lambda ws, v: replace_first(
            first(ws / "reports" / "health", "*.jsonl"),
            r'"timestamp": "[^"]*"',
            f'"timestamp": "{v}"',
        ),
        (FAR_FUTURE_TIME, FAR_PAST_TIME),
    ),
    Case(
        "tickets",
        InputKey.TICKETS,
        lambda ws, v: set_csv_cell(ws / "handover" / "ticket-history.csv", "created_at", v),
        (FAR_FUTURE_TIME, FAR_PAST_TIME),
    ),
    Case(
        "risk-log",
        InputKey.SECURITY_RISKS,
        lambda ws, v: set_csv_cell(ws / "handover" / "SECURITY-RISK-LOG.csv", "due_date", v),
        (FAR_FUTURE_DAY, FAR_PAST_DAY),
    ),
    Case(
        "postmortem-date",
        InputKey.POSTMORTEMS,
        lambda ws, v: replace_first(
            first(ws / "handover" / "INCIDENT-POSTMORTEMS", "*.md"), r"^date: .*$", f"date: {v}"
        ),
        (FAR_FUTURE_TIME, FAR_PAST_TIME),
    ),
    Case(
        "postmortem-review-date",
        InputKey.POSTMORTEMS,
        lambda ws, v: replace_first(
            first(ws / "handover" / "INCIDENT-POSTMORTEMS", "*.md"),
            r"^review_date: .*$",
            f"review_date: {v}",
        ),
        (FAR_FUTURE_DAY, FAR_PAST_DAY),
    ),
    Case(
        "kt-feedback",
        InputKey.KT_FEEDBACK,
        lambda ws, v: replace_first(
            ws / "handover" / "knowledge-transfer-feedback.json",
            r'"due_date": "[^"]*"',
            f'"due_date": "{v}"',
        ),
        (FAR_FUTURE_DAY, FAR_PAST_DAY),
    ),
    Case(
        "observability-baseline",
        InputKey.OBSERVABILITY_BASELINE,
        lambda ws, v: replace_first(
            ws / "handover" / "OBSERVABILITY-BASELINE.md", r"^Measured: .*$", f"Measured: {v}"
        ),
        (FAR_FUTURE_DAY, FAR_PAST_DAY),
    ),
    Case(
        "experiment-start",
        InputKey.EXPERIMENTS,
        lambda ws, v: replace_first(
            first(ws / "experiments", "*.yaml"), r"^start: .*$", f"start: {v}"
        ),
        (FAR_PAST_DAY, "1969-12-31"),
    ),
]


@pytest.fixture
def workspace(small_demo: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(small_demo, root)
    return root


def read(root: Path, key: InputKey) -> list[Problem]:
    reader = reader_for(key)
    assert reader is not None
    return reader(Workspace(root, Config()).path(key)).problems


def out_of_range(problems: list[Problem]) -> list[Problem]:
    return [
        p
        for p in problems
        if "outside the supported dates" in p.message or DATE_RANGE in p.expected
    ]


@pytest.mark.parametrize("which", [0, 1], ids=["late", "early"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_date_outside_the_range_is_a_located_problem(
    workspace: Path, case: Case, which: int
) -> None:
    value = case.values[which]
    before = {str(p) for p in read(workspace, case.key)}
    case.inject(workspace, value)
    problems = [p for p in read(workspace, case.key) if str(p) not in before]
    found = out_of_range(problems)
    assert found, [str(p) for p in problems]
    problem = found[0]
    assert problem.location, str(problem)  # a line, cell or JSON path
    assert DATE_RANGE in problem.expected, str(problem)
    assert value[:10] in problem.found, str(problem)


def test_opsgenie_close_time_past_the_range_is_a_row_problem_not_an_overflow(
    workspace: Path,
) -> None:
    # closeTime is milliseconds after creation; 1e18 ms overflowed Python's timedelta.
    alerts = first(workspace / "incidents" / "alerts", "opsgenie*.json")
    replace_first(alerts, r'"closeTime": \d+', '"closeTime": 1000000000000000000')
    problems = read(workspace, InputKey.ALERTS)
    [problem] = [p for p in problems if "past the supported dates" in p.message]
    assert problem.level is Level.ROW
    assert "report_close_time" in problem.message


def test_validate_and_review_survive_out_of_range_dates(workspace: Path) -> None:
    for case in CASES:
        if case.key is not InputKey.EXPERIMENTS:  # a definition is refused whole
            case.inject(workspace, case.values[0])
    runner = CliRunner()
    validate = runner.invoke(app, ["validate", str(workspace)])
    assert validate.exit_code in (0, 2), validate.output
    assert "internal error" not in validate.output
    assert validate.output.count("outside the supported dates") >= 5, validate.output
    review = runner.invoke(app, ["review", str(workspace), "--now", "2026-11-01T00:00:00Z"])
    assert review.exit_code in (0, 1, 2), review.output
    report = (workspace / "reports" / "ops" / "MONTHLY_OPS_REPORT.md").read_text()
    assert "internal error" not in report
