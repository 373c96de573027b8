"""The seeded world behind a demo workspace: services, teams, people and incidents.

Every demo file (health history, incidents, postmortems, tickets, telemetry...) is a view
of one :class:`World`, so the files agree with each other: an outage in the health history
is an incident in the export and, when major, a postmortem in the handover folder.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from opsledger.demo.sizes import Size as Size


@dataclass(frozen=True)
class Scale:
    services: int
    health_days: int
    health_interval_minutes: int
    ticket_months: int
    tickets_per_day: float  # mean daily tickets at the start of the history
    incidents: int
    incident_months: int


SCALES = {
    Size.SMALL: Scale(8, 30, 15, 3, 12.0, 24, 3),
    Size.MEDIUM: Scale(40, 90, 5, 12, 70.0, 120, 12),
    Size.LARGE: Scale(1000, 90, 15, 12, 600.0, 1500, 12),
}

BASE_SERVICES = [
    ("api-gateway", "platform", 0, "kubernetes"),
    ("checkout", "payments", 0, "kubernetes"),
    ("payments-api", "payments", 0, "helm"),
    ("auth", "identity", 0, "kubernetes"),
    ("orders", "fulfilment", 1, "kubernetes"),
    ("catalog", "storefront", 1, "helm"),
    ("search", "storefront", 1, "kubernetes"),
    ("inventory", "fulfilment", 1, "vm-package"),
    ("billing", "payments", 1, "vm-package"),
    ("user-profile", "identity", 2, "kubernetes"),
    ("notifications", "messaging", 2, "serverless"),
    ("email-sender", "messaging", 3, "serverless"),
    ("shipping", "fulfilment", 2, "kubernetes"),
    ("recommendations", "growth", 2, "kubernetes"),
    ("pricing", "storefront", 1, "helm"),
    ("fraud-detection", "payments", 1, "kubernetes"),
    ("ledger-db", "payments", 0, "database-migration"),
    ("reporting", "data", 3, "vm-package"),
    ("media", "storefront", 2, "serverless"),
    ("reviews", "growth", 3, "kubernetes"),
    ("cart", "storefront", 1, "kubernetes"),
    ("loyalty", "growth", 3, "helm"),
    ("feature-flags", "platform", 1, "kubernetes"),
    ("session-store", "identity", 1, "vm-package"),
    ("webhooks", "platform", 2, "serverless"),
    ("tax", "payments", 2, "helm"),
    ("returns", "fulfilment", 3, "kubernetes"),
    ("warehouse-sync", "fulfilment", 2, "vm-package"),
    ("push-gateway", "messaging", 2, "kubernetes"),
    ("sms-sender", "messaging", 3, "serverless"),
    ("analytics-ingest", "data", 2, "kubernetes"),
    ("data-warehouse", "data", 3, "database-migration"),
    ("experiment-service", "growth", 2, "kubernetes"),
    ("admin-portal", "platform", 3, "kubernetes"),
    ("config-service", "platform", 1, "helm"),
    ("rate-limiter", "platform", 1, "kubernetes"),
    ("address-validation", "fulfilment", 3, "serverless"),
    ("invoice-renderer", "payments", 3, "serverless"),
    ("customer-support-api", "identity", 2, "kubernetes"),
    ("status-page", "platform", 2, "serverless"),
]

FIRST_NAMES = [
    "Amara", "Ben", "Chen", "Dana", "Eli", "Farah", "Gus", "Hana", "Ivan", "Jo", "Kofi", "Lena",
    "Mateo", "Nia", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Vik", "Wen", "Yara",
]
LAST_NAMES = [
    "Okafor", "Lindqvist", "Nakamura", "Silva", "Haddad", "Kowalski", "Mensah", "Dubois",
    "Ivanova", "Park", "Moreau", "Osei", "Fischer", "Rossi", "Alvarez", "Novak",
]

INCIDENT_CAUSES = [
    "elevated 5xx after deploy",
    "database connection pool exhausted",
    "certificate expired on upstream",
    "cache stampede after failover",
    "queue consumer lag",
    "DNS resolution failures",
    "memory leak in worker pods",
    "third-party API timeout",
    "disk full on primary node",
    "bad feature flag rollout",
    "slow queries after index drop",
    "rate limiter misconfiguration",
]

SEVERITY_WEIGHTS = [("SEV1", 0.05), ("SEV2", 0.15), ("SEV3", 0.35), ("SEV4", 0.3), ("SEV5", 0.15)]
# Typical resolution time in minutes (lognormal median) per severity.
RESOLUTION_MEDIAN_MIN = {"SEV1": 95.0, "SEV2": 70.0, "SEV3": 45.0, "SEV4": 30.0, "SEV5": 20.0}


@dataclass(frozen=True)
class Person:
    name: str
    email: str
    team: str


@dataclass(frozen=True)
class DemoService:
    name: str
    team: str
    owner: str | None  # a person; None is a planted defect (ownership unclear)
    tier: int
    deployment: str
    oncall: str
    dependencies: tuple[str, ...]
    endpoints: tuple[str, ...]
    requests_per_minute: float  # mean traffic, for telemetry and perf runs


@dataclass(frozen=True)
class DemoIncident:
    id: str
    service: str
    severity: str
    title: str
    started_at: datetime  # impact start
    detected_at: datetime
    acknowledged_at: datetime
    resolved_at: datetime
    error_fraction: float  # share of requests failing during impact
    responder: str
    has_postmortem: bool  # False for a major incident = planted gap

    @property
    def major(self) -> bool:
        return self.severity in ("SEV1", "SEV2")


@dataclass
class World:
    seed: int
    size: Size
    scale: Scale
    now: datetime
    services: list[DemoService]
    people: list[Person]
    incidents: list[DemoIncident]
    teams: list[str] = field(default_factory=list)

    def rng(self, purpose: str) -> random.Random:
        """Return a generator seeded by the world's seed and ``purpose`` (stable per file)."""
        return random.Random(f"{self.seed}:{purpose}")

    @property
    def history_start(self) -> datetime:
        return self.now - timedelta(days=self.scale.health_days)

    def team_lead(self, team: str) -> Person:
        return next(p for p in self.people if p.team == team)

    def service(self, name: str) -> DemoService:
        return next(s for s in self.services if s.name == name)


def build_world(size: Size, seed: int, now: datetime) -> World:
    """Return the world for ``size`` and ``seed``, anchored at ``now``."""
    scale = SCALES[size]
    rng = random.Random(f"{seed}:world")
    teams = sorted({team for _, team, _, _ in BASE_SERVICES})
    people = _people(rng, teams)
    services = _services(rng, scale.services, people)
    incidents = _incidents(rng, scale, services, now, people)
    return World(seed, size, scale, now, services, people, incidents, teams)


def _people(rng: random.Random, teams: list[str]) -> list[Person]:
    people = []
    names = [(f, last) for f in FIRST_NAMES for last in LAST_NAMES]
    rng.shuffle(names)
    for i, team in enumerate(teams * 3):
        first, last = names[i]
        email = f"{first.lower()}.{last.lower()}@example.com"
        people.append(Person(f"{first} {last}", email, team))
    return people


def _services(rng: random.Random, count: int, people: list[Person]) -> list[DemoService]:
    services = []
    for i in range(count):
        base, team, tier, deployment = BASE_SERVICES[i % len(BASE_SERVICES)]
        name = base if i < len(BASE_SERVICES) else f"{base}-{i // len(BASE_SERVICES) + 1}"
        members = [p for p in people if p.team == team]
        owner = rng.choice(members).name
        endpoints = tuple(
            f"{method} /{base.split('-')[0]}/{path}"
            for method, path in rng.sample(
                [("GET", "items"), ("POST", "items"), ("GET", "status"), ("PUT", "items/{id}"),
                 ("GET", "items/{id}"), ("DELETE", "items/{id}"), ("POST", "batch")],
                k=3,
            )
        )
        rpm = round(rng.lognormvariate(5.5 - tier * 0.6, 0.6), 1)
        services.append(
            DemoService(name, team, owner, tier, deployment, f"{team}-primary", (), endpoints, rpm)
        )
    names = [s.name for s in services]
    wired = []
    for i, service in enumerate(services):
        pool = [n for n in names[: max(i, 1)] if n != service.name]
        deps = tuple(sorted(rng.sample(pool, k=min(len(pool), rng.randint(0, 3)))))
        wired.append(replace(service, dependencies=deps))
    # Planted defect: the least critical service has no owner after handover.
    orphan = max(range(len(wired)), key=lambda i: (wired[i].tier, -i))
    wired[orphan] = replace(wired[orphan], owner=None)
    return wired


def _incidents(
    rng: random.Random,
    scale: Scale,
    services: list[DemoService],
    now: datetime,
    people: list[Person],
) -> list[DemoIncident]:
    start = now - timedelta(days=scale.incident_months * 30)
    span = (now - start).total_seconds()
    # Critical services fail less often but matter more; weight by traffic and tier.
    weights = [1.0 / (1 + s.tier) ** 0.3 * (1 + s.requests_per_minute / 500) for s in services]
    incidents = []
    for number in range(scale.incidents):
        service = rng.choices(services, weights=weights)[0]
        severity = rng.choices(
            [s for s, _ in SEVERITY_WEIGHTS], weights=[w for _, w in SEVERITY_WEIGHTS]
        )[0]
        if service.tier >= 3 and severity == "SEV1":
            severity = "SEV2"
        started = start + timedelta(seconds=rng.uniform(0, span - 6 * 3600))
        started = started.replace(second=0, microsecond=0)
        detect = timedelta(minutes=max(1.0, rng.lognormvariate(1.3, 0.6)))
        ack = timedelta(minutes=max(0.5, rng.lognormvariate(1.2, 0.7)))
        resolve = timedelta(
            minutes=max(5.0, rng.lognormvariate(math.log(RESOLUTION_MEDIAN_MIN[severity]), 0.6))
        )
        detected = (started + detect).replace(microsecond=0)
        acknowledged = (detected + ack).replace(microsecond=0)
        resolved = (acknowledged + resolve).replace(microsecond=0)
        error_fraction = {
            "SEV1": rng.uniform(0.5, 1.0),
            "SEV2": rng.uniform(0.15, 0.5),
            "SEV3": rng.uniform(0.03, 0.15),
            "SEV4": rng.uniform(0.01, 0.04),
            "SEV5": rng.uniform(0.002, 0.01),
        }[severity]
        responder = rng.choice([p for p in people if p.team == service.team]).name
        cause = rng.choice(INCIDENT_CAUSES)
        incidents.append(
            DemoIncident(
                id=f"INC-{1000 + number}",
                service=service.name,
                severity=severity,
                title=f"{service.name}: {cause}",
                started_at=started,
                detected_at=detected,
                acknowledged_at=acknowledged,
                resolved_at=resolved,
                error_fraction=round(error_fraction, 4),
                responder=responder,
                has_postmortem=True,
            )
        )
    incidents.sort(key=lambda inc: inc.started_at)
    incidents = [replace(inc, id=f"INC-{1000 + i}") for i, inc in enumerate(incidents)]
    # Planted gap: the most recent major incident has no postmortem yet.
    majors = [i for i, inc in enumerate(incidents) if inc.major]
    if majors:
        last = majors[-1]
        incidents[last] = replace(incidents[last], has_postmortem=False)
    return incidents
