"""The procedures opsledger runs, by id."""

from __future__ import annotations

import importlib
from enum import StrEnum

from opsledger.protocols.model import Procedure


class ProcedureId(StrEnum):
    P18 = "p18"
    P09 = "p09"


_LOCATIONS = {
    ProcedureId.P18: "opsledger.protocols.p18:PROCEDURE",
    ProcedureId.P09: "opsledger.protocols.p09:PROCEDURE",
}


def procedure(pid: ProcedureId) -> Procedure:
    module_name, _, name = _LOCATIONS[pid].partition(":")
    found: Procedure = getattr(importlib.import_module(module_name), name)
    return found


def procedure_of_gate(gate_id: str) -> tuple[ProcedureId, Procedure] | None:
    for pid in ProcedureId:
        proc = procedure(pid)
        if any(g.id == gate_id for g in proc.gates):
            return pid, proc
    return None
