"""OBSERVABILITY-BASELINE.md: baseline figures, thresholds, dashboards and alerts per service.

The document holds a ``Measured: YYYY-MM-DD`` line and one or more pipe tables with the
columns service, metric, baseline, threshold, dashboard and alert. A row without a
dashboard or an alert is kept (the baseline review looks for them); a row with a bad
date is quarantined.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

from opsledger.core.problems import ReadResult, shown
from opsledger.formats.fields import DateOutOfRange, parse_date, time_problem
from opsledger.formats.mdtable import canonical_keys, parse_tables, split_lines, table_fields
from opsledger.formats.textfile import load_text
from opsledger.model.handover import BaselineMetric, ObservabilityBaseline

REQUIRED = ("service", "metric", "baseline")
ALIASES = {
    "service": ("service_name", "component", "system"),
    "metric": ("sli", "signal", "indicator", "measure"),
    "baseline": ("baseline_value", "value", "current", "current_value", "observed"),
    "threshold": ("alert_threshold", "threshold_value", "target", "slo", "limit"),
    "dashboard": ("dashboard_url", "dashboard_link", "grafana", "panel"),
    "alert": ("alert_rule", "alert_name", "alerting", "alerts", "alert_rules"),
    "measured": ("measured_at", "measured_on", "date", "as_of"),
}
_MEASURED = re.compile(
    r"^[\s>*_-]*(?:measured(?:\s+(?:at|on))?|baseline\s+date|as\s+of)[*_]*\s*:[*_\s]*(\S.*?)[*_\s]*$",
    re.IGNORECASE,
)


def read(path: Path) -> ReadResult[ObservabilityBaseline]:
    """Return one :class:`ObservabilityBaseline` holding every metric row of the document."""
    result: ReadResult[ObservabilityBaseline] = ReadResult(path, detected_format="markdown")
    text = load_text(path, result)
    if text is None:
        return result
    measured = _measured_date(text, result)
    tables = [t for t in parse_tables(text) if _is_baseline(t.header)]
    if not tables:
        return result.fail(
            "",
            "no baseline table found",
            "a Markdown table with columns " + ", ".join(REQUIRED),
            f"{len(parse_tables(text))} other table(s)",
        )
    metrics: list[BaselineMetric] = []
    for table in tables:
        for fields in table_fields(path, result, table, REQUIRED, ALIASES):
            metric = BaselineMetric(
                service=fields.text("service") or "",
                metric=fields.text("metric") or "",
                value=fields.text("baseline") or "",
                threshold=fields.text("threshold", required=False) or "",
                dashboard=fields.text("dashboard", required=False),
                alert=fields.text("alert", required=False),
                measured_at=fields.day("measured", required=False) or measured,
            )
            if fields.problems:
                result.extend(fields.problems)
                continue
            metrics.append(metric)
        if result.fatal:
            return result
    stated = any(_MEASURED.match(line) for line in split_lines(text) if "|" not in line)
    if not stated and not any(m.measured_at for m in metrics):
        result.warn("", "no 'Measured: YYYY-MM-DD' line; the baseline's age is unknown")
    result.records.append(ObservabilityBaseline(measured, tuple(metrics)))
    return result


def _is_baseline(header: tuple[str, ...]) -> bool:
    keys = canonical_keys(header, ALIASES)
    return "service" in keys and "metric" in keys


def _measured_date(text: str, result: ReadResult[ObservabilityBaseline]) -> date | None:
    for number, line in enumerate(split_lines(text), start=1):
        if "|" in line:
            continue
        match = _MEASURED.match(line)
        if not match:
            continue
        value = match.group(1).strip().strip("`")
        try:
            return parse_date(value)
        except (ValueError, OverflowError) as exc:
            message, expected = time_problem("the measurement date", exc, "date")
            if not isinstance(exc, DateOutOfRange):
                expected = "Measured: YYYY-MM-DD"
            result.quarantine(f"line {number}", message, expected, shown(value))
            return None
    return None
