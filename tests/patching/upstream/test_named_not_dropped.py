"""What opsledger does not support in a scanner's format is named, never dropped silently;
and the documented policy example is a valid configuration."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from opsledger.core.config import Config, RatingSource
from opsledger.core.problems import Level
from opsledger.readers import scan_dependabot, scan_osv, scan_trivy
from opsledger.readers.findings import sort_versions

from .upstream import OSV, TRIVY, dependabot_bodies, load, write_json

DOCS = Path(__file__).resolve().parents[3] / "docs" / "formats.md"


def warnings(result: object) -> str:
    return " | ".join(p.message for p in result.problems if p.level is Level.WARNING)  # type: ignore[attr-defined]


def test_osv_git_ranges_and_commit_only_packages_are_named(tmp_path: Path) -> None:
    data = load(OSV / "test-vuln-results-a.json.golden")
    package = data["results"][0]["packages"][0]
    vuln = package["vulnerabilities"][0]
    git_fixes = 2
    vuln["affected"][0]["ranges"].append({"type": "GIT", "repo": "https://example.org/r.git",
                                          "events": [{"introduced": "0"}, {"fixed": "a" * 40},
                                                     {"fixed": "b" * 40}]})
    result = scan_osv.read(write_json(tmp_path, "osv.json", data))
    assert f"{git_fixes} fix(es) given as git commits" in warnings(result)
    finding = next(f for f in result.records if f.package == package["package"]["name"])
    assert all(len(v) < 40 for v in finding.fixed)
    del package["package"]["version"]
    package["package"]["commit"] = "c" * 40
    result = scan_osv.read(write_json(tmp_path, "osv.json", data))
    assert "known by a git commit" in warnings(result)


def test_trivy_misconfigurations_and_secrets_are_named(tmp_path: Path) -> None:
    data = load(TRIVY / "pip.json.golden")
    data["Results"][0]["Misconfigurations"] = [{"ID": "DS002"}, {"ID": "DS026"}]
    data["Results"][0]["Secrets"] = [{"RuleID": "aws-access-key-id"}]
    result = scan_trivy.read(write_json(tmp_path, "trivy.json", data))
    assert "2 misconfigurations, 1 secrets" in warnings(result)
    assert len(result.records) == len(data["Results"][0]["Vulnerabilities"])


def test_withdrawn_dependabot_advisories_are_named(tmp_path: Path) -> None:
    [body] = dependabot_bodies("Organization.testGetDependabotAlerts.txt")[:1]
    open_alerts = [a for a in body if a["state"] == "open"]
    open_alerts[0]["security_advisory"]["withdrawn_at"] = "2024-02-01T00:00:00Z"
    result = scan_dependabot.read(write_json(tmp_path, "alerts.json", body))
    assert len(result.records) == len(open_alerts) - 1
    assert open_alerts[0]["security_advisory"]["ghsa_id"] in warnings(result)


def test_the_documented_rating_policy_is_a_valid_configuration() -> None:
    text = DOCS.read_text()
    section = text[text.index("### Vulnerability scanner reports"):]
    block = re.search(r"```yaml\n(.*?)```", section, flags=re.S)
    assert block
    config = Config.model_validate(yaml.safe_load(block.group(1)))
    rated_by = config.policies.vulnerability_sla_days.rated_by  # type: ignore[attr-defined]
    assert (rated_by.os_packages, rated_by.language_packages) == (
        RatingSource.VENDOR, RatingSource.CVSS)


PEP440 = st.builds(
    lambda release, pre: ".".join(map(str, release)) + pre,
    st.lists(st.integers(0, 30), min_size=1, max_size=4),
    st.sampled_from(["", "a1", "b2", "rc1", ".post1", ".dev3"]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(PEP440, max_size=8))
def test_pypi_versions_sort_as_pep_440_orders_them(versions: list[str]) -> None:
    ordered = sort_versions(versions, "pypi")
    assert set(ordered) == set(versions)
    keys = [Version(v) for v in ordered]
    assert keys == sorted(keys)
