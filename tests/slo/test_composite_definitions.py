"""Composite SLO definitions: native ``composite:`` blocks and OpenSLO v1 composite SLOs,
read with their components, and refused at the line at fault when they cannot be used."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from opsledger.model.slo import CompositeComponent, CompositeMethod, CompositeSource, SloWindow
from opsledger.readers.slo_definitions import read

from .test_composite import EVENTS, NATIVE, UPSTREAM


def test_native_composites_are_read_with_their_components_and_weights(tmp_path: Path) -> None:
    (tmp_path / "slos.yaml").write_text(NATIVE)
    result = read(tmp_path)
    assert result.problems == []
    slos = {s.key: s for s in result.records}
    works = slos["shop/checkout-works"]
    assert works.objective == 0.99 and works.window == SloWindow(1)
    assert works.composite == CompositeSource(
        (CompositeComponent("browse/availability", 1.0, 31),
         CompositeComponent("cart/availability", 1.0, 32),
         CompositeComponent("pay/availability", 1.0, 33)),
        CompositeMethod.ALL_SUCCEED,
    )
    assert works.source_line == 23 and works.description.startswith("a shopper")
    weighted = slos["shop/checkout-weighted"].composite
    assert weighted is not None and weighted.method is CompositeMethod.WEIGHTED
    assert [(c.key, c.weight) for c in weighted.components] == [
        ("browse/availability", 1.0), ("pay/availability", 2.5)]
    assert weighted.label == "weighted of browse/availability, pay/availability ×2.5"


BROKEN = """\
slos:
  - service: browse
    name: availability
    objective: 99.8
    window: 1d
    indicator: {health: {service: browse}}
  - service: cart
    name: availability
    objective: 150
    window: 1d
    indicator: {health: {service: cart}}
  - service: pay
    name: availability
    objective: 99
    window: 28d
    indicator: {health: {service: pay}}
  - service: shop
    name: missing-step
    objective: 99
    window: 1d
    composite:
      components:
        - browse/availability
        - nowhere/availability
  - service: shop
    name: invalid-step
    objective: 99
    window: 1d
    composite:
      components: [browse/availability, cart/availability]
  - service: shop
    name: other-window
    objective: 99
    window: 1d
    composite:
      components: [browse/availability, pay/availability]
  - service: shop
    name: weights-without-weighing
    objective: 99
    window: 1d
    composite:
      method: all-succeed
      components: [browse/availability, {slo: pay/availability, weight: 2}]
  - service: shop
    name: one-step
    objective: 99
    composite: {method: weighted, components: [browse/availability]}
  - service: shop
    name: unknown-method
    objective: 99
    composite: {method: any, components: [browse/availability, pay/availability]}
"""


def test_a_composite_with_a_missing_or_invalid_component_is_refused_at_its_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "slos.yaml"
    path.write_text(BROKEN)
    result = read(tmp_path)
    found = {p.location: p for p in result.problems}
    keys = {s.key for s in result.records}
    assert keys == {"browse/availability", "pay/availability"}  # nothing else stands
    missing = found["line 24"]  # the line naming the missing component
    assert missing.path == str(path)
    assert "composite SLO 'shop/missing-step': component 'nowhere/availability' is not " \
        "defined" in missing.message
    invalid = found["line 30"]
    assert "component 'cart/availability' is not a valid SLO" in invalid.message
    assert f"{path}:9" in invalid.message  # where the quarantined SLO's problem is
    assert "line 9" in found and "objective" in found["line 9"].message
    window = found["line 36"]
    assert "component 'pay/availability' has a 28d window, the composite 1d" in window.message
    weight = found["line 43"]
    assert "weights apply to the weighted methods, not all-succeed" in weight.message
    assert "at least two SLOs" in found["line 47"].message
    assert "unknown composite method" in found["line 51"].message
    assert len(result.problems) == 7


def test_upstream_openslo_composite_with_an_unusable_objective_is_refused_at_its_line() -> None:
    path = UPSTREAM / "slo-composite-no-indicatorRef-rolling-no-alerts.yaml"
    result = read(path)
    assert result.records == []
    (problem,) = result.problems
    assert problem.location == "line 26"  # the first objective's metricSourceRef
    assert "no DataSource with this name" in problem.message
    assert problem.found == "'datadog-datasource'"


def test_the_documented_composite_example_reads(tmp_path: Path) -> None:

    docs = (Path(__file__).parents[2] / "docs" / "formats.md").read_text()
    section = docs[docs.index("### Composite SLOs (user journeys)"):]
    example = re.search(r"```yaml\n(.*?)```", section, flags=re.S)
    assert example is not None
    (tmp_path / "journeys.yaml").write_text(example.group(1))
    steps = "\n".join(
        f"  - {{service: {name}, name: availability, objective: 99.9, window: 30d,\n"
        f"     indicator: {{health: {{service: {name}}}}}}}"
        for name in ("web", "cart", "payments"))
    (tmp_path / "steps.yaml").write_text(f"slos:\n{steps}\n")
    result = read(tmp_path)
    assert result.problems == []
    composites = {s.key: s.composite for s in result.records if s.composite is not None}
    assert {k: c.label for k, c in composites.items() if c is not None} == {
        "shop/checkout-works": "all-succeed of web/availability, cart/availability, "
        "payments/availability",
        "shop/checkout-weighted": "weighted of web/availability, payments/availability ×2",
    }


@pytest.mark.parametrize(("composite", "words"), [
    ("not a mapping", "composite must be a mapping"),
    ("{components: web/availability}", "at least two SLOs"),
    ("{components: [1, 2]}", "names an SLO as 'service/name'"),
    ("{components: [{slo: 3}, a/b]}", "names an SLO as 'service/name'"),
    ("{method: weighted, components: [{slo: a/b, weight: heavy}, c/d]}", "a weight is a number"),
    ("{method: weighted, components: [{slo: a/b, weight: 0}, c/d]}", "a weight is a number"),
    ("{components: [{slo: a/b, share: 1}, c/d]}", "unknown key in a component"),
    ("{components: [a/b, a/b]}", "'a/b' is listed twice"),
    ("{components: [a/b, c/d], when: always}", "unknown key in composite"),
])
def test_a_malformed_composite_is_refused_at_its_line(
    tmp_path: Path, composite: str, words: str
) -> None:
    (tmp_path / "slos.yaml").write_text(
        "slos:\n  - service: shop\n    name: journey\n    objective: 99\n"
        f"    composite: {composite}\n")
    result = read(tmp_path)
    assert result.records == []
    (problem,) = result.problems
    assert words in problem.message and problem.location == "line 5"


def test_an_slo_with_an_indicator_and_a_composite_is_refused(tmp_path: Path) -> None:
    (tmp_path / "slos.yaml").write_text(
        "slos:\n  - service: shop\n    name: journey\n    objective: 99\n"
        "    indicator: {health: {service: shop}}\n    composite: {components: [a/b, c/d]}\n")
    (problem,) = read(tmp_path).problems
    assert "an indicator or is a composite" in problem.message and problem.location == "line 6"


SLI_DOC = f"""\
apiVersion: openslo/v1
kind: SLI
metadata: {{name: requests}}
spec:
  ratioMetric:
    counter: true
    good: {{metricSource: {{type: duckdb, spec: {{path: '{EVENTS}', filter: "status < 500"}}}}}}
    total: {{metricSource: {{type: duckdb, spec: {{path: '{EVENTS}', filter: "TRUE"}}}}}}
---
"""


def openslo(spec_extra: str, first: str, second: str, method: str = "Occurrences") -> str:
    return SLI_DOC + f"""\
apiVersion: openslo/v1
kind: SLO
metadata: {{name: journey}}
spec:
  service: shop{spec_extra}
  timeWindow: [{{duration: 1d, isRolling: true}}]
  budgetingMethod: {method}
  objectives:
    - {{displayName: a, target: 0.99{first}}}
    - {{displayName: b, target: 0.995{second}}}
"""


@pytest.mark.parametrize(("text", "words", "line"), [
    (openslo("", ", indicatorRef: requests", ""),
     "every objective has its own indicator", 19),
    (openslo("\n  indicatorRef: requests", ", indicatorRef: requests",
             ", indicatorRef: requests"), "a composite SLO has no indicatorRef of its own", 15),
    (openslo("", ", indicatorRef: requests, compositeWeight: -1", ", indicatorRef: requests"),
     "compositeWeight must be a number above 0", 18),
    (openslo("", ", indicatorRef: requests, timeSliceWindow: 5m",
             ", indicatorRef: requests, timeSliceWindow: 10m", "RatioTimeslices"),
     "share one timeSliceWindow", 19),
    (openslo("", ", indicatorRef: requests", ", indicatorRef: nothing"),
     "no SLI with this name", 19),
])
def test_a_malformed_openslo_composite_is_refused_at_its_line(
    tmp_path: Path, text: str, words: str, line: int
) -> None:
    (tmp_path / "slo.yaml").write_text(text)
    result = read(tmp_path)
    assert result.records == []
    (problem,) = result.problems
    assert words in problem.message and problem.location == f"line {line}"


def test_composite_weight_outside_a_composite_is_ignored_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "slo.yaml").write_text(
        openslo("\n  indicatorRef: requests", ", compositeWeight: 2", ""))
    result = read(tmp_path)
    assert [s.key for s in result.records] == ["shop/journey-a", "shop/journey-b"]
    (warning,) = result.problems
    assert warning.level.value == "warning" and warning.location == "line 19"
    assert "compositeWeight applies only to a composite SLO" in warning.message
