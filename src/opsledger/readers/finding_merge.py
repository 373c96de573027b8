"""How several tools' reports of one finding combine, field by field.

The merged finding keeps the best-supported CVSS rating (a vector in the most preferred CVSS
version, the highest score among those; without any vector, the highest bare score), the
widest exposure (runtime over dev, direct over transitive, every location), the strongest
evidence of exploitation (on the KEV list when any report says so, the earliest KEV dates,
the highest EPSS), every tool and rating that reported it, and for a field only some tools
fill, the first value given. Identity (ids, ecosystem, versions) and the final band are
:mod:`opsledger.readers.findings`' concern.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import NamedTuple

from opsledger.formats.cvss_rating import VERSION_PREFERENCE
from opsledger.model.security import Finding, Relationship, Scope


class CvssRating(NamedTuple):
    """A CVSS vector with its version and base score, as one report gave them."""

    vector: str | None = None
    version: str | None = None
    score: float | None = None


class Exposure(NamedTuple):
    """How the vulnerable package is present: shipped or dev only, direct or transitive,
    and where (manifests, lockfiles, image layers)."""

    scope: Scope
    relationship: Relationship
    locations: tuple[str, ...]


class Exploitation(NamedTuple):
    """Evidence that the vulnerability is exploited: CISA KEV membership, FIRST EPSS."""

    kev: bool
    kev_due: date | None
    kev_added: date | None
    epss: float | None
    epss_percentile: float | None


class Provenance(NamedTuple):
    """Which tools reported the finding, when it was first seen, and what they said."""

    sources: tuple[str, ...]
    first_seen: date | None
    summary: str
    tool_severities: tuple[str, ...]


def first_stated(values: Iterable[str | None]) -> str | None:
    """Return the first non-empty value, ``None`` when every one is empty."""
    return next((value for value in values if value), None)


def union(values: Iterable[Iterable[str]]) -> tuple[str, ...]:
    """Return every distinct entry of the values, sorted."""
    return tuple(sorted({entry for entries in values for entry in entries}))


def earliest(dates: Iterable[date | None]) -> date | None:
    return min((day for day in dates if day), default=None)


def highest(values: Iterable[float | None]) -> float | None:
    return max((value for value in values if value is not None), default=None)


def _rating_of(finding: Finding) -> CvssRating:
    return CvssRating(finding.cvss_vector, finding.cvss_version, finding.cvss_score)


def preferred_cvss(group: Sequence[Finding]) -> CvssRating:
    """Return the rating of the report whose vector is in the most preferred CVSS version
    (the highest score among those); without any vector, the highest bare score."""
    rated = [f for f in group if f.cvss_vector]
    if rated:
        return _rating_of(min(rated, key=lambda f: (
            VERSION_PREFERENCE.index(f.cvss_version or "2.0"), -(f.cvss_score or 0.0))))
    scored = [f for f in group if f.cvss_score is not None]
    if not scored:
        return CvssRating()
    return _rating_of(max(scored, key=lambda f: f.cvss_score or 0.0))


def highest_band(group: Sequence[Finding]) -> Finding:
    """Return the report given the highest severity band (the first of equals)."""
    return max(group, key=lambda f: f.severity.rank)


def widest_exposure(group: Sequence[Finding]) -> Exposure:
    """Return the exposure of the reports together: one runtime path is enough to ship the
    vulnerability, one direct dependency is enough to make it direct."""
    scopes = {f.scope for f in group} - {Scope.UNKNOWN}
    relations = {f.relationship for f in group} - {Relationship.UNKNOWN}
    return Exposure(
        scope=Scope.RUNTIME if Scope.RUNTIME in scopes else (
            Scope.DEV if scopes else Scope.UNKNOWN),
        relationship=Relationship.DIRECT if Relationship.DIRECT in relations else (
            Relationship.TRANSITIVE if relations else Relationship.UNKNOWN),
        locations=union(f.locations for f in group),
    )


def strongest_exploitation(group: Sequence[Finding]) -> Exploitation:
    """Return KEV membership when any report has it, the earliest KEV dates, the highest
    EPSS score and percentile."""
    return Exploitation(
        kev=any(f.kev for f in group),
        kev_due=earliest(f.kev_due for f in group),
        kev_added=earliest(f.kev_added for f in group),
        epss=highest(f.epss for f in group),
        epss_percentile=highest(f.epss_percentile for f in group),
    )


def combined_provenance(group: Sequence[Finding]) -> Provenance:
    """Return every reporting tool and tool rating, the earliest sighting, the first
    summary given."""
    return Provenance(
        sources=union(f.sources for f in group),
        first_seen=earliest(f.first_seen for f in group),
        summary=first_stated(f.summary for f in group) or "",
        tool_severities=union(f.tool_severities for f in group),
    )
