"""Grafana dashboards over the generated recording rules: every query parses with promtool,
names only series the rules record (and ALERTS for their alerts), and the JSON loads."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from grafana_foundation_sdk.models.dashboard import Dashboard

from opsledger.slo.grafana import NO_TEAM, dashboard_uid, promql_alternatives
from tests.conftest import cli

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(PROMTOOL is None, reason="promtool not installed")

CONFIG = """\
services:
  - name: checkout
    owner: payments
  - name: ledger
    owner: finance
"""

SLOTH = """\
version: prometheus/v1
service: checkout
labels:
  owner: not-the-config-owner
slos:
  - name: requests-availability
    objective: 99.9
    description: Checkout requests that do not fail.
    sli:
      events:
        error_query: sum(rate(http_requests_total{job="checkout",code=~"5.."}[{{.window}}]))
        total_query: sum(rate(http_requests_total{job="checkout"}[{{.window}}]))
    alerting:
      name: CheckoutHighErrorRate
      page_alert:
        labels: {severity: critical}
      ticket_alert:
        disable: true
  - name: ratio
    objective: 95
    sli:
      raw:
        error_ratio_query: >-
          sum(rate(errors_total[{{.window}}])) / sum(rate(requests_total[{{.window}}]))
---
version: prometheus/v1
service: inventory
labels:
  owner: stock
slos:
  - name: reads
    objective: 99
    sli:
      events:
        error_query: sum(rate(reads_total{code="500"}[{{.window}}]))
        total_query: sum(rate(reads_total[{{.window}}]))
"""

OPENSLO = """\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: api-latency
spec:
  service: search
  indicator:
    metadata:
      name: api-latency
    spec:
      ratioMetric:
        counter: true
        good:
          metricSource:
            type: Prometheus
            spec:
              query: http_request_duration_seconds_bucket{job="search", le="0.3"}
        total:
          metricSource:
            type: Prometheus
            spec:
              query: http_request_duration_seconds_count{job="search"}
  timeWindow:
    - duration: 28d
      isRolling: true
  budgetingMethod: Occurrences
  objectives:
    - displayName: fast
      target: 0.99
"""

NATIVE = """\
slos:
  - service: ledger
    name: writes
    objective: 99.5
    window: 30d
    indicator:
      prometheus: {good: 'ledger_writes_ok_total', total: 'ledger_writes_total'}
  - service: ledger
    name: files
    objective: 99
    indicator:
      duckdb:
        path: telemetry/requests/*.parquet
        good: status < 500
        total: "true"
"""


def write_workspace(root: Path) -> Path:
    (root / "slos").mkdir(parents=True)
    (root / "opsledger.yaml").write_text(CONFIG)
    (root / "slos" / "sloth.yaml").write_text(SLOTH)
    (root / "slos" / "openslo.yaml").write_text(OPENSLO)
    (root / "slos" / "native.yaml").write_text(NATIVE)
    return root


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_workspace(tmp_path_factory.mktemp("grafana") / "ws")


@pytest.fixture(params=["own", "demo"])
def workspace(request: pytest.FixtureRequest, own: Path) -> Path:
    if request.param == "own":
        return own
    demo: Path = request.getfixturevalue("small_demo")
    return demo


def generate(ws: Path, out: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Return the command's JSON answer and the dashboards it wrote, by file name."""
    code, output = cli("slo", "dashboards", str(ws), "--out", str(out), "--json")
    assert code == 0, output
    answer = json.loads(output[output.index("{"):])
    return answer, {p.name: json.loads(p.read_text()) for p in sorted(out.glob("*.json"))}


def rules_of(ws: Path, out: Path) -> dict[str, Any]:
    code, output = cli("slo", "rules", str(ws), "--out", str(out))
    assert code == 0, output
    document: dict[str, Any] = yaml.safe_load(out.read_text())
    return document


def rules(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for group in document["groups"]:
        yield from group["rules"]


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def exprs(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in panels(dashboard) for t in p["targets"]]


# --- a small PromQL reader for the checks -------------------------------------------------

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
             "or", "unless", "offset", "inf", "nan"}
_SELECTOR = re.compile(r'([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{((?:[^{}"]|"(?:[^"\\]|\\.)*")*)\}')
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*"((?:[^"\\]|\\.)*)"')


def metric_names(expr: str) -> set[str]:
    """Return the series names an expression reads: identifiers that are not functions,
    keywords, label names (inside braces or grouping lists), durations or numbers."""
    text = _STRING.sub('""', expr)
    text = re.sub(r"\{[^{}]*\}", " ", text)
    text = re.sub(r"\[[^\[\]]*\]", " ", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?", text):
        if match.group(2) or match.group(1).lower() in _KEYWORDS:
            continue
        names.add(match.group(1))
    return names


def selectors(expr: str) -> list[tuple[str, dict[str, tuple[str, str]]]]:
    """Return each ``name{...}`` selector with its matchers (label -> (operator, value))."""
    found = []
    for name, body in _SELECTOR.findall(expr):
        matchers = {label: (op, json.loads(f'"{value}"'))
                    for label, op, value in _MATCHER.findall(body)}
        found.append((name, matchers))
    return found


def test_promql_reader_finds_series_names_and_selectors() -> None:
    expr = ('sum(rate(foo_total{a="b}", c=~"x|y"}[5m])) by (job)\n/ on(job) group_left '
            'bar:ratio{d="e"} > bool 0.5 or vector(0) + baz')
    assert metric_names(expr) == {"foo_total", "bar:ratio", "baz"}
    assert selectors(expr) == [("foo_total", {"a": ("=", "b}"), "c": ("=~", "x|y")}),
                               ("bar:ratio", {"d": ("=", "e")})]


# --- the checks ---------------------------------------------------------------------------


def test_every_slo_with_rules_gets_a_dashboard(workspace: Path, tmp_path: Path) -> None:
    document = rules_of(workspace, tmp_path / "rules.yaml")
    ids = {r["labels"]["sloth_id"] for r in rules(document)
           if r.get("record") == "slo:objective:ratio"}
    answer, dashboards = generate(workspace, tmp_path / "out")
    assert ids, "the workspace should have SLOs with a Prometheus SLI"
    assert "slo-overview.json" in dashboards
    charted = {
        selectors(expr)[0][1]["sloth_id"][1]
        for name, d in dashboards.items() if name != "slo-overview.json"
        for expr in exprs(d)[:1]
    }
    assert charted == ids
    assert len(dashboards) == len(ids) + 1
    assert {Path(p).name for p in answer["written"]} == set(dashboards)


def test_own_workspace_lists_what_is_not_charted(own: Path, tmp_path: Path) -> None:
    answer, dashboards = generate(own, tmp_path / "out")
    assert answer["not_charted"] == [
        {"slo": "ledger/files", "reason": "its SLI is not a Prometheus query"}
    ]
    assert len(dashboards) == 6  # checkout x2, inventory, ledger/writes, search; overview


@pytest.mark.prometheus
@needs_promtool
def test_every_panel_query_parses_with_promtool(workspace: Path, tmp_path: Path) -> None:
    _, dashboards = generate(workspace, tmp_path / "out")
    queries = [expr for d in dashboards.values() for expr in exprs(d)]
    assert len(queries) > 20
    rule_file = tmp_path / "queries.yaml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": [
        {"record": f"dashboard:query_{i}:value", "expr": expr} for i, expr in enumerate(queries)
    ]}]}))
    assert PROMTOOL is not None
    done = subprocess.run([PROMTOOL, "check", "rules", str(rule_file)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(queries)} rules found" in done.stdout


def test_queries_read_only_series_the_rules_record(workspace: Path, tmp_path: Path) -> None:
    document = rules_of(workspace, tmp_path / "rules.yaml")
    recorded = {(r["record"], r["labels"]["sloth_id"]) for r in rules(document) if "record" in r}
    alerts = {(r["alert"], r["labels"].get("sloth_severity")) for r in rules(document)
              if "alert" in r}
    alert_names = {name for name, _ in alerts}
    _, dashboards = generate(workspace, tmp_path / "out")
    checked = 0
    for name, dashboard in dashboards.items():
        for expr in exprs(dashboard):
            assert metric_names(expr) <= {n for n, _ in recorded} | {"ALERTS"}, (name, expr)
            for metric, matchers in selectors(expr):
                op, value = matchers["sloth_id"]
                ids = value.split("|") if op == "=~" else [value]
                ids = [re.sub(r"\\(.)", r"\1", i) for i in ids]
                if metric == "ALERTS":
                    op, value = matchers["alertname"]
                    assert set(value.split("|") if op == "=~" else [value]) <= alert_names
                    continue
                for sloth_id in ids:
                    assert (metric, sloth_id) in recorded, (name, metric, sloth_id)
                    checked += 1
    assert checked > 20


def test_dashboards_load_with_the_sdk_and_keep_grafana_invariants(
    workspace: Path, tmp_path: Path
) -> None:
    _, dashboards = generate(workspace, tmp_path / "out")
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids)
    for name, document in dashboards.items():
        assert re.fullmatch(r"[A-Za-z0-9_-]{1,40}", document["uid"]), document["uid"]
        model = Dashboard.from_json(document)
        assert model.uid == document["uid"] and model.title == document["title"]
        assert len(model.panels or []) == len(document["panels"])
        (variable,) = document["templating"]["list"]
        assert (variable["type"], variable["name"], variable["query"]) == (
            "datasource", "datasource", "prometheus")
        ids = [p["id"] for p in document["panels"]]
        assert len(set(ids)) == len(ids), name
        cells: dict[tuple[int, int], int] = {}
        for panel in document["panels"]:
            grid = panel["gridPos"]
            assert grid["w"] > 0 and grid["h"] > 0
            assert grid["x"] >= 0 and grid["x"] + grid["w"] <= 24
            for x in range(grid["x"], grid["x"] + grid["w"]):
                for y in range(grid["y"], grid["y"] + grid["h"]):
                    assert (x, y) not in cells, f"{name}: panels {cells[(x, y)]} and {panel['id']}"
                    cells[(x, y)] = panel["id"]
            if panel["type"] == "row":
                continue
            source = {"type": "prometheus", "uid": "${datasource}"}
            assert panel["datasource"] == source, (name, panel["title"])
            assert panel["targets"] and all(t["datasource"] == source for t in panel["targets"])
            assert len({t["refId"] for t in panel["targets"]}) == len(panel["targets"])


def test_slo_dashboard_charts_its_windows_alerts_and_thresholds(
    own: Path, tmp_path: Path
) -> None:
    _, dashboards = generate(own, tmp_path / "out")
    document = rules_of(own, tmp_path / "rules.yaml")
    checkout = next(d for d in dashboards.values()
                    if d["title"] == "SLO / checkout requests-availability")
    by_title = {p["title"]: p for p in panels(checkout)}
    assert checkout["description"] == "Checkout requests that do not fail."
    windows = [r["labels"]["sloth_window"] for r in rules(document)
               if r.get("record", "").startswith("slo:sli_error:ratio_rate")
               and r["labels"]["sloth_id"] == "checkout-requests-availability"]
    burn = by_title["Burn rate by window"]
    assert [t["legendFormat"] for t in burn["targets"]] == windows
    # Sloth's ticket alert is disabled: only the page conditions remain, 2% of a 30-day
    # (720 h) budget in 1 h and 5% in 6 h (Workbook ch. 5): burn rates 14.4 and 6.
    steps = burn["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert [s["color"] for s in steps] == ["green", "red", "red"]
    assert [s["value"] for s in steps[1:]] == pytest.approx([0.05 * 720 / 6, 0.02 * 720 / 1])
    assert burn["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"] == {"mode": "dashed"}
    (state,) = by_title["Alert state"]["targets"]
    assert 'alertname="CheckoutHighErrorRate"' in state["expr"]
    sli = by_title["SLI over 30d"]["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert sli[1] == {"color": "green", "value": 0.999}


def test_overview_groups_by_team_and_sorts_by_budget_left(own: Path, tmp_path: Path) -> None:
    _, dashboards = generate(own, tmp_path / "out")
    overview = dashboards["slo-overview.json"]
    rows = [p["title"] for p in overview["panels"] if p["type"] == "row"]
    # Config owners first (payments over the SLO's own owner label), then an SLO label's
    # owner (inventory is not in the config), and SLOs without a team last.
    assert rows == ["All SLOs", "finance (1 SLO)", "payments (2 SLOs)", "stock (1 SLO)",
                    f"{NO_TEAM} (1 SLO)"]
    tables = [p for p in panels(overview) if p["type"] == "table"]
    assert [t["options"]["sortBy"] for t in tables] == [
        [{"displayName": "budget remaining", "desc": False}]] * 4
    payments = tables[1]
    for target in payments["targets"]:
        ids = {m["sloth_id"][1] for _, m in selectors(target["expr"])}
        assert ids == {"checkout-ratio|checkout-requests-availability"}, target["expr"]
    bars = [p for p in panels(overview) if p["type"] == "bargauge"]
    assert all(t["expr"].startswith("sort(") for b in bars for t in b["targets"])
    organize = payments["transformations"][1]["options"]["renameByName"]
    assert organize["Value #A"] == "budget remaining"


def test_dashboards_are_byte_identical_across_runs(own: Path, tmp_path: Path) -> None:
    generate(own, tmp_path / "one")
    generate(own, tmp_path / "two")
    one = {p.name: p.read_bytes() for p in (tmp_path / "one").iterdir()}
    assert one == {p.name: p.read_bytes() for p in (tmp_path / "two").iterdir()}


def test_no_prometheus_slo_writes_no_dashboard(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "slos").mkdir(parents=True)
    (ws / "slos" / "native.yaml").write_text(NATIVE.split("  - service: ledger\n    name: files")[0]
                                             .replace("prometheus: {good: 'ledger_writes_ok_total'"
                                                      ", total: 'ledger_writes_total'}",
                                                      "health: {service: ledger}"))
    code, output = cli("slo", "dashboards", str(ws), "--out", str(tmp_path / "out"))
    assert code == 0, output
    assert "No SLO has a Prometheus SLI" in output
    assert not (tmp_path / "out").exists()


def test_strict_refuses_a_broken_definition(own: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(own, ws)
    (ws / "slos" / "broken.yaml").write_text("slos:\n  - service: x\n    objective: high\n")
    code, output = cli("slo", "dashboards", str(ws), "--out", str(tmp_path / "out"), "--strict")
    assert code == 2, output
    assert "broken.yaml" in output
    assert not (tmp_path / "out").exists()


def test_uids_fit_grafana_and_stay_distinct() -> None:
    long_a = "slo-" + "a" * 40 + "-one"
    long_b = "slo-" + "a" * 40 + "-two"
    uids = {dashboard_uid(n) for n in (long_a, long_b, "slo-x y", "slo-x-y", "slo-short")}
    assert len(uids) == 5
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{1,40}", u) for u in uids)
    assert dashboard_uid("slo-short") == "opsledger-slo-short"


def test_regex_alternatives_match_each_name_literally() -> None:
    literal = json.loads(promql_alternatives(["a.b", "c-d", "e|f"]))
    pattern = re.compile(f"^(?:{literal})$")
    assert pattern.match("a.b") and pattern.match("c-d") and pattern.match("e|f")
    assert not pattern.match("axb") and not pattern.match("e")


def series_text(labels: dict[str, str]) -> str:
    name = labels.pop("__name__", "")
    return name + "{" + ", ".join(f"{k}={json.dumps(v)}" for k, v in sorted(labels.items())) + "}"


Expected = list[tuple[dict[str, str], float]]


def outage_cases(own: Path, tmp_path: Path) -> list[dict[str, Any]]:
    """Return a promtool case per query of the checkout SLO's dashboard and of the overview's
    first two rows, with the figures of a total outage of checkout/requests-availability."""
    document = rules_of(own, tmp_path / "rules.yaml")
    sloth_id = "checkout-requests-availability"
    mine = [r for r in rules(document) if r.get("labels", {}).get("sloth_id") == sloth_id]
    meta = next(r["labels"] for r in mine if r.get("record") == "slo:objective:ratio")
    info = next(r["labels"] for r in mine if r.get("record") == "sloth_slo_info")
    burn = 1 / (1 - 0.999)  # error ratio 1 in every window over an error budget of 0.1%
    _, dashboards = generate(own, tmp_path / "out")
    dashboard = next(d for d in dashboards.values()
                     if d["title"] == "SLO / checkout requests-availability")
    # The burn-rate and budget records keep the window label of the ratio they divide.
    budget = {"__name__": "slo:period_error_budget_remaining:ratio", **meta,
              "sloth_window": "30d"}
    slo = {"sloth_service": "checkout", "sloth_slo": "requests-availability"}

    def on_dashboard(title: str, legend: str) -> Expected:
        window = {"sloth_window": legend.removeprefix("SLI ")}
        return {
            "Error budget remaining": [(budget, 1 - burn)],
            "SLI over 30d": [({**meta, "sloth_window": "30d"}, 0.0)],
            "Objective": [({"__name__": "slo:objective:ratio", **meta}, 0.999)],
            "Burn rate over 30d": [({"__name__": "slo:period_burn_rate:ratio", **meta,
                                     "sloth_window": "30d"}, burn)],
            "Burn rate now (5m)": [({"__name__": "slo:current_burn_rate:ratio", **meta,
                                     "sloth_window": "5m"}, burn)],
            "Alerts firing": [({}, 1.0)],
            "Burn rate by window": [({**meta, **window}, burn)],
            "SLI": ([({"__name__": "slo:objective:ratio", **meta}, 0.999)]
                    if legend == "objective" else [({**meta, **window}, 0.0)]),
            "Alert state": [({"alertname": "CheckoutHighErrorRate", "alertstate": "firing",
                              "sloth_severity": "page"}, 1.0)],
            "SLO": [({"__name__": "sloth_slo_info", **info}, 1.0)],
        }[title]

    def on_overview(title: str, column: str) -> Expected | None:
        if title.startswith("payments:") and "bar" not in column:
            return {
                "budget remaining": [(slo, 1 - burn)],
                "SLI (window)": [(slo, 1 - burn * (1 - 0.999))],
                "objective": [({**slo, "sloth_slo": "ratio"}, 0.95), (slo, 0.999)],
                "alerts firing": [(slo, 1.0)],
            }.get(column, [(slo, burn)] if column.startswith("burn ") else None)
        if title.startswith("payments:"):
            return [(slo, 1 - burn)]
        return {"SLOs": [({}, 5.0)], "Error budget exhausted": [({}, 1.0)],
                "Under 25% of budget left": [({}, 0.0)],
                "SLO alerts firing": [({}, 1.0)]}.get(title)

    cases = []
    for panel in panels(dashboard):
        for target in panel["targets"]:
            cases.append((target["expr"], on_dashboard(panel["title"], target["legendFormat"])))
    for panel in panels(dashboards["slo-overview.json"]):
        columns = panel.get("transformations", [{}])[-1:]
        names = columns[0].get("options", {}).get("renameByName", {}) if columns else {}
        for target in panel["targets"]:
            kind = "bar" if panel["type"] == "bargauge" else ""
            found = on_overview(panel["title"], names.get(f"Value #{target['refId']}", kind))
            if found is not None:
                cases.append((target["expr"], found))
    assert len(cases) == len(exprs(dashboard)) + 4 + 8 + 1
    return [{"expr": expr, "eval_time": "10m",
             "exp_samples": [{"labels": series_text(dict(labels)), "value": value}
                             for labels, value in samples]}
            for expr, samples in cases]


@pytest.mark.prometheus
@needs_promtool
def test_panels_show_the_figures_of_a_total_outage(own: Path, tmp_path: Path) -> None:
    """promtool evaluates the generated rules over a total outage of one SLO; every query of
    its dashboard, and of the overview's counts and team row, returns the figures worked out
    here: error ratio 1 in every window, so burn rate 1 / (1 - 0.999), budget left 1 minus
    that, SLI 0, and the page alert firing."""
    tests = {"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": 'http_requests_total{job="checkout", code="500"}',
                          "values": "0+10x30"}],
        "promql_expr_test": outage_cases(own, tmp_path),
    }]}
    (tmp_path / "dashboard.test.yaml").write_text(yaml.safe_dump(tests, sort_keys=False))
    assert PROMTOOL is not None
    done = subprocess.run([PROMTOOL, "test", "rules", "dashboard.test.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
