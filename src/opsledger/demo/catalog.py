"""The demo service catalog and security risk log, in the handover folder.

- ``SERVICE-CATALOG.xlsx``: a ``Services`` sheet (one row per world service, the orphaned
  service with an empty owner cell, a few low-tier services without a runbook) and a
  ``Dependencies`` sheet. The archive is written with fixed timestamps so that the same world
  gives the same bytes.
- ``catalog-info.yaml``: the most critical services as Backstage Components, with a System,
  a Resource and a Group (which the reader passes over), as a team using Backstage keeps them.
- ``SECURITY-RISK-LOG.csv``: risks with CVE or assessment references and compliance tags;
  some High/Critical, two overdue, one critical risk with no due date and one row whose
  likelihood is not on the 1-5 scale (planted defects for later checks to find).
"""

from __future__ import annotations

import io
import random
import zipfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import yaml
from openpyxl.styles import Font
from openpyxl.writer.excel import ExcelWriter

from opsledger.core.config import Paths
from opsledger.core.fileio import atomic_write_bytes, atomic_write_csv, atomic_write_text
from opsledger.core.workspace import HANDOVER_FILES, InputKey
from opsledger.demo.world import DemoService, World

CATALOG_COLUMNS = (
    "Service",
    "Owner",
    "Team",
    "Tier",
    "Lifecycle",
    "Deployment",
    "Dependencies",
    "Dashboard",
    "Runbook",
    "On-call",
)
BACKSTAGE_COMPONENTS = 6
RISK_COLUMNS = (
    "id",
    "title",
    "service",
    "owner",
    "severity",
    "likelihood",
    "impact",
    "due_date",
    "status",
    "reference",
    "compliance",
    "created",
)
# Days to remediate by severity, as in the demo configuration's vulnerability SLA.
RISK_SLA_DAYS = {"Critical": 7, "High": 30, "Medium": 90, "Low": 180}
# (title, reference, severity) — references are real advisories or internal assessments.
RISK_TEMPLATES = (
    ("HTTP/2 rapid reset DoS on ingress", "CVE-2023-44487", "High"),
    ("Log4j JNDI lookup in legacy reporting job", "CVE-2021-44228", "Critical"),
    ("OpenSSH regreSSHion on bastion hosts", "CVE-2024-6387", "High"),
    ("libwebp heap overflow in image pipeline", "CVE-2023-4863", "High"),
    ("curl SOCKS5 heap overflow in build images", "CVE-2023-38545", "Medium"),
    ("Spring4Shell in admin tooling", "CVE-2022-22965", "Critical"),
    ("xz backdoor check on base images", "CVE-2024-3094", "Medium"),
    ("Shared admin credentials in runbook", "PENTEST-2026-07", "High"),
    ("TLS 1.0 still enabled on legacy endpoint", "PENTEST-2026-03", "Medium"),
    ("Card data written to debug logs", "AUDIT-PCI-2026-11", "Critical"),
    ("Backups not encrypted at rest", "AUDIT-SOC2-2026-04", "High"),
    ("Service account keys older than 365 days", "CSPM-IAM-017", "Medium"),
    ("Missing rate limit on login endpoint", "PENTEST-2026-12", "Medium"),
    ("Verbose error pages leak stack traces", "PENTEST-2026-15", "Low"),
    ("S3 bucket allows public listing", "CSPM-S3-004", "High"),
    ("Outdated jQuery in admin portal", "CVE-2020-11023", "Low"),
    ("Webhook signatures not verified", "PENTEST-2026-21", "Medium"),
    ("PII retained beyond retention policy", "AUDIT-GDPR-2026-02", "Medium"),
    ("No MFA on CI deploy accounts", "AUDIT-SOC2-2026-09", "High"),
    ("Container images run as root", "CSPM-K8S-031", "Low"),
)
# Likelihood and impact (1-5) that go with each severity band.
RISK_SCORES = {
    "Critical": ((4, 5), (5, 5)),
    "High": ((3, 4), (4, 5)),
    "Medium": ((2, 3), (3, 4)),
    "Low": ((1, 2), (1, 3)),
}


def write_catalog(world: World, root: Path) -> list[Path]:
    """Write ``SERVICE-CATALOG.xlsx`` and ``catalog-info.yaml``; return their paths."""
    folder = root / Paths().handover
    workbook_path = folder / HANDOVER_FILES[InputKey.SERVICE_CATALOG]
    atomic_write_bytes(workbook_path, catalog_workbook(world))
    backstage_path = folder / HANDOVER_FILES[InputKey.BACKSTAGE]
    atomic_write_text(backstage_path, backstage_yaml(world))
    return [workbook_path, backstage_path]


def catalog_rows(world: World) -> list[list[Any]]:
    """Return the ``Services`` sheet's rows (without header), one per world service."""
    rng = world.rng("catalog")
    rows = []
    for service in world.services:
        lifecycle = "production"
        if service.tier >= 3 and rng.random() < 0.15:
            lifecycle = rng.choice(["deprecated", "experimental"])
        runbook: str | None = f"https://wiki.example.com/runbooks/{service.name}"
        if service.tier >= 2 and rng.random() < 0.15:
            runbook = None  # a gap a handover review should find
        rows.append(
            [
                service.name,
                service.owner,
                service.team,
                service.tier,
                lifecycle,
                service.deployment,
                ", ".join(service.dependencies) or None,
                f"https://grafana.example.com/d/{service.name}/overview",
                runbook,
                service.oncall,
            ]
        )
    return rows


def catalog_workbook(world: World) -> bytes:
    """Return the workbook's bytes (the same for the same world)."""
    workbook = openpyxl.Workbook()
    services = workbook.active
    services.title = "Services"
    services.append(list(CATALOG_COLUMNS))
    for row in catalog_rows(world):
        services.append(row)
    dependencies = workbook.create_sheet("Dependencies")
    dependencies.append(["Service", "Depends on", "Kind"])
    by_name = {s.name: s for s in world.services}
    for service in world.services:
        for dependency in service.dependencies:
            kind = "hard" if by_name[dependency].tier <= service.tier else "soft"
            dependencies.append([service.name, dependency, kind])
    for sheet, widths in (
        (services, (22, 18, 12, 6, 12, 18, 40, 48, 48, 22)),
        (dependencies, (22, 22, 8)),
    ):
        sheet.freeze_panes = "A2"
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for index, width in enumerate(widths):
            sheet.column_dimensions[chr(ord("A") + index)].width = width
    moment = world.now.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    workbook.properties.creator = "opsledger demo"
    workbook.properties.title = "Service catalog"
    workbook.properties.created = moment
    workbook.properties.modified = moment
    buffer = io.BytesIO()
    # ExcelWriter rather than Workbook.save, which stamps the modified time with the clock.
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        ExcelWriter(workbook, archive).save()
    return _fixed_zip_times(buffer.getvalue(), moment)


def _fixed_zip_times(data: bytes, moment: datetime) -> bytes:
    """Return the zip ``data`` with every entry dated ``moment`` (zipfile stamps the clock)."""
    stamp = (
        max(moment.year, 1980),
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
    )
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=stamp)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            target.writestr(entry, source.read(info.filename))
    return out.getvalue()


def backstage_yaml(world: World) -> str:
    """Return ``catalog-info.yaml``: the most critical services as Backstage entities."""
    rng = world.rng("backstage")
    chosen = sorted(world.services, key=lambda s: (s.tier, world.services.index(s)))
    chosen = chosen[:BACKSTAGE_COMPONENTS]
    documents: list[dict[str, Any]] = []
    for service in chosen:
        documents.append(
            _component(
                service,
                rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
                + "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(6)),
            )
        )
    team = chosen[0].team
    documents.append(
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "System",
            "metadata": {"name": f"{team}-platform", "description": f"Services run by {team}"},
            "spec": {"owner": f"group:default/{team}"},
        }
    )
    documents.append(
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Resource",
            "metadata": {
                "name": f"{chosen[0].name}-db",
                "labels": {"tier": f"tier-{chosen[0].tier}"},
            },
            "spec": {
                "type": "database",
                "owner": f"group:default/{chosen[0].team}",
                "system": f"{team}-platform",
            },
        }
    )
    documents.append(
        {
            "apiVersion": "backstage.io/v1alpha1",
            "kind": "Group",
            "metadata": {"name": team},
            "spec": {"type": "team", "children": []},
        }
    )
    header = "# Backstage catalog entities for the services handed over (demo).\n"
    return header + yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True)


def _component(service: DemoService, pagerduty_id: str) -> dict[str, Any]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata": {
            "name": service.name,
            "description": f"{service.name} ({service.deployment})",
            "labels": {"tier": f"tier-{service.tier}"},
            "annotations": {
                "pagerduty.com/service-id": pagerduty_id,
                "grafana/dashboard-selector": f"tags @> '{service.name}'",
            },
            "links": [
                {
                    "url": f"https://grafana.example.com/d/{service.name}/overview",
                    "title": "Dashboard",
                },
                {"url": f"https://wiki.example.com/runbooks/{service.name}", "title": "Runbook"},
            ],
        },
        "spec": {
            "type": "service",
            "lifecycle": "production",
            "owner": f"group:default/{service.team}",
            "dependsOn": [f"component:default/{name}" for name in service.dependencies],
        },
    }


def write_security_risks(world: World, root: Path) -> list[Path]:
    """Write ``SECURITY-RISK-LOG.csv`` and return its path."""
    path = root / Paths().handover / HANDOVER_FILES[InputKey.SECURITY_RISKS]
    atomic_write_csv(path, RISK_COLUMNS, risk_rows(world))
    return [path]


def risk_count(world: World) -> int:
    return min(120, max(8, len(world.services) // 2))


def risk_rows(world: World) -> list[list[Any]]:
    """Return the risk log's rows (without header)."""
    rng = world.rng("security-risks")
    today = world.now.date()
    security = [p for p in world.people if p.team == "payments"]
    rows: list[list[Any]] = []
    for number in range(risk_count(world)):
        title, reference, severity = RISK_TEMPLATES[number % len(RISK_TEMPLATES)]
        if number >= len(RISK_TEMPLATES):
            title = f"{title} (finding {number // len(RISK_TEMPLATES) + 1})"
        pool = [s for s in world.services if (s.tier <= 1) == (severity in ("Critical", "High"))]
        service = rng.choice(pool or world.services)
        owner = service.owner or rng.choice(security).name
        (l_low, l_high), (i_low, i_high) = RISK_SCORES[severity]
        created = today - timedelta(days=rng.randint(3, 200))
        due: date | None = created + timedelta(days=RISK_SLA_DAYS[severity])
        status = _status(rng, created, due, today)
        rows.append(
            [
                f"SEC-{number + 1:03d}",
                title,
                service.name,
                owner,
                severity,
                rng.randint(l_low, l_high),
                rng.randint(i_low, i_high),
                due.isoformat() if due else "",
                status,
                reference,
                _compliance(service),
                created.isoformat(),
            ]
        )
    _plant_defects(rows, today)
    return rows


def _status(rng: random.Random, created: date, due: date | None, today: date) -> str:
    if due is not None and due < today:
        # Most risks past their date were dealt with; the rest are overdue.
        return rng.choices(["Mitigated", "Risk Accepted", "In Progress"], [0.8, 0.1, 0.1])[0]
    return rng.choices(["Open", "In Progress", "Mitigated"], [0.5, 0.35, 0.15])[0]


def _compliance(service: DemoService) -> str:
    frameworks = ["SOC2"]
    if service.team == "payments":
        frameworks.append("PCI-DSS")
    if service.team in ("identity", "growth"):
        frameworks.append("GDPR")
    return ";".join(frameworks)


def _plant_defects(rows: list[list[Any]], today: date) -> None:
    """Make two High/Critical risks overdue and open, drop one critical risk's due date, and
    write one likelihood off the 1-5 scale."""
    severe = [row for row in rows if row[4] in ("Critical", "High")]
    for row, days_late in zip(severe[:2], (12, 40), strict=False):
        row[7] = (today - timedelta(days=days_late)).isoformat()
        row[8] = "Open" if days_late > 20 else "In Progress"
        row[11] = min(row[11], (today - timedelta(days=days_late + 30)).isoformat())
    planted = severe[:2]
    critical = [row for row in rows if row[4] == "Critical" and row not in planted]
    if critical:
        critical[0][7] = ""
        critical[0][8] = "Open"
        planted.append(critical[0])
    malformed = next(row for row in reversed(rows) if row not in planted)
    malformed[5] = "very high"
