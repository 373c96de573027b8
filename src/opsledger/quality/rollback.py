"""Rollback runbooks: per service, the steps that undo a failed change for its deployment
kind, the checks that show the rollback worked (tied to its SLOs and quality gates) and
when to roll back at all.

Pure functions; no I/O. The runbook names the workload, release, package or function
after the service; the Markdown says so, for the owner to adjust.

Decision thresholds follow the SRE Workbook (Beyer et al., O'Reilly 2018), ch. 5 "Alerting
on SLOs": a burn rate of 14.4 over one hour spends 2 % of a 30-day budget and pages; it is
confirmed by the 5-minute window. A burn rate ``b`` means an error rate of ``b x (1 - SLO)``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from opsledger.core.config import Deployment, SloBudget
from opsledger.model.gates import GateSpec
from opsledger.model.slo import Slo

FAST_BURN = 14.4  # SRE Workbook ch. 5: 2 % of a 30-day budget in one hour
WATCH_MINUTES = 30  # how long the verification watches after the rollback
DECIDE_MINUTES = {0: 15, 1: 15}  # time box to decide on a rollback, by tier; others 30
# Names from the catalog go into shell commands a person copies and pastes: only a plain name
# (what Kubernetes, Helm, package managers and function names allow) is written as it is.
SHELL_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")

KIND_WORDS: dict[str, Deployment] = {
    "kubernetes": Deployment.KUBERNETES, "k8s": Deployment.KUBERNETES,
    "deployment": Deployment.KUBERNETES, "kustomize": Deployment.KUBERNETES,
    "helm": Deployment.HELM, "helm-chart": Deployment.HELM,
    "vm-package": Deployment.VM_PACKAGE, "vm": Deployment.VM_PACKAGE,
    "package": Deployment.VM_PACKAGE, "deb": Deployment.VM_PACKAGE, "rpm": Deployment.VM_PACKAGE,
    "apt": Deployment.VM_PACKAGE, "systemd": Deployment.VM_PACKAGE,
    "serverless": Deployment.SERVERLESS, "lambda": Deployment.SERVERLESS,
    "function": Deployment.SERVERLESS, "faas": Deployment.SERVERLESS,
    "cloud-run": Deployment.SERVERLESS, "cloud-functions": Deployment.SERVERLESS,
    "database-migration": Deployment.DATABASE_MIGRATION,
    "db-migration": Deployment.DATABASE_MIGRATION, "database": Deployment.DATABASE_MIGRATION,
    "migration": Deployment.DATABASE_MIGRATION, "schema-migration": Deployment.DATABASE_MIGRATION,
    "other": Deployment.OTHER,
}


def pct(fraction: float) -> str:
    """Return a fraction as a percentage without trailing zeros (0.9995 -> "99.95%")."""
    return f"{fraction * 100:.10g}%"


def deployment_kind(text: str | None) -> Deployment | None:
    """Return the deployment kind a catalog spells as ``text`` ("k8s", "Helm", "rpm"...)."""
    if not text:
        return None
    key = re.sub(r"[\s_]+", "-", text.strip().lower())
    return KIND_WORDS.get(key)


@dataclass(frozen=True)
class ServiceFacts:
    """What the runbook needs to know about a service."""

    name: str
    kind: Deployment
    kind_source: str  # "opsledger.yaml", "service catalog", or "default (not declared)"
    owner: str | None = None
    tier: int | None = None
    oncall: str | None = None
    dashboard: str | None = None
    catalog_runbook: str | None = None


@dataclass(frozen=True)
class Step:
    title: str
    commands: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class Check:
    """One verification: what must hold, by when, how to see it, and where it comes from."""

    what: str
    target: str
    how: str
    source: str


@dataclass(frozen=True)
class Runbook:
    service: ServiceFacts
    variables: tuple[tuple[str, str, str], ...]  # (name, value, meaning)
    prepare: tuple[Step, ...]
    rollback: tuple[Step, ...]
    checks: tuple[Check, ...]
    roll_back_when: tuple[str, ...]
    escalate_when: tuple[str, ...]
    data_loss: tuple[str, ...]
    decide_within_minutes: int


def _kubernetes(name: str) -> tuple[tuple[Step, ...], tuple[Step, ...], tuple[str, ...]]:
    prepare = (
        Step("Find the last good revision",
             (f'kubectl -n "$NAMESPACE" rollout history deployment/{name}',
              f'kubectl -n "$NAMESPACE" rollout history deployment/{name} '
              '--revision="$REVISION"'),
             "REVISION is the revision before the failed one; check its image tag."),
    )
    rollback = (
        Step("Undo the rollout",
             (f'kubectl -n "$NAMESPACE" rollout undo deployment/{name} --to-revision="$REVISION"',),
             "Without --to-revision, undo returns to the previous revision."),
        Step("Wait for it to converge",
             (f'kubectl -n "$NAMESPACE" rollout status deployment/{name} --timeout=10m',)),
        Step("Revert what undo does not cover",
             note="`rollout undo` restores the pod template only. ConfigMaps, Secrets, HPAs "
             "and Services changed by the release keep their new state: re-apply their "
             "previous versions from version control. Under GitOps (Argo CD, Flux) revert the "
             "commit instead, or the controller re-applies the failed version."),
    )
    return prepare, rollback, ()


def _helm(name: str) -> tuple[tuple[Step, ...], tuple[Step, ...], tuple[str, ...]]:
    prepare = (
        Step("Find the last good revision",
             (f'helm -n "$NAMESPACE" history {name} --max 10',
              f'helm -n "$NAMESPACE" get values {name} --revision "$REVISION"'),
             "REVISION is the last revision before the failed one whose status was deployed "
             "or superseded."),
    )
    rollback = (
        Step("Roll the release back",
             (f'helm -n "$NAMESPACE" rollback {name} "$REVISION" --wait --timeout 10m '
              "--cleanup-on-fail",),
             "The rollback is recorded as a new revision with the old chart and values. "
             "Omitting REVISION (or 0) returns to the previous revision."),
        Step("Confirm the release state",
             (f'helm -n "$NAMESPACE" status {name}',
              f'helm -n "$NAMESPACE" history {name} --max 3')),
        Step("Check what Helm does not roll back",
             note="CRDs installed from the chart's crds/ folder are never upgraded or rolled "
             "back by Helm; pre-/post-rollback hooks run unless --no-hooks is given."),
    )
    return prepare, rollback, ()


def _vm_package(name: str) -> tuple[tuple[Step, ...], tuple[Step, ...], tuple[str, ...]]:
    prepare = (
        Step("Find the previous version",
             (f"apt-cache policy {name}", f'grep " {name}" /var/log/dpkg.log | tail -n 5',
              f"dnf --showduplicates list {name}", f"dnf history list {name}"),
             "Debian/Ubuntu hosts use the apt commands, RHEL/Fedora the dnf ones."),
        Step("Take hosts out one at a time",
             note="Drain one host from the load balancer, roll it back, check it, return it, "
             "then the next: the service keeps capacity and a bad rollback stops at one host."),
    )
    rollback = (
        Step("Downgrade and pin (Debian/Ubuntu)",
             (f'sudo apt-get install --allow-downgrades {name}="$PREVIOUS_VERSION"',
              f"sudo apt-mark hold {name}"),
             "The hold keeps unattended upgrades and the next run from re-installing the "
             "failed version."),
        Step("Downgrade and pin (RHEL/Fedora)",
             (f'sudo dnf downgrade {name}-"$PREVIOUS_VERSION"',
              f'sudo dnf versionlock add {name}-"$PREVIOUS_VERSION"'),
             "versionlock needs the python3-dnf-plugin-versionlock package; "
             "`dnf history undo ID` reverts a whole transaction instead."),
        Step("Restart and check the unit",
             (f"sudo systemctl restart {name}", f"systemctl is-active {name}",
              f"journalctl -u {name} --since '-10 min' --no-pager | tail -n 50")),
        Step("Release the pin once fixed",
             (f"sudo apt-mark unhold {name}", f"sudo dnf versionlock delete {name}"),
             "Only after a fixed version passes the test gates."),
    )
    return prepare, rollback, ()


def _serverless(name: str) -> tuple[tuple[Step, ...], tuple[Step, ...], tuple[str, ...]]:
    prepare = (
        Step("Find the version the alias served before",
             (f'aws lambda get-alias --function-name {name} --name "$ALIAS"',
              f"aws lambda list-versions-by-function --function-name {name} "
              "--query 'Versions[-5:].[Version,LastModified]'"),
             "PREVIOUS_VERSION is the published version the alias pointed to before the "
             "change; published versions are immutable, code and configuration included."),
    )
    rollback = (
        Step("Shift all traffic back (AWS Lambda alias)",
             (f'aws lambda update-alias --function-name {name} --name "$ALIAS" '
              '--function-version "$PREVIOUS_VERSION" --routing-config '
              "'AdditionalVersionWeights={}'",),
             "Clearing the routing configuration removes any canary weight, so 100 % goes to "
             "the previous version. If CodeDeploy runs the deployment, stop it with "
             "`aws deploy stop-deployment --deployment-id ID --auto-rollback-enabled`."),
        Step("Shift all traffic back (Google Cloud Run)",
             (f'gcloud run services update-traffic {name} '
              '--to-revisions="$PREVIOUS_REVISION"=100 --region "$REGION"',),
             "For services on Cloud Run instead of Lambda."),
        Step("Check event sources",
             (f"aws lambda list-event-source-mappings --function-name {name}",),
             "Triggers bound to $LATEST or to a version, not to the alias, do not follow the "
             "alias: re-point them."),
    )
    return prepare, rollback, ()


def _database(name: str) -> tuple[tuple[Step, ...], tuple[Step, ...], tuple[str, ...]]:
    prepare = (
        Step("Decide whether the schema must move at all",
             note="If the migration only added (new tables, nullable columns), roll back the "
             "application and leave the schema: the old version ignores what it does not "
             "know. Reverse the schema only when the new schema breaks the old code."),
        Step("Back up before reversing anything",
             (f'pg_dump --format=custom --file={name}-before-rollback.dump "$DATABASE_URL"',),
             "Keeps the rows written since the migration, so they can be recovered after a "
             "down-migration or a restore (use the engine's own dump tool if not PostgreSQL)."),
    )
    rollback = (
        Step("Run the down-migration of the failed migration",
             ("alembic downgrade -1", "liquibase rollback-count --count=1",
              "bin/rails db:rollback STEP=1",
              "python manage.py migrate APP PREVIOUS_MIGRATION", "flyway undo"),
             "Use the tool the service migrates with. Only when the down-migration was "
             "written and tested; `flyway undo` needs undo scripts (Flyway Teams)."),
        Step("Or restore to the point before the migration",
             (f"aws rds restore-db-instance-to-point-in-time --source-db-instance-identifier "
              f"{name} --target-db-instance-identifier {name}-restore "
              '--restore-time "$MIGRATION_STARTED_AT"',),
             "When the migration destroyed or rewrote data (dropped columns or tables, "
             "converted types) no down-migration brings it back. Restore to a new instance, "
             "check it, then switch the application to it (PostgreSQL outside RDS: "
             "point-in-time recovery with recovery_target_time)."),
    )
    data_loss = (
        "A down-migration that drops tables or columns the migration added loses every value "
        "written to them since: export them first (the backup step).",
        "A restore loses every write after the restore point: replay or reconcile them from "
        "the backup taken before the rollback, application logs or the event stream.",
        "Either path needs the service owner's and the product owner's approval, recorded "
        "with the incident.",
    )
    return prepare, rollback, data_loss


def _other(name: str) -> tuple[tuple[Step, ...], tuple[Step, ...], tuple[str, ...]]:
    rollback = (
        Step("Redeploy the previous release with the pipeline that shipped it",
             note=f"{name} declares no deployment kind opsledger knows: redeploy the last "
             "version that passed the gates, and record the procedure in the service catalog "
             "(deployment: kubernetes, helm, vm-package, serverless or database-migration)."),
    )
    return (), rollback, ()


STEPS = {
    Deployment.KUBERNETES: _kubernetes,
    Deployment.HELM: _helm,
    Deployment.VM_PACKAGE: _vm_package,
    Deployment.SERVERLESS: _serverless,
    Deployment.DATABASE_MIGRATION: _database,
    Deployment.OTHER: _other,
}

VARIABLES: dict[Deployment, tuple[tuple[str, str, str], ...]] = {
    Deployment.KUBERNETES: (("NAMESPACE", "{team}", "namespace of the workload"),
                            ("REVISION", "", "last good revision (rollout history)")),
    Deployment.HELM: (("NAMESPACE", "{team}", "namespace of the release"),
                      ("REVISION", "", "last good revision (helm history)")),
    Deployment.VM_PACKAGE: (("PREVIOUS_VERSION", "", "package version before the change"),),
    Deployment.SERVERLESS: (("ALIAS", "live", "alias that clients invoke"),
                            ("PREVIOUS_VERSION", "", "version the alias served before"),
                            ("PREVIOUS_REVISION", "", "Cloud Run revision before the change"),
                            ("REGION", "", "cloud region")),
    Deployment.DATABASE_MIGRATION: (
        ("DATABASE_URL", "", "connection string of the primary"),
        ("MIGRATION_STARTED_AT", "", "UTC time the migration began (restore point)")),
    Deployment.OTHER: (),
}


def _spans(name: str, text: str) -> list[tuple[int, int]]:
    # Letters and digits continue a name; "-", "_" and "." may separate it from a suffix
    # ("checkout-p95", "checkout_latency_ms").
    pattern = re.compile(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", re.IGNORECASE)
    return [m.span() for m in pattern.finditer(text)]


def names_service(gate: GateSpec, service: str, services: Sequence[str] = ()) -> bool:
    """Return True when the gate's name, metric or description names the service.

    A mention inside a longer service name from ``services`` does not count: "checkout"
    is not named by a gate on "checkout-api".
    """
    longer = [s for s in services if s != service and service.lower() in s.lower()]
    for text in (gate.name, gate.metric, gate.description):
        covered = [span for other in longer for span in _spans(other, text)]
        for start, end in _spans(service, text):
            if not any(a <= start and end <= b for a, b in covered):
                return True
    return False


def verification_checks(
    service: str,
    budget: SloBudget,
    gates: Sequence[GateSpec],
    slos: Sequence[Slo],
    services: Sequence[str] = (),
) -> tuple[Check, ...]:
    """Return the checks that show a rollback worked, from the service's SLOs and gates."""
    allowed = 1 - budget.availability
    checks = [
        Check("Availability back at its objective",
              f">= {pct(budget.availability)} over the {WATCH_MINUTES} minutes after the rollback",
              f"opsledger slo status WS --json; probes of {service} in reports/health",
              f"slo_budgets (availability {pct(budget.availability)}, "
              f"{budget.window_days}-day window)"),
        Check("Error budget no longer burning fast",
              f"1-hour and 5-minute burn rate < {FAST_BURN:g} (error rate < "
              f"{FAST_BURN * allowed:.3%})",
              "opsledger slo status WS --json (burn_rates)",
              "SRE Workbook ch. 5 fast-burn threshold on this objective"),
    ]
    if budget.latency_p95_ms is not None:
        checks.append(Check("Latency back under its objective",
                            f"p95 <= {budget.latency_p95_ms:g} ms",
                            f"probe latency of {service} in reports/health; dashboard",
                            "slo_budgets latency_p95_ms"))
    for slo in sorted(slos, key=lambda s: s.name):
        checks.append(Check(f"SLO '{slo.name}' recovering",
                            f"SLI >= {pct(slo.objective)} over the last hour",
                            "opsledger slo status WS --json",
                            f"{slo.source_format} SLO {slo.where or slo.key}"))
    for gate in gates:
        if names_service(gate, service, services):
            rule = f"{gate.metric} {gate.operator.value} {gate.threshold:g}"
            checks.append(Check(f"Gate '{gate.name}'", rule, "opsledger quality check WS",
                                "gates_config.yaml" + (" (advisory)" if gate.advisory
                                                       else " (blocking)")))
    blocking = [g for g in gates if g.blocking and not names_service(g, service, services)]
    if blocking:
        checks.append(Check("Blocking quality gates pass",
                            ", ".join(f"{g.metric} {g.operator.value} {g.threshold:g}"
                                      for g in blocking),
                            "opsledger quality check WS",
                            "gates_config.yaml gates not marked advisory"))
    return tuple(checks)


def decision_criteria(
    service: ServiceFacts, budget: SloBudget
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return (roll back when, escalate instead when) for the service."""
    allowed = 1 - budget.availability
    roll_back = [
        f"Error rate at or above {FAST_BURN * allowed:.3%} (burn rate {FAST_BURN:g} against the "
        f"{pct(budget.availability)} objective) over 5 minutes and the hour after the change.",
        f"Availability below {pct(budget.availability)} for 10 minutes after the change, with "
        "the drop starting at the change.",
    ]
    if budget.latency_p95_ms is not None:
        roll_back.append(f"p95 latency above {budget.latency_p95_ms:g} ms for 10 minutes after "
                         "the change.")
    roll_back += [
        "The canary comparison recommends rolling back "
        "(opsledger rollback canary WS --baseline F --canary F).",
        "A blocking quality gate fails on the changed version (opsledger quality check WS).",
    ]
    escalate = [
        "The errors began before the change or come from a dependency: a rollback will not "
        "help; follow the incident process.",
        "The previous version is itself affected by a vulnerability past its due date: roll "
        "forward with a fix, with the security lead.",
    ]
    if service.kind is Deployment.DATABASE_MIGRATION:
        escalate.insert(0, "Rows were written in the new schema and the way back loses them: "
                           "the owner decides between down-migration, restore and fix "
                           "forward.")
    return tuple(roll_back), tuple(escalate)


def build_runbook(
    service: ServiceFacts,
    budget: SloBudget,
    gates: Sequence[GateSpec] = (),
    slos: Sequence[Slo] = (),
    services: Sequence[str] = (),
) -> Runbook:
    """Return the service's rollback runbook."""
    word = service.name if SHELL_WORD.fullmatch(service.name) else '"$WORKLOAD"'
    prepare, rollback, data_loss = STEPS[service.kind](word)
    team = service.owner or service.name
    defaults = [(name, value.format(team=team), meaning)
                for name, value, meaning in VARIABLES[service.kind]]
    if word != service.name:
        defaults.insert(0, ("WORKLOAD", "", "name of the workload, release, package or function "
                            "(the service's name is not used in commands: it is not a plain name)"))
    variables = tuple((name, value if SHELL_WORD.fullmatch(value) else "", meaning)
                      for name, value, meaning in defaults)
    roll_back, escalate = decision_criteria(service, budget)
    tier = service.tier if service.tier is not None else 2
    return Runbook(
        service, variables, prepare, rollback,
        verification_checks(service.name, budget, gates, slos, services),
        roll_back, escalate, data_loss, DECIDE_MINUTES.get(tier, 30),
    )
