"""Gate definitions as the check uses them: former metric names resolved, deprecated
fields named, each with a warning that points at the file and the gate.

Pure: records in, records and warnings out. What a definition states is decided once here:

- a gate blocks unless it says ``advisory: true``;
- ``key`` is deprecated and still read. ``key: true`` changes nothing (the gate blocks, as
  every non-advisory gate does); ``key: false`` no longer makes a gate advisory, so a gate
  with ``key: false`` and no ``advisory`` now blocks. Either way the warning says so and
  asks for ``key`` to be removed. ``key: true`` together with ``advisory: true`` is
  refused by the reader, at its line;
- a metric named by its former name (:data:`opsledger.quality.metrics.RENAMED_METRICS`) is
  measured under its new name, and the warning names the new one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from opsledger.core.problems import Level, Problem
from opsledger.model.gates import GateSpec
from opsledger.quality.metrics import RENAMED_METRICS


@dataclass(frozen=True)
class GateDefinitions:
    """The gates to evaluate, and what their definitions should change."""

    gates: tuple[GateSpec, ...]
    warnings: tuple[Problem, ...]


def _key_warning(gate: GateSpec) -> str:
    if gate.advisory:
        return (f"gate '{gate.name}': 'key' is deprecated and has no effect ('advisory: true' "
                "decides); remove 'key'")
    if gate.key:
        return (f"gate '{gate.name}': 'key: true' is deprecated and has no effect: every gate "
                "blocks unless it says 'advisory: true'; remove 'key'")
    return (f"gate '{gate.name}': 'key: false' is deprecated and no longer makes a gate "
            "advisory: this gate now blocks (a failure fails the check); write "
            "'advisory: true' instead if it should only warn, and remove 'key'")


def resolve_definitions(gates: Iterable[GateSpec], path: str) -> GateDefinitions:
    """Return ``gates`` with former metric names replaced, and a warning (located in
    ``path``, the gates file) for every deprecated field or name a definition uses."""
    resolved = []
    warnings = []
    for gate in gates:
        if "key" in gate.declared:
            warnings.append(Problem(path, gate.where, _key_warning(gate), level=Level.WARNING))
        renamed = RENAMED_METRICS.get(gate.metric)
        if renamed is not None:
            new, why = renamed
            warnings.append(Problem(
                path, gate.where,
                f"gate '{gate.name}': metric '{gate.metric}' is now named '{new}' ({why}); "
                f"it is measured as '{new}': write 'metric: {new}'",
                level=Level.WARNING))
            gate = replace(gate, metric=new)
        resolved.append(gate)
    return GateDefinitions(tuple(resolved), tuple(warnings))
