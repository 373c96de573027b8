"""Composite SLOs (user journeys): SLI, budget and burn from the components' events, the
upstream OpenSLO composite computed, and the composite in ``slo status``, the review's SLO
section and the demo. Reading and refusing definitions: ``test_composite_definitions.py``.

Every expected figure is computed here, by hand with numpy, from the per-minute counts the
test builds (or, for the workspace tests, from the events the test writes).
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from opsledger.cli.slo import app
from opsledger.core.inputs import Context
from opsledger.core.workspace import open_workspace
from opsledger.model.slo import (
    MINUTE,
    BudgetingMethod,
    CompositeComponent,
    CompositeMethod,
    CompositeSource,
    DuckDbSource,
    SliSeries,
    Slo,
    SloWindow,
)
from opsledger.readers.slo_definitions import read
from opsledger.slo.composite import component_counts, composite_series
from opsledger.slo.objectives import evaluate
from opsledger.slo.section import slo_section
from opsledger.slo.service import evaluate_workspace

UPSTREAM = Path(__file__).parents[1] / "fixtures" / "upstream" / "openslo" / "oslo" / "v1" / "slo"
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
SPAN = 3 * 1440  # the data an evaluation reads: the longest burn window, 3 days
START = NOW - SPAN * MINUTE
DAY = 1440
EVENTS = "telemetry/requests/*.parquet"


def component(service: str, objective: float, days: int = 1) -> Slo:
    return Slo(service, "availability", objective, SloWindow(days),
               DuckDbSource(EVENTS, good=f"service = '{service}' AND status < 500",
                            total=f"service = '{service}'"))


def journey(method: CompositeMethod, objective: float, weights: tuple[float, ...] = (1, 1, 1),
            names: tuple[str, ...] = ("browse", "cart", "pay")) -> Slo:
    parts = tuple(CompositeComponent(f"{n}/availability", w) for n, w in zip(names, weights,
                                                                           strict=True))
    return Slo("shop", "checkout-works", objective, SloWindow(1), CompositeSource(parts, method))


def counts(seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return (good, total) per minute for browse, cart and pay over the span.

    Browse is busiest and cart and pay get a share of its traffic; pay fails for 40 minutes
    in the last day and cart in the last hour; some minutes have no cart or pay events, and
    one minute has no events at all.
    """
    rng = np.random.default_rng(seed)
    browse_total = rng.poisson(60, SPAN).astype(float)
    cart_total = rng.poisson(20, SPAN).astype(float)
    pay_total = rng.poisson(8, SPAN).astype(float)
    cart_total[::7] = 0
    pay_total[::5] = 0
    browse_total[100] = cart_total[100] = pay_total[100] = 0
    error = np.stack([np.full(SPAN, 0.002), np.full(SPAN, 0.004), np.full(SPAN, 0.003)])
    error[2, SPAN - 600 : SPAN - 560] = 0.35
    error[1, SPAN - 45 : SPAN - 15] = 0.2
    out = []
    for row, total in enumerate((browse_total, cart_total, pay_total)):
        bad = rng.binomial(total.astype(np.int64), error[row]).astype(float)
        out.append((total - bad, total))
    return out


def series(good: np.ndarray, total: np.ndarray) -> SliSeries:
    return SliSeries(START, good.astype(float), total.astype(float))


def window_figures(bad: np.ndarray, total: np.ndarray, objective: float) -> tuple[float, ...]:
    """Return SLI over the 1-day window, budget remaining and the 1h burn rate, by hand."""
    sli = 1 - bad[-DAY:].sum() / total[-DAY:].sum()
    remaining = 1 - (1 - sli) / (1 - objective)
    burn_1h = bad[-60:].sum() / total[-60:].sum() / (1 - objective)
    return sli, remaining, burn_1h


# --- the arithmetic --------------------------------------------------------------------------


def test_all_succeed_is_the_share_of_journeys_that_pass_every_step() -> None:
    parts = counts(seed=5)
    slos = [component("browse", 0.998), component("cart", 0.995), component("pay", 0.99)]
    composite = journey(CompositeMethod.ALL_SUCCEED, 0.99)
    derived = composite_series(composite, [(s, series(*c)) for s, c in zip(slos, parts,
                                                                              strict=True)])
    status = evaluate(composite, derived, NOW, min_events=1)

    # By hand: a minute's journeys are its busiest step's events; each passes every step
    # with the product of the steps' good shares (a step without events fails nothing).
    totals = np.stack([t for _, t in parts])
    goods = np.stack([g for g, _ in parts])
    passing = np.ones(SPAN)
    for g, t in zip(goods, totals, strict=True):
        passing *= np.where(t > 0, g / np.where(t > 0, t, 1), 1.0)
    journeys = totals.max(axis=0)
    bad = journeys * (1 - passing)
    sli, remaining, burn_1h = window_figures(bad, journeys, 0.99)

    assert status.valid and status.sli is not None and status.budget is not None
    assert status.sli == pytest.approx(sli, rel=1e-12)
    assert status.total == pytest.approx(journeys[-DAY:].sum())
    assert status.budget.remaining == pytest.approx(remaining, rel=1e-9)
    assert status.burn_rates["1h"] == pytest.approx(burn_1h, rel=1e-9)
    # The cart outage in the last hour burns the journey's budget faster than the day did.
    assert burn_1h > 1 - remaining > 0
    assert derived.total[100] == 0  # no step had events: the minute counts neither way
    # Worse than any one step: a journey fails when any of its steps does.
    for slo, (good, total) in zip(slos, parts, strict=True):
        alone = evaluate(slo, series(good, total), NOW, min_events=1)
        assert alone.sli is not None and status.sli < alone.sli


def test_weighted_methods_combine_burn_rates_by_weight() -> None:
    parts = counts(seed=9)
    slos = [component("browse", 0.999), component("cart", 0.995), component("pay", 0.99)]
    pairs = [(s, series(*c)) for s, c in zip(slos, parts, strict=True)]
    weights = np.array([1.0, 2.0, 3.0])
    budgets = np.array([0.001, 0.005, 0.01])
    for method, divisor in ((CompositeMethod.WEIGHTED, weights.sum()),
                            (CompositeMethod.WEIGHTED_SUM, 1.0)):
        composite = journey(method, 0.995, weights=(1, 2, 3))
        status = evaluate(composite, composite_series(composite, pairs), NOW, min_events=1)
        # By hand: per minute, each step's bad share over its own budget is its burn rate;
        # the composite's bad share is its budget times the weighted mean (or sum), at most 1.
        burn = np.zeros(SPAN)
        for (good, total), weight, budget in zip(parts, weights, budgets, strict=True):
            share = np.where(total > 0, (total - good) / np.where(total > 0, total, 1), 0.0)
            burn += weight * share / budget
        totals = np.stack([t for _, t in parts])
        journeys = totals.max(axis=0)
        bad = journeys * np.minimum(1.0, 0.005 * burn / divisor)
        sli, remaining, burn_1h = window_figures(bad, journeys, 0.995)
        assert status.sli == pytest.approx(sli, rel=1e-12), method
        assert status.budget is not None
        assert status.budget.remaining == pytest.approx(remaining, rel=1e-9), method
        assert status.burn_rates["1h"] == pytest.approx(burn_1h, rel=1e-9), method


def test_with_proportional_traffic_the_composite_burns_at_the_weighted_mean_of_its_steps() -> None:
    rng = np.random.default_rng(3)
    shape = rng.poisson(50, SPAN).astype(float) + 1  # one traffic curve for every step
    slos = [component("browse", 0.999), component("cart", 0.995), component("pay", 0.99)]
    pairs = []
    for slo, share, rate in zip(slos, (1.0, 0.5, 0.25), (0.001, 0.01, 0.02), strict=True):
        total = shape * share
        bad = rng.binomial(total.astype(np.int64), rate).astype(float)
        pairs.append((slo, series(total - bad, total)))
    composite = journey(CompositeMethod.WEIGHTED, 0.995, weights=(2, 1, 1))
    status = evaluate(composite, composite_series(composite, pairs), NOW, min_events=1)
    alone = [evaluate(slo, s, NOW, min_events=1) for slo, s in pairs]
    for window in ("1h", "1d", "window"):
        rates = [a.burn_rates[window] for a in alone]
        assert all(r is not None for r in rates)
        expected = (2 * rates[0] + rates[1] + rates[2]) / 4  # type: ignore[operator]
        assert status.burn_rates[window] == pytest.approx(expected, rel=1e-9), window


def test_openslo_timeslices_composite_has_a_bad_slice_when_any_objective_does(
    tmp_path: Path,
) -> None:
    (tmp_path / "timeslices.yaml").write_text(f"""\
apiVersion: openslo/v1
kind: SLO
metadata:
  name: checkout
spec:
  service: shop
  timeWindow:
    - duration: 1d
      isRolling: true
  budgetingMethod: Timeslices
  objectives:
    - displayName: browse
      target: 0.9
      timeSliceTarget: 0.95
      timeSliceWindow: 5m
      indicator: {{metadata: {{name: browse}}, spec: {{ratioMetric: {{counter: true,
        good: {{metricSource: {{type: duckdb, spec: {{path: '{EVENTS}',
                filter: "service = 'browse' AND status < 500"}}}}}},
        total: {{metricSource: {{type: duckdb, spec: {{path: '{EVENTS}',
                filter: "service = 'browse'"}}}}}}}}}}}}
    - displayName: pay
      target: 0.95
      timeSliceTarget: 0.9
      timeSliceWindow: 5m
      indicator: {{metadata: {{name: pay}}, spec: {{ratioMetric: {{counter: true,
        good: {{metricSource: {{type: duckdb, spec: {{path: '{EVENTS}',
                filter: "service = 'pay' AND status < 500"}}}}}},
        total: {{metricSource: {{type: duckdb, spec: {{path: '{EVENTS}',
                filter: "service = 'pay'"}}}}}}}}}}}}
""")
    result = read(tmp_path)
    assert result.problems == []
    slos = {s.key: s for s in result.records}
    composite = slos["shop/checkout"]
    source = composite.composite
    assert source is not None and source.per_slice
    assert source.method is CompositeMethod.ALL_SUCCEED
    assert source.keys == ("shop/checkout-browse", "shop/checkout-pay")
    assert composite.objective == 0.95 and composite.budgeting is BudgetingMethod.TIMESLICES
    assert composite.timeslice_size == 5 * MINUTE
    parts = counts(seed=21)
    pairs = [(slos["shop/checkout-browse"], series(*parts[0])),
             (slos["shop/checkout-pay"], series(*parts[2]))]
    status = evaluate(composite, composite_series(composite, pairs), NOW, min_events=1)
    # By hand: 5-minute slices; a slice with events is good only when each objective's slice
    # is good (or had no events) against its own slice target.
    verdicts = []
    for (good, total), target in zip((parts[0], parts[2]), (0.95, 0.9), strict=True):
        g, t = good.reshape(-1, 5).sum(axis=1), total.reshape(-1, 5).sum(axis=1)
        verdicts.append((t > 0, (t > 0) & (g / np.where(t > 0, t, 1) < target)))
    has = verdicts[0][0] | verdicts[1][0]
    bad = verdicts[0][1] | verdicts[1][1]
    day = slice(-DAY // 5, None)
    assert status.sli == pytest.approx(1 - bad[day].sum() / has[day].sum(), rel=1e-12)
    assert status.budget is not None and status.budget.bad_minutes == 5 * bad[day].sum()
    assert status.burn_rates["1h"] == pytest.approx(
        bad[-12:].sum() / has[-12:].sum() / (1 - 0.95), rel=1e-9
    )


def test_a_component_without_counts_makes_the_composite_not_computable() -> None:
    from opsledger.slo.objectives import SloStatus

    composite = journey(CompositeMethod.ALL_SUCCEED, 0.99, names=("browse", "cart", "pay"))
    good, total = counts(seed=1)[0]
    evaluated = {
        "browse/availability": (evaluate(component("browse", 0.99), series(good, total), NOW),
                                series(good, total)),
        "cart/availability": (SloStatus(component("cart", 0.99), NOW, NOW, valid=False,
                                        reasons=("needs a Prometheus server",),
                                        needs_prometheus=True), None),
    }
    found = component_counts(composite, evaluated)
    assert not isinstance(found, list)
    assert "component cart/availability not computed: needs a Prometheus server" in found.reason
    assert "component pay/availability was not evaluated" in found.reason
    assert not found.needs_prometheus  # pay is missing for another reason
    pay = component("pay", 0.99)
    evaluated["pay/availability"] = (evaluate(pay, series(good, total), NOW), series(good, total))
    found = component_counts(composite, evaluated)
    assert not isinstance(found, list) and found.needs_prometheus
    assert found.reason == "component cart/availability not computed: needs a Prometheus server"
    evaluated["cart/availability"] = evaluated["pay/availability"]
    assert isinstance(component_counts(composite, evaluated), list)


# --- definitions, computed ---------------------------------------------------------------

NATIVE = """\
slos:
  - service: browse
    name: availability
    objective: 99.8
    window: 1d
    indicator:
      duckdb: {path: 'telemetry/requests/*.parquet', good: "service = 'browse' AND status < 500",
               total: "service = 'browse'"}
  - service: cart
    name: availability
    objective: 99.5
    window: 1d
    indicator:
      duckdb: {path: 'telemetry/requests/*.parquet', good: "service = 'cart' AND status < 500",
               total: "service = 'cart'"}
  - service: pay
    name: availability
    objective: 99
    window: 1d
    indicator:
      duckdb: {path: 'telemetry/requests/*.parquet', good: "service = 'pay' AND status < 500",
               total: "service = 'pay'"}
  - service: shop
    name: checkout-works
    description: a shopper can browse, fill a cart and pay
    objective: 99
    window: 1d
    composite:
      method: all-succeed
      components:
        - browse/availability
        - cart/availability
        - pay/availability
  - service: shop
    name: checkout-weighted
    objective: 99.5
    window: 1d
    composite:
      method: weighted
      components:
        - {slo: browse/availability, weight: 1}
        - {slo: pay/availability, weight: 2.5}
"""


def test_upstream_openslo_composite_is_read_as_its_objectives_and_their_composite(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "slos"
    folder.mkdir()
    upstream = UPSTREAM / "slo-composite-indicatorRef-rolling-no-alerts.yaml"
    shutil.copy(upstream, folder / upstream.name)
    # The upstream file names an SLI it does not hold; this one counts the test's events.
    (folder / "sli.yaml").write_text(f"""\
apiVersion: openslo/v1
kind: SLI
metadata:
  name: indicatorRefString
spec:
  ratioMetric:
    counter: true
    good:
      metricSource: {{type: duckdb, spec: {{path: '{EVENTS}', filter: "status < 500"}}}}
    total:
      metricSource: {{type: duckdb, spec: {{path: '{EVENTS}', filter: "TRUE"}}}}
""")
    result = read(folder)
    assert result.problems == []
    slos = {s.key: s for s in result.records}
    foo = slos["TheServiceName/test-slo-foo-total-errors"]
    bar = slos["TheServiceName/test-slo-bar-total-errors"]
    composite = slos["TheServiceName/test-slo"]
    assert (foo.objective, bar.objective) == (0.98, 0.99)
    assert foo.window == bar.window == composite.window == SloWindow(1)
    assert composite.objective == 0.99  # the strictest objective's target
    assert composite.display_name == "Test SLO"
    assert composite.composite == CompositeSource(
        (CompositeComponent(foo.key, 1.0, 14), CompositeComponent(bar.key, 2.0, 18)),
        CompositeMethod.WEIGHTED_SUM,
    )
    assert composite.source_path == str(folder / upstream.name) and composite.source_line == 4

    events = write_events(tmp_path, seed=4)
    ctx = Context.open(open_workspace(tmp_path), NOW)
    report = evaluate_workspace(ctx, min_events=1)
    statuses = {e.status.slo.key: e.status for e in report.evaluations}
    status = statuses[composite.key]
    # By hand: both objectives read the same events (error share e per minute); Foo burns
    # at e / 0.02, Bar at e / 0.01 with weight 2, so the composite's bad share is
    # 0.01 x (e / 0.02 + 2e / 0.01) = 2.5e (at most 1), over all events of the minute.
    good, total = events.per_minute()
    share = np.where(total > 0, (total - good) / np.where(total > 0, total, 1), 0.0)
    bad = total * np.minimum(1.0, 2.5 * share)
    sli, remaining, burn_1h = window_figures(bad, total, 0.99)
    assert status.valid and status.sli == pytest.approx(sli, rel=1e-9)
    assert status.budget is not None
    assert status.budget.remaining == pytest.approx(remaining, rel=1e-9)
    assert status.burn_rates["1h"] == pytest.approx(burn_1h, rel=1e-9)
    foo_status, bar_status = statuses[foo.key], statuses[bar.key]
    assert foo_status.burn_rates["1h"] is not None and bar_status.burn_rates["1h"] is not None
    # Foo and Bar see the same traffic, so the composite's burn is their weighted sum.
    assert status.burn_rates["1h"] == pytest.approx(
        foo_status.burn_rates["1h"] + 2 * bar_status.burn_rates["1h"], rel=1e-9
    )


# --- in a workspace --------------------------------------------------------------------------

SERVICES = ("browse", "cart", "pay")


class Written:
    """Events the test wrote: per service and minute over the span, and all together."""

    def __init__(self, service: np.ndarray, minute: np.ndarray, status: np.ndarray) -> None:
        self.service, self.minute, self.status = service, minute, status

    def per_minute(self, name: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        chosen = np.ones(self.minute.size, bool) if name is None else (
            self.service == SERVICES.index(name))
        total = np.bincount(self.minute[chosen], minlength=SPAN).astype(float)
        ok = chosen & (self.status < 500)
        return np.bincount(self.minute[ok], minlength=SPAN).astype(float), total


def write_events(root: Path, seed: int) -> Written:
    """Write six hours of request events for browse, cart and pay up to NOW (Parquet)."""
    rng = np.random.default_rng(seed)
    first = SPAN - 6 * 60
    services, minutes, statuses = [], [], []
    for index, (rate, error) in enumerate(((30, 0.003), (12, 0.01), (6, 0.02))):
        per_minute = rng.poisson(rate, 6 * 60)
        minute = np.repeat(np.arange(first, SPAN), per_minute)
        failing = np.full(minute.size, error)
        if SERVICES[index] == "pay":
            failing[(minute >= SPAN - 50) & (minute < SPAN - 20)] = 0.5
        status = np.where(rng.random(minute.size) < failing, 503, 200)
        services.append(np.full(minute.size, index))
        minutes.append(minute)
        statuses.append(status)
    service, minute, status = (np.concatenate(x) for x in (services, minutes, statuses))
    start_us = int(START.timestamp() * 1_000_000)
    ts = start_us + minute * 60_000_000 + rng.integers(0, 60_000_000, minute.size)
    path = root / "telemetry" / "requests" / "events.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({
        "ts": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
        "service": pa.array([SERVICES[i] for i in service]),
        "status": pa.array(status.astype(np.int16)),
    }), path)
    return Written(service, minute, status)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Written]:
    root = tmp_path_factory.mktemp("shop")
    events = write_events(root, seed=8)
    (root / "slos").mkdir()
    (root / "slos" / "slos.yaml").write_text(NATIVE)
    return root, events


def expected_checkout(events: Written) -> tuple[float, ...]:
    """Return the all-succeed journey's SLI, budget remaining and 1h burn, by hand."""
    parts = [events.per_minute(name) for name in SERVICES]
    journeys = np.stack([t for _, t in parts]).max(axis=0)
    passing = np.ones(SPAN)
    for good, total in parts:
        passing *= np.where(total > 0, good / np.where(total > 0, total, 1), 1.0)
    return window_figures(journeys * (1 - passing), journeys, 0.99)


def run(*args: str) -> tuple[int, str]:
    root = typer.Typer()
    root.add_typer(app, name="slo")
    result = CliRunner().invoke(root, ["slo", *args])
    return result.exit_code, result.stdout


def test_slo_status_shows_the_composite_after_its_components(
    shop: tuple[Path, Written],
) -> None:
    root, events = shop
    code, out = run("status", str(root), "--json", "--now", NOW.isoformat())
    assert code == 0
    body = json.loads(out)
    keys = [f"{o['service']}/{o['slo']}" for o in body]
    assert keys[-2:] == ["shop/checkout-weighted", "shop/checkout-works"]
    works = body[-1]
    sli, remaining, burn_1h = expected_checkout(events)
    assert works["valid"] is True
    assert works["sli"] == pytest.approx(sli, rel=1e-9)
    assert works["error_budget_remaining"] == pytest.approx(remaining, rel=1e-9)
    assert works["burn_rates"]["1h"] == pytest.approx(burn_1h, rel=1e-9)
    assert works["burn_rates"]["1h"] > 1  # pay's outage half an hour ago burns the journey
    code, table = run("status", str(root), "--now", NOW.isoformat())
    assert code == 0 and "checkout-works" in table and "checkout-weighted" in table


def test_the_review_section_lists_the_composite(shop: tuple[Path, Written]) -> None:
    root, events = shop
    ctx = Context.open(open_workspace(root), NOW)
    section = slo_section(ctx)
    shown = {(o["service"], o["slo"]): o for o in section.data["slos"]}
    works = shown[("shop", "checkout-works")]
    assert works["sli"] == pytest.approx(expected_checkout(events)[0], rel=1e-9)
    text = section.body + section.details
    assert "checkout-works" in text
    row = next(line for line in text.splitlines() if "| checkout-works |" in line)
    assert f"| {works['sli']:.3%} | {works['error_budget_remaining']:.1%} |" in row
    assert f"| {works['burn_rates']['1h']:.2f} |" in row


def test_a_composite_over_a_promql_slo_without_a_server_is_listed_as_such(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPSLEDGER_PROMETHEUS_URL", raising=False)
    write_events(tmp_path, seed=2)
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "slos.yaml").write_text(NATIVE.split("  - service: shop")[0] + """\
  - service: api
    name: availability
    objective: 99
    window: 1d
    indicator: {prometheus: {good: ok_total, total: all_total}}
  - service: shop
    name: checkout-works
    objective: 99
    window: 1d
    composite: {components: [browse/availability, api/availability]}
""")
    report = evaluate_workspace(Context.open(open_workspace(tmp_path), NOW))
    evaluations = {e.status.slo.key: e for e in report.evaluations}
    works = evaluations["shop/checkout-works"]
    assert works.series is None and not works.status.valid and works.status.needs_prometheus
    assert works.status.reasons == (
        "component api/availability not computed: " + evaluations["api/availability"]
        .status.reasons[0],)
    assert evaluations["browse/availability"].status.valid


# --- the demo ---------------------------------------------------------------------------------


def test_the_demo_journey_is_computed_from_three_duckdb_slos(tmp_path: Path) -> None:
    import duckdb

    from opsledger.demo.slo import REQUESTS_FILE, write_slos, write_telemetry
    from opsledger.demo.world import Size, build_world

    now = datetime(2026, 11, 1, tzinfo=UTC)
    world = build_world(Size.SMALL, 7, now)
    write_telemetry(world, tmp_path)
    write_slos(world, tmp_path)
    definitions = read(tmp_path / "slos")
    assert definitions.problems == []
    slos = {s.key: s for s in definitions.records}
    journey_slo = slos["checkout/checkout-works"]
    source = journey_slo.composite
    assert source is not None and source.method is CompositeMethod.ALL_SUCCEED
    assert [k.split("/")[0] for k in source.keys] == ["api-gateway", "checkout", "payments-api"]
    report = evaluate_workspace(Context.open(open_workspace(tmp_path), now))
    status = next(e.status for e in report.evaluations if e.status.slo.key == journey_slo.key)

    # By hand: each step's good and total requests per minute over the 30-day window,
    # counted by DuckDB straight from the definitions' predicates, then combined as every
    # step must work.
    minutes = 30 * DAY
    begin = now - minutes * MINUTE
    con = duckdb.connect()
    parts = []
    for key in source.keys:
        indicator = slos[key].indicator
        assert isinstance(indicator, DuckDbSource) and indicator.good and indicator.total
        rows = con.execute(
            "SELECT ((epoch_us(ts) - epoch_us(?::TIMESTAMPTZ)) // 60000000)::BIGINT AS m, "
            f"count(*) FILTER (WHERE {indicator.good}), count(*) "
            f"FROM '{tmp_path / REQUESTS_FILE}' WHERE ts >= ? AND ts < ? AND {indicator.total} "
            "GROUP BY m", [begin, begin, now]).fetchall()
        good, total = np.zeros(minutes), np.zeros(minutes)
        for minute, ok, count in rows:
            good[minute], total[minute] = ok, count
        parts.append((good, total))
    journeys = np.stack([t for _, t in parts]).max(axis=0)
    passing = np.ones(minutes)
    for good, total in parts:
        passing *= np.where(total > 0, good / np.where(total > 0, total, 1), 1.0)
    bad = journeys * (1 - passing)
    assert status.valid and status.sli is not None and status.budget is not None
    assert journey_slo.objective == 0.99
    assert status.sli == pytest.approx(1 - bad.sum() / journeys.sum(), rel=1e-9)
    assert status.budget.remaining == pytest.approx(
        1 - bad.sum() / journeys.sum() / 0.01, rel=1e-9)
    for window, length in (("1h", 60), ("1d", DAY)):
        assert status.burn_rates[window] == pytest.approx(
            bad[-length:].sum() / journeys[-length:].sum() / 0.01, rel=1e-9), window
