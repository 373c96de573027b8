"""The headline KPIs of the small demo, checked against the files they come from."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import datetime, timedelta

from opsledger.backlog.service import workspace_backlog
from opsledger.core.inputs import Context
from opsledger.review.input_digests import digest_of
from opsledger.review.kpi_results import workspace_kpis
from opsledger.review.kpis import Kpi, SkippedKpi


def test_every_headline_kpi_is_computed_or_says_why(demo_ctx: Context) -> None:
    kpis = workspace_kpis(demo_ctx)
    assert workspace_kpis(demo_ctx) is kpis  # computed once, shared by the run
    expected = {
        "availability", "slos_met_share", "slos_met", "slos_evaluated",
        "error_budget_remaining_min", "error_budgets_exhausted", "incidents_per_month",
        "mtta_minutes", "mttr_minutes", "action_items_open", "action_items_overdue",
        "vulnerabilities_critical", "vulnerabilities_overdue", "cost_vs_target", "cost_month",
        "cost_targets_over", "ticket_volume", "backlog_open", "backlog_open_high_critical",
    }
    assert expected <= set(kpis.results)
    for result in kpis.results.values():
        assert isinstance(result, (Kpi, SkippedKpi))
        if isinstance(result, SkippedKpi):
            assert result.reason
    # The small demo has every input but cost exports.
    assert set(kpis.skipped) <= {"cost_vs_target", "cost_month", "cost_targets_over"}
    met, evaluated = kpis.value("slos_met"), kpis.value("slos_evaluated")
    assert met is not None and evaluated
    assert kpis.value("slos_met_share") == met / evaluated


def test_ticket_volume_counts_the_csv_rows_of_the_last_30_days(demo_ctx: Context) -> None:
    path = demo_ctx.workspace.root / "handover" / "ticket-history.csv"
    start = demo_ctx.now - timedelta(days=30)
    with path.open(newline="") as handle:
        created = [datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
                   for row in csv.DictReader(handle)]
    expected = sum(1 for when in created if start <= when < demo_ctx.now)
    assert expected > 0
    assert workspace_kpis(demo_ctx).value("ticket_volume") == expected


def test_backlog_kpis_count_open_high_and_critical_items(demo_ctx: Context) -> None:
    # From the rows of maintenance-backlog.csv, as a person would filter them.
    rows = [i.as_row() for i in workspace_backlog(demo_ctx).items]
    open_rows = [r for r in rows if r["status"] not in ("done", "wont_do")]
    urgent = [r for r in open_rows if r["severity"] in ("critical", "high")]
    assert urgent and len(open_rows) > len(urgent)
    kpis = workspace_kpis(demo_ctx)
    assert kpis.value("backlog_open") == len(open_rows)
    assert kpis.value("backlog_open_high_critical") == len(urgent)


def test_the_inputs_digest_is_the_sha256_of_the_canonical_digest_map() -> None:
    digests = {"slos": "b" * 64, "config": "a" * 64}
    canonical = json.dumps(digests, indent=2, sort_keys=True) + "\n"
    assert digest_of(digests) == hashlib.sha256(canonical.encode()).hexdigest()
    assert digest_of(dict(reversed(list(digests.items())))) == digest_of(digests)
