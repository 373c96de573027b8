"""Composite SLOs in SLO definitions: the native ``composite:`` block, and the checks that
every composite names SLOs that exist and can be combined.

A native composite is an entry of ``slos:`` with ``composite`` in place of ``indicator``::

    composite:
      method: all-succeed            # or weighted, weighted-sum
      components:
        - web/availability           # service/name of an SLO defined under slos/
        - {slo: payments/availability, weight: 2}   # weights: weighted methods only

OpenSLO v1 composites are read by :mod:`opsledger.readers.slo_openslo`; both are checked
here once every file has been read, since a component may be defined in another file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from opsledger.core.problems import Problem, ReadResult
from opsledger.model.slo import (
    BudgetingMethod,
    CompositeComponent,
    CompositeMethod,
    CompositeSource,
    Slo,
)
from opsledger.readers.slo_documents import Doc, Invalid, Key, mapping

METHODS = ", ".join(m.value for m in CompositeMethod)


def native_composite(doc: Doc, raw: Any, keys: Sequence[Key]) -> CompositeSource:
    """Return the components and method of a native ``composite:`` block at ``keys``."""
    keys = tuple(keys)
    node = mapping(raw, keys, "composite")
    unknown = sorted(str(k) for k in node if k not in ("method", "components"))
    if unknown:
        raise Invalid((*keys, unknown[0]), "unknown key in composite", "method, components",
                      unknown[0])
    try:
        method = CompositeMethod(str(node.get("method", CompositeMethod.ALL_SUCCEED.value)))
    except ValueError:
        raise Invalid((*keys, "method"), "unknown composite method", METHODS,
                      node.get("method")) from None
    listed = node.get("components")
    if not isinstance(listed, list) or len(listed) < 2:
        raise Invalid((*keys, "components"), "a composite combines at least two SLOs",
                      "a list of two or more 'service/name'", listed)
    components: list[CompositeComponent] = []
    for index, item in enumerate(listed):
        where = (*keys, "components", index)
        component = _component(item, where, method, doc.line(where))
        if component.key in {c.key for c in components}:
            raise Invalid(where, f"'{component.key}' is listed twice", "each SLO once",
                          component.key)
        components.append(component)
    return CompositeSource(tuple(components), method)


def _component(
    item: Any, keys: tuple[Key, ...], method: CompositeMethod, line: int
) -> CompositeComponent:
    weight: Any = 1
    if isinstance(item, dict):
        unknown = sorted(str(k) for k in item if k not in ("slo", "weight"))
        if unknown:
            raise Invalid((*keys, unknown[0]), "unknown key in a component", "slo, weight",
                          unknown[0])
        if "weight" in item:
            if not method.weighs:
                raise Invalid((*keys, "weight"),
                              f"weights apply to the weighted methods, not {method.value}",
                              "no weight, or method weighted or weighted-sum", item["weight"])
            weight = item["weight"]
        key = item.get("slo")
        keys = (*keys, "slo")
    else:
        key = item
    if not isinstance(key, str) or "/" not in key.strip(" /"):
        raise Invalid(keys, "a component names an SLO as 'service/name'", "e.g. web/availability",
                      key)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not weight > 0:
        raise Invalid((*keys[:-1], "weight"), "a weight is a number above 0", "e.g. 2", weight)
    return CompositeComponent(key.strip(), float(weight), line)


def check_composites(result: ReadResult[Slo], quarantined: Mapping[str, str]) -> None:
    """Quarantine every composite whose components cannot be combined, each with the file
    and line where the composite names the component at fault.

    ``quarantined`` maps the keys of SLOs quarantined while reading to where they are
    defined, so that a composite naming one says so rather than that it does not exist.
    """
    defined = {slo.key: slo for slo in result.records}
    kept = []
    for slo in result.records:
        problem = _component_problem(slo, defined, quarantined)
        if problem is None:
            kept.append(slo)
        else:
            result.problems.append(problem)
    result.records = kept


def _component_problem(
    slo: Slo, defined: Mapping[str, Slo], quarantined: Mapping[str, str]
) -> Problem | None:
    source = slo.composite
    if source is None:
        return None
    for component in source.components:
        reason = _why_not(slo, source, component, defined, quarantined)
        if reason is not None:
            message, expected, found = reason
            line = component.line or slo.source_line
            return Problem(slo.source_path, f"line {line}",
                           f"composite SLO '{slo.key}': {message}", expected, found)
    return None


def _why_not(
    slo: Slo,
    source: CompositeSource,
    component: CompositeComponent,
    defined: Mapping[str, Slo],
    quarantined: Mapping[str, str],
) -> tuple[str, str, str] | None:
    """Return why ``component`` cannot be combined into ``slo`` (message, expected, found)."""
    key = component.key
    target = defined.get(key)
    if target is None:
        if key in quarantined:
            return (f"component '{key}' is not a valid SLO (see the problem at "
                    f"{quarantined[key]})", "a valid SLO", key)
        return (f"component '{key}' is not defined", "an SLO 'service/name' defined under slos/",
                key)
    if target.composite is not None:
        return (f"component '{key}' is itself a composite SLO", "an SLO with its own indicator",
                key)
    if target.window != slo.window:
        return (f"component '{key}' has a {target.window.label} window, the composite "
                f"{slo.window.label}", "one window for the composite and its components",
                target.window.label)
    if source.method.weighs and not source.per_slice and (
        target.budgeting is not BudgetingMethod.OCCURRENCES
    ):
        return (f"component '{key}' is budgeted by {target.budgeting.value}: method "
                f"{source.method.value} weighs the burn rates of event budgets",
                "components budgeted by occurrences, or method all-succeed",
                target.budgeting.value)
    return None
