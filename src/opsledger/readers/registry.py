"""Which reader reads which input: the registry every run looks readers up in.

A reader takes the path the workspace gives for its key (a file or a folder), plus the
settings :data:`opsledger.core.inputs.READER_SETTINGS` takes from opsledger.yaml for it, and
returns a :class:`~opsledger.core.problems.ReadResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opsledger.core.problems import ReadResult
from opsledger.core.workspace import InputKey
from opsledger.readers import (
    alerts,
    backstage,
    closure_package,
    config_file,
    costs,
    experiments,
    gates_config,
    handover_record,
    health,
    incidents,
    kt_feedback,
    observability_baseline,
    perf,
    perf_backlog,
    postmortems,
    security,
    security_risk_log,
    service_catalog,
    slo_definitions,
    tech_debt,
    tickets,
)

Reader = Callable[..., ReadResult[Any]]  # called with the path (and its READER_SETTINGS)

READERS: dict[InputKey, Reader] = {
    InputKey.CONFIG: config_file.read,
    InputKey.GATES: gates_config.read,
    InputKey.HEALTH: health.read,
    InputKey.PERF: perf.read,
    InputKey.INCIDENTS: incidents.read,
    InputKey.CLOSURE_PACKAGE: closure_package.read,
    InputKey.HANDOVER_RECORD: handover_record.read,
    InputKey.KT_FEEDBACK: kt_feedback.read,
    InputKey.OBSERVABILITY_BASELINE: observability_baseline.read,
    InputKey.POSTMORTEMS: postmortems.read,
    InputKey.PERF_BACKLOG: perf_backlog.read,
    InputKey.TECH_DEBT: tech_debt.read,
    InputKey.SECURITY_RISKS: security_risk_log.read,
    InputKey.SERVICE_CATALOG: service_catalog.read,
    InputKey.BACKSTAGE: backstage.read,
    InputKey.TICKETS: tickets.read,
    InputKey.SECURITY: security.read,
    InputKey.SLOS: slo_definitions.read,
    InputKey.ALERTS: alerts.read,
    InputKey.EXPERIMENTS: experiments.read,
    InputKey.COSTS: costs.read,
}
