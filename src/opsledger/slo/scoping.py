"""A team's or one service's view of the SLOs: what it evaluates and what it leaves out.

A scoped run reads only the scope's SLO definitions, incidents, probes and alerts (the run's
inputs keep the scope's records). Two things are still read across the whole workspace,
because they define numbers of the scope's SLOs rather than show other teams' results:

- the SLOs of other teams that a journey in the scope is counted from (a composite of a
  checkout step and the gateway's availability needs the gateway's counts): they are
  evaluated to count the journey, and named, but not shown;
- the incidents that ``error_budget_exclusions`` corrections name, to find their minutes.

Everything else the view leaves out is counted, so the report can say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from opsledger.core.inputs import Context
from opsledger.core.scope import EVERYTHING, LeftOut, Scope
from opsledger.core.workspace import InputKey
from opsledger.model.slo import Slo


def whole_context(ctx: Context) -> Context:
    """Return a context over every service at ``ctx``'s time (``ctx`` itself when unscoped),
    sharing what was read."""
    return ctx if ctx.scope.whole else ctx.scoped(EVERYTHING)


def outside_components(scoped: Sequence[Slo], every: Sequence[Slo]) -> list[Slo]:
    """Return the SLOs of ``every`` not in ``scoped`` that the composites in ``scoped`` are
    counted from, directly or through another composite, in the order they are named.

    A component no definition has is not returned: the composite reports it missing, as in
    a run over every service.
    """
    by_key = {s.key: s for s in every}
    inside = {s.key for s in scoped}
    needed: dict[str, Slo] = {}
    pending = [key for s in scoped if s.composite for key in s.composite.keys]
    while pending:
        key = pending.pop(0)
        if key in inside or key in needed or key not in by_key:
            continue
        needed[key] = by_key[key]
        source = needed[key].composite
        if source is not None:
            pending.extend(source.keys)
    return list(needed.values())


def others(scope: Scope) -> str:
    """Return who the records a scope leaves out belong to: other teams or other services."""
    return "other services" if scope.service else "other teams"


def capitalised(scope: Scope) -> str:
    return scope.label[:1].upper() + scope.label[1:]


@dataclass(frozen=True)
class SloScope:
    """What a team's or a service's SLO report shows and what it leaves out.

    ``components``: keys of SLOs outside the scope that its journeys are counted from.
    """

    scope: Scope
    shown: int
    left_out: LeftOut
    components: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.shown + self.left_out.total

    def line(self) -> str:
        """Return the view in one line: ``Team payments: 7 of 15 SLOs (8 of other teams
        not shown)``."""
        note = self.note()
        text = f"{capitalised(self.scope)}: {self.shown} of {self.total} SLOs"
        return text + (f" ({note})" if note else "")

    def note(self) -> str:
        """Return what the view leaves out: ``8 of other teams not shown`` ('' if none)."""
        notes = []
        if self.left_out.other:
            notes.append(f"{self.left_out.other} of {others(self.scope)} not shown")
        if self.left_out.unplaced:
            notes.append(f"{self.left_out.unplaced} naming no service not shown")
        return "; ".join(notes)

    def components_line(self) -> str:
        """Return which SLOs outside the view its journeys were counted from ('' if none)."""
        if not self.components:
            return ""
        return (f"Journeys counted with SLOs of {others(self.scope)} (evaluated, not shown): "
                + ", ".join(self.components))

    def to_json(self) -> dict[str, Any]:
        return {
            **self.scope.to_json(),
            "slos": self.shown,
            "left_out": {"slos": {"other": self.left_out.other,
                                  "unplaced": self.left_out.unplaced}},
            "components_outside": list(self.components),
        }


def slo_scope(ctx: Context, shown: int, components: Sequence[Slo]) -> SloScope | None:
    """Return what a scoped run's SLO report leaves out (None for a run over every service).

    Read after the run has read the SLO definitions, which counts what it left out."""
    if ctx.scope.whole:
        return None
    left_out = ctx.inputs.left_out.get(InputKey.SLOS, LeftOut())
    return SloScope(ctx.scope, shown, left_out, tuple(s.key for s in components))


def left_out_note(ctx: Context, key: InputKey, noun: str) -> str:
    """Return what a scoped run left out of ``key`` ('' when nothing, or when it looks at
    every service): ``1,204 alert firings of other teams and 3 naming no service``."""
    left = ctx.inputs.left_out.get(key, LeftOut())
    if ctx.scope.whole or not left.total:
        return ""
    parts = []
    if left.other:
        parts.append(f"{left.other:,} {noun} of {others(ctx.scope)}")
    if left.unplaced:
        parts.append(f"{left.unplaced:,} naming no service")
    return " and ".join(parts)


def left_out_line(ctx: Context, key: InputKey, noun: str) -> str:
    """Return one line on the records of ``key`` a scoped run left out ('' when none):
    ``Team payments: 1,204 alert firings of other teams are not in this view``."""
    note = left_out_note(ctx, key, noun)
    return f"{capitalised(ctx.scope)}: {note} are not in this view" if note else ""


def left_out_json(ctx: Context, key: InputKey, name: str) -> dict[str, Any]:
    """Return the run's scope and what it left out of ``key`` under ``name``, for a
    section's data."""
    left = ctx.inputs.left_out.get(key, LeftOut())
    return {**ctx.scope.to_json(),
            "left_out": {name: {"other": left.other, "unplaced": left.unplaced}}}
