"""Markdown tables of a coverage plan, rendered from its JSON document.

The monthly report and the maintenance plan show the same figures: both render them here
from the plan's document (the maintenance plan reads it back from the evidence file), so
what the Support Lead approves is what the plan file says.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opsledger.model import schema
from opsledger.render.sections import md_escape, md_table

PLAN_NAME = "support-coverage-plan.json"


def _pct(value: object, digits: int = 1) -> str:
    return f"{float(value):.{digits}%}" if isinstance(value, int | float) else "n/a"


def _num(value: object, digits: int = 1) -> str:
    return f"{float(value):.{digits}f}" if isinstance(value, int | float) else "n/a"


def _groups(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(document.get("skill_groups") or [])


def rostered_by_group(document: Mapping[str, Any]) -> dict[str, tuple[int, float]]:
    """Return (agents, hours) the roster puts on each skill group."""
    found: dict[str, tuple[int, float]] = {}
    for line in (document.get("rotation") or {}).get("roster", []):
        agents, hours = found.get(line["group"], (0, 0.0))
        found[line["group"]] = (agents + 1, hours + float(line["hours"]))
    return found


def forecast_table(document: Mapping[str, Any]) -> str:
    """Return the per-queue forecast table; MASE columns only when a backtest exists."""
    queues = [q for q in document.get("queues", []) if q.get("status") == "forecast"]
    if not queues:
        return ""
    tested = [q for q in queues if (q.get("accuracy") or {}).get("backtest")]
    header = ["Queue", "Skill group", "Model", "Tickets next "
              f"{document.get('horizon_days', '?')} days", "Handle (min)"]
    if tested:
        header += ["MASE", "Seasonal naive MASE", "Beats naive"]
    rows = []
    for queue in queues:
        accuracy = queue.get("accuracy") or {}
        row = [queue["queue"], queue.get("skill_group", ""), queue.get("model", ""),
               _num(sum(d["mean"] for d in queue.get("daily", [])), 0),
               _num(queue.get("handle_minutes"))]
        if tested:
            beats = accuracy.get("beats_seasonal_naive")
            row += [_num(accuracy.get("model_mase"), 2),
                    _num(accuracy.get("seasonal_naive_mase"), 2),
                    "n/a" if beats is None else "yes" if beats else "**no**"]
        rows.append(row)
    text = md_table(header, rows, "lllrr" + ("rrl" if tested else ""))
    untested = [q for q in queues if q not in tested]
    if untested:
        reasons = "; ".join(f"{md_escape(q['queue'])}: "
                            f"{md_escape((q.get('accuracy') or {}).get('skipped') or 'none')}"
                            for q in untested)
        text += ("\nNo MASE column: no queue has a backtest" if not tested
                 else "\nMASE is n/a where a queue has no backtest") + f" ({reasons}).\n"
    return text


def staffing_table(document: Mapping[str, Any]) -> str:
    """Return one row per skill group: hours, work, agents, occupancy, service level, heads."""
    groups = _groups(document)
    if not groups:
        return ""
    rostered = rostered_by_group(document)
    rows = []
    for group in groups:
        totals = group["totals"]
        hours = group["hours"]
        intervals = [i for i in group["intervals"] if i["open"]]
        agents, paid = rostered.get(group["skill_group"], (0, 0.0))
        rows.append([
            group["skill_group"], ", ".join(group["queues"]),
            f"{hours['weekly']} ({group['timezone']}; {hours['source']})",
            _num(group["handle_minutes"]), _num(totals["tickets"]), _num(totals["work_hours"]),
            _num(totals["staffed_agent_hours"]), _pct(totals["occupancy"]),
            _pct(totals["service_level"]),
            max((i["agents"] for i in intervals), default=0),
            max((i["heads"] for i in intervals), default=0),
            _num(totals["scheduled_head_hours"]), agents, _num(paid),
        ])
    return md_table(
        ["Skill group", "Queues", "Support hours", "Handle (min)", "Tickets / week",
         "Work h", "Staffed agent-h", "Occupancy", "Service level", "Peak agents",
         "Peak heads", "Scheduled head-h", "Rostered agents", "Rostered h"],
        rows, "lllrrrrrrrrrrr")


def interval_table(group: Mapping[str, Any], policy: Mapping[str, Any]) -> str:
    """Return a skill group's open intervals with every figure needed to check them."""
    rows = []
    for row in group["intervals"]:
        if not row["open"]:
            continue
        rows.append([
            row["weekday"], row["start"], _num(row["arrivals"], 2), _num(row["carried"], 2),
            _num(row["tickets"], 2), _num(row.get("traffic_erlangs"), 3),
            row["required_agents"], row["agents"], _pct(row.get("occupancy")),
            _num(row.get("p_wait"), 3), _pct(row.get("service_level")), row["heads"],
        ])
    closed = sum(r["arrivals"] for r in group["intervals"] if not r["open"])
    intro = (
        f"**{md_escape(group['skill_group'])}** ({md_escape(', '.join(group['queues']))}), "
        f"times in {md_escape(group['timezone'])}: handle time "
        f"{group['handle_minutes']:.2f} min, intervals of {policy['interval_minutes']} min, "
        f"target {policy['service_level']:.0%} within {policy['answer_seconds']:g} s, "
        f"shrinkage {policy['shrinkage']:.0%}, at least {group['min_agents']} agent(s) while "
        f"open. Erlangs = tickets × handle time / interval; {closed:.2f} tickets a week arrive "
        "while closed and are carried to the next opening.\n\n"
    )
    return intro + md_table(
        ["Day", "Start", "Arrivals", "Carried", "Tickets", "Erlangs", "Required", "Agents",
         "Occupancy", "P(wait)", "Service level", "Heads"], rows, "llrrrrrrrrrr")


def sanity_text(document: Mapping[str, Any]) -> str:
    lines: Sequence[str] = (document.get("sanity") or {}).get("text") or []
    return "".join(f"{md_escape(line)}\n" for line in lines)


def maintenance_plan_markdown(document: Mapping[str, Any]) -> str:
    """Return the maintenance plan's support coverage section (without its heading)."""
    version = document.get("schema_version")
    if version != schema.COVERAGE_PLAN:
        return (f"_`{PLAN_NAME}` is in schema version {version}, not "
                f"{schema.COVERAGE_PLAN}: run the coverage step again to refresh it._\n")
    rotation = document.get("rotation") or {}
    forecast = [q for q in document.get("queues", []) if q.get("status") == "forecast"]
    lines = [
        f"From `{PLAN_NAME}`: {len(forecast)} queue(s) forecast for "
        f"{document.get('horizon_days', '?')} days, answered by "
        f"{len(_groups(document))} skill group(s); "
        + (f"a roster of {rotation['headcount']} agents, "
           + ("every shift covered" if rotation.get("covered") else
              f"{len(rotation.get('gaps', []))} shift(s) short")
           if rotation else f"no roster ({md_escape(document.get('rotation_skipped'))})")
        + ".\n\n",
        forecast_table(document),
    ]
    for queue in document.get("queues", []):
        if queue.get("status") == "skipped":
            lines.append(f"- {md_escape(queue['queue'])}: not forecast — "
                         f"{md_escape(queue.get('reason'))}\n")
    staffing = staffing_table(document)
    if staffing:
        lines += ["\n", staffing, "\n", sanity_text(document),
                  f"\nEvery open interval's tickets, erlangs, agents, occupancy, service level "
                  f"and heads are in `{PLAN_NAME}` (`skill_groups[].intervals`) and in the "
                  "monthly report's support section.\n"]
    return "".join(lines)
