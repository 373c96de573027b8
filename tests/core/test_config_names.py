"""Every service, team, rotation, owner and gate named in opsledger.yaml is checked against
what the workspace declares; an unknown name is located with the closest known one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from opsledger.cli.main import app
from opsledger.core.config import Config
from opsledger.core.config_names import (
    PROCEDURE_GATES,
    KnownNames,
    NameKind,
    known_names,
    merge_catalogs,
    unknown_names,
)
from opsledger.core.errors import InputError
from opsledger.core.inputs import Context, Inputs, fail_if_strict
from opsledger.core.options import ProcedureId
from opsledger.core.problems import Level, Problem, closest
from opsledger.core.workspace import InputKey, open_workspace
from opsledger.core.yamlfile import parse_yaml
from opsledger.model.handover import CatalogService

# The two typos as reported: neither key names a service, both are valid YAML and schema.
REPORTED = """\
version: 1
services:
  - name: web-api
    owner: platform
slo_budgets:
  web-apu:
    availability: 0.999
cost_targets:
  web-apii:
    monthly: 1200
"""


def entry(name: str, team: str | None = None, oncall: str | None = None,
          kind: str = "component") -> CatalogService:
    return CatalogService(name, None, team, None, None, None, (), None, None, oncall,
                          kind=kind)


def check(text: str, catalog: tuple[CatalogService, ...] = ()) -> list[Problem]:
    data, lines = parse_yaml(text, "opsledger.yaml")
    config = Config.model_validate(data)
    return unknown_names(config, known_names(config, catalog), lines, "opsledger.yaml")


def located(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.location, p.message) for p in problems]


def test_the_reported_typos_are_located_with_the_service_they_meant() -> None:
    problems = check(REPORTED)
    assert located(problems) == [
        ("line 6", "slo_budgets.web-apu: unknown service 'web-apu'; did you mean 'web-api'?"),
        ("line 9", "cost_targets.web-apii: unknown service 'web-apii'; did you mean 'web-api'?"),
    ]
    assert {p.level for p in problems} == {Level.ROW}
    assert str(problems[1]).startswith("opsledger.yaml: line 9: cost_targets.web-apii:")


def test_declared_names_pass_everywhere_they_can_be_used() -> None:
    text = """\
services:
  - {name: checkout, owner: payments, oncall: payments-primary}
  - {name: search, owner: storefront}
stakeholders:
  - {name: Ada Example, email: ada@example.com, role: operations-director}
slo_budgets:
  default: {availability: 0.995}
  checkout: {availability: 0.999}
cost_targets:
  search: {monthly: 300}
change_windows:
  - {name: w, cron: "0 2 * * 2", services: [checkout, search]}
cost_mapping:
  service: [{column: ServiceName, lookup: {Amazon Elastic Compute Cloud: search}}]
  team: [{tag: cc, lookup: {cc-7: payments}}]
incidents:
  service_mapping: {"tag:pay": checkout}
  escalation:
    receivers:
      payments-primary: {webhook_url: https://alerts.example.com/p}
      storefront-oncall: {webhook_url: https://alerts.example.com/s}
      unrouted: {webhook_url: https://alerts.example.com/u}
team_capacity: {people: {payments: 3, storefront: 2}}
kpi_reviews:
  - {metric: MTTR, cadence: weekly, owner: support-lead}
  - {metric: Cost, cadence: monthly, owner: Ada Example}
  - {metric: SLOs, cadence: monthly, owner: ada@example.com}
policies:
  waivers:
    gates:
      p18-backlog-integrity: {max_days: 7}
"""
    assert check(text) == []


def test_every_place_that_names_something_is_checked() -> None:
    text = """\
services:
  - {name: checkout, owner: payments, oncall: payments-primary}
change_windows:
  - name: w
    cron: "0 2 * * 2"
    services: [checkout, chekout]
cost_mapping:
  service: [{column: ServiceName, lookup: {EC2: checkuot}}]
  team: [{tag: cc, lookup: {cc-7: paymnts}}]
incidents:
  service_mapping:
    "Tag : Pay": check-out
  escalation:
    receivers:
      payments-primray: {webhook_url: https://alerts.example.com/p}
team_capacity:
  people:
    payment: 3
kpi_reviews:
  - {metric: MTTR, cadence: weekly, owner: sre-manger}
policies:
  waivers:
    gates:
      p18-backlog-integrty: {max_days: 7}
"""
    assert located(check(text)) == [
        ("line 6", "change_windows.0.services.1: unknown service 'chekout'; "
                   "did you mean 'checkout'?"),
        ("line 8", "cost_mapping.service.0.lookup.EC2: unknown service 'checkuot'; "
                   "did you mean 'checkout'?"),
        ("line 9", "cost_mapping.team.0.lookup.cc-7: unknown team 'paymnts'; "
                   "did you mean 'payments'?"),
        # The schema lower-cases the key; the problem still points at the line written.
        ("line 12", "incidents.service_mapping.tag:pay: unknown service 'check-out'; "
                    "did you mean 'checkout'?"),
        ("line 15", "incidents.escalation.receivers.payments-primray: unknown on-call rotation "
                    "'payments-primray'; did you mean 'payments-primary'?"),
        ("line 18", "team_capacity.people.payment: unknown team 'payment'; "
                    "did you mean 'payments'?"),
        ("line 20", "kpi_reviews.0.owner: unknown owner 'sre-manger'; "
                    "did you mean 'sre-manager'?"),
        ("line 24", "policies.waivers.gates.p18-backlog-integrty: unknown gate "
                    "'p18-backlog-integrty'; did you mean 'p18-backlog-integrity'?"),
    ]


def test_catalog_entries_declare_services_teams_and_rotations() -> None:
    catalog = (entry("ledger-db", team="finance-eng", oncall="ledger-pager", kind="resource"),
               entry("billing", team="finance-eng"))
    text = """\
cost_targets:
  ledger-db: {monthly: 900}
  ledgr-db: {monthly: 100}
team_capacity: {people: {finance-eng: 2}}
incidents:
  escalation:
    receivers:
      ledger-pager: {webhook_url: https://alerts.example.com/l}
      finance-eng-oncall: {webhook_url: https://alerts.example.com/f}
"""
    assert located(check(text, catalog)) == [
        ("line 3", "cost_targets.ledgr-db: unknown service 'ledgr-db'; did you mean 'ledger-db'?"),
    ]


def test_a_name_close_to_nothing_lists_the_few_known_ones() -> None:
    problems = check("services: [{name: web-api}, {name: worker}]\ncost_targets:\n"
                     "  zzz: {monthly: 5}\n")
    assert located(problems) == [("line 3", "cost_targets.zzz: unknown service 'zzz'; "
                                            "known: web-api, worker")]


def test_suggestions_ignore_case_and_need_a_close_name() -> None:
    assert closest("Web-API", ["web-api", "worker"]) == "web-api"
    assert closest("web-apii", ["web-api", "web-app", "worker"]) == "web-api"
    assert closest("ledger", ["web-api", "worker"]) is None


def test_names_that_cannot_be_checked_give_one_warning_that_never_fails() -> None:
    problems = check("cost_targets:\n  checkout: {monthly: 5}\n  search: {monthly: 5}\n")
    assert located(problems) == [
        ("line 2", "2 service name(s) not checked (cost_targets.checkout, cost_targets.search): "
                   "no service is declared (a service listed under 'services' or in the "
                   "service catalog)"),
    ]
    assert problems[0].level is Level.WARNING
    fail_if_strict(True, problems)  # a warning never fails a strict run


def test_an_unreadable_catalog_leaves_service_names_unchecked() -> None:
    text = "services: [{name: checkout}]\ncost_targets:\n  chekout: {monthly: 5}\n"
    data, lines = parse_yaml(text, "opsledger.yaml")
    config = Config.model_validate(data)
    known = known_names(config, [], unreadable=["handover/SERVICE-CATALOG.xlsx"])
    problems = unknown_names(config, known, lines, "opsledger.yaml")
    assert [(p.level, p.location) for p in problems] == [(Level.WARNING, "line 3")]
    assert "handover/SERVICE-CATALOG.xlsx could not be read" in problems[0].message
    assert NameKind.OWNER not in known.unchecked


def test_a_misspelt_role_is_refused_with_the_role_meant(tmp_path: Path) -> None:
    from opsledger.core.config import load_config
    from opsledger.core.errors import ConfigError

    (tmp_path / "opsledger.yaml").write_text(
        "stakeholders:\n  - {name: Ada, email: ada@example.com, role: sre-manger}\n"
        "approvals:\n  p09_patch: [security-lead, finanse]\n  p09_roadmap: [chief]\n")
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path)
    problems = {p.location: p.message for p in info.value.problems}
    assert "unknown role 'sre-manger'; did you mean 'sre-manager'?" in problems["line 2"]
    assert "unknown role 'finanse'; did you mean 'finance'?" in problems["line 4"]
    assert "did you mean" not in problems["line 5"] and "roles: operations-director" in (
        problems["line 5"])


def test_unknown_names_fail_a_strict_run() -> None:
    with pytest.raises(InputError, match="2 problem"):
        fail_if_strict(True, check(REPORTED))


def test_the_catalog_file_comes_before_backstage() -> None:
    merged = merge_catalogs([[entry("a", team="from-file")],
                             [entry("a", team="from-backstage"), entry("b")]])
    assert [(e.name, e.team) for e in merged] == [("a", "from-file"), ("b", None)]


def test_known_gates_are_the_procedures_gates() -> None:
    from opsledger.protocols.registry import procedure

    gates = {gate.id for pid in ProcedureId for gate in procedure(pid).gates}
    assert set(PROCEDURE_GATES) == gates


def test_assumed_rotations_are_those_of_the_escalation_matrix(small_demo: Path) -> None:
    from opsledger.incidents.escalation import escalation_matrix

    text = ("services:\n  - {name: checkout, owner: payments}\n  - {name: search}\n"
            "  - {name: auth, oncall: identity-pager}\n")
    config = Config.model_validate(parse_yaml(text, "opsledger.yaml")[0])
    catalog = [entry("ledger", team="finance-eng"), entry("billing", oncall="billing-pager")]
    known = known_names(config, catalog).names[NameKind.ROTATION]
    rotations = set(escalation_matrix(config, catalog).rotations)
    assert rotations == {"payments-oncall", "search-oncall", "identity-pager",
                         "finance-eng-oncall", "billing-pager"}
    assert rotations <= known
    demo = Context.open(open_workspace(small_demo))
    from opsledger.core.catalog import catalog as workspace_catalog

    demo_catalog = workspace_catalog(demo)
    demo_known: KnownNames = known_names(demo.workspace.config, demo_catalog)
    assert set(escalation_matrix(demo.workspace.config, demo_catalog).rotations) <= (
        demo_known.names[NameKind.ROTATION])


# The workspace as a whole: validate, the review's inventory, --strict.

runner = CliRunner()


def typo_workspace(tmp_path: Path) -> Path:
    ws = tmp_path / "ws"
    assert runner.invoke(app, ["init", str(ws)]).exit_code == 0
    (ws / "opsledger.yaml").write_text(REPORTED)
    return ws


def test_validate_names_file_line_and_the_service_meant(tmp_path: Path) -> None:
    ws = typo_workspace(tmp_path)
    result = runner.invoke(app, ["validate", str(ws)])
    assert result.exit_code == 0  # a warning in a normal run
    err = " ".join(result.stderr.split())  # the console wraps long lines
    for line, key, typo in ((6, "slo_budgets", "web-apu"), (9, "cost_targets", "web-apii")):
        assert (f"opsledger.yaml: line {line}: {key}.{typo}: unknown service '{typo}'; "
                "did you mean 'web-api'?") in err
    assert runner.invoke(app, ["validate", str(ws), "--strict"]).exit_code == 2
    rows = json.loads(runner.invoke(app, ["validate", str(ws), "--json"]).stdout)
    config = next(row for row in rows if row["input"] == "config")
    assert [(p["location"], p["level"]) for p in config["problems"]] == [
        ("line 6", "row"), ("line 9", "row")]


def test_the_review_lists_the_typos_among_its_input_problems(tmp_path: Path) -> None:
    from opsledger.review.inventory_section import inventory_section

    ws = typo_workspace(tmp_path)
    ctx = Context.open(open_workspace(ws))
    section = inventory_section(ctx)
    assert ("`opsledger.yaml: line 9: cost_targets.web-apii: unknown service 'web-apii'; "
            "did you mean 'web-api'?") in section.body
    assert "2 rows quarantined" in section.data["headline"]
    with pytest.raises(InputError) as info:
        ctx.inputs.require_clean()
    assert [p.location for p in info.value.problems] == ["line 6", "line 9"]


def test_the_demo_and_the_template_name_only_what_they_declare(
    small_demo: Path, tmp_path: Path
) -> None:
    demo = Inputs(open_workspace(small_demo))
    assert demo.read(InputKey.CONFIG).problems == []
    assert demo.status(InputKey.CONFIG).state == "ok"
    result = runner.invoke(app, ["validate", str(small_demo)])
    assert "opsledger.yaml" not in result.stderr
    ws = tmp_path / "fresh"
    assert runner.invoke(app, ["init", str(ws)]).exit_code == 0
    assert Inputs(open_workspace(ws)).read(InputKey.CONFIG).problems == []


def test_the_documented_example_is_what_the_check_says() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
    section = docs.read_text(encoding="utf-8").split("## Names checked against the workspace")[1]
    example = section.split("```yaml\n")[1].split("```")[0]
    output = section.split("```text\n")[1].split("```")[0]
    problems = check(example)
    assert len(problems) == len(output.splitlines()) == 2
    for problem in problems:
        assert f"opsledger.yaml: {problem.location}: {problem.message}" in output


def test_services_named_by_budget_exclusions_are_checked(tmp_path: Path) -> None:
    from opsledger.core.config import Config
    from opsledger.core.config_names import NameKind, name_uses

    config = Config.model_validate({
        "organisation": "Acme",
        "stakeholders": [{"name": "Ana", "email": "ana@example.com", "role": "sre-manager"}],
        "error_budget_exclusions": {"maintenance": [{
            "name": "db-upgrade", "start": "2026-11-10T01:00:00Z", "end": "2026-11-10T02:00:00Z",
            "reason": "planned database upgrade", "approved_by": "ana@example.com",
            "services": ["chekout"]}]},
    })
    uses = [u for u in name_uses(config) if u.loc[0] == "error_budget_exclusions"]
    assert [(u.kind, u.name) for u in uses] == [(NameKind.SERVICE, "chekout")]
