"""SARIF 2.1.0 from dependency scanners: ``runs[].tool.driver.rules[]`` (with the
``security-severity`` score property GitHub code scanning reads), ``runs[].results[]`` and
``runs[].artifacts[]``.

SARIF has no package field, so the package, version and fix come from where each producer
(``tool.driver.name``) writes them:

- **Trivy**: the result message ``Package: x`` / ``Installed Version: y`` / ``Fixed Version:
  z``; rule properties ``cvssv3_vector``, ``cvssv2_vector`` and a severity tag; the rule
  name says ``OsPackageVulnerability`` or ``LanguageSpecificPackageVulnerability``.
- **Grype**: the message ``A low vulnerability in rpm package: x, version y was found…``
  (the package type names the ecosystem); the rule help's ``Fix Version: a,b`` and
  ``Data Namespace``; rule property ``purls``.
- **osv-scanner**: the message ``Package 'x@y' is vulnerable to 'ID' (also known as 'A',
  'B').``; the rule help's *Fixed Versions* table; ``deprecatedIds`` as aliases.
- **dependency-check**: the package URL in the result's ``logicalLocations`` or in the
  artifact's ``id1``, ``id2``… properties; CVSS v3 as separate metric properties
  (``cvssv3_attackVector``: ``NETWORK``…, rebuilt into a vector), ``cvssv4_vector``; the
  rating's ``source`` (NVD, NPM, OSSINDEX, RETIREJS) and the severity word that opens the
  rule's short description. dependency-check reports no fixed versions, which a warning
  says.
- any other producer: a package URL in the rule or result properties, or one of the
  message forms above.

When the producer names no ecosystem, the manifest's file name does (``package-lock.json``
is npm, ``go.mod`` Go, ``Cargo.lock`` crates.io…). Results that name no package (code
findings from a SAST tool) are counted and named in a warning: they are not dependency
vulnerabilities. So are ecosystems opsledger does not know (dependency-check's
``pkg:javascript`` for files retire.js found) and rule ids that are not advisory ids.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from opsledger.core.problems import ReadResult
from opsledger.formats.textfile import json_path
from opsledger.model.security import VULN_ID, Finding
from opsledger.readers.findings import ecosystem_of, is_known_ecosystem, parse_purl
from opsledger.readers.scan_common import (
    Report,
    as_dict,
    as_list,
    build_finding,
    day_of,
    read_report,
    texts,
)
from opsledger.readers.scan_targets import sarif_result, sarif_run

FORMAT = "sarif"
SEVERITY_TAGS = ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")

# The manifests and lockfiles whose name says the ecosystem of what they list.
MANIFEST_ECOSYSTEMS = {
    **dict.fromkeys(
        ("package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock",
         "package.json"),
        "npm",
    ),
    **dict.fromkeys(
        ("pipfile.lock", "poetry.lock", "pdm.lock", "uv.lock", "pylock.toml", "pipfile",
         "pyproject.toml", "setup.py"),
        "PyPI",
    ),
    **dict.fromkeys(("go.mod", "go.sum"), "Go"),
    **dict.fromkeys(("cargo.lock", "cargo.toml"), "crates.io"),
    **dict.fromkeys(("gemfile.lock", "gems.locked", "gemfile"), "RubyGems"),
    **dict.fromkeys(("composer.lock", "composer.json"), "Packagist"),
    **dict.fromkeys(
        ("pom.xml", "gradle.lockfile", "buildscript-gradle.lockfile", "build.gradle",
         "build.gradle.kts", "verification-metadata.xml"),
        "Maven",
    ),
    **dict.fromkeys(
        ("packages.lock.json", "packages.config", "directory.packages.props"), "NuGet"
    ),
    "mix.lock": "Hex",
    "pubspec.lock": "Pub",
}
MANIFEST_SUFFIXES = {".jar": "Maven", ".war": "Maven", ".ear": "Maven", ".csproj": "NuGet",
                     ".deps.json": "NuGet", ".whl": "PyPI"}
# The package databases of distributions, which scanners of images and hosts list.
PACKAGE_DATABASES = {"lib/apk/db/installed": "Alpine", "var/lib/dpkg/status": "Debian",
                     "var/lib/rpm/Packages": "RPM", "var/lib/rpm/rpmdb.sqlite": "RPM"}

_TRIVY_PACKAGE = re.compile(r"Package:\s*(?P<pkg>\S+)\s*\n\s*Installed Version:\s*(?P<ver>\S+)")
_GRYPE_MESSAGE = re.compile(
    r"vulnerability in (?P<type>[\w.-]+) package: (?P<pkg>[^,\s]+), version (?P<ver>[^\s,]+)"
)
_GRYPE_HELP = re.compile(r"Package:\s*(?P<pkg>\S+)\s*\n\s*Version:\s*(?P<ver>\S+)")
_OSV_MESSAGE = re.compile(
    r"Package '(?P<pv>[^']+)' is vulnerable to '(?P<id>[^']+)'(?: \(also known as (?P<aka>.*?)\))?"
)
_QUOTED = re.compile(r"'([^']+)'")
_NAME_AT_VERSION = re.compile(r":\s*(?P<pkg>[^\s:@]+)@(?P<ver>[^\s@]+)\s*$")
_FIXED = re.compile(r"Fix(?:ed)? Version:[ \t]*(?P<fixed>[^\n]*)")
_HELP_FIELD = re.compile(r"^(?P<key>[A-Z][\w ]+):[ \t]*(?P<value>[^\n]*)$", re.MULTILINE)
_SEVERITY_WORD = re.compile(r"\b(critical|high|medium|moderate|low|negligible)\b", re.IGNORECASE)
_FIXED_TABLE = re.compile(r"#+\s*Fixed Versions\s*\n(?P<table>(?:\s*\|.*\n?)+)", re.IGNORECASE)

# dependency-check writes each CVSS metric as a property; these rebuild the vector.
_CVSS3_METRICS = (
    ("AV", "cvssv3_attackVector"),
    ("AC", "cvssv3_attackComplexity"),
    ("PR", "cvssv3_privilegesRequired"),
    ("UI", "cvssv3_userInteraction"),
    ("S", "cvssv3_scope"),
    ("C", "cvssv3_confidentialityImpact"),
    ("I", "cvssv3_integrityImpact"),
    ("A", "cvssv3_availabilityImpact"),
)
_CVSS3_VALUES = {
    "NETWORK": "N", "ADJACENT_NETWORK": "A", "ADJACENT": "A", "LOCAL": "L", "PHYSICAL": "P",
    "LOW": "L", "HIGH": "H", "NONE": "N", "REQUIRED": "R", "UNCHANGED": "U", "CHANGED": "C",
}
_DC_SOURCES = {"NVD": "nvd", "NPM": "ghsa", "OSSINDEX": "ossindex", "RETIREJS": "retirejs"}


@dataclass
class Run:
    """What one run tells about its results, and what its results did not fit."""

    source: str
    rules: list[dict[str, Any]]
    by_id: dict[str, dict[str, Any]]
    artifacts: list[dict[str, Any]]
    scanned: Any
    code_findings: int = 0
    unknown_ecosystems: Counter[str] = field(default_factory=Counter)
    not_advisory_ids: list[str] = field(default_factory=list)
    without_fix_data: int = 0
    os_without_distro: int = 0
    unidentified: list[str] = field(default_factory=list)  # results naming no package URL


Producer = Callable[[dict[str, Any], dict[str, Any], Run, str], Report]


def detect(data: Any) -> bool:
    if not isinstance(data, dict) or not isinstance(data.get("runs"), list):
        return False
    return str(data.get("version", "")).startswith("2.1") or "sarif" in str(data.get("$schema", ""))


def parse(data: Any, result: ReadResult[Finding]) -> None:
    if data.get("version") != "2.1.0":
        result.warn(
            "$.version",
            "SARIF version is not 2.1.0; read as 2.1.0",
            "2.1.0",
            repr(data.get("version")),
        )
    for r, run_data in enumerate(as_list(data.get("runs"))):
        run_data = as_dict(run_data)
        driver = as_dict(as_dict(run_data.get("tool")).get("driver"))
        rules = [as_dict(x) for x in as_list(driver.get("rules"))]
        invocation = as_dict(next(iter(as_list(run_data.get("invocations"))), {}))
        run = Run(
            source=str(driver.get("name") or "sarif").strip().lower(),
            rules=rules,
            by_id={str(x.get("id")): x for x in rules if x.get("id")},
            artifacts=[as_dict(a) for a in as_list(run_data.get("artifacts"))],
            scanned=day_of(invocation.get("startTimeUtc") or invocation.get("endTimeUtc")),
        )
        results = run_data.get("results")
        if not isinstance(results, list):
            result.quarantine(
                json_path("runs", r, "results"), "'results' is not a list", "a JSON array"
            )
            continue
        producer = PRODUCERS.get(run.source, _other)
        scanned_as = sarif_run(run_data)
        for i, item in enumerate(results):
            item = as_dict(item)
            before = len(run.unidentified)
            report = producer(item, _rule(item, run), run, json_path("runs", r, "results", i))
            if report.package is None:
                run.code_findings += int(len(run.unidentified) == before)
                continue
            if report.ecosystem is None or not is_known_ecosystem(
                ecosystem_of(report.ecosystem, report.purl)
            ):
                _note_unknown_ecosystem(report, run)
            report.targets = [*scanned_as, *sarif_result(item, run.artifacts)]
            finding = build_finding(report, result)
            if finding is not None:
                result.records.append(finding)
        _warn_about(run, json_path("runs", r), result)


def _rule(item: dict[str, Any], run: Run) -> dict[str, Any]:
    index = item.get("ruleIndex")
    if isinstance(index, int) and 0 <= index < len(run.rules):
        return run.rules[index]
    return as_dict(run.by_id.get(str(item.get("ruleId"))))


def _note_unknown_ecosystem(report: Report, run: Run) -> None:
    parts = parse_purl(report.purl)
    if parts is not None:
        run.unknown_ecosystems[f"pkg:{parts.type}"] += 1
    elif report.ecosystem:
        run.unknown_ecosystems[report.ecosystem] += 1
    else:
        run.unknown_ecosystems["none named"] += 1


def _warn_about(run: Run, where: str, result: ReadResult[Finding]) -> None:
    if run.code_findings:
        result.warn(
            where,
            f"{run.code_findings} {run.source} result(s) name no package (code findings, not "
            "dependency vulnerabilities); left out",
        )
    unknown = {k: n for k, n in run.unknown_ecosystems.items() if k != "none named"}
    if unknown:
        result.warn(
            where,
            f"{run.source}: ecosystem(s) opsledger does not know: "
            + ", ".join(f"{k} ({n})" for k, n in sorted(unknown.items()))
            + "; their versions are compared by dpkg's generic rules",
        )
    if run.not_advisory_ids:
        names = sorted(set(run.not_advisory_ids))
        result.warn(
            where,
            f"{len(run.not_advisory_ids)} {run.source} result(s) carry no advisory id, kept "
            "under the rule's own name: " + "; ".join(f"'{n}'" for n in names[:6])
            + ("…" if len(names) > 6 else ""),
        )
    if run.unidentified:
        result.warn(
            where,
            f"{len(run.unidentified)} {run.source} result(s) identify a file but no package "
            "(no package URL, only CPEs); left out: " + "; ".join(run.unidentified[:5])
            + ("…" if len(run.unidentified) > 5 else ""),
        )
    if run.os_without_distro:
        result.warn(
            where,
            f"{run.os_without_distro} {run.source} OS package result(s) name no distribution: "
            "they join the same scan's JSON report when it is in the folder; alone, their "
            "versions are compared by dpkg's generic rules and rated as language packages",
        )
    if run.without_fix_data:
        result.warn(
            where,
            f"{run.source} reports no fixed versions: {run.without_fix_data} finding(s) have "
            "no fix unless another tool's report names one",
        )


# --- shared pieces ------------------------------------------------------------------------


def _text(value: Any) -> str:
    return str(as_dict(value).get("text") or "")


def _help(rule: dict[str, Any]) -> str:
    help_block = as_dict(rule.get("help"))
    return str(help_block.get("text") or help_block.get("markdown") or "")


def _properties(item: dict[str, Any], rule: dict[str, Any]) -> dict[str, Any]:
    return {**as_dict(rule.get("properties")), **as_dict(item.get("properties"))}


def _locations(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [as_dict(x) for x in as_list(item.get("locations"))]


def _uri(item: dict[str, Any]) -> str:
    for location in _locations(item):
        artifact = as_dict(as_dict(location.get("physicalLocation")).get("artifactLocation"))
        if isinstance(artifact.get("uri"), str):
            return str(artifact["uri"])
    return ""


def manifest_ecosystem(uri: str) -> str | None:
    """Return the ecosystem a manifest or lockfile's name says, or ``None``."""
    path = unquote(urlsplit(uri).path) if "://" in uri else uri.split("?", 1)[0]
    path = path.replace("\\", "/")
    database = next((eco for db, eco in PACKAGE_DATABASES.items() if path.endswith(db)), None)
    if database:
        return database
    name = PurePosixPath(path).name.lower()
    if name in MANIFEST_ECOSYSTEMS:
        return MANIFEST_ECOSYSTEMS[name]
    if name.startswith("requirements") and name.endswith((".txt", ".in")):
        return "PyPI"
    return next((eco for suffix, eco in MANIFEST_SUFFIXES.items() if name.endswith(suffix)), None)


def _ids(*candidates: str) -> list[str]:
    for text in candidates:
        found = VULN_ID.findall(text)
        if found:
            return list(dict.fromkeys(found))
    return []


def _tag_label(props: dict[str, Any]) -> str | None:
    tags = [str(t).upper() for t in as_list(props.get("tags"))]
    return next((t for t in SEVERITY_TAGS if t in tags), None)


def _word(text: str) -> str | None:
    match = _SEVERITY_WORD.search(text)
    return match.group(1) if match else None


def _split_fixed(text: str) -> list[str]:
    return [f.strip() for f in re.split(r"[,\s]+", text) if f.strip()]


def _vectors(props: dict[str, Any]) -> list[str]:
    return texts([props.get("cvssv3_vector"), props.get("cvssv40_vector"),
                  props.get("cvssv4_vector"), props.get("cvssv2_vector")])


def _name_version(text: str) -> tuple[str, str]:
    """Split ``name@version``; the name may start with ``@`` (npm scopes)."""
    name, _, version = text.rpartition("@")
    return (name, version) if name else (text, "")


# --- producers ----------------------------------------------------------------------------


def _trivy(item: dict[str, Any], rule: dict[str, Any], run: Run, where: str) -> Report:
    message, help_text = _text(item.get("message")), _help(rule)
    props = _properties(item, rule)
    match = _TRIVY_PACKAGE.search(message)
    fixed = _FIXED.search(message) or _FIXED.search(help_text)
    uri = _uri(item)
    # An OS package's location is the image: its distribution is not in the SARIF.
    os_package = rule.get("name") == "OsPackageVulnerability"
    ecosystem = "" if os_package else manifest_ecosystem(uri)
    run.os_without_distro += int(os_package and match is not None)
    rule_id = str(item.get("ruleId") or rule.get("id") or "")
    return Report(
        run.source,
        where,
        ids=_ids(rule_id, message) or ([rule_id] if rule_id else []),
        package=match.group("pkg") if match else None,
        ecosystem=ecosystem,
        installed=match.group("ver") if match else None,
        fixed=_split_fixed(fixed.group("fixed")) if fixed else [],
        vectors=_vectors(props),
        tool_score=props.get("security-severity"),
        tool_label=_tag_label(props),
        first_seen=run.scanned,
        summary=_text(rule.get("shortDescription")),
        manifest=uri,
    )


def _grype(item: dict[str, Any], rule: dict[str, Any], run: Run, where: str) -> Report:
    message, help_text = _text(item.get("message")), _help(rule)
    props = _properties(item, rule)
    fields = {m.group("key"): m.group("value").strip() for m in _HELP_FIELD.finditer(help_text)}
    match = _GRYPE_MESSAGE.search(message)
    package = installed = kind = None
    if match:
        package, installed, kind = match.group("pkg"), match.group("ver"), match.group("type")
    if package is None and (help_match := _GRYPE_HELP.search(help_text)):
        package, installed = help_match.group("pkg"), help_match.group("ver")
    purls = texts(as_list(props.get("purls")))
    label = fields.get("Severity") or _word(_text(rule.get("shortDescription")))
    namespace = fields.get("Data Namespace", "")
    vendor = namespace.split(":distro:", 1)[1].split(":", 1)[0] if ":distro:" in namespace else (
        "ghsa" if namespace.startswith("github:") else "")
    rule_id = str(item.get("ruleId") or rule.get("id") or "")
    return Report(
        run.source,
        where,
        ids=_ids(rule_id, help_text, message) or ([rule_id] if rule_id else []),
        package=package,
        ecosystem=kind or fields.get("Type") or manifest_ecosystem(_uri(item)),
        installed=installed,
        fixed=_split_fixed(fields.get("Fix Version", "")),
        purl=purls[0] if purls else None,
        vectors=_vectors(props),
        tool_score=props.get("security-severity"),
        tool_label=label,
        vendor_ratings=[(vendor, label)] if vendor and label else [],
        first_seen=run.scanned,
        summary=_text(rule.get("fullDescription")) or _text(rule.get("shortDescription")),
        manifest=fields.get("Location") or _uri(item),
    )


def _osv_scanner(item: dict[str, Any], rule: dict[str, Any], run: Run, where: str) -> Report:
    message, help_text = _text(item.get("message")), _help(rule)
    props = _properties(item, rule)
    match = _OSV_MESSAGE.search(message)
    package = installed = None
    ids: list[str] = []
    if match:
        package, installed = _name_version(match.group("pv"))
        ids = [match.group("id"), *_QUOTED.findall(match.group("aka") or "")]
    rule_id = str(item.get("ruleId") or rule.get("id") or "")
    ids = list(dict.fromkeys([*ids, rule_id, *texts(as_list(rule.get("deprecatedIds")))]))
    uri = _uri(item)
    return Report(
        run.source,
        where,
        ids=[i for i in ids if i],
        package=package,
        ecosystem=_table_ecosystem(help_text, package) or manifest_ecosystem(uri),
        installed=installed or None,
        fixed=_fixed_from_table(help_text, package),
        vectors=_vectors(props),
        tool_score=props.get("security-severity"),
        first_seen=run.scanned,
        summary=_text(rule.get("shortDescription")).split(": ", 1)[-1],
        manifest=uri,
    )


def _markdown_rows(table: str) -> list[dict[str, str]]:
    lines = [ln.strip() for ln in table.strip().splitlines() if ln.strip().startswith("|")]
    if len(lines) < 2:
        return []
    header = [c.strip().lower() for c in lines[0].strip("|").split("|")]
    return [
        dict(zip(header, (c.strip() for c in line.strip("|").split("|")), strict=False))
        for line in lines[2:]
    ]


def _fixed_from_table(help_text: str, package: str | None) -> list[str]:
    match = _FIXED_TABLE.search(help_text)
    if not match or package is None:
        return []
    rows = _markdown_rows(match.group("table"))
    return [r.get("fixed version", "") for r in rows
            if r.get("package name") == package and r.get("fixed version")]


def _table_ecosystem(help_text: str, package: str | None) -> str | None:
    for block in re.split(r"\n(?=#)", help_text):
        for row in _markdown_rows("\n".join(ln for ln in block.splitlines() if "|" in ln)):
            if row.get("package name") == package and row.get("ecosystem"):
                return row["ecosystem"]
    return None


def _dependency_check(
    item: dict[str, Any], rule: dict[str, Any], run: Run, where: str
) -> Report:
    props = as_dict(rule.get("properties"))
    purl = _dc_purl(item, run)
    parts = parse_purl(purl)
    short = _text(rule.get("shortDescription"))
    label = _word(short.split(" - ", 1)[0]) or str(
        props.get("cvssv3_baseSeverity") or props.get("cvssv2_severity") or ""
    ) or None
    vendor = _DC_SOURCES.get(str(props.get("source") or "").upper(), "")
    rule_id = str(item.get("ruleId") or rule.get("id") or "")
    ids = _ids(rule_id)
    if not ids and rule_id:
        ids = [rule_id]
        run.not_advisory_ids.append(rule_id)
    if parts is not None:
        run.without_fix_data += 1
    else:
        run.unidentified.append(f"{rule_id} in {_file_name(item, run)}")
    return Report(
        run.source,
        where,
        ids=ids,
        package=_dc_name(parts) if parts else None,
        ecosystem=parts.type if parts else None,
        installed=parts.version or None if parts else None,
        purl=purl,
        vectors=texts([props.get("cvssv4_vector"), _dc_cvss3(props)]),
        tool_score=props.get("security-severity") or None,
        tool_label=label,
        vendor_ratings=[(vendor, label)] if vendor and label else [],
        first_seen=run.scanned,
        summary=_text(rule.get("fullDescription")) or short,
        manifest=_uri(item),
    )


def _dc_purl(item: dict[str, Any], run: Run) -> str | None:
    for location in _locations(item):
        for logical in map(as_dict, as_list(location.get("logicalLocations"))):
            name = logical.get("fullyQualifiedName")
            if isinstance(name, str) and name.startswith("pkg:"):
                return name
        index = as_dict(as_dict(location.get("physicalLocation")).get("artifactLocation")).get(
            "index"
        )
        if isinstance(index, int) and 0 <= index < len(run.artifacts):
            properties = as_dict(run.artifacts[index].get("properties"))
            for key in sorted(properties):
                value = properties[key]
                if key.startswith("id") and isinstance(value, str) and value.startswith("pkg:"):
                    return value
    return None


def _file_name(item: dict[str, Any], run: Run) -> str:
    uri = _uri(item)
    cpes = []
    for location in _locations(item):
        index = as_dict(as_dict(location.get("physicalLocation")).get("artifactLocation")).get(
            "index"
        )
        if isinstance(index, int) and 0 <= index < len(run.artifacts):
            properties = as_dict(run.artifacts[index].get("properties"))
            cpes += [str(v) for k, v in sorted(properties.items()) if str(v).startswith("cpe:")]
    name = PurePosixPath(unquote(urlsplit(uri).path)).name if uri else "an unnamed file"
    return f"{name} ({cpes[0]})" if cpes else name


def _dc_name(parts: Any) -> str:
    if parts.type == "maven" and parts.namespace:
        return f"{parts.namespace}:{parts.name}"
    if parts.namespace and parts.type in ("npm", "golang", "composer"):
        return f"{parts.namespace}/{parts.name}"
    return str(parts.name)


def _dc_cvss3(props: dict[str, Any]) -> str | None:
    version = str(props.get("cvssv3_version") or "").strip("_").replace("_", ".")
    metrics = [(abbr, _CVSS3_VALUES.get(str(props.get(key) or "").upper())) for abbr, key in
               _CVSS3_METRICS]
    if version not in ("3.0", "3.1") or any(value is None for _, value in metrics):
        return None
    return f"CVSS:{version}/" + "/".join(f"{abbr}:{value}" for abbr, value in metrics)


def _other(item: dict[str, Any], rule: dict[str, Any], run: Run, where: str) -> Report:
    """Any other producer: a package URL in the properties, or a message form above."""
    message, help_text = _text(item.get("message")), _help(rule)
    props = _properties(item, rule)
    purls = texts(as_list(props.get("purls"))) + texts([props.get("purl")])
    parts = parse_purl(purls[0]) if purls else None
    package = installed = None
    if parts is not None:
        package, installed = _dc_name(parts), parts.version or None
    else:
        for text in (message, *(_text(loc.get("message")) for loc in _locations(item)), help_text):
            for pattern in (_TRIVY_PACKAGE, _GRYPE_MESSAGE, _GRYPE_HELP, _NAME_AT_VERSION):
                found = pattern.search(text)
                if found:
                    package, installed = found.group("pkg"), found.group("ver")
                    break
            if package:
                break
    fixed = _FIXED.search(message) or _FIXED.search(help_text)
    rule_id = str(item.get("ruleId") or rule.get("id") or "")
    return Report(
        run.source,
        where,
        ids=_ids(rule_id, help_text, message) or ([rule_id] if rule_id else []),
        package=package,
        ecosystem=parts.type if parts else manifest_ecosystem(_uri(item)),
        installed=installed,
        fixed=_split_fixed(fixed.group("fixed")) if fixed else [],
        purl=purls[0] if purls else None,
        vectors=_vectors(props),
        tool_score=props.get("security-severity"),
        tool_label=_tag_label(props) or _word(_text(rule.get("shortDescription"))),
        first_seen=run.scanned,
        summary=_text(rule.get("shortDescription")),
        manifest=_uri(item),
    )


PRODUCERS: dict[str, Producer] = {
    "trivy": _trivy,
    "grype": _grype,
    "osv-scanner": _osv_scanner,
    "dependency-check": _dependency_check,
}


def read(path: Path) -> ReadResult[Finding]:
    return read_report(path, FORMAT, detect, parse, "a SARIF 2.1.0 log with 'runs'")
