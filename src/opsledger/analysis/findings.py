"""Folding the same vulnerability reported by several tools into one finding, and
enriching findings with CISA KEV and FIRST EPSS data.

Two reports are the same finding when they name the same package (PEP 503 names for PyPI),
in compatible ecosystems, at the same installed version, and share an identifier (the id or
any alias, so a GHSA from one tool meets the CVE from another). Tools that report a range
rather than the installed version (npm audit, Dependabot without a lockfile) join the one
versioned finding that matches; when several installed versions match they stay apart
rather than being merged into the wrong one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from opsledger.analysis.cvss_rating import VERSION_PREFERENCE
from opsledger.model.common import Severity
from opsledger.model.security import (
    Finding,
    Relationship,
    Scope,
    canonical_ids,
    version_sort_key,
)


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
    by_package: dict[str, list[Finding]] = defaultdict(list)
    for finding in reports:
        known = frozenset().union(*(equivalent.get(i, {i}) for i in finding.ids))
        if known != finding.ids:
            canonical, aliases = canonical_ids(known)
            finding = replace(finding, id=canonical, aliases=aliases)
        by_package[finding.package_key].append(finding)
    folded: list[Finding] = []
    for key in sorted(by_package):
        versioned = [f for f in by_package[key] if f.installed]
        unversioned = [f for f in by_package[key] if not f.installed]
        groups = _cluster(versioned, same_version=True)
        merged = [_merge(g) for g in groups]
        leftovers: list[Finding] = []
        for finding in unversioned:
            matches = [i for i, m in enumerate(merged)
                       if m.ids & finding.ids and _ecosystems_agree(m, finding)]
            if len({merged[i].installed for i in matches}) == 1:
                for i in matches:
                    merged[i] = _merge([merged[i], finding])
            else:
                leftovers.append(finding)
        merged += [_merge(g) for g in _cluster(leftovers, same_version=False)]
        folded += merged
    return sorted(folded, key=lambda f: (-f.severity.rank, f.package_key, f.installed or "", f.id))


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


def _ecosystems_agree(a: Finding, b: Finding) -> bool:
    return not a.ecosystem or not b.ecosystem or a.ecosystem == b.ecosystem


def _cluster(findings: Sequence[Finding], same_version: bool) -> list[list[Finding]]:
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
            if same_version and a.installed != b.installed:
                continue
            if a.ids & b.ids and _ecosystems_agree(a, b):
                parent[root(j)] = root(i)
    groups: dict[int, list[Finding]] = defaultdict(list)
    for i, finding in enumerate(findings):
        groups[root(i)].append(finding)
    return list(groups.values())


def _merge(group: Sequence[Finding]) -> Finding:
    if len(group) == 1:
        return group[0]
    canonical, aliases = canonical_ids(i for f in group for i in f.ids)
    rated = [f for f in group if f.cvss_vector]
    best = min(rated, key=lambda f: (VERSION_PREFERENCE.index(f.cvss_version or "2.0"),
                                     -(f.cvss_score or 0.0))) if rated else None
    if best is None:
        scored = [f for f in group if f.cvss_score is not None]
        labelled = max(group, key=lambda f: f.severity.rank)
        best_score = max(scored, key=lambda f: f.cvss_score or 0.0) if scored else None
        severity_from = best_score or labelled
    else:
        severity_from = best
    scopes = {f.scope for f in group} - {Scope.UNKNOWN}
    relations = {f.relationship for f in group} - {Relationship.UNKNOWN}
    seen = [f.first_seen for f in group if f.first_seen]
    first = group[0]
    return Finding(
        id=canonical,
        aliases=aliases,
        package=first.package,
        ecosystem=next((f.ecosystem for f in group if f.ecosystem), ""),
        installed=next((f.installed for f in group if f.installed), None),
        fixed=tuple(sorted({v for f in group for v in f.fixed}, key=version_sort_key)),
        purl=next((f.purl for f in group if f.purl), None),
        cvss_vector=severity_from.cvss_vector,
        cvss_version=severity_from.cvss_version,
        cvss_score=severity_from.cvss_score,
        severity=severity_from.severity,
        severity_basis=severity_from.severity_basis,
        # Runtime wins: one runtime path is enough to ship the vulnerability.
        scope=Scope.RUNTIME if Scope.RUNTIME in scopes else (
            Scope.DEV if scopes else Scope.UNKNOWN),
        relationship=Relationship.DIRECT if Relationship.DIRECT in relations else (
            Relationship.TRANSITIVE if relations else Relationship.UNKNOWN),
        sources=tuple(sorted({s for f in group for s in f.sources})),
        first_seen=min(seen) if seen else None,
        summary=next((f.summary for f in group if f.summary), ""),
        locations=tuple(sorted({loc for f in group for loc in f.locations})),
        kev=any(f.kev for f in group),
        kev_due=min((f.kev_due for f in group if f.kev_due), default=None),
        kev_added=min((f.kev_added for f in group if f.kev_added), default=None),
        epss=max((f.epss for f in group if f.epss is not None), default=None),
        epss_percentile=max((f.epss_percentile for f in group if f.epss_percentile is not None),
                            default=None),
        tool_severities=tuple(sorted({t for f in group for t in f.tool_severities})),
    )


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
