"""The workspace's SLO definitions and the inputs SLO analyses read, each read once a run."""

from __future__ import annotations

from opsledger.core.inputs import Context
from opsledger.core.inputs import read_input as read_input
from opsledger.core.problems import ReadResult
from opsledger.core.workspace import InputKey
from opsledger.model.slo import Slo


def read_slos(ctx: Context) -> ReadResult[Slo]:
    from opsledger.readers import slo_definitions

    return read_input(ctx, InputKey.SLOS, slo_definitions.read)
