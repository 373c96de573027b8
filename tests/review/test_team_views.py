"""Team and service views of the review, and the team scorecard of ``review --by-team``.

Every expectation is computed here from the workspace's own files (opsledger.yaml, the SLO
definitions, the health history) or read back from the team's review.json, never taken from
the code under test.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from datetime import UTC, datetime
from html.parser import HTMLParser
from importlib.resources import files
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from opsledger.core import inputs as inputs_module
from opsledger.core.errors import InputError
from opsledger.core.workspace import open_workspace
from opsledger.review.history import history_path
from opsledger.review.service import ReviewResult, run_review

from ..conftest import cli

CLOCK = datetime(2026, 11, 4, 10, tzinfo=UTC)  # reviews October 2026
MONTH = "2026-10"
NOW = CLOCK.isoformat()
FIGURE_KEYS = ["slos", "error_budget", "incidents", "action_items", "vulnerabilities", "spend"]


def owners(ws: Path) -> dict[str, set[str]]:
    """Return each team's services as opsledger.yaml gives them (``owner``)."""
    config = yaml.safe_load((ws / "opsledger.yaml").read_text())
    found: dict[str, set[str]] = {}
    for service in config["services"]:
        if service.get("owner"):
            found.setdefault(service["owner"], set()).add(service["name"])
    return found


def slo_services(ws: Path) -> list[str]:
    """Return the service of every SLO defined under slos/, one entry per SLO, read from the
    YAML of each format the demo writes (OpenSLO, native, Sloth, slo-generator)."""
    found = []
    for path in sorted((ws / "slos").rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict):
                continue
            if doc.get("kind") == "SLO":  # OpenSLO
                found.append(doc["spec"]["service"])
            elif doc.get("kind") == "ServiceLevelObjective":  # slo-generator
                found.append(doc["metadata"]["labels"]["service_name"])
            elif doc.get("version") == "prometheus/v1":  # Sloth: one service, many SLOs
                found += [doc["service"]] * len(doc["slos"])
            elif isinstance(doc.get("slos"), list):  # native
                found += [slo["service"] for slo in doc["slos"]]
    return found


def probes_by_service(ws: Path) -> Counter[str]:
    """Return the number of probe results per service in the health history files."""
    counts: Counter[str] = Counter()
    for path in sorted((ws / "reports" / "health").iterdir()):
        if path.suffix == ".csv":
            with path.open(newline="") as handle:
                counts.update(row["service"] for row in csv.DictReader(handle))
        elif path.suffix == ".jsonl":
            counts.update(json.loads(line)["service"]
                          for line in path.read_text().splitlines() if line.strip())
    return counts


def kpi_values(review: dict[str, Any]) -> dict[str, dict[str, Any]]:
    section = next(s for s in review["sections"] if s["key"] == "kpis")
    return {k["name"]: k for k in section["data"]["kpis"]["kpis"]}


def section_data(review: dict[str, Any], key: str) -> dict[str, Any]:
    data: dict[str, Any] = next(s for s in review["sections"] if s["key"] == key)["data"]
    return data


def tree(root: Path) -> dict[str, bytes]:
    """Return every file under ``root`` by relative path (the lock file left out)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "lock"}


@pytest.fixture(scope="module")
def pair(small_demo: Path, tmp_path_factory: pytest.TempPathFactory
         ) -> tuple[Path, Path, ReviewResult]:
    """Two copies of the demo: one reviewed whole, the other reviewed with --by-team."""
    base = tmp_path_factory.mktemp("teams")
    whole, by_team = base / "whole", base / "by-team"
    shutil.copytree(small_demo, whole)
    shutil.copytree(small_demo, by_team)
    run_review(open_workspace(whole), CLOCK)
    real = inputs_module.reader_for

    def counted(key: Any) -> Any:
        READS[key.value] += 1
        return real(key)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(inputs_module, "reader_for", counted)
        result = run_review(open_workspace(by_team), CLOCK, by_team=True)
    return whole, by_team, result


READS: Counter[str] = Counter()  # inputs read by the --by-team review, by input key


@pytest.fixture(scope="module")
def scorecard(pair: tuple[Path, Path, ReviewResult]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (pair[1] / "reports" / "ops" / "teams" / "scorecard.json").read_text())
    return document


def test_by_team_writes_every_teams_review_and_the_scorecard(
        pair: tuple[Path, Path, ReviewResult], scorecard: dict[str, Any]) -> None:
    _, ws, result = pair
    teams_dir = ws / "reports" / "ops" / "teams"
    expected = owners(ws)
    assert {card["team"] for card in scorecard["teams"]} == set(expected)
    for team, services in expected.items():
        for folder in (teams_dir / team / MONTH, teams_dir / team):
            for name in ("MONTHLY_OPS_REPORT.md", "index.html", "review.json"):
                assert (folder / name).is_file(), folder / name
        review = json.loads((teams_dir / team / MONTH / "review.json").read_text())
        assert review["scope"]["team"] == team
        assert set(review["scope"]["services"]) == services
        assert review["history"]["recorded"] is False
        report = (teams_dir / team / MONTH / "MONTHLY_OPS_REPORT.md").read_text()
        assert report.splitlines()[0] == (
            f"# Monthly ops report — Example Retail, team {team}, October 2026")
        assert f"team {team}" in (teams_dir / team / "index.html").read_text().split(
            "</title>")[0]
    for folder in (teams_dir, teams_dir / MONTH):
        for name in ("SCORECARD.md", "index.html", "scorecard.json"):
            assert (folder / name).is_file(), folder / name
    assert scorecard["month"] == MONTH and scorecard["schema_version"] == 1
    assert [r.scope.team for r in result.teams] == sorted(expected)
    assert set(result.outputs) >= {teams_dir / "SCORECARD.md", teams_dir / "index.html"}


def test_scorecard_figures_equal_the_values_in_each_teams_review_json(
        pair: tuple[Path, Path, ReviewResult], scorecard: dict[str, Any]) -> None:
    ws = pair[1]
    for card in scorecard["teams"]:
        review = json.loads((ws / card["review"] / "review.json").read_text())
        kpis = kpi_values(review)
        missed = set(section_data(review, "kpis")["missed"])
        figures = {f["key"]: f for f in card["figures"]}
        assert list(figures) == FIGURE_KEYS
        # Each figure reads its KPIs; a KPI not computed gives the figure its reason.
        pairs = {"slos": {"met": "slos_met", "evaluated": "slos_evaluated"},
                 "error_budget": {"lowest_remaining": "error_budget_remaining_min",
                                  "exhausted": "error_budgets_exhausted"},
                 "incidents": {"count": "incidents_per_month"},
                 "action_items": {"overdue": "action_items_overdue",
                                  "open": "action_items_open"},
                 "vulnerabilities": {"overdue": "vulnerabilities_overdue",
                                     "critical": "vulnerabilities_critical"},
                 "spend": {"ratio": "cost_vs_target"}}
        for key, names in pairs.items():
            figure = figures[key]
            first = kpis[next(iter(names.values()))]
            if first["value"] is None:
                assert figure["status"] == "skipped"
                assert figure["reason"] == first["reason"] and figure["reason"]
                assert figure["text"] == f"not computed: {first['reason']}"
                continue
            for value_name, kpi in names.items():
                assert figure["values"][value_name] == pytest.approx(kpis[kpi]["value"]), (
                    card["team"], key, kpi)
        # Judged as the team's KPI section judges them.
        for key, kpi in (("slos", "slos_met_share"), ("action_items", "action_items_overdue"),
                         ("vulnerabilities", "vulnerabilities_overdue"),
                         ("spend", "cost_vs_target")):
            if figures[key]["status"] != "skipped":
                assert (figures[key]["status"] == "fail") == (kpi in missed), (card["team"], key)
        # Major incidents: the severities the policy calls major, counted in the incident
        # section of the same review.
        incidents = figures["incidents"]
        if incidents["status"] != "skipped":
            by_severity = section_data(review, "incidents")["by_severity"]
            assert incidents["values"]["major"] == sum(
                by_severity.get(s, 0) for s in scorecard["major_severities"])
            assert incidents["values"]["count"] == section_data(review, "incidents")["count"]
        # Spend: the team's services with a target, as its cost section lists them.
        spend = figures["spend"]
        if spend["status"] != "skipped":
            targets = section_data(review, "cost")["targets"]
            assert set(targets) <= set(card["services"])
            assert spend["values"]["target"] == pytest.approx(
                sum(t["target"] for t in targets.values()))
            assert spend["values"]["spend"] == pytest.approx(sum(
                t["forecast"] if t["forecast"] is not None else t["actual"]
                for t in targets.values()), abs=0.01 * len(targets))
            assert spend["values"]["ratio"] == pytest.approx(
                spend["values"]["spend"] / spend["values"]["target"], rel=1e-6)


def test_a_teams_slo_count_is_that_of_its_services_slo_definitions(
        pair: tuple[Path, Path, ReviewResult], scorecard: dict[str, Any]) -> None:
    ws = pair[1]
    defined = Counter(slo_services(ws))
    teams = owners(ws)
    for card in scorecard["teams"]:
        slos = next(f for f in card["figures"] if f["key"] == "slos")
        expected = sum(defined[service] for service in teams[card["team"]])
        review = json.loads((ws / card["review"] / "review.json").read_text())
        assert len(section_data(review, "slos")["slos"]) == expected, card["team"]
        if slos["status"] != "skipped":
            assert slos["values"]["defined"] == expected, card["team"]
            assert slos["values"]["evaluated"] <= expected
    assert sum(defined[s] for group in teams.values() for s in group) == sum(defined.values())


def test_teams_are_listed_most_in_need_of_attention_first(scorecard: dict[str, Any]) -> None:
    def attention(card: dict[str, Any]) -> tuple[int, int, int, str]:
        found = Counter(f["status"] for f in card["figures"])
        return (-found["fail"] - found["error"], -found["warn"], -found["skipped"],
                card["team"])

    cards = scorecard["teams"]
    assert cards == sorted(cards, key=attention)
    for card in cards:  # a team's status is its worst figure's
        statuses = {f["status"] for f in card["figures"]}
        worst = next(s for s in ("error", "fail", "warn", "pass", "skipped") if s in statuses)
        assert card["status"] == worst


def test_the_whole_review_is_the_same_with_and_without_by_team(
        pair: tuple[Path, Path, ReviewResult]) -> None:
    whole, by_team, _ = pair
    with_teams = {path: data for path, data in tree(by_team).items()
                  if not path.startswith("reports/ops/teams/")}
    assert tree(whole) == with_teams


def test_a_view_is_written_apart_and_never_records_or_writes_the_charter(ws: Path) -> None:
    code, out = cli("review", str(ws), "--team", "payments", "--now", NOW,
                    "--record-history")
    assert code == 2 and "not recorded" in out
    code, out = cli("review", str(ws), "--team", "payments")  # the real clock would record
    assert code == 0, out
    reports = ws / "reports" / "ops"
    assert not (reports / "MONTHLY_OPS_REPORT.md").exists()
    assert not (reports / "review.json").exists()
    assert not (ws / "docs" / "roadmap" / "NEXT_PHASE.md").exists()
    assert not history_path(open_workspace(ws)).exists()
    assert (reports / "teams" / "payments" / "review.json").is_file()
    code, out = cli("review", str(ws), "--service", "checkout", "--now", NOW, "--json")
    assert code == 0, out
    document = json.loads(out)
    assert document["scope"]["service"] == "checkout" and document["scope"]["team"] == "payments"
    written = reports / "services" / "checkout" / MONTH / "review.json"
    assert str(written) in document["outputs"]
    with pytest.raises(InputError, match="not recorded"):
        run_review(open_workspace(ws), CLOCK, team="payments", record_history=True)


def test_a_view_says_what_it_left_out(pair: tuple[Path, Path, ReviewResult]) -> None:
    ws = pair[1]
    probes = probes_by_service(ws)
    schema = json.loads(files("opsledger").joinpath("model", "schemas",
                                                    "review.schema.json").read_text())
    for team, services in owners(ws).items():
        folder = ws / "reports" / "ops" / "teams" / team / MONTH
        review = json.loads((folder / "review.json").read_text())
        jsonschema.validate(review, schema)
        other = sum(n for service, n in probes.items() if service not in services)
        unplaced = probes.get("", 0)
        assert review["scope"]["left_out"]["health-history"] == {
            "other": other, "unplaced": unplaced}
        scope = section_data(review, "scope")
        row = next(i for i in scope["inputs"] if i["input"] == "health-history")
        assert row["kept"] == sum(probes[s] for s in services)
        # The summary names the section and its headline says what was left out.
        summary = {s["key"]: s for s in review["summary"]["sections"]}
        assert "left out" in summary["scope"]["headline"]
        report = (folder / "MONTHLY_OPS_REPORT.md").read_text()
        summary_part = report.split("## Summary", 1)[1].split("\n## ", 1)[0]
        assert "What this view covers" in summary_part
        assert f"| health-history | {row['kept']:,} | {other:,} | {unplaced:,} |" in report


def test_an_unknown_team_or_service_exits_2_with_a_suggestion(ws: Path) -> None:
    code, out = cli("review", str(ws), "--team", "paymnts", "--now", NOW)
    assert code == 2
    assert "did you mean 'payments'" in out and "Traceback" not in out
    code, out = cli("review", str(ws), "--service", "chekout", "--now", NOW)
    assert code == 2 and "did you mean 'checkout'" in out
    code, out = cli("review", str(ws), "--team", "payments", "--by-team", "--now", NOW)
    assert code == 2 and "--by-team" in out
    assert not (ws / "reports" / "ops" / "teams").exists()


class _Resources(HTMLParser):
    """Every URL the page refers to, every script and every style sheet link."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: Counter[str] = Counter()
        self.policy = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        found = dict(attrs)
        if found.get("http-equiv") == "Content-Security-Policy":
            self.policy = found.get("content") or ""
        for name in ("href", "src", "srcset", "action", "poster", "data"):
            if found.get(name):
                self.urls.append(str(found[name]))


def test_the_scorecard_page_loads_nothing_and_links_each_teams_review(
        pair: tuple[Path, Path, ReviewResult], scorecard: dict[str, Any]) -> None:
    ws = pair[1]
    for folder in (ws / "reports" / "ops" / "teams", ws / "reports" / "ops" / "teams" / MONTH):
        page = (folder / "index.html").read_text()
        parser = _Resources()
        parser.feed(page)
        assert "default-src 'none'" in parser.policy
        assert parser.tags["script"] == 0 and parser.tags["link"] == 0
        assert parser.tags["img"] == 0 and parser.tags["iframe"] == 0
        assert "url(" not in page and "@import" not in page and "//" not in "".join(parser.urls)
        links = [u for u in parser.urls if not u.startswith("#")]
        for card in scorecard["teams"]:  # each team's dashboard and report, as they exist
            review = ws / card["review"]
            assert {(review / "index.html").resolve(), (review / "MONTHLY_OPS_REPORT.md").resolve()
                    } <= {(folder / link).resolve() for link in links}
        assert all((folder / link).is_file() for link in links)
        for anchor in (u[1:] for u in parser.urls if u.startswith("#")):
            assert f'id="{anchor}"' in page
        # Status as colour, icon and word.
        for card in scorecard["teams"]:
            assert f'class="{card["status"]}"' in page
        markdown = (folder / "SCORECARD.md").read_text()
        for card in scorecard["teams"]:
            line = next(x for x in markdown.splitlines() if x.startswith(f"| **{card['team']}**"))
            assert card["status"] in line
            for figure in card["figures"]:
                assert figure["text"] in line


def test_the_team_views_read_each_input_once(pair: tuple[Path, Path, ReviewResult]) -> None:
    assert len(pair[2].teams) == len(owners(pair[1]))
    assert READS and max(READS.values()) == 1, READS


def test_views_that_would_share_a_folder_are_refused_before_anything_is_written(
        ws: Path) -> None:
    config = ws / "opsledger.yaml"
    text = config.read_text()
    assert text.count("owner: storefront") == 2
    config.write_text(text.replace("owner: storefront", "owner: store front", 1)
                      .replace("owner: storefront", "owner: store-front", 1))
    code, out = cli("review", str(ws), "--by-team", "--now", NOW)
    assert code == 2 and "same folder" in out and "store front" in out
    code, out = cli("review", str(ws), "--team", "store-front", "--now", NOW)
    assert code == 2 and "same folder" in out
    assert not (ws / "reports" / "ops").exists()
    config.write_text(text.replace("owner: storefront", "owner: 2026-10"))
    code, out = cli("review", str(ws), "--by-team", "--now", NOW)
    assert code == 2 and "named like a month" in out
    code, out = cli("review", str(ws), "--team", "payments", "--now", NOW)
    assert code == 0, out  # one other team's name does not stop a team's own view


def test_a_view_is_never_compared_with_the_whole_workspaces_history(ws: Path) -> None:
    workspace = open_workspace(ws)
    run_review(workspace, CLOCK, month="2026-09", record_history=True)
    whole = run_review(workspace, CLOCK)
    assert whole.front_page is not None
    assert whole.front_page.worse or whole.front_page.better or whole.front_page.same
    view = run_review(workspace, CLOCK, team="payments")
    assert view.front_page is not None
    assert not (view.front_page.worse or view.front_page.better or view.front_page.same)
    kpis = next(s for s in view.sections if s.key == "kpis")
    assert kpis.data["changes"] == [] and not kpis.charts
    assert "team payments has no history to compare with" in kpis.headline
    assert "not kept in the KPI history" in kpis.body
