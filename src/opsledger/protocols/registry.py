"""The procedures opsledger runs, by id.

Each procedure is loaded by a function of its own, so that naming a procedure (the command
line's choices) does not import what its steps need.
"""

from __future__ import annotations

from collections.abc import Callable

from opsledger.core.options import ProcedureId as ProcedureId
from opsledger.protocols.model import Procedure


def _p18() -> Procedure:
    from opsledger.protocols.p18 import PROCEDURE

    return PROCEDURE


def _p09() -> Procedure:
    from opsledger.protocols.p09 import PROCEDURE

    return PROCEDURE


PROCEDURES: dict[ProcedureId, Callable[[], Procedure]] = {
    ProcedureId.P18: _p18,
    ProcedureId.P09: _p09,
}


def procedure(pid: ProcedureId) -> Procedure:
    return PROCEDURES[pid]()


def procedure_of_gate(gate_id: str) -> tuple[ProcedureId, Procedure] | None:
    for pid in ProcedureId:
        proc = procedure(pid)
        if any(g.id == gate_id for g in proc.gates):
            return pid, proc
    return None
