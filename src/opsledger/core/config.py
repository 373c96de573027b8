"""The schema of ``opsledger.yaml``: services, budgets, targets, people, windows, policies.

Loaded with :func:`load_config`; every error names the file and line.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from opsledger.core.budget_exclusions import BudgetExclusions, reference_errors
from opsledger.core.errors import ConfigError
from opsledger.core.incident_policy import IncidentPolicy
from opsledger.core.options import CONFIG_FILE as CONFIG_FILE
from opsledger.core.options import QUERY_DEADLINE_SECONDS as QUERY_DEADLINE_SECONDS
from opsledger.core.options import EngineChoice as EngineChoice
from opsledger.core.options import Role as Role
from opsledger.core.options import iana_zone
from opsledger.core.problems import closest
from opsledger.core.yamlfile import LineMap, load_yaml, validation_problems

# Key of the validation context that holds the workspace root, so that ``paths:`` values are
# checked against the real folders, symbolic links included.
WORKSPACE_ROOT = "workspace_root"

# The key of ``slo_budgets`` that applies to every service without its own entry.
DEFAULT_BUDGET = "default"




class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Deployment(StrEnum):
    KUBERNETES = "kubernetes"
    HELM = "helm"
    VM_PACKAGE = "vm-package"
    SERVERLESS = "serverless"
    DATABASE_MIGRATION = "database-migration"
    OTHER = "other"


class Service(Strict):
    name: str = Field(min_length=1)
    owner: str | None = Field(default=None, description="owning team")
    tier: int = Field(default=2, ge=0, le=4, description="0 = most critical")
    oncall: str | None = Field(default=None, description="on-call rotation name")
    deployment: Deployment = Deployment.KUBERNETES
    description: str = ""

    @property
    def critical(self) -> bool:
        return self.tier <= 1


class SloBudget(Strict):
    """Targets for one service: availability objective and latency threshold."""

    availability: float = Field(default=0.999, description="0-1, or a percentage such as 99.9")
    latency_p95_ms: float | None = Field(default=None, gt=0)
    window_days: int = Field(default=30, ge=1, le=366)

    @field_validator("availability")
    @classmethod
    def _fraction(cls, value: float) -> float:
        fraction = value / 100 if value > 1 else value
        if not 0 < fraction < 1:
            raise ValueError("availability must be between 0 and 1 (or 0 and 100 percent)")
        return fraction


class CostTarget(Strict):
    monthly: float = Field(gt=0, description="monthly budget in the billing currency")
    currency: str = "USD"


class CostMappingRule(Strict):
    """One place a charge's service (or team) is read from: a tag or a column, optionally
    narrowed by a regular expression and translated by a lookup table."""

    tag: str | None = Field(
        default=None, min_length=1, description="key of the FOCUS Tags object (OpenCost label)"
    )
    column: str | None = Field(
        default=None,
        min_length=1,
        description="FOCUS column such as ServiceName or x_Application (OpenCost: a property)",
    )
    pattern: str | None = Field(
        default=None,
        description="regular expression searched in the value; the result is its group "
        "named 'value', else its first group, else the whole match; no match gives nothing",
    )
    lookup: dict[str, str] = Field(
        default_factory=dict, description="value -> name; when given, unlisted values give nothing"
    )

    @model_validator(mode="after")
    def _one_source(self) -> CostMappingRule:
        if (self.tag is None) == (self.column is None):
            raise ValueError("give exactly one of 'tag' and 'column'")
        return self

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return value


def _tags(*keys: str) -> list[CostMappingRule]:
    return [CostMappingRule(tag=key) for key in keys]


class CostMapping(Strict):
    """How a charge gets its service and team: the rules are tried in order and the first
    that gives a value wins; a charge no rule names is reported as unmapped spend."""

    service: list[CostMappingRule] = Field(
        default_factory=lambda: _tags("service", "app", "app.kubernetes.io/name")
    )
    team: list[CostMappingRule] = Field(default_factory=lambda: _tags("team", "owner"))


def _known_role(value: Any) -> Any:
    """Return ``value``; refuse a word that is no role, naming the role it is closest to."""
    if isinstance(value, str) and value not in {role.value for role in Role}:
        close = closest(value, [role.value for role in Role])
        meant = f"; did you mean '{close}'?" if close else ""
        raise ValueError(f"unknown role '{value}'{meant} (roles: {', '.join(Role)})")
    return value


# A role named in opsledger.yaml: a misspelt one is refused with the role it is closest to.
RoleName = Annotated[Role, BeforeValidator(_known_role)]


class Stakeholder(Strict):
    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    role: RoleName


class ChangeWindow(Strict):
    name: str
    cron: str = Field(description="start of each window, 5-field cron")
    duration_minutes: int = Field(default=240, gt=0, le=7 * 24 * 60)
    timezone: str = "UTC"
    services: list[str] = Field(default_factory=list, description="empty = all services")

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter  # only where a change window is declared

        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"'{value}' is not a valid 5-field cron expression")
        return value

    _zone = field_validator("timezone")(classmethod(lambda cls, v: iana_zone(v)))


class Freeze(Strict):
    name: str
    start: date | datetime
    end: date | datetime
    allow: list[str] = Field(
        default_factory=lambda: ["security", "p0"], description="change kinds let through"
    )

    @model_validator(mode="after")
    def _order(self) -> Freeze:
        if _as_date(self.end) < _as_date(self.start):
            raise ValueError("freeze ends before it starts")
        return self


def _as_date(value: datetime | date) -> date:
    return value.date() if isinstance(value, datetime) else value


class SeverityDays(Strict):
    critical: int = Field(default=7, ge=0)
    high: int = Field(default=30, ge=0)
    medium: int = Field(default=90, ge=0)
    low: int = Field(default=180, ge=0)


class RatingSource(StrEnum):
    """Whose rating of a vulnerability puts it in an SLA band."""

    VENDOR = "vendor"  # the distribution's rating (OS packages), the advisory database's else
    CVSS = "cvss"  # the band of the CVSS base score
    TOOL = "tool"  # the scanner's own severity word
    HIGHEST = "highest"  # the highest of the three


class SeverityRating(Strict):
    """Which rating drives a finding's SLA, for OS packages and for language packages."""

    os_packages: RatingSource = RatingSource.VENDOR
    language_packages: RatingSource = RatingSource.CVSS


class VulnerabilitySla(SeverityDays):
    rated_by: SeverityRating = Field(
        default_factory=SeverityRating, description="whose rating picks the band"
    )


class ActionItemSla(Strict):
    """Days from the incident to an action item's default due date, by incident severity."""

    sev1: int = Field(default=15, ge=0)
    sev2: int = Field(default=30, ge=0)
    sev3: int = Field(default=60, ge=0)
    sev4: int = Field(default=90, ge=0)
    sev5: int = Field(default=90, ge=0)


WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MINUTES_PER_WEEK = 7 * 24 * 60
_HOURS_PART = re.compile(
    r"^(?P<first>[a-z]{3})(?:-(?P<last>[a-z]{3}))?\s+"
    r"(?P<sh>\d{1,2}):(?P<sm>\d{2})-(?P<eh>\d{1,2}):(?P<em>\d{2})$"
)


def weekly_open_spans(text: str) -> tuple[tuple[int, int], ...]:
    """Return the minutes of the week (Monday 00:00 = 0) that ``text`` opens, as [start, end).

    ``text`` is ``24x7`` or parts such as ``Mon-Fri 08:00-18:00, Sat 10:00-14:00``; a part
    whose end is not after its start runs past midnight into the next day.
    """
    if text.strip().lower() in ("24x7", "24/7"):
        return ((0, MINUTES_PER_WEEK),)
    spans: list[tuple[int, int]] = []
    for part in re.split(r"[,;]", text):
        found = _HOURS_PART.match(" ".join(part.strip().lower().split()))
        if found is None or not {found["first"], found["last"] or "mon"} <= set(WEEKDAY_NAMES):
            raise ValueError(f"'{part.strip()}' is not like 'Mon-Fri 08:00-18:00' or '24x7'")
        start = int(found["sh"]) * 60 + int(found["sm"])
        end = int(found["eh"]) * 60 + int(found["em"])
        if int(found["sm"]) > 59 or int(found["em"]) > 59 or start >= 24 * 60 or end > 24 * 60:
            raise ValueError(f"'{part.strip()}': times run from 00:00 to 24:00")
        first = WEEKDAY_NAMES.index(found["first"])
        last = WEEKDAY_NAMES.index(found["last"] or found["first"])
        for day in range(first, first + (last - first) % 7 + 1):
            begin = day % 7 * 24 * 60 + start
            finish = day % 7 * 24 * 60 + (end if end > start else end + 24 * 60)
            spans += [(begin, min(finish, MINUTES_PER_WEEK))]
            if finish > MINUTES_PER_WEEK:
                spans.append((0, finish - MINUTES_PER_WEEK))
    return tuple(sorted(spans))


class SupportHours(Strict):
    """When a queue or skill group is staffed: weekly hours in an IANA time zone."""

    weekly: str = Field(description="'Mon-Fri 08:00-18:00, Sat 10:00-14:00' or '24x7'")
    timezone: str | None = Field(default=None, description="default: the policy's timezone")

    @field_validator("weekly")
    @classmethod
    def _parses(cls, value: str) -> str:
        weekly_open_spans(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        return None if value is None else iana_zone(value)


class SkillGroup(Strict):
    """Queues answered by one pool of agents (who can take any of them)."""

    name: str = Field(min_length=1)
    queues: list[str] = Field(min_length=1)
    hours: SupportHours | None = Field(default=None, description="default: the policy's hours")
    min_agents: int | None = Field(default=None, ge=0, description="default: the policy's")


class SupportPolicy(Strict):
    """Inputs to staffing: the service-level target and how agents spend their time."""

    service_level: float = Field(default=0.8, gt=0, lt=1, description="share answered in time")
    answer_seconds: float = Field(default=20, gt=0, description="target answer time")
    handle_minutes: float = Field(default=6, gt=0, description="mean handle time per ticket")
    shrinkage: float = Field(default=0.3, ge=0, lt=1, description="breaks, meetings, leave")
    occupancy_cap: float = Field(default=0.85, gt=0, le=1)
    patience_seconds: float | None = Field(default=None, gt=0, description="enables Erlang A")
    shift_hours: int = Field(default=8, ge=1, le=24)
    timezone: str = "UTC"
    hours: SupportHours | None = Field(
        default=None, description="hours of every queue; none: from when tickets arrive"
    )
    skill_groups: list[SkillGroup] = Field(default_factory=list)
    min_agents: int = Field(default=1, ge=0, description="agents in every open interval")
    interval_minutes: Literal[15, 30, 60] = 60
    observed_hours_share: float = Field(
        default=0.9, gt=0, le=1, description="share of a weekday's tickets its hours must hold"
    )

    _zone = field_validator("timezone")(classmethod(lambda cls, v: iana_zone(v)))

    @model_validator(mode="after")
    def _groups_and_grid(self) -> SupportPolicy:
        owner: dict[str, str] = {}
        for group in self.skill_groups:
            if group.name in owner.values():
                raise ValueError(f"skill group '{group.name}' is listed twice")
            for queue in group.queues:
                if queue in owner:
                    raise ValueError(f"queue '{queue}' is in skill groups '{owner[queue]}' "
                                     f"and '{group.name}'")
                owner[queue] = group.name
        named = [("hours", self.hours)] + [
            (f"skill group '{g.name}' hours", g.hours) for g in self.skill_groups]
        for where, hours in named:
            spans = weekly_open_spans(hours.weekly) if hours is not None else ()
            if any(start % self.interval_minutes or end % self.interval_minutes
                   for start, end in spans):
                raise ValueError(f"{where} do not start and end on the "
                                 f"{self.interval_minutes}-minute interval grid")
        return self


class ErrorBudgetPolicy(Strict):
    """Defaults follow the SRE Workbook's example error budget policy."""

    freeze_when_exhausted: bool = True
    freeze_allows: list[str] = Field(default_factory=lambda: ["p0", "security"])
    single_incident_postmortem_fraction: float = Field(default=0.2, gt=0, le=1)


class PostmortemPolicy(Strict):
    required_severities: list[str] = Field(default_factory=lambda: ["SEV1", "SEV2"])
    budget_fraction: float = Field(default=0.2, gt=0, le=1)
    review_calendar_days_sev1: int = Field(default=3, ge=0)
    review_business_days_sev2: int = Field(default=5, ge=0)


class WaiverRule(Strict):
    """Who may waive a gate and for how long; an unset field takes the default rule's."""

    roles: list[Role] | None = Field(default=None, min_length=1,
                                     description="roles allowed to waive")
    max_days: int | None = Field(default=None, ge=1, le=366,
                                 description="longest waiver, from the day it is granted")


# Who may waive a gate, and for how long, when opsledger.yaml does not say.
DEFAULT_WAIVER_ROLES = (Role.OPERATIONS_DIRECTOR, Role.SRE_MANAGER, Role.ENGINEERING_MANAGER)
DEFAULT_WAIVER_DAYS = 30


class WaiverPolicy(Strict):
    """Rules for gate waivers: a default, and overrides per gate id."""

    default: WaiverRule = WaiverRule()
    gates: dict[str, WaiverRule] = Field(default_factory=dict, description="gate id -> rule")

    def rule(self, gate: str) -> tuple[tuple[Role, ...], int]:
        """Return the roles allowed to waive ``gate`` and the longest waiver in days."""
        override = self.gates.get(gate, WaiverRule())
        roles = override.roles or self.default.roles or DEFAULT_WAIVER_ROLES
        days = override.max_days or self.default.max_days or DEFAULT_WAIVER_DAYS
        return tuple(roles), days


class JustificationPolicy(Strict):
    """The least a waiver's justification or a not-applicable reason must say."""

    min_chars: int = Field(default=20, ge=1)
    min_words: int = Field(default=3, ge=1)


class Policies(Strict):
    waivers: WaiverPolicy = WaiverPolicy()
    justification: JustificationPolicy = JustificationPolicy()
    vulnerability_sla_days: VulnerabilitySla = VulnerabilitySla()
    backlog_sla_days: SeverityDays = SeverityDays(critical=15, high=30, medium=90, low=180)
    action_item_sla_days: ActionItemSla = ActionItemSla()
    support: SupportPolicy = SupportPolicy()
    error_budget: ErrorBudgetPolicy = ErrorBudgetPolicy()
    postmortems: PostmortemPolicy = PostmortemPolicy()
    baseline_max_age_days: int = Field(default=90, ge=1)


class KpiReview(Strict):
    metric: str
    cadence: Literal["daily", "weekly", "biweekly", "monthly", "quarterly"]
    owner: str
    day: str | None = Field(default=None, description="e.g. 'monday' or '1' for monthly")
    time: str = "10:00"
    timezone: str = "UTC"
    dashboard: str | None = None

    _zone = field_validator("timezone")(classmethod(lambda cls, v: iana_zone(v)))


class Approvals(Strict):
    """Who approves each p09 step's presentation (roles in the stakeholder roster)."""

    p09_patch: list[RoleName] = Field(
        default_factory=lambda: [Role.SRE_MANAGER, Role.SECURITY_LEAD]
    )
    p09_monitoring: list[RoleName] = Field(
        default_factory=lambda: [Role.SRE_MANAGER, Role.OPERATIONS_DIRECTOR]
    )
    p09_optimisation: list[RoleName] = Field(
        default_factory=lambda: [Role.ENGINEERING_MANAGER, Role.FINANCE]
    )
    p09_roadmap: list[RoleName] = Field(
        default_factory=lambda: [Role.PRODUCT_OWNER, Role.OPERATIONS_DIRECTOR]
    )


class TeamCapacity(Strict):
    """Engineering time available for the roadmap, to check a charter fits."""

    days_per_person_per_month: float = Field(default=20, gt=0)
    people: dict[str, int] = Field(default_factory=dict, description="team -> engineers")
    roadmap_share: float = Field(default=0.5, gt=0, le=1, description="rest: on-call, support")
    horizon_months: int = Field(default=3, ge=1, le=12)


class Paths(Strict):
    """Where inputs and outputs live, relative to the workspace root.

    Every value stays inside the workspace, also after symbolic links: opsledger.yaml
    arrives through pull requests, and ``roadmap: ../victim.md`` (or a committed
    ``reports/ops -> /elsewhere``) would otherwise overwrite any file the CI user can write.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    gates_config: str = "gates_config.yaml"
    slos: str = "slos"
    health: str = "reports/health"
    telemetry: str = "telemetry"
    perf: str = "reports/perf.json"
    security: str = "security"
    incidents: str = "incidents"
    alerts: str = "incidents/alerts"
    costs: str = "costs"
    experiments: str = "experiments"
    handover: str = "handover"
    reports: str = "reports/ops"
    roadmap: str = "docs/roadmap/NEXT_PHASE.md"
    optimization: str = "docs/optimization/PLAN.md"
    p18_evidence: str = ".artifacts/protocol-21"
    p09_evidence: str = ".artifacts/protocol-09"
    state: str = ".opsledger"

    @field_validator("*")
    @classmethod
    def _inside_workspace(cls, value: str, info: ValidationInfo) -> str:
        context = info.context if isinstance(info.context, dict) else {}
        default = info.field_name is not None and value == cls.model_fields[info.field_name].default
        return inside_workspace(value, context.get(WORKSPACE_ROOT), default)


def inside_workspace(value: str, root: Path | None, default: bool = False) -> str:
    """Return ``value`` if it names a place inside the workspace; raise ``ValueError`` if not.

    Without ``root`` only the text is checked (absolute, ``..``); with it, the real location
    after symbolic links must be inside ``root`` too.
    """
    if not value.strip() or "\0" in value:
        raise ValueError(f"'{value}' is not a path; give one relative to the workspace root")
    relative = Path(value)
    if relative.is_absolute() or ".." in relative.parts:
        raise ValueError(
            f"'{value}' leaves the workspace; give a path relative to the workspace root, "
            "without '..'"
        )
    if root is not None:
        base = root.resolve()
        real = (base / relative).resolve()
        if not real.is_relative_to(base):
            which = f"'{value}' (the default)" if default else f"'{value}'"
            raise ValueError(
                f"{which} leads out of the workspace through a symbolic link (to {real}); "
                "remove the link or point it inside the workspace"
            )
    return value


Fraction = Annotated[float, Field(gt=0, lt=1)]


class Config(Strict):
    """The whole of ``opsledger.yaml``."""

    version: int = 1
    organisation: str = "example"
    services: list[Service] = Field(default_factory=list)
    slo_budgets: dict[str, SloBudget] = Field(
        default_factory=dict, description="per service; the key 'default' applies to the rest"
    )
    cost_targets: dict[str, CostTarget] = Field(default_factory=dict)
    cost_mapping: CostMapping = CostMapping()
    stakeholders: list[Stakeholder] = Field(default_factory=list)
    change_windows: list[ChangeWindow] = Field(default_factory=list)
    freezes: list[Freeze] = Field(default_factory=list)
    error_budget_exclusions: BudgetExclusions = BudgetExclusions()
    policies: Policies = Policies()
    kpi_reviews: list[KpiReview] = Field(default_factory=list)
    growth_targets: dict[str, float] = Field(default_factory=dict)
    incidents: IncidentPolicy = IncidentPolicy()
    engine: EngineChoice = Field(
        default=EngineChoice.DUCKDB, description="engine for SLIs over event files"
    )
    sli_query_deadline_seconds: float = Field(
        default=QUERY_DEADLINE_SECONDS,
        gt=0,
        le=24 * 3600,
        description="an SLI query over event files running longer is interrupted",
    )
    approvals: Approvals = Approvals()
    team_capacity: TeamCapacity = TeamCapacity()
    # Built from an empty mapping rather than ``Paths()`` so that the defaults are validated
    # with the workspace root as well: a committed symlink can redirect a default folder.
    paths: Paths = Field(default_factory=dict, validate_default=True)

    @model_validator(mode="after")
    def _unique_services(self) -> Config:
        seen: set[str] = set()
        for service in self.services:
            if service.name in seen:
                raise ValueError(f"service '{service.name}' is listed twice")
            seen.add(service.name)
        return self

    @model_validator(mode="after")
    def _exclusions_name_what_exists(self) -> Config:
        """Refuse an exclusion approved by someone outside the roster, or naming a change
        window that does not exist; each error at its key."""
        errors = reference_errors(
            self.error_budget_exclusions,
            [s.email for s in self.stakeholders],
            {w.name: w.services for w in self.change_windows},
        )
        if errors:
            raise ValidationError.from_exception_data(type(self).__name__, errors)
        return self

    def service(self, name: str) -> Service | None:
        return next((s for s in self.services if s.name == name), None)

    def budget_for(self, service: str) -> SloBudget:
        return (self.slo_budgets.get(service) or self.slo_budgets.get(DEFAULT_BUDGET)
                or SloBudget())

    def stakeholders_with(self, role: Role) -> list[Stakeholder]:
        return [s for s in self.stakeholders if s.role is role]


def load_config(workspace: Path) -> Config:
    """Return the workspace's configuration (defaults when the file is absent)."""
    path = workspace / CONFIG_FILE
    data: Any = None
    lines = LineMap()
    if path.exists():
        data, lines = load_yaml(path)
    try:
        return Config.model_validate(
            {} if data is None else data, context={WORKSPACE_ROOT: workspace.resolve()}
        )
    except ValidationError as exc:
        problems = validation_problems(str(path), exc, lines)
        message = f"{path}: {len(problems)} problem(s) in configuration"
        raise ConfigError(message, problems) from None
