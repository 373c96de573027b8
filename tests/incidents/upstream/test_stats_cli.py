"""``incidents stats``: MTTA and MTTR per severity (checked against pandas), the service
mapping and merged incidents end to end, and ``--strict``."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from opsledger.cli.incidents import app
from opsledger.model.incidents import UNKNOWN_SERVICE

from .upstream import OPSGENIE_LAST_PAGE, pagerduty_with_ids, write

runner = CliRunner()
CONFIG = """\
organisation: Example
services:
  - {name: checkout, owner: payments, tier: 0}
  - {name: search, owner: storefront, tier: 1}
stakeholders:
  - {name: Sam Manager, email: sam@example.com, role: sre-manager}
"""
# Hours apart and on different services, so no two rows are duplicates of each other.
NATIVE = """\
id,title,service,severity,created_at,acknowledged_at,resolved_at
N-1,card errors,checkout,SEV1,2026-03-02T10:00:00Z,2026-03-02T10:03:00Z,2026-03-02T11:00:00Z
N-2,search stale,search,SEV1,2026-03-03T10:00:00Z,2026-03-03T10:11:00Z,2026-03-03T10:41:00Z
N-3,db slow,ledger,SEV1,2026-03-04T10:00:00Z,,2026-03-04T16:00:00Z
N-4,cart timeouts,checkout,SEV2,2026-03-05T10:00:00Z,2026-03-05T10:02:30Z,2026-03-05T10:30:00Z
N-5,index lag,search,SEV2,2026-03-06T10:00:00Z,2026-03-06T10:20:00Z,
N-6,cache misses,checkout,SEV3,2026-03-07T10:00:00Z,2026-03-07T12:00:00Z,2026-03-08T10:00:00Z
N-7,slow pages,search,SEV3,2026-03-08T10:00:00Z,2026-03-08T10:45:00Z,2026-03-08T13:15:00Z
N-8,disk warning,ledger,SEV3,2026-03-09T10:00:00Z,2026-03-09T10:05:00Z,2026-03-09T10:35:00Z
N-9,cert expiry soon,checkout,SEV5,2026-03-10T10:00:00Z,,
"""
ARGS = ["--now", "2026-03-31T00:00:00Z", "--since", "2026-03-01T00:00:00Z", "--no-budget"]


@pytest.fixture()
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    (root / "incidents").mkdir(parents=True)
    (root / "opsledger.yaml").write_text(CONFIG)
    (root / "incidents" / "native.csv").write_text(NATIVE)
    return root


def stats(root: Path, *extra: str) -> dict:
    result = runner.invoke(app, ["stats", str(root), *ARGS, "--json", *extra])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_mtta_and_mttr_per_severity_match_pandas(workspace: Path) -> None:
    frame = pd.read_csv(io.StringIO(NATIVE), parse_dates=["created_at", "acknowledged_at",
                                                            "resolved_at"])
    frame["mtta"] = (frame["acknowledged_at"] - frame["created_at"]).dt.total_seconds() / 60
    frame["mttr"] = (frame["resolved_at"] - frame["created_at"]).dt.total_seconds() / 60
    data = stats(workspace)
    bands = data["response_by_severity"]
    assert data["kpis"]["response_by_severity"] == bands
    assert list(bands) == ["SEV1", "SEV2", "SEV3", "SEV4", "SEV5"]
    for severity, band in bands.items():
        own = frame[frame["severity"] == severity]
        assert band["count"] == len(own) == data["by_severity"][severity]
        for figure in ("mtta", "mttr"):
            values = own[figure].dropna()
            result = band[f"{figure}_minutes"]
            if values.empty:
                assert "skipped" in result and severity in result["skipped"]
                continue
            assert result["count"] == len(values)
            assert result["mean"] == pytest.approx(round(values.mean(), 3))
            assert result["median"] == pytest.approx(round(values.median(), 3))
            assert result["p90"] == pytest.approx(round(values.quantile(0.9), 3))


def test_the_table_shows_the_bands(workspace: Path) -> None:
    result = runner.invoke(app, ["stats", str(workspace), *ARGS])
    assert result.exit_code == 0, result.output
    assert "MTTR median" in result.stdout and "MTTA mean" in result.stdout


def test_a_mapped_opsgenie_alert_counts_for_its_service(workspace: Path) -> None:
    shutil.copy(OPSGENIE_LAST_PAGE, workspace / "incidents" / "opsgenie.json")
    data = json.loads(OPSGENIE_LAST_PAGE.read_text())["data"][0]
    # Move the alert into the period; its alias is the upstream one.
    data["createdAt"] = "2026-03-20T08:00:00Z"
    write(workspace / "incidents" / "opsgenie.json", {"data": [data]})
    unmapped = stats(workspace)
    assert unmapped["by_service"][UNKNOWN_SERVICE] == 1
    assert unmapped["kpis"]["mtbf"][UNKNOWN_SERVICE]["failures"] == 1
    with (workspace / "opsledger.yaml").open("a") as config:
        config.write(f'incidents:\n  service_mapping:\n    "alias:{data["alias"][:9]}": search\n')
    mapped = stats(workspace)
    assert UNKNOWN_SERVICE not in mapped["by_service"]
    assert mapped["by_service"]["search"] == unmapped["by_service"]["search"] + 1


def test_a_merged_pagerduty_incident_moves_neither_mttr_nor_mtbf(workspace: Path) -> None:
    data = pagerduty_with_ids("PA", "PB")
    for number, incident in enumerate(data["incidents"]):
        # Into the period, a day apart, so only the merge could join them.
        incident["created_at"] = f"2026-03-2{number}T06:00:00Z"
        incident["resolved_at"] = f"2026-03-2{number}T06:{10 + 40 * number:02d}:00Z"
        incident["title"] = f"outage {number}"
    write(workspace / "incidents" / "pd.json", data)
    before = stats(workspace)
    data["incidents"][1]["resolve_reason"] = {"type": "merge_resolve_reason",
                                              "incident": {"id": "PA"}}
    write(workspace / "incidents" / "pd.json", data)
    after = stats(workspace)
    assert (before["count"], after["count"]) == (11, 10)
    assert before["kpis"]["mtbf"]["API Service"]["failures"] == 2
    assert after["kpis"]["mtbf"]["API Service"]["failures"] == 1
    # Of the two resolutions (10 and 50 minutes) only PA's 10 remain, beside N-4's 30.
    assert before["response_by_severity"]["SEV2"]["mttr_minutes"]["count"] == 3
    sev2 = after["response_by_severity"]["SEV2"]["mttr_minutes"]
    assert (sev2["count"], sev2["mean"]) == (2, pytest.approx((10 + 30) / 2))
    assert any("PB into PA" in p["message"] for p in after["problems"])


def test_strict_fails_on_a_quarantined_row_only(workspace: Path) -> None:
    assert stats(workspace, "--strict")["count"] == 9
    with (workspace / "incidents" / "native.csv").open("a") as csv:
        csv.write("N-10,bad,checkout,SEV9,2026-03-11T10:00:00Z,,\n")
    assert stats(workspace)["count"] == 9  # quarantined, listed, the run goes on
    failed = runner.invoke(app, ["stats", str(workspace), *ARGS, "--strict"])
    assert failed.exit_code == 2
    assert "(--strict)" in failed.output and "SEV9" in failed.output
