"""What a team's or a service's view of the review covers, and what it leaves out.

A view keeps the records of its services (and, for records that name only a team, those of
its team); the run's inputs count, input by input, the records of other services and teams
and those that name no service or team at all (``Inputs.left_out``). An analysis that leaves
out more than records (spend that carries no service tag, say) states it in its section's
data under ``scope.left_out``: a sentence, a list of sentences, or counts per input
(``{"other": n, "unplaced": m}``). The section built here gathers both, so that the summary
of a view says what the view did not look at.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from opsledger.core.inputs import Context, ScopesItself
from opsledger.render.sections import Section, Status, md_escape, md_table

KEY = "scope"
TITLE = "What this view covers"
NOT_IN_VIEWS = ("A team's or a service's view is not recorded in the KPI history (which holds "
                "the whole workspace's KPIs) and writes neither the next-phase charter nor the "
                "optimisation plan: the whole workspace's review does.")


@dataclass(frozen=True)
class InputLeftOut:
    """One input of a view: records kept, records of other services or teams, records that
    name none."""

    key: str
    kept: int
    other: int
    unplaced: int

    def to_json(self) -> dict[str, Any]:
        return {"input": self.key, "kept": self.kept, "other": self.other,
                "unplaced": self.unplaced}


def inputs_left_out(ctx: Context) -> list[InputLeftOut]:
    """Return, for every input the view left records of, what it kept and what it left out
    (only the inputs read so far: a review reads them all first)."""
    found = []
    for key, left in sorted(ctx.inputs.left_out.items(), key=lambda item: item[0].value):
        read = ctx.inputs.read(key)
        # A result held by column (the probe history) keeps no records one by one.
        kept = read.record_count if isinstance(read, ScopesItself) else len(read.records)
        found.append(InputLeftOut(key.value, kept, left.other, left.unplaced))
    return found


def _amount(value: object) -> str:
    """Return a count, an amount or a group of them ({"spend": 12.5, "lines": 3}) as text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, Mapping):
        return ", ".join(f"{_amount(item)} {name}" for name, item in value.items())
    return str(value)


def _statements(value: object) -> list[str]:
    """Return what a section says it left out as sentences (see the module's docstring):
    counts of other services' or teams' and of unplaced records, by what they count."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, Mapping):
        if "other" in value or "unplaced" in value:
            said = (f"{_amount(value.get('other', 0))} of other services or teams, "
                    f"{_amount(value.get('unplaced', 0))} naming no service or team")
            context = [f"{name} {_amount(item)}" for name, item in value.items()
                       if name not in ("other", "unplaced")]
            return [said + (f" ({', '.join(context)})" if context else "")]
        return [f"{name}: {text}" for name, item in value.items()
                for text in _statements(item)]
    if isinstance(value, Iterable):
        return [text for item in value for text in _statements(item)]
    return [] if value is None else [_amount(value)]


def reported_left_out(sections: Iterable[Section]) -> list[tuple[str, str]]:
    """Return (section title, what it says it left out) for each section that says so."""
    found = []
    for section in sections:
        scope = section.data.get("scope")
        if isinstance(scope, Mapping):
            said = _statements(scope.get("left_out"))
            if said:
                found.append((section.title, "; ".join(said)))
    return found


def scope_json(ctx: Context) -> dict[str, Any]:
    """Return the view's scope for ``review.json``: its team, service and services, and the
    records each input left out."""
    return {
        **ctx.scope.to_json(),
        "label": ctx.scope.label,
        "left_out": {item.key: {"other": item.other, "unplaced": item.unplaced}
                     for item in inputs_left_out(ctx)},
    }


def services_text(ctx: Context) -> str:
    services = sorted(ctx.scope.services or ())
    named = ", ".join(services) if services else "none"
    return f"{ctx.scope.label} (service{'s' if len(services) != 1 else ''}: {named})"


def scope_note(ctx: Context) -> str:
    """Return the line that opens a view's report: what it covers, where the rest is said."""
    return (f"This view covers {services_text(ctx)}; what it leaves out is counted under "
            f"“{TITLE}”. {NOT_IN_VIEWS}")


def scope_section(ctx: Context, sections: Sequence[Section]) -> Section:
    """Return the section of a view that says what it covers and what it left out."""
    inputs = inputs_left_out(ctx)
    reported = reported_left_out(sections)
    other = sum(item.other for item in inputs)
    unplaced = sum(item.unplaced for item in inputs)
    lines = [f"This view covers {md_escape(services_text(ctx))}: owners come from "
             "`services` in opsledger.yaml, then the service catalogs.", ""]
    if inputs:
        lines += ["Records left out, by input: those of other services or teams, and those "
                  "that name no service or team (they cannot be placed, so they may include "
                  "some of this view's):", "",
                  md_table(["Input", "In this view", "Other services or teams",
                            "Name no service or team"],
                           [[i.key, f"{i.kept:,}", f"{i.other:,}", f"{i.unplaced:,}"]
                            for i in inputs], "lrrr")]
    else:
        lines += ["No input held records of other services or teams, or records naming "
                  "none.", ""]
    if reported:
        lines += ["What each analysis says it left out:", ""]
        lines += [f"- {md_escape(title)}: {md_escape(text)}" for title, text in reported]
        lines.append("")
    lines += [NOT_IN_VIEWS, ""]
    if other or unplaced or reported:
        headline = (f"{ctx.scope.label}: left out {other:,} record(s) of other services or "
                    f"teams and {unplaced:,} naming none")
        if reported:
            headline += f"; {len(reported)} section(s) say what else they left out"
    else:
        headline = f"{ctx.scope.label}: nothing left out"
    return Section(
        KEY, TITLE, "\n".join(lines), Status.WARN if unplaced else Status.PASS,
        {"headline": headline, "scope": scope_json(ctx),
         "inputs": [item.to_json() for item in inputs],
         "reported": [{"section": title, "text": text} for title, text in reported]},
        headline=headline,
    )
