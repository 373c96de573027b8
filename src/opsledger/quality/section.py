"""The performance hotspots section: p95/p99 regressions against the baseline run."""

from __future__ import annotations

from opsledger.core.inputs import Context
from opsledger.quality.perf import PerfComparison, PerfThresholds, compare_runs
from opsledger.render.sections import Chart, Section, Status, md_table

KEY = "perf"
TITLE = "Performance hotspots"
CHARTED = 10  # regressions in the chart, largest impact first


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


def perf_section(ctx: Context, thresholds: PerfThresholds | None = None) -> Section:
    """Return the hotspots ranked by traffic x latency increase, with error-rate changes."""
    from opsledger.quality.service import perf_report

    report, reason = perf_report(ctx)
    if report is None:
        return Section.skipped(KEY, TITLE, reason)
    comparison = compare_runs(report, thresholds)
    if not isinstance(comparison, PerfComparison):
        return Section.skipped(KEY, TITLE, comparison.reason)
    t = comparison.thresholds
    hotspots = comparison.hotspots
    lines = [
        f"{len(comparison.endpoints)} endpoint(s) compared. A p95 or p99 regresses when it "
        f"grows by more than {t.relative:.0%} and more than {t.absolute_ms:g} ms; impact = "
        "current rps x the largest regressed increase (ms).",
        "",
    ]
    if hotspots:
        rows = []
        for rank, e in enumerate(hotspots, 1):
            p95, p99 = e.change("p95"), e.change("p99")
            rows.append([
                rank, e.endpoint, _ms(e.rps),
                f"{_ms(p95.baseline_ms)} -> {_ms(p95.current_ms)}" if p95 else "n/a",
                f"{_ms(p99.baseline_ms)} -> {_ms(p99.current_ms)}" if p99 else "n/a",
                f"{e.impact:,.0f}",
                "" if e.error_rate_delta is None else f"{e.error_rate_delta * 100:+.2f} pp",
            ])
        lines.append(md_table(["#", "Endpoint", "rps", "p95 ms", "p99 ms", "Impact",
                               "Error rate"], rows, "rlrllrr"))
    else:
        lines += ["No p95 or p99 regression beyond the thresholds.", ""]
    worse = comparison.error_rate_increases
    if worse:
        lines += ["**Error rate up:**", ""]
        lines += [f"- {e.endpoint}: {(e.error_rate_baseline or 0):.3%} -> "
                  f"{(e.error_rate_current or 0):.3%}" for e in worse]
        lines.append("")
    if comparison.skipped:
        lines += ["**Not compared:**", ""]
        lines += [f"- {s.endpoint}: {s.reason}" for s in comparison.skipped]
        lines.append("")
    top = hotspots[:CHARTED]
    charts: tuple[Chart, ...] = ()
    if top:
        charts = (Chart(
            "perf-p95-regressions",
            f"p95 latency, baseline vs current (top {len(top)} regressions)",
            "bar",
            {
                "categories": [e.endpoint for e in top],
                "series": [
                    {"name": "baseline p95",
                     "values": [c.baseline_ms if (c := e.change("p95")) else None for e in top]},
                    {"name": "current p95",
                     "values": [c.current_ms if (c := e.change("p95")) else None for e in top]},
                ],
                "y_label": "ms",
            },
        ),)
    actions = tuple(
        {"action": f"Investigate the latency regression of {e.endpoint} "
                   f"(+{e.latency_increase_ms:g} ms at {_ms(e.rps)} rps)",
         "owner": "", "due": "", "source": "performance"}
        for e in hotspots[:3]
    ) + tuple(
        {"action": f"Investigate the error-rate increase of {e.endpoint}", "owner": "",
         "due": "", "source": "performance"}
        for e in worse
    )
    status = Status.WARN if hotspots or worse else Status.PASS
    data = {**comparison.to_json(),
            "headline": f"{len(hotspots)} endpoint(s) slower than the baseline"}
    return Section(KEY, TITLE, "\n".join(lines) + "\n", status, data, charts, actions)
