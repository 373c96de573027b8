"""Which services the scanners' own published reports attribute findings to.

The expected services are worked out here from the raw files with the json module: which
package, version and advisory each file reports, and which service its path in the folder
or the image, directory or lockfile it names says by hand (see ``NAMED``).
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from opsledger.core.scope import Scope, place
from opsledger.patching.attribution import finding_services
from opsledger.readers import scan_trivy, security
from opsledger.readers.findings import fold_findings

from .upstream import GRYPE, OSV, TRIVY, load

KNOWN = frozenset({"checkout", "pip", "user-input", "sub-rust-project", "payments",
                   "payments-api", "billing"})

# Where each upstream file goes in the security folder.
LAYOUT = {
    "checkout/trivy.json": TRIVY / "alpine-310.json.golden",
    "alpine.sarif": TRIVY / "alpine-310.sarif.golden",  # the same scan, as SARIF
    "repo-scan.json": TRIVY / "pip.json.golden",
    "payments-api/debian.json": TRIVY / "debian-buster.json.golden",
    "grype-image.json": GRYPE / "TestJsonImgsPresenter.golden",
    "grype-dir.json": GRYPE / "TestJsonDirsPresenter.golden",
    "osv.json": OSV / "test-vuln-results-a.json.golden",
}

# By hand, what names a known service as a whole word:
# - checkout/trivy.json: the folder "checkout" (the image is testdata/.../alpine-310.tar.gz).
# - alpine.sarif: nothing (image "testdata/fixtures/images/alpine-310.tar.gz", tag
#   "ghcr.io/aquasecurity/trivy-test-images:alpine-310").
# - repo-scan.json: ArtifactName "testdata/fixtures/repo/pip" names "pip".
# - payments-api/debian.json: the folder names "payments-api" and, inside it, "payments";
#   the longer name counts.
# - grype-image.json: source.target.userInput "user-input".
# - grype-dir.json: nothing (target "/some/path", files /foo/bar/somefile-N.txt).
# - osv.json: "/path/to/go.mod" nothing; "/path/to/sub-rust-project/Cargo.lock" names
#   "sub-rust-project".
NAMED = {
    "checkout/trivy.json": {"checkout"},
    "alpine.sarif": set(),
    "repo-scan.json": {"pip"},
    "payments-api/debian.json": {"payments-api"},
    "grype-image.json": {"user-input"},
    "grype-dir.json": set(),
    "/path/to/go.mod": set(),
    "/path/to/sub-rust-project/Cargo.lock": {"sub-rust-project"},
}


def raw_reports() -> list[tuple[str, str, set[str], set[str]]]:
    """Return (package, installed version, ids, services) for every report in the files,
    read with the json module (the SARIF scan repeats the Trivy JSON's reports)."""
    reports: list[tuple[str, str, set[str], set[str]]] = []
    for name, source in LAYOUT.items():
        data: Any = load(source)
        if name.endswith(".sarif"):
            continue  # its packages are those of checkout/trivy.json; checked below
        if "Results" in data:
            for result in data["Results"]:
                for vuln in result.get("Vulnerabilities") or []:
                    reports.append((vuln["PkgName"], vuln["InstalledVersion"],
                                    {vuln["VulnerabilityID"]}, NAMED[name]))
        elif "matches" in data:
            for match in data["matches"]:
                ids = {match["vulnerability"]["id"]}
                ids |= {r["id"] for r in match.get("relatedVulnerabilities", [])}
                reports.append((match["artifact"]["name"], match["artifact"]["version"], ids,
                                NAMED[name]))
        else:
            for result in data["results"]:
                where = result["source"]["path"]
                for package in result["packages"]:
                    for vuln in package["vulnerabilities"]:
                        ids = {vuln["id"], *vuln.get("aliases", [])}
                        reports.append((package["package"]["name"],
                                        package["package"]["version"], ids, NAMED[where]))
    return reports


def security_folder(root: Path) -> Path:
    for name, source in LAYOUT.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return root


def test_each_finding_is_about_the_services_its_scans_name(tmp_path: Path) -> None:
    result = security.read(security_folder(tmp_path / "security"))
    assert not result.fatal
    reports = raw_reports()
    assert result.records
    for finding in result.records:
        mine = [r for r in reports if r[0].lower() == finding.package.lower()
                and r[1] == finding.installed and r[2] & finding.ids]
        assert mine, finding
        expected = set().union(*(r[3] for r in mine))
        assert set(finding_services(finding, KNOWN)) == expected, finding.reported_in


def test_reported_in_names_the_files_and_the_tools_targets(tmp_path: Path) -> None:
    result = security.read(security_folder(tmp_path / "security"))
    by_package = {(f.package, f.installed): f for f in result.records}
    libssl = by_package[("libssl1.1", "1.1.1c-r0")]
    image = "testdata/fixtures/images/alpine-310.tar.gz"
    # Trivy JSON: the file, ArtifactName and the result's Target; SARIF: the file, the
    # result's artifact location and the image the run's properties name.
    assert {"checkout/trivy.json", "alpine.sarif", image, f"{image} (alpine 3.10.2)",
            "ghcr.io/aquasecurity/trivy-test-images:alpine-310"} <= set(libssl.reported_in)
    package_1 = by_package[("package-1", "1.1.1")]
    assert {"grype-image.json", "user-input", "grype-dir.json", "/some/path",
            "/foo/bar/somefile-1.txt"} <= set(package_1.reported_in)
    regex = by_package[("regex", "1.5.1")]
    assert set(regex.reported_in) == {"osv.json", "/path/to/sub-rust-project/Cargo.lock"}


def test_a_team_view_keeps_its_services_findings_and_cannot_place_the_rest(
    tmp_path: Path,
) -> None:
    result = security.read(security_folder(tmp_path / "security"))
    team = Scope(team="shop", services=frozenset({"checkout", "payments"}), known=KNOWN)
    placed = sorted((f.package, f.id, place(team, f)) for f in result.records)
    # In: checkout/trivy.json's four reports (libcrypto1.1 and libssl1.1, CVE-2019-1549 and
    # CVE-2019-1551 each). Not placed: gogo/protobuf, reported only from /path/to/go.mod.
    # Everything else names another service; payments-api's scan is not payments'.
    assert [(p, i) for p, i, where in placed if where] == [
        ("libcrypto1.1", "CVE-2019-1549"), ("libcrypto1.1", "CVE-2019-1551"),
        ("libssl1.1", "CVE-2019-1549"), ("libssl1.1", "CVE-2019-1551")]
    assert [p for p, _, where in placed if where is None] == ["github.com/gogo/protobuf"]
    assert {p for p, _, where in placed if where is False} == {
        "bash", "libidn2-0", "Werkzeug", "package-1", "package-2", "regex"}


def test_folding_unions_where_a_finding_was_reported() -> None:
    first = scan_trivy.read(TRIVY / "alpine-310.json.golden").records[0]
    image = "testdata/fixtures/images/alpine-310.tar.gz"
    assert first.reported_in == (image, f"{image} (alpine 3.10.2)")
    other = replace(first, reported_in=("billing/grype.json", "registry/billing:1.0"))
    assert other == first  # where it was reported is not part of a finding's identity
    other = replace(other, sources=("grype",))
    folded = fold_findings([first, other])
    assert len(folded) == 1
    assert set(folded[0].reported_in) == set(first.reported_in) | {
        "billing/grype.json", "registry/billing:1.0"}
    assert finding_services(folded[0], KNOWN) == ("billing",)
