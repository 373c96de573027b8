"""Which services a vulnerability finding is about, and what a team's or a service's view of
the findings leaves out.

Scanners report on images, lockfiles and repositories, not services. A finding is about the
services that the places it was reported in name as whole words (``reported_in``: the scan
file's path in the security folder, the image, the lockfile, the repository), as
:func:`opsledger.core.scope.services_named` reads them: ``security/checkout/trivy.json``,
``grype-checkout-image.json`` and the image ``registry/checkout:1.4`` all name
``checkout``. A finding folded from several reports is about every service any of them
names. A finding whose reports name no service (a shared lockfile, an image named after
nothing the workspace knows) cannot be placed: a team's view leaves it out and says how
many it left out, and where to put a service's scans so that they are placed.

Pure functions; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from opsledger.core.scope import LeftOut, Scope, services_named, split
from opsledger.model.security import Finding, OutdatedPackage
from opsledger.patching.cadence import DueFinding
from opsledger.patching.plan import finding_json

Reported = TypeVar("Reported", Finding, OutdatedPackage)


def finding_services(finding: Finding, known: Iterable[str]) -> tuple[str, ...]:
    """Return the known services the finding's reports name, sorted (empty: none)."""
    return services_named(finding.reported_in, known)


def attributed_json(item: DueFinding, known: Iterable[str]) -> dict[str, Any]:
    """Return one finding in the ``patch findings --json`` contract, with its services."""
    return {**finding_json(item), "services": list(finding_services(item.finding, known))}


def split_by_scope(records: Iterable[Reported], scope: Scope) -> tuple[list[Reported], LeftOut]:
    """Return the records in ``scope``, and how many were another's or named no service."""
    return split(scope, records)


@dataclass(frozen=True)
class FindingsLeftOut:
    """What a view of the findings did not look at: findings and outdated packages of other
    services, and those whose scans name no service."""

    scope: Scope
    findings: LeftOut
    outdated: LeftOut
    folder: str = "security"  # the scans' folder, relative to the workspace

    @property
    def total(self) -> int:
        return self.findings.total + self.outdated.total

    def to_json(self) -> dict[str, Any]:
        """Return the view's scope and its left-out counts (the ``scope`` object)."""
        return {
            **self.scope.to_json(),
            "left_out": {
                "findings": {"other": self.findings.other, "unplaced": self.findings.unplaced},
                "outdated": {"other": self.outdated.other, "unplaced": self.outdated.unplaced},
            },
        }

    def sentence(self) -> str:
        """Return one line saying what the view left out ("" for the whole workspace)."""
        if self.scope.whole:
            return ""
        others = "other services" if self.scope.service else "other teams' services"
        parts = []
        if self.findings.other:
            parts.append(f"{self.findings.other} finding(s) of {others}")
        if self.findings.unplaced:
            parts.append(f"{self.findings.unplaced} finding(s) from scans that name no service "
                         "(shared lockfiles, unnamed images)")
        if self.outdated.other:
            parts.append(f"{self.outdated.other} outdated package(s) of {others}")
        if self.outdated.unplaced:
            parts.append(f"{self.outdated.unplaced} outdated package(s) from lists that name "
                         "no service")
        if not parts:
            return f"Every finding and outdated package in {self.folder}/ is in this view."
        line = f"Not in the view of {self.scope.label}: " + ", ".join(parts)
        if self.findings.unplaced or self.outdated.unplaced:
            line += (f"; put a service's scans under {self.folder}/<service>/ or name the "
                     "service in the file name")
        return line + "."
