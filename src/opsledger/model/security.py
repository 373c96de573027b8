"""Vulnerability findings and outdated packages, normalised from every scanner's output.

A :class:`Finding` follows the shape of an OSV record as seen from one installed package:
the vulnerability's identifiers (one canonical id, preferring the CVE, and its aliases),
the package and version it was found in, the versions that fix it, and a CVSS rating
computed from the vector rather than trusted from the tool.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from opsledger.model.common import Severity

_CVE = re.compile(r"^CVE-\d{4}-\d{4,}$", re.IGNORECASE)
_GHSA = re.compile(r"^GHSA(-[23456789cfghjmpqrvwx]{4}){3}$", re.IGNORECASE)
# Anything that names an advisory: CVE, GHSA, PYSEC, OSV, RUSTSEC, GO, SNYK, distro ids...
VULN_ID = re.compile(
    r"\b(CVE-\d{4}-\d{4,}|GHSA(?:-[23456789cfghjmpqrvwx]{4}){3}|PYSEC-\d{4}-\d+|"
    r"RUSTSEC-\d{4}-\d+|GO-\d{4}-\d+|OSV-\d{4}-\d+|SNYK-[A-Z0-9-]+|"
    r"(?:DSA|DLA|RHSA|USN|ALSA|ELSA)-[0-9:.-]+)",
    re.IGNORECASE,
)


class Scope(StrEnum):
    """Whether the vulnerable package ships with the service or only builds/tests it."""

    RUNTIME = "runtime"
    DEV = "dev"
    UNKNOWN = "unknown"


class Relationship(StrEnum):
    DIRECT = "direct"
    TRANSITIVE = "transitive"
    UNKNOWN = "unknown"


class UpdateKind(StrEnum):
    """How far an available update moves, by semantic versioning."""

    PATCH = "patch"
    MINOR = "minor"
    MAJOR = "major"
    UNKNOWN = "unknown"


def normalise_id(value: str) -> str:
    """Return an advisory id in its usual spelling (``CVE-…`` upper case, GHSA slug lower)."""
    text = value.strip()
    if _GHSA.match(text):
        return "GHSA" + text[4:].lower()
    return text.upper() if _CVE.match(text) else text


def id_rank(value: str) -> tuple[int, str]:
    """Sort key that puts CVE ids first, then GHSA, then every other scheme."""
    if _CVE.match(value):
        return (0, value)
    if _GHSA.match(value):
        return (1, value)
    return (2, value)


def canonical_ids(ids: Iterable[str]) -> tuple[str, tuple[str, ...]]:
    """Return ``(canonical id, aliases)``: the CVE when there is one, the rest sorted."""
    unique = sorted({normalise_id(i) for i in ids if i and i.strip()}, key=id_rank)
    if not unique:
        raise ValueError("a finding needs at least one identifier")
    return unique[0], tuple(unique[1:])


def is_cve(value: str) -> bool:
    return bool(_CVE.match(value))


_ECOSYSTEMS = {
    "pypi": "PyPI",
    "pip": "PyPI",
    "pipenv": "PyPI",
    "poetry": "PyPI",
    "uv": "PyPI",
    "python": "PyPI",
    "python-pkg": "PyPI",
    "conda": "PyPI",
    "npm": "npm",
    "yarn": "npm",
    "pnpm": "npm",
    "bun": "npm",
    "node-pkg": "npm",
    "javascript": "npm",
    "go": "Go",
    "gomod": "Go",
    "golang": "Go",
    "go-module": "Go",
    "gobinary": "Go",
    "maven": "Maven",
    "jar": "Maven",
    "java-archive": "Maven",
    "gradle": "Maven",
    "cargo": "crates.io",
    "crates.io": "crates.io",
    "rust-crate": "crates.io",
    "nuget": "NuGet",
    "rubygems": "RubyGems",
    "gem": "RubyGems",
    "bundler": "RubyGems",
    "composer": "Packagist",
    "packagist": "Packagist",
    "deb": "Debian",
    "debian": "Debian",
    "ubuntu": "Ubuntu",
    "apk": "Alpine",
    "alpine": "Alpine",
    "rpm": "RPM",
    "redhat": "Red Hat",
}


def normalise_ecosystem(value: str | None) -> str:
    """Return the OSV ecosystem name for a tool's spelling (``pip`` -> ``PyPI``), or ``""``."""
    if not value:
        return ""
    key = value.strip().lower()
    return _ECOSYSTEMS.get(key, value.strip())


def normalise_package(name: str, ecosystem: str) -> str:
    """Return the comparison key for a package name (PEP 503 for PyPI, lower case else)."""
    key = name.strip().lower()
    if ecosystem in ("PyPI", ""):
        key = re.sub(r"[-_.]+", "-", key)
    return key


def ecosystem_from_purl(purl: str | None) -> str:
    """Return the ecosystem of a package URL (``pkg:pypi/x@1`` -> ``PyPI``)."""
    if not purl or not purl.startswith("pkg:"):
        return ""
    kind = purl[4:].split("/", 1)[0]
    return normalise_ecosystem(kind)


@dataclass(frozen=True)
class Finding:
    """One vulnerability in one installed package, possibly reported by several tools."""

    id: str
    aliases: tuple[str, ...]
    package: str
    ecosystem: str  # OSV ecosystem name ("PyPI", "npm", ...); "" when the tool did not say
    installed: str | None  # None when the tool reports a range, not the installed version
    fixed: tuple[str, ...] = ()
    purl: str | None = None
    cvss_vector: str | None = None
    cvss_version: str | None = None
    cvss_score: float | None = None
    severity: Severity = Severity.UNKNOWN
    severity_basis: str = "none"  # "cvss vector", "tool score", "tool label", "none"
    scope: Scope = Scope.UNKNOWN
    relationship: Relationship = Relationship.UNKNOWN
    sources: tuple[str, ...] = ()
    first_seen: date | None = None
    summary: str = ""
    locations: tuple[str, ...] = ()  # manifests, lockfiles, image layers
    kev: bool = False
    kev_due: date | None = None
    kev_added: date | None = None
    epss: float | None = None
    epss_percentile: float | None = None
    tool_severities: tuple[str, ...] = field(default=(), compare=False)
    # Where it was reported: the scan files (relative to the security folder) and the
    # artifacts and targets the tools name (an image, a lockfile, a repository). Which
    # service a finding is about is read from these names.
    reported_in: tuple[str, ...] = field(default=(), compare=False)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset((self.id, *self.aliases))

    @property
    def cves(self) -> tuple[str, ...]:
        return tuple(sorted(i for i in self.ids if is_cve(i)))

    @property
    def package_key(self) -> str:
        return normalise_package(self.package, self.ecosystem)

    @property
    def has_fix(self) -> bool:
        return bool(self.fixed)


@dataclass(frozen=True)
class OutdatedPackage:
    """A dependency with a newer release, from ``pip list --outdated`` or ``npm outdated``."""

    name: str
    ecosystem: str
    current: str | None  # None: declared but not installed
    latest: str
    wanted: str | None = None  # npm: the newest version the declared range allows
    scope: Scope = Scope.UNKNOWN
    dependent: str = ""  # npm: the package.json that declares it
    location: str = ""
    # The outdated list it came from (relative to the security folder), for its service.
    reported_in: tuple[str, ...] = field(default=(), compare=False)

    @property
    def update_kind(self) -> UpdateKind:
        return update_kind(self.current, self.latest)


_NUMERIC = re.compile(r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def version_parts(version: str | None) -> tuple[int, int, int] | None:
    """Return (major, minor, patch) from the numeric prefix of a version, or ``None``."""
    if not version:
        return None
    match = _NUMERIC.match(version.strip())
    if not match:
        return None
    return (int(match.group(1)), int(match.group(2) or 0), int(match.group(3) or 0))


def update_kind(current: str | None, target: str | None) -> UpdateKind:
    """Return whether moving ``current`` -> ``target`` is a patch, minor or major update.

    Below 1.0.0 a minor bump may break (semver item 4), so ``0.y`` -> ``0.y+1`` is major.
    """
    old, new = version_parts(current), version_parts(target)
    if old is None or new is None:
        return UpdateKind.UNKNOWN
    if new[0] != old[0]:
        return UpdateKind.MAJOR
    if new[1] != old[1]:
        return UpdateKind.MAJOR if old[0] == 0 else UpdateKind.MINOR
    return UpdateKind.PATCH


def version_sort_key(version: str) -> tuple[tuple[int, int, int], str]:
    return (version_parts(version) or (0, 0, 0), version)
