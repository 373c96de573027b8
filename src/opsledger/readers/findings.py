"""Folding the same vulnerability reported by several tools into one finding, rating it,
and enriching findings with CISA KEV and FIRST EPSS data.

Package identity is per ecosystem, by its package URL type (``pkg:pypi``, ``pkg:deb``...):
the type names the version scheme and the name rules. Names are normalised as the purl
specification says for that type (PyPI: lower case, runs of ``-_.`` as one ``-``; npm,
Debian, Alpine, Go, Composer, NuGet: lower case; Maven, RPM, RubyGems, Cargo: as written),
and a Maven, npm, Go or Composer name carries its namespace (``group:artifact``,
``@scope/name``, ``golang.org/x/net``). A report whose tool names no ecosystem (SARIF from
Trivy) joins the one ecosystem whose normalised name matches and that shares an identifier.

Versions compare with the ecosystem's own rules through ``univers`` (Debian, RPM with
epochs, Alpine, PEP 440, semver, Maven, RubyGems, NuGet, Go...). A report in no known
ecosystem compares by dpkg's algorithm, which orders digit runs numerically and letters
lexically, the usual shape of an unknown scheme.

Two reports are the same finding when they name the same package, at the same installed
version, and share an identifier (the id or any alias, so a GHSA from one tool meets the CVE
from another). Tools that report a range rather than the installed version (npm audit,
Dependabot without a lockfile) join the one versioned finding that matches; when several
installed versions match they stay apart rather than being merged into the wrong one.
A folded finding was reported everywhere any of its reports was (``reported_in``: the
scan files, images and lockfiles), so it is about every service those name.

A finding keeps every rating it was given: the CVSS base score (from the vector), each
tool's own severity word (``tool_severities`` entries ``trivy:MEDIUM``) and each vendor's
rating as a tool carried it (``trivy/debian:LOW``: the distribution's rating for an OS
package, the advisory database's, such as GHSA's, for a language package). Which one
puts the finding in a band is :class:`~opsledger.core.config.SeverityRating`: by default the
vendor's rating for OS packages and the CVSS band for language packages. A malicious-package
advisory (``MAL-…``) is critical whatever the ratings say.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from urllib.parse import unquote

from opsledger.core.config import RatingSource, SeverityRating
from opsledger.formats.cvss_rating import severity_band
from opsledger.model.common import Severity
from opsledger.model.security import Finding, canonical_ids
from opsledger.readers.finding_merge import (
    combined_provenance,
    first_stated,
    highest_band,
    preferred_cvss,
    strongest_exploitation,
    union,
    widest_exposure,
)
from opsledger.readers.package_versions import compare_versions as compare_versions
from opsledger.readers.package_versions import is_prerelease as is_prerelease
from opsledger.readers.package_versions import parse_version as parse_version
from opsledger.readers.package_versions import same_version, sort_versions

# --- ecosystems ---------------------------------------------------------------------------

# A tool's spelling of an ecosystem -> (OSV ecosystem name, purl type).
_ECOSYSTEMS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        ("pypi", "pip", "pipenv", "poetry", "uv", "python", "python-pkg", "pdm"), ("PyPI", "pypi")
    ),
    **dict.fromkeys(("npm", "yarn", "pnpm", "bun", "node-pkg"), ("npm", "npm")),
    **dict.fromkeys(("go", "golang", "gomod", "gobinary", "go-module"), ("Go", "golang")),
    **dict.fromkeys(
        ("maven", "jar", "pom", "gradle", "sbt", "java-archive", "jenkins-plugin"),
        ("Maven", "maven"),
    ),
    **dict.fromkeys(("cargo", "crates.io", "rust-crate", "rustbinary"), ("crates.io", "cargo")),
    **dict.fromkeys(
        ("nuget", "dotnet", "dotnet-core", "dotnet-deps", "packages-props"), ("NuGet", "nuget")
    ),
    **dict.fromkeys(("rubygems", "gem", "gemspec", "bundler"), ("RubyGems", "gem")),
    **dict.fromkeys(
        ("packagist", "composer", "composer-vendor", "php-composer"), ("Packagist", "composer")
    ),
    **dict.fromkeys(("hex", "mix-lock"), ("Hex", "hex")),
    **dict.fromkeys(("pub", "dart-pub"), ("Pub", "pub")),
    **dict.fromkeys(("debian", "deb", "dpkg"), ("Debian", "deb")),
    "ubuntu": ("Ubuntu", "deb"),
    **dict.fromkeys(("alpine", "apk"), ("Alpine", "apk")),
    "wolfi": ("Wolfi", "apk"),
    "chainguard": ("Chainguard", "apk"),
    "rpm": ("RPM", "rpm"),
    **dict.fromkeys(("red hat", "redhat", "rhel"), ("Red Hat", "rpm")),
    "centos": ("CentOS", "rpm"),
    "fedora": ("Fedora", "rpm"),
    **dict.fromkeys(("rocky", "rocky linux"), ("Rocky Linux", "rpm")),
    **dict.fromkeys(("alma", "almalinux"), ("AlmaLinux", "rpm")),
    **dict.fromkeys(("amazon", "amzn", "amazon linux"), ("Amazon Linux", "rpm")),
    **dict.fromkeys(("oracle", "ol", "oracle linux"), ("Oracle Linux", "rpm")),
    **dict.fromkeys(("suse", "sles", "suse linux enterprise server"), ("SUSE", "rpm")),
    **dict.fromkeys(
        ("opensuse", "opensuse.leap", "opensuse.tumbleweed", "opensuse-leap"), ("openSUSE", "rpm")
    ),
    **dict.fromkeys(("photon", "photon os"), ("Photon OS", "rpm")),
    **dict.fromkeys(
        ("cbl-mariner", "azurelinux", "azure linux", "mariner"), ("Azure Linux", "rpm")
    ),
    **dict.fromkeys(("alpm", "arch", "arch linux", "arch-linux"), ("Arch Linux", "alpm")),
}
_SCHEME_OF_NAME = {name.lower(): scheme for name, scheme in _ECOSYSTEMS.values()}
OS_SCHEMES = frozenset({"deb", "apk", "rpm", "alpm"})
# purl types whose names the purl specification lower-cases.
_CASE_INSENSITIVE = frozenset(
    {"npm", "deb", "apk", "alpm", "golang", "composer", "hex", "pub", "nuget", "github"}
)
# purl types whose namespace is part of the package name, and how tools join the two.
_NAMESPACE_JOIN = {"maven": ":", "npm": "/", "golang": "/", "composer": "/", "github": "/"}


@dataclass(frozen=True)
class PackageUrl:
    """The parts of a package URL (``pkg:type/namespace/name@version?qualifiers``)."""

    type: str
    namespace: str
    name: str
    version: str


def parse_purl(purl: str | None) -> PackageUrl | None:
    """Return the parts of a package URL, or ``None`` when ``purl`` is not one."""
    if not purl or not purl.startswith("pkg:"):
        return None
    text = purl[4:].split("#", 1)[0].split("?", 1)[0].strip("/")
    kind, _, rest = text.partition("/")
    if not kind or not rest:
        return None
    path, _, version = rest.rpartition("@") if "@" in rest.rsplit("/", 1)[-1] else (rest, "", "")
    namespace, _, name = path.rpartition("/")
    if not name:
        return None
    return PackageUrl(kind.lower(), unquote(namespace), unquote(name), unquote(version))


def ecosystem_of(tool_type: str | None, purl: str | None = None) -> str:
    """Return the OSV ecosystem name of a report: from its purl, else the tool's word for it.

    An ecosystem opsledger does not know is returned as the tool wrote it; ``""`` when the
    tool named none.
    """
    parts = parse_purl(purl)
    if parts is not None:
        if parts.type in OS_SCHEMES and parts.namespace.lower() in _ECOSYSTEMS:
            return _ECOSYSTEMS[parts.namespace.lower()][0]
        if parts.type in _ECOSYSTEMS:
            return _ECOSYSTEMS[parts.type][0]
    word = (tool_type or "").strip()
    if not word:
        return ""
    # OSV writes releases after a colon ("Debian:10", "Alpine:v3.18").
    known = _ECOSYSTEMS.get(word.lower()) or _ECOSYSTEMS.get(word.split(":", 1)[0].lower())
    return known[0] if known else word


def version_scheme(ecosystem: str) -> str:
    """Return the purl type that names an ecosystem's version scheme, ``""`` when unknown."""
    return _SCHEME_OF_NAME.get(ecosystem.lower(), "")


def is_known_ecosystem(ecosystem: str) -> bool:
    return bool(version_scheme(ecosystem))


def is_os_package(finding: Finding) -> bool:
    """Return whether the finding is in a distribution's package (deb, rpm, apk, alpm)."""
    return version_scheme(finding.ecosystem) in OS_SCHEMES


def name_key(name: str, scheme: str) -> str:
    """Return a package name as the purl specification normalises it for ``scheme``."""
    key = name.strip()
    if scheme == "pypi":
        return re.sub(r"[-_.]+", "-", key.lower())
    if scheme in _CASE_INSENSITIVE or not scheme:
        return key.lower()
    return key


def package_identity(finding: Finding) -> tuple[str, str]:
    """Return ``(purl type, normalised name)``: reports of one package share it."""
    scheme = version_scheme(finding.ecosystem)
    name = finding.package
    parts = parse_purl(finding.purl)
    join = _NAMESPACE_JOIN.get(scheme)
    if parts is not None and join and parts.namespace and join not in name:
        name = f"{parts.namespace}{join}{parts.name}"
    return scheme, name_key(name, scheme)


# --- versions -----------------------------------------------------------------------------


def is_package_url(text: str) -> bool:
    """Return whether a fixed-version entry names another package's version (a purl)."""
    return text.startswith("pkg:")


# --- ratings ------------------------------------------------------------------------------

MALICIOUS_PREFIX = "MAL-"
DEFAULT_RATING = SeverityRating()


@dataclass(frozen=True)
class Rating:
    """One party's rating of a finding."""

    kind: str  # "cvss", "vendor" or "tool"
    who: str  # "CVSS 3.1", the vendor ("debian"), or the tool ("trivy")
    severity: Severity
    via: str = ""  # for a vendor rating: the tool that carried it

    def describe(self) -> str:
        carried = f" (via {self.via})" if self.via else ""
        return f"{self.who} {self.severity.value}{carried}"


def tool_label(source: str, label: str) -> str:
    """Return the ``tool_severities`` entry for a tool's own severity word."""
    return f"{source}:{label}"


def vendor_label(source: str, vendor: str, label: str) -> str:
    """Return the ``tool_severities`` entry for a vendor's rating that a tool carried."""
    return f"{source}/{vendor}:{label}"


def ratings(finding: Finding) -> list[Rating]:
    """Return every rating the finding carries: CVSS, vendors', tools'."""
    found: list[Rating] = []
    if finding.cvss_score is not None:
        version = finding.cvss_version or "3.1"
        who = f"CVSS {version}" if finding.cvss_vector else "tool score"
        found.append(Rating("cvss", who, severity_band(finding.cvss_score, version)))
    for entry in finding.tool_severities:
        who, _, label = entry.rpartition(":")
        severity = Severity.parse(label)
        if not who or severity is None or severity is Severity.UNKNOWN:
            continue
        tool, _, vendor = who.partition("/")
        if vendor:
            found.append(Rating("vendor", vendor, severity, tool))
        else:
            found.append(Rating("tool", tool, severity))
    return found


def is_malicious(finding: Finding) -> bool:
    return any(i.upper().startswith(MALICIOUS_PREFIX) for i in finding.ids)


_FALLBACK = {
    RatingSource.VENDOR: ("vendor", "tool", "cvss"),
    RatingSource.CVSS: ("cvss", "vendor", "tool"),
    RatingSource.TOOL: ("tool", "vendor", "cvss"),
}


def rate(finding: Finding, rated_by: SeverityRating = DEFAULT_RATING) -> tuple[Severity, str]:
    """Return the finding's band and what gave it, by the rating the policy names.

    When the named rating is missing the next one is used (vendor → tool → CVSS for
    ``vendor``; CVSS → vendor → tool for ``cvss``); several ratings of one kind give the
    highest.
    """
    if is_malicious(finding):
        return Severity.CRITICAL, "malicious package advisory"
    choice = rated_by.os_packages if is_os_package(finding) else rated_by.language_packages
    given = ratings(finding)
    if not given:
        return Severity.UNKNOWN, "none"
    if choice is RatingSource.HIGHEST:
        top = max(given, key=lambda r: r.severity.rank)
        return top.severity, f"highest rating ({top.describe()})"
    for kind in _FALLBACK[choice]:
        of_kind = [r for r in given if r.kind == kind]
        if of_kind:
            top = max(of_kind, key=lambda r: r.severity.rank)
            return top.severity, _basis(top)
    return Severity.UNKNOWN, "none"


def _basis(rating: Rating) -> str:
    if rating.kind == "cvss":
        return "tool score" if rating.who == "tool score" else "cvss vector"
    if rating.kind == "vendor":
        return f"vendor rating ({rating.who})"
    return "tool label"


def ratings_summary(finding: Finding) -> str:
    """Return every rating of the finding in one line, e.g. ``CVSS 3.1 high; debian low
    (via trivy); tools: trivy low``."""
    given = ratings(finding)
    parts = [r.describe() for r in given if r.kind == "cvss"]
    carriers: dict[tuple[str, Severity], list[str]] = {}
    for rating in (r for r in given if r.kind == "vendor"):
        carriers.setdefault((rating.who, rating.severity), []).append(rating.via)
    parts += [f"{who} {severity.value} (via {', '.join(sorted(set(via)))})"
              for (who, severity), via in carriers.items()]
    tools = dict.fromkeys(f"{r.who} {r.severity.value}" for r in given if r.kind == "tool")
    if tools:
        parts.append("tools: " + ", ".join(tools))
    return "; ".join(parts)


def apply_rating(finding: Finding, rated_by: SeverityRating) -> Finding:
    """Return the finding banded by the policy's rating.

    A finding that carries no rating to choose from keeps the band it was given.
    """
    if not is_malicious(finding) and not ratings(finding):
        return finding
    severity, basis = rate(finding, rated_by)
    if (severity, basis) == (finding.severity, finding.severity_basis):
        return finding
    return replace(finding, severity=severity, severity_basis=basis)


# --- folding ------------------------------------------------------------------------------


@dataclass(frozen=True)
class KevEntry:
    cve: str
    date_added: date | None
    due_date: date | None
    ransomware: bool = False


@dataclass(frozen=True)
class EpssScore:
    cve: str
    epss: float  # probability of exploitation activity in the next 30 days
    percentile: float


def fold_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Return one finding per (package, version, vulnerability), merging tools' reports."""
    reports = list(findings)
    equivalent = alias_classes(reports)
    by_package: dict[tuple[str, str], list[Finding]] = defaultdict(list)
    for finding in reports:
        known = frozenset().union(*(equivalent.get(i, {i}) for i in finding.ids))
        if known != finding.ids:
            canonical, aliases = canonical_ids(known)
            finding = replace(finding, id=canonical, aliases=aliases)
        by_package[package_identity(finding)].append(finding)
    _adopt_unknown_ecosystems(by_package)
    folded: list[Finding] = []
    for identity in sorted(by_package):
        scheme = identity[0]
        members = sorted(by_package[identity], key=lambda f: not is_known_ecosystem(f.ecosystem))
        versioned = [f for f in members if f.installed]
        unversioned = [f for f in members if not f.installed]
        merged = [_merge(g) for g in _cluster(versioned, scheme, same_installed=True)]
        leftovers: list[Finding] = []
        for finding in unversioned:
            matches = [i for i, m in enumerate(merged) if m.ids & finding.ids]
            installed = {m.installed for i, m in enumerate(merged) if i in matches}
            if len(installed) == 1:
                for i in matches:
                    merged[i] = _merge([merged[i], finding])
            else:
                leftovers.append(finding)
        merged += [_merge(g) for g in _cluster(leftovers, scheme, same_installed=False)]
        folded += merged
    return sorted(
        folded,
        key=lambda f: (-f.severity.rank, package_identity(f), f.installed or "", f.id),
    )


def _adopt_unknown_ecosystems(by_package: dict[tuple[str, str], list[Finding]]) -> None:
    """Move reports without an ecosystem into the one known package they must be.

    The candidate is a package whose normalised name equals the report's name normalised
    the same way and which shares an identifier with it; with several candidates the
    report stays on its own rather than joining the wrong one.
    """
    known = [identity for identity in by_package if identity[0]]
    for identity in [i for i in list(by_package) if not i[0]]:
        stay: list[Finding] = []
        for finding in by_package[identity]:
            candidates = [
                k
                for k in known
                if name_key(finding.package, k[0]) == k[1]
                and any(f.ids & finding.ids for f in by_package[k])
            ]
            if len(candidates) == 1:
                by_package[candidates[0]].append(finding)
            else:
                stay.append(finding)
        if stay:
            by_package[identity] = stay
        else:
            del by_package[identity]


def alias_classes(findings: Iterable[Finding]) -> dict[str, frozenset[str]]:
    """Return each id's equivalence class: ids any report names as the same advisory.

    npm audit names only the GHSA and Trivy only the CVE; when osv-scanner, Grype or
    Dependabot states that the two are aliases, every report of either id learns both.
    """
    parent: dict[str, str] = {}

    def root(i: str) -> str:
        parent.setdefault(i, i)
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for finding in findings:
        first, *rest = sorted(finding.ids)
        for other in rest:
            parent[root(other)] = root(first)
        root(first)
    classes: dict[str, set[str]] = defaultdict(set)
    for i in parent:
        classes[root(i)].add(i)
    return {i: frozenset(classes[root(i)]) for i in parent}


def _cluster(
    findings: Sequence[Finding], scheme: str, same_installed: bool
) -> list[list[Finding]]:
    """Return groups of findings joined by shared ids (union-find over the pairs)."""
    parent = list(range(len(findings)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(findings):
        for j in range(i + 1, len(findings)):
            b = findings[j]
            if same_installed and not same_version(a.installed, b.installed, scheme):
                continue
            if a.ids & b.ids:
                parent[root(j)] = root(i)
    groups: dict[int, list[Finding]] = defaultdict(list)
    for i, finding in enumerate(findings):
        groups[root(i)].append(finding)
    return list(groups.values())


def _merge(group: Sequence[Finding]) -> Finding:
    """Return one finding for a group of reports of it, rated by the default policy.

    The group names one package at one installed version (or a range that matches it);
    how each field combines is :mod:`opsledger.readers.finding_merge`. A single report is
    returned as it is.
    """
    if len(group) == 1:
        return group[0]
    canonical, aliases = canonical_ids(i for f in group for i in f.ids)
    ecosystem = _merged_ecosystem(group)
    cvss = preferred_cvss(group)
    # Reports that carry no rating keep the band they were given; apply_rating below
    # replaces it whenever any report carried a rating.
    banded = highest_band(group)
    exposure = widest_exposure(group)
    exploitation = strongest_exploitation(group)
    provenance = combined_provenance(group)
    merged = Finding(
        id=canonical,
        aliases=aliases,
        package=group[0].package,
        ecosystem=ecosystem,
        installed=first_stated(f.installed for f in group),
        fixed=fixed_versions((v for f in group for v in f.fixed), version_scheme(ecosystem)),
        purl=first_stated(f.purl for f in group),
        cvss_vector=cvss.vector,
        cvss_version=cvss.version,
        cvss_score=cvss.score,
        severity=banded.severity,
        severity_basis=banded.severity_basis,
        scope=exposure.scope,
        relationship=exposure.relationship,
        sources=provenance.sources,
        first_seen=provenance.first_seen,
        summary=provenance.summary,
        locations=exposure.locations,
        kev=exploitation.kev,
        kev_due=exploitation.kev_due,
        kev_added=exploitation.kev_added,
        epss=exploitation.epss,
        epss_percentile=exploitation.epss_percentile,
        tool_severities=provenance.tool_severities,
        reported_in=union(f.reported_in for f in group),
    )
    return apply_rating(merged, DEFAULT_RATING)


def _merged_ecosystem(group: Sequence[Finding]) -> str:
    """Return the ecosystem of the first report with a purl in a known ecosystem, else the
    first ecosystem any report names (``""`` when none does)."""
    named = next((f.ecosystem for f in group if f.ecosystem), "")
    return next((f.ecosystem for f in group if f.purl and is_known_ecosystem(f.ecosystem)),
                named)


def fixed_versions(fixed: Iterable[str], scheme: str) -> tuple[str, ...]:
    """Return fixed-version entries in order: versions lowest first, then other packages'."""
    entries = list(fixed)
    versions = sort_versions((v for v in entries if not is_package_url(v)), scheme)
    return versions + tuple(dict.fromkeys(v for v in entries if is_package_url(v)))


def enrich(
    findings: Iterable[Finding],
    kev: Mapping[str, KevEntry],
    epss: Mapping[str, EpssScore],
) -> list[Finding]:
    """Return the findings with KEV membership and the highest EPSS score of their CVEs."""
    enriched = []
    for finding in findings:
        entries = [kev[c] for c in finding.cves if c in kev]
        scores = [epss[c] for c in finding.cves if c in epss]
        changes: dict[str, object] = {}
        if entries:
            changes |= {
                "kev": True,
                "kev_due": min((e.due_date for e in entries if e.due_date), default=None),
                "kev_added": min((e.date_added for e in entries if e.date_added), default=None),
            }
        if scores:
            top = max(scores, key=lambda s: s.epss)
            changes |= {"epss": top.epss, "epss_percentile": top.percentile}
        enriched.append(replace(finding, **changes) if changes else finding)  # type: ignore[arg-type]
    return enriched


def counts_by_band(findings: Iterable[Finding]) -> dict[str, int]:
    """Return the number of findings per severity band, every band present (highest first)."""
    counts = {s.value: 0 for s in Severity}
    for finding in findings:
        counts[finding.severity.value] += 1
    return counts
