"""Demo A/B experiments: definitions in ``experiments/`` and per-unit observations.

Three experiments, each showing one outcome of the analysis:

- ``checkout-one-page`` (completed): a clear winner on conversion (+16 % relative) with a
  latency guardrail that holds; observations in Parquet.
- ``search-ranking-v2`` (running): a true effect of about 1 %, too small to tell yet, with
  a pre-period covariate (orders in the month before) that CUPED uses; CSV.
- ``recommendations-carousel`` (running): a logging bug loses about 9 % of the treatment's
  sessions, so the sample ratio mismatch check invalidates it; CSV.

Units are assigned with :func:`opsledger.experiments.service.assign`, as a service would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from opsledger.core.fileio import atomic_write_bytes, atomic_write_text, csv_text
from opsledger.demo.world import World
from opsledger.experiments.service import assign
from opsledger.model.experiments import ExperimentDefinition

FOLDER = "experiments"


def _generator(world: World, purpose: str) -> np.random.Generator:
    return np.random.default_rng(world.rng(f"experiments:{purpose}").getrandbits(64))


def _owner(world: World, team: str) -> str:
    members = [p for p in world.people if p.team == team]
    return (members[0] if members else world.people[0]).name


def write_experiments(world: World, root: Path) -> list[Path]:
    """Write the experiment definitions and their observations."""
    folder = root / FOLDER
    written: list[Path] = []
    builders: list[Callable[[World], tuple[dict[str, Any], Any]]] = [
        _checkout, _search, _carousel,
    ]
    for build in builders:
        document, write_observations = build(world)
        definition = ExperimentDefinition.model_validate(document)
        path = folder / f"{definition.name}.yaml"
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=96)
        atomic_write_text(path, text)
        written.append(path)
        written.append(write_observations(definition, folder / definition.name))
    return written


def _dates(world: World, start_days_ago: int, end_days_from_now: int) -> dict[str, str]:
    today = world.now.date()
    return {
        "start": (today - timedelta(days=start_days_ago)).isoformat(),
        "end": (today + timedelta(days=end_days_from_now)).isoformat(),
    }


def _units(prefix: str, count: int, rng: np.random.Generator) -> list[str]:
    first = int(rng.integers(100_000, 900_000))
    return [f"{prefix}{first + i:07d}" for i in range(count)]


def _checkout(world: World) -> tuple[dict[str, Any], Any]:
    document = {
        "name": "checkout-one-page",
        "hypothesis": "A one-page checkout raises conversion without slowing the page.",
        "unit": "user",
        "variants": [{"name": "control", "weight": 0.5}, {"name": "one-page", "weight": 0.5}],
        "primary_metric": {"name": "converted", "kind": "binary", "direction": "increase",
                           "baseline": {"mean": 0.10}},
        "secondary_metrics": [{"name": "revenue", "kind": "continuous"}],
        "guardrail_metrics": [{"name": "latency_ms", "kind": "continuous",
                               "direction": "decrease", "tolerance": 0.05,
                               "tolerance_scale": "relative"}],
        "alpha": 0.05,
        "power": 0.8,
        "minimum_detectable_effect": {"value": 0.10, "scale": "relative"},
        **_dates(world, 42, -7),
        "salt": "c7f1e2",
        "correction": "holm",
        "traffic": {"source": "telemetry/requests", "service": "checkout",
                    "units_per_request": 0.25},
        "owner": _owner(world, "payments"),
        "status": "completed",
    }

    def write(definition: ExperimentDefinition, folder: Path) -> Path:
        rng = _generator(world, definition.name)
        units = _units("u", 32_000, rng)
        variants = np.array([assign(u, definition) for u in units], dtype=object)
        treated = variants == "one-page"
        converted = rng.random(len(units)) < np.where(treated, 0.116, 0.100)
        order_value = rng.lognormal(np.log(60.0), 0.5, len(units))
        revenue = np.where(converted, order_value, 0.0)
        latency = rng.lognormal(np.log(180.0), 0.35, len(units)) * np.where(treated, 1.005, 1.0)
        table = pa.table({
            "unit_id": pa.array(units, pa.string()),
            "variant": pa.array(list(variants), pa.string()),
            "converted": pa.array(converted.astype(np.int8)),
            "revenue": pa.array(np.round(revenue, 2)),
            "latency_ms": pa.array(np.round(latency, 1)),
        })
        sink = pa.BufferOutputStream()
        pq.write_table(table, sink, compression="zstd")
        path = folder / "observations.parquet"
        atomic_write_bytes(path, sink.getvalue().to_pybytes())
        return path

    return document, write


def _search(world: World) -> tuple[dict[str, Any], Any]:
    document = {
        "name": "search-ranking-v2",
        "hypothesis": "Ranking by purchase history raises orders per user.",
        "unit": "user",
        "variants": [{"name": "control", "weight": 0.5}, {"name": "ranked", "weight": 0.5}],
        "primary_metric": {"name": "orders", "kind": "continuous", "direction": "increase"},
        "guardrail_metrics": [{"name": "latency_ms", "kind": "continuous",
                               "direction": "decrease", "tolerance": 0.10}],
        "alpha": 0.05,
        "power": 0.8,
        "minimum_detectable_effect": {"value": 0.05, "scale": "relative"},
        **_dates(world, 10, 18),
        "salt": "5e4rch",
        "covariate": "pre_orders",
        "correction": "benjamini-hochberg",
        "traffic": {"source": "telemetry/requests", "service": "api-gateway",
                    "units_per_request": 0.3},
        "owner": _owner(world, "storefront"),
        "status": "running",
    }

    def write(definition: ExperimentDefinition, folder: Path) -> Path:
        rng = _generator(world, definition.name)
        units = _units("u", 6_000, rng)
        variants = [assign(u, definition) for u in units]
        treated = np.array([v == "ranked" for v in variants])
        # A user's ordering habit drives both months: what makes the covariate useful.
        propensity = rng.gamma(2.0, 1.0, len(units))
        pre_orders = rng.poisson(propensity)
        orders = rng.poisson(propensity * np.where(treated, 1.01, 1.0))
        latency = rng.lognormal(np.log(120.0), 0.3, len(units))
        rows = [
            (u, v, int(o), int(p), f"{lat:.1f}")
            for u, v, o, p, lat in zip(units, variants, orders, pre_orders, latency, strict=True)
        ]
        path = folder / "observations.csv"
        header = ["unit_id", "variant", "orders", "pre_orders", "latency_ms"]
        atomic_write_text(path, csv_text(header, rows))
        return path

    return document, write


def _carousel(world: World) -> tuple[dict[str, Any], Any]:
    document = {
        "name": "recommendations-carousel",
        "hypothesis": "A carousel of recommendations on the home page raises click-through.",
        "unit": "session",
        "variants": [{"name": "control", "weight": 1}, {"name": "carousel", "weight": 1}],
        "primary_metric": {"name": "clicked", "kind": "binary", "baseline": {"mean": 0.2}},
        "alpha": 0.05,
        "power": 0.8,
        "minimum_detectable_effect": {"value": 0.02, "scale": "absolute"},
        **_dates(world, 20, 2),
        "salt": "ca20u5e1",
        "owner": _owner(world, "growth"),
        "status": "running",
    }

    def write(definition: ExperimentDefinition, folder: Path) -> Path:
        rng = _generator(world, definition.name)
        units = _units("s", 12_000, rng)
        variants = np.array([assign(u, definition) for u in units], dtype=object)
        treated = variants == "carousel"
        # The bug: sessions whose carousel failed to render never log an exposure.
        logged = ~(treated & (rng.random(len(units)) < 0.09))
        clicked = rng.random(len(units)) < np.where(treated, 0.215, 0.2)
        rows = [
            (u, v, int(c))
            for u, v, c, keep in zip(units, variants, clicked, logged, strict=True)
            if keep
        ]
        path = folder / "observations.csv"
        atomic_write_text(path, csv_text(["unit_id", "variant", "clicked"], rows))
        return path

    return document, write
