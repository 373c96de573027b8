"""What every scanner reader shares: building a normalised :class:`Finding` from one
tool's report of one vulnerability, and reading a JSON report whose format is known."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from opsledger.core.problems import ReadResult, shown
from opsledger.formats.cvss_rating import CvssRating, preferred, rate_vector
from opsledger.formats.fields import parse_date
from opsledger.formats.textfile import load_json
from opsledger.model.security import Finding, Relationship, Scope, canonical_ids
from opsledger.readers.findings import (
    DEFAULT_RATING,
    apply_rating,
    ecosystem_of,
    fixed_versions,
    is_package_url,
    tool_label,
    vendor_label,
    version_scheme,
)


@dataclass
class Report:
    """One tool's report of one vulnerability in one package, before normalisation."""

    source: str
    location: str  # where in the file, for problems
    ids: list[str] = field(default_factory=list)
    package: str | None = None
    ecosystem: str | None = None
    installed: str | None = None
    fixed: list[str] = field(default_factory=list)
    purl: str | None = None
    vectors: list[str] = field(default_factory=list)
    tool_score: Any = None  # a score the tool computed (used only without a vector)
    tool_label: str | None = None  # the tool's severity word
    # Vendors' ratings the tool carried: (vendor, severity word), e.g. ("debian", "LOW").
    vendor_ratings: list[tuple[str, str]] = field(default_factory=list)
    kev: bool = False  # the tool itself says the vulnerability is known exploited
    epss: float | None = None
    epss_percentile: float | None = None
    scope: Scope = Scope.UNKNOWN
    relationship: Relationship = Relationship.UNKNOWN
    first_seen: date | None = None
    summary: str = ""
    manifest: str = ""
    # The artifacts and targets the tool names for this report (an image, a scanned
    # directory, a lockfile, a repository): where the finding was reported.
    targets: list[str] = field(default_factory=list)


def build_finding(report: Report, result: ReadResult[Finding]) -> Finding | None:
    """Return the normalised finding, or ``None`` after quarantining the report and saying why."""
    if not report.package:
        result.quarantine(report.location, "vulnerability without a package name", "a package name")
        return None
    ids = [i for i in report.ids if isinstance(i, str) and i.strip()]
    if not ids:
        result.quarantine(report.location, "vulnerability without an identifier", "an advisory id")
        return None
    canonical, aliases = canonical_ids(ids)
    ratings: list[CvssRating] = []
    for vector in dict.fromkeys(v for v in report.vectors if v):
        try:
            ratings.append(rate_vector(vector))
        except ValueError as exc:
            result.warn(
                report.location, f"{exc}; using the tool's severity instead", "a CVSS vector"
            )
    rating = preferred(ratings)
    score = rating.score if rating else _tool_score(report, result)
    ecosystem = ecosystem_of(report.ecosystem, report.purl)
    # Some tools write the fix as a constraint (">=4.17.11"); keep the version itself. An
    # entry that is a package URL names another package whose update carries the fix.
    fixed = [_fixed_entry(f.strip()) for f in report.fixed if f and f.strip()]
    labels = [tool_label(report.source, report.tool_label)] if report.tool_label else []
    labels += [vendor_label(report.source, vendor, label) for vendor, label in report.vendor_ratings
               if vendor and label]
    finding = Finding(
        id=canonical,
        aliases=aliases,
        package=report.package.strip(),
        ecosystem=ecosystem,
        installed=(report.installed or "").strip() or None,
        fixed=fixed_versions(fixed, version_scheme(ecosystem)),
        purl=report.purl or None,
        cvss_vector=rating.vector if rating else None,
        cvss_version=rating.version if rating else None,
        cvss_score=score,
        scope=report.scope,
        relationship=report.relationship,
        sources=(report.source,),
        first_seen=report.first_seen,
        summary=report.summary.strip().splitlines()[0][:200] if report.summary.strip() else "",
        locations=(report.manifest,) if report.manifest else (),
        kev=report.kev,
        epss=report.epss,
        epss_percentile=report.epss_percentile,
        tool_severities=tuple(dict.fromkeys(labels)),
        reported_in=tuple(sorted({t.strip() for t in texts(report.targets)})),
    )
    return apply_rating(finding, DEFAULT_RATING)


def _fixed_entry(text: str) -> str:
    return text if is_package_url(text) else (text.lstrip("=<>~^ v").strip() or text)


def _tool_score(report: Report, result: ReadResult[Finding]) -> float | None:
    """Return the tool's own 0-10 score, used when no vector could be read."""
    if report.tool_score in (None, ""):
        return None
    try:
        score = float(report.tool_score)
    except (TypeError, ValueError):
        score = -1.0
    if 0.0 <= score <= 10.0:
        return score
    result.warn(
        report.location, "severity score is not a number 0-10", "0.0-10.0", shown(report.tool_score)
    )
    return None


def day_of(value: Any) -> date | None:
    """Return the calendar day of an ISO 8601 date or date-time, or ``None``."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return parse_date(value)
    except (ValueError, OverflowError):
        return None


def string(mapping: dict[str, Any], key: str) -> str | None:
    """Return ``mapping[key]`` when it is a string, else ``None``."""
    value = mapping.get(key)
    return value if isinstance(value, str) else None


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def texts(values: Iterable[Any]) -> list[str]:
    return [v for v in values if isinstance(v, str) and v.strip()]


Parser = Callable[[Any, ReadResult[Finding]], None]


def read_report(
    path: Path, name: str, detect: Callable[[Any], bool], parse: Parser, expected: str
) -> ReadResult[Finding]:
    """Read ``path`` as JSON, check it has the expected shape, and parse it."""
    result: ReadResult[Finding] = ReadResult(path, detected_format=name)
    data = load_json(path, result)
    if result.fatal:
        return result
    if not detect(data):
        return result.fail("$", f"not a {name} report", expected, describe(data))
    parse(data, result)
    return result


def describe(data: Any) -> str:
    """Return a short description of a JSON value's shape for a problem message."""
    if isinstance(data, dict):
        keys = sorted(data)[:6]
        return "an object with keys " + ", ".join(keys) if keys else "an empty object"
    if isinstance(data, list):
        return f"an array of {len(data)} item(s)"
    return shown(data)

