"""Which reader reads which input: the registry every run looks readers up in.

A reader takes the path the workspace gives for its key (a file or a folder), plus the
settings :data:`opsledger.core.inputs.READER_SETTINGS` takes from opsledger.yaml for it, and
returns a :class:`~opsledger.core.problems.ReadResult`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from importlib import import_module
from typing import Any

from opsledger.core.problems import ReadResult
from opsledger.core.workspace import InputKey

Reader = Callable[..., ReadResult[Any]]  # called with the path (and its READER_SETTINGS)

# The module under opsledger.readers whose ``read`` reads each input.
MODULES: dict[InputKey, str] = {
    InputKey.CONFIG: "config_file",
    InputKey.GATES: "gates_config",
    InputKey.HEALTH: "health",
    InputKey.PERF: "perf",
    InputKey.INCIDENTS: "incidents",
    InputKey.CLOSURE_PACKAGE: "closure_package",
    InputKey.HANDOVER_RECORD: "handover_record",
    InputKey.KT_FEEDBACK: "kt_feedback",
    InputKey.OBSERVABILITY_BASELINE: "observability_baseline",
    InputKey.POSTMORTEMS: "postmortems",
    InputKey.PERF_BACKLOG: "perf_backlog",
    InputKey.TECH_DEBT: "tech_debt",
    InputKey.SECURITY_RISKS: "security_risk_log",
    InputKey.SERVICE_CATALOG: "service_catalog",
    InputKey.BACKSTAGE: "backstage",
    InputKey.TICKETS: "tickets",
    InputKey.SECURITY: "security",
    InputKey.SLOS: "slo_definitions",
    InputKey.ALERTS: "alerts",
    InputKey.EXPERIMENTS: "experiments",
    InputKey.COSTS: "costs",
}


class Registry(Mapping[InputKey, Reader]):
    """The readers by input, each module imported when its input is first read.

    A command reads a few of the inputs; importing every reader (spreadsheets, SQL parsing,
    data frames) would cost it more than the reading does.
    """

    def __getitem__(self, key: InputKey) -> Reader:
        reader: Reader = import_module(f"opsledger.readers.{MODULES[key]}").read
        return reader

    def __iter__(self) -> Iterator[InputKey]:
        return iter(MODULES)

    def __len__(self) -> int:
        return len(MODULES)


READERS: Mapping[InputKey, Reader] = Registry()
