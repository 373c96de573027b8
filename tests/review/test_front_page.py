"""The review's front page: the summary leads the report and the dashboard (the same one in
both), waivers show who, why and until when, the inputs close the report, and review.json
matches its shipped schema."""

from __future__ import annotations

import copy
import json
import re
import shutil
import tomllib
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from opsledger.approvals.decisions import waiver_ledger
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.review.pending import workspace_waivers
from opsledger.review.service import ReviewResult, run_review

CLOCK = datetime(2026, 11, 4, 10, tzinfo=UTC)  # reviews October, with 1-4 November to date
ROOT = Path(__file__).resolve().parents[2]
WAIVERS = [  # (evidence, procedure, gate, justification, approver, role, expires)
    ("p18", "p18", "p18-governance-cadence", "paging rota lands next sprint",
     "Dana Ops", "operations-director", "2026-11-10"),
    ("p18", "p18", "p18-backlog-integrity", "owners assigned at the December planning",
     "Sam Lead", "support-lead", "2027-01-31"),
    ("p09", "p09", "p09-slos-met", "checkout SLO redefined with the new latency target",
     "Dana Ops", "operations-director", "2026-12-20"),
    ("p09", "p09", "p09-old-gate", "expired before the review", "Dana Ops",
     "operations-director", "2026-11-03"),
]


def add_waivers(ws: Path) -> None:
    workspace = open_workspace(ws)
    for where, procedure, gate, why, approver, role, expires in WAIVERS:
        folder = workspace.p18_evidence if where == "p18" else workspace.p09_evidence
        waiver_ledger(folder).append({
            "time": "2026-11-02T09:00:00+00:00", "procedure": procedure, "gate": gate,
            "justification": why, "approver": approver, "role": role, "expires": expires})


@pytest.fixture(scope="module")
def reviewed(small_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> ReviewResult:
    ws = tmp_path_factory.mktemp("front") / "ws"
    shutil.copytree(small_demo, ws)
    add_waivers(ws)
    return run_review(open_workspace(ws), CLOCK)


class _Text(HTMLParser):
    """The text inside the element with a given id (entities decoded)."""

    def __init__(self, wanted: str) -> None:
        super().__init__()
        self.wanted, self.depth, self.parts = wanted, 0, []  # type: tuple[str, int, list[str]]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.depth:
            self.depth += tag not in ("br", "img", "input", "meta")
        elif dict(attrs).get("id") == self.wanted:
            self.depth = 1

    def handle_endtag(self, tag: str) -> None:
        if self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.parts.append(data)


def element_text(html: str, element_id: str) -> str:
    parser = _Text(element_id)
    parser.feed(html)
    return " ".join(" ".join(parser.parts).split())


def headings(markdown: str) -> list[str]:
    return [line[3:] for line in markdown.splitlines() if line.startswith("## ")]


def test_the_report_opens_on_the_summary_and_closes_on_the_inputs(
        reviewed: ReviewResult) -> None:
    report = reviewed.report.read_text()
    assert report.splitlines()[0] == "# Monthly ops report — Example Retail, October 2026"
    order = headings(report)
    assert order[0] == "Summary"
    assert order[-2:] == ["Actions", "Inputs (appendix)"]
    summary = report.split("## Summary", 1)[1].split("\n## ", 1)[0]
    for part in ("### Needs a decision", "### Since September 2026", "### Waivers in force",
                 "### Month to date", "### Sections"):
        assert part in summary
    # Every section is named in the summary with its status and headline.
    for section in reviewed.sections:
        line = next(x for x in summary.splitlines() if f"[{section.title}](#" in x)
        assert section.status.value in line


def test_charts_follow_the_tables_in_every_section(reviewed: ReviewResult) -> None:
    report = reviewed.report.read_text()
    for chunk in report.split("\n## ")[1:]:
        lines = chunk.splitlines()
        images = [i for i, x in enumerate(lines) if x.startswith("![")]
        tables = [i for i, x in enumerate(lines) if x.startswith("| ")]
        if images and tables:
            assert max(tables) < min(images), lines[0]


def test_summary_links_lead_to_headings_of_the_report(reviewed: ReviewResult) -> None:
    report = reviewed.report.read_text()
    slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-")
             for h in re.findall(r"^#{2,3} (.+)$", report, flags=re.M)}
    links = set(re.findall(r"\]\(#([^)]+)\)", report))
    assert links and links <= slugs, links - slugs


def test_waivers_show_who_why_and_until_when_everywhere(reviewed: ReviewResult) -> None:
    report = reviewed.report.read_text()
    summary = report.split("### Waivers in force", 1)[1].split("\n### ", 1)[0]
    dashboard = element_text(reviewed.dashboard.read_text(), "summary")
    document = json.loads(reviewed.summary.read_text())
    in_force = [w for w in WAIVERS if date.fromisoformat(w[6]) >= CLOCK.date()]
    assert [w["gate"] for w in document["waivers"]] == \
        [w[2] for w in sorted(in_force, key=lambda w: w[6])]  # soonest expiry first
    for _, _, gate, why, approver, role, expires in in_force:
        row = next(x for x in summary.splitlines() if gate in x)
        assert why in row and approver in row and role in row and expires in row
        assert why in dashboard and f"{approver} ({role})" in dashboard and expires in dashboard
        stored = next(w for w in document["waivers"] if w["gate"] == gate)
        assert (stored["justification"], stored["approver"], stored["expires"]) == \
            (why, approver, expires)
        assert stored["days_left"] == (date.fromisoformat(expires) - CLOCK.date()).days
    assert "p09-old-gate" not in report and "p09-old-gate" not in dashboard
    # The waiver ending within two weeks needs a decision; the others do not yet.
    decisions = [d["text"] for d in document["summary"]["decisions"] if d["kind"] == "waiver"]
    assert len(decisions) == 1 and "p18-governance-cadence" in decisions[0]
    assert "in 6 day(s)" in decisions[0]


def test_the_report_and_the_dashboard_show_the_same_summary(reviewed: ReviewResult) -> None:
    report = reviewed.report.read_text()
    summary_md = report.split("## Summary", 1)[1].split("\n## ", 1)[0]
    plain_md = " ".join(summary_md.replace("\\|", "|").replace("&amp;", "&").split())
    dashboard = element_text(reviewed.dashboard.read_text(), "summary")
    front = reviewed.front_page
    assert front is not None and front.decisions and front.month_to_date is not None
    items = [d.text for d in front.decisions]
    items += [c.text for c in (*front.worse, *front.better)]
    items += [front.month_to_date.text]
    items += [s.headline or str(s.data.get("headline", "")) for s in reviewed.sections]
    for item in filter(None, items):
        text = " ".join(item.split())
        assert text in dashboard, text
        assert text in plain_md, text


def test_a_tampered_waiver_log_is_reported_not_trusted(
        small_demo: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(small_demo, ws)
    add_waivers(ws)
    log = waiver_ledger(open_workspace(ws).p09_evidence).path
    log.write_text(log.read_text().replace("2026-12-20", "2027-12-20"))  # a longer waiver
    view = workspace_waivers(Context.open(open_workspace(ws), CLOCK), CLOCK.date())
    assert {w.procedure for w in view.waivers} == {"p18"}
    assert len(view.problems) == 1 and "fails verification" in view.problems[0]
    assert ".artifacts/protocol-09/waivers.csv" in view.problems[0]


def review_schema() -> dict[str, Any]:
    text = files("opsledger").joinpath("model", "schemas", "review.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def test_review_json_matches_its_shipped_schema(reviewed: ReviewResult) -> None:
    schema = review_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    document = json.loads(reviewed.summary.read_text())
    assert list(validator.iter_errors(document)) == []
    # The schema says something: documents that break it are refused.
    for breaking in (lambda d: d.pop("waivers"),
                     lambda d: d["summary"]["worse"].append({"kpi": "x"}),
                     lambda d: d.__setitem__("month", "2026-13"),
                     lambda d: d["sections"][0].__setitem__("status", "green")):
        broken = copy.deepcopy(document)
        breaking(broken)
        assert not validator.is_valid(broken)
    # Shipped with the package, and documented.
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())[
        "tool"]["setuptools"]["package-data"]["opsledger"]
    assert "model/schemas/*" in package_data
    assert "review.schema.json" in (ROOT / "docs" / "review-json.md").read_text()
