"""Which month a review covers, where each month's report is kept, and when the KPI history
is written: never silently from a pinned clock, never for a month still in progress."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsledger.cli.main import app
from opsledger.core.workspace import open_workspace
from opsledger.review.history import history_path, read_rows

CLOCK = "2026-12-04T10:00:00+00:00"  # a report on 4 December


def review(ws: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["review", str(ws), *args], env=env)
    return result.exit_code, result.stdout + result.stderr


def recorded_months(ws: Path) -> list[str]:
    return sorted({r.month for r in read_rows(history_path(open_workspace(ws)))})


def title(path: Path) -> str:
    return path.read_text().splitlines()[0]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPSLEDGER_NOW", raising=False)


def test_each_month_is_kept_and_the_usual_place_holds_the_newest(
        ws: Path, clean_env: None) -> None:
    reports = ws / "reports" / "ops"
    code, out = review(ws, "--now", CLOCK, "--month", "2026-10")
    assert code in (0, 1), out
    assert title(reports / "2026-10" / "MONTHLY_OPS_REPORT.md").endswith("October 2026")
    assert json.loads((reports / "2026-10" / "review.json").read_text())["month"] == "2026-10"

    # Without --month, the review on 4 December covers November, the last complete month.
    code, out = review(ws, "--now", CLOCK)
    assert code in (0, 1), out
    november = reports / "2026-11" / "MONTHLY_OPS_REPORT.md"
    assert title(november).endswith("November 2026")
    assert (reports / "MONTHLY_OPS_REPORT.md").read_text() == november.read_text()
    assert "December 2026 so far" in november.read_text()  # the month to date, apart
    latest = json.loads((reports / "review.json").read_text())
    assert latest["month"] == "2026-11" and latest["latest"] is True
    assert latest["summary"]["month_to_date"]["month"] == "2026-12"
    assert latest["evaluated_at"] == "2026-12-01T00:00:00+00:00"

    # Re-reviewing October refreshes its own copy and leaves the newest in place.
    before = (reports / "index.html").read_bytes()
    code, out = review(ws, "--now", CLOCK, "--month", "2026-10", "--json")
    assert code in (0, 1), out
    assert json.loads(out)["month"] == "2026-10"
    assert (reports / "index.html").read_bytes() == before
    assert json.loads((reports / "review.json").read_text())["month"] == "2026-11"
    october = json.loads((reports / "2026-10" / "review.json").read_text())
    assert october["latest"] is False and october["summary"]["month_to_date"] is None
    assert "October 2026" in (reports / "2026-10" / "index.html").read_text()
    assert sorted(p.name for p in reports.iterdir() if p.is_dir() and p.name[:2] == "20") == \
        ["2026-10", "2026-11"]


def test_a_pinned_clock_records_nothing_unless_asked(ws: Path, clean_env: None) -> None:
    code, out = review(ws, "--now", CLOCK)
    assert code in (0, 1), out
    assert recorded_months(ws) == []
    summary = json.loads((ws / "reports/ops/review.json").read_text())
    assert summary["history"] == {"month": "2026-11", "recorded": False}
    code, out = review(ws, "--month", "2026-10", env={"OPSLEDGER_NOW": CLOCK})
    assert code in (0, 1), out
    assert recorded_months(ws) == []

    # Asked explicitly: the month reviewed is recorded, never the month in progress.
    code, out = review(ws, "--now", CLOCK, "--record-history")
    assert code in (0, 1), out
    assert recorded_months(ws) == ["2026-11"]
    code, out = review(ws, "--now", CLOCK, "--month", "2026-10", "--record-history")
    assert code in (0, 1), out
    assert recorded_months(ws) == ["2026-10", "2026-11"]
    assert "recorded in the KPI history" in \
        (ws / "reports/ops/2026-10/MONTHLY_OPS_REPORT.md").read_text()


def test_the_real_clock_records_the_last_complete_month(ws: Path, clean_env: None) -> None:
    code, out = review(ws, "--json")
    assert code in (0, 1), out
    now = datetime.now(UTC)
    index = now.year * 12 + now.month - 2
    expected = f"{index // 12:04d}-{index % 12 + 1:02d}"
    assert json.loads(out)["month"] == expected
    assert json.loads(out)["history_recorded"] is True
    assert recorded_months(ws) == [expected]
    code, out = review(ws, "--no-record-history")
    assert code in (0, 1), out
    assert recorded_months(ws) == [expected]


def test_a_month_not_yet_over_is_refused(ws: Path, clean_env: None) -> None:
    code, out = review(ws, "--now", CLOCK, "--month", "2026-12")
    assert code == 2 and "has not ended yet" in out and "Traceback" not in out
    code, out = review(ws, "--now", CLOCK, "--month", "2026-13")
    assert code == 2 and "YYYY-MM" in out
    assert not (ws / "reports/ops/2026-12").exists()


def test_a_folder_keeps_only_the_charts_its_report_links_to(tmp_path: Path) -> None:
    from opsledger.render.sections import Chart
    from opsledger.review.outputs import write_review

    charts = [Chart("a", "A", "line", {}), Chart("b/c", "B", "line", {})]
    svgs = {"a": "<svg>a</svg>", "b/c": "<svg>b</svg>"}
    first = write_review(tmp_path, "report", "page", "{}", svgs, charts)
    assert sorted(p.name for p in first.charts) == ["a.svg", "b-c.svg"]
    (tmp_path / "charts" / "notes.txt").write_text("mine")
    second = write_review(tmp_path, "report 2", "page 2", "{}", svgs, charts[:1])
    assert sorted(p.name for p in (tmp_path / "charts").iterdir()) == ["a.svg", "notes.txt"]
    assert second.report.read_text() == "report 2"


def test_the_newest_month_counts_folders_and_an_older_latest_copy(tmp_path: Path) -> None:
    from opsledger.review.outputs import is_newest, reviewed_months

    assert is_newest(tmp_path, "2026-01")  # nothing reviewed yet
    (tmp_path / "2026-10").mkdir()
    (tmp_path / "2026-10" / "review.json").write_text("{}")
    (tmp_path / "2026-13").mkdir()  # not a month: ignored
    (tmp_path / "review.json").write_text(json.dumps({"month": "2026-11"}))
    assert reviewed_months(tmp_path) == ["2026-10", "2026-11"]
    assert is_newest(tmp_path, "2026-11") and is_newest(tmp_path, "2026-12")
    assert not is_newest(tmp_path, "2026-10")
