"""Benchmark: minute-bucketed SLI counts for many SLOs from a large Parquet file.

Generates N request events (default 50 million) over 30 days as Parquet in a temporary
folder, then times, in one run:

- the DuckDB engine: good/total per minute for every SLO, plus every burn window and the
  budget (``opsledger.slo.objectives.evaluate``);
- the floor: the same counts from hand-written DuckDB ``GROUP BY`` queries (one per SLO, and
  a single ``GROUP BY service, minute`` for all of them);
- a plain pandas implementation (read the columns, mask, group by minute).

Prints events per second, peak memory (VmHWM from /proc, reset before each phase) and the
ratios against the targets: engine within 1.5x of the floor, at least 8x faster than pandas,
peak memory under 1 GiB and flat as events grow.

Then, whole processes as a user runs them (``--repeat`` times each, median, min and max):
``opsledger slo status`` over a workspace holding the file and the SLOs, beside the floor, a
``python`` process running the hand-written DuckDB ``GROUP BY``. Target: within 1.2x.
Beside it, without a target, each side's start-up (a fresh interpreter importing every module
that side loads, and nothing else) and what is left of each side's time once it is taken away.
With ``--spark``, ``slo status --engine spark`` runs with one SLO and with all of them, and
the Spark engine's per-SLO overhead is printed: (time with N - time with 1) / (N - 1).
Figures go to ``bench/results/sli_engine.json``.

    .venv/bin/python bench/sli_engine.py --events 30000000 --slos 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures
from figures import Runs, Target, machine_speed, peak_rss_mib, report, reset_peak, run_process

from opsledger.engines.duckdb_engine import DuckDbEngine
from opsledger.model.slo import DuckDbSource, Slo, SloWindow
from opsledger.slo.objectives import evaluate, evaluation_span

NOW = datetime(2026, 3, 31, tzinfo=UTC)
DAYS = 30
CHUNK = 4_000_000


def generate(path: Path, events: int, services: int, seed: int = 1) -> None:
    """Write ``events`` requests, time-ordered, in 1M-row row groups."""
    rng = np.random.default_rng(seed)
    names = pa.array([f"service-{i:02d}" for i in range(services)])
    start_us = int((NOW - timedelta(days=DAYS)).timestamp() * 1_000_000)
    span_us = DAYS * 86_400 * 1_000_000
    schema = pa.schema(
        [
            ("ts", pa.timestamp("us", tz="UTC")),
            ("service", pa.dictionary(pa.int16(), pa.string())),
            ("status", pa.int16()),
            ("latency_ms", pa.float32()),
        ]
    )
    weights = rng.dirichlet(np.ones(services) * 2)
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        done = 0
        while done < events:
            size = min(CHUNK, events - done)
            lo = start_us + span_us * done // events
            hi = start_us + span_us * (done + size) // events
            ts = np.sort(rng.integers(lo, hi, size))
            service = rng.choice(services, size, p=weights).astype(np.int16)
            failing = rng.random(size) < np.where(rng.random(size) < 0.002, 0.5, 0.001)
            status = np.where(failing, 503, 200).astype(np.int16)
            latency = rng.lognormal(4.0, 0.6, size).astype(np.float32)
            batch = pa.record_batch(
                [
                    pa.array(ts, type=pa.timestamp("us", tz="UTC")),
                    pa.DictionaryArray.from_arrays(pa.array(service), names),
                    pa.array(status),
                    pa.array(latency),
                ],
                schema=schema,
            )
            writer.write_batch(batch, row_group_size=1_000_000)
            done += size


def slos_for(services: int, relative: str) -> list[Slo]:
    slos = []
    for i in range(services):
        name = f"service-{i:02d}"
        mine = f"service = '{name}'"
        source = DuckDbSource(relative, "ts", good=f"{mine} AND status < 500", total=mine)
        slos.append(Slo(name, "availability", 0.999, SloWindow(DAYS), source))
    return slos


def run_engine(
    root: Path, slos: list[Slo], one_by_one: bool = False
) -> tuple[float, float, dict[str, float]]:
    """Return time, peak memory and SLIs of the engine (one scan, or one query per SLO)."""
    reset_peak()
    began = time.perf_counter()
    engine = DuckDbEngine(root)
    start, end = evaluation_span(slos[0], NOW)
    if one_by_one:
        counted = {slo.key: engine.series(slo, start, end) for slo in slos}
    else:
        counted = engine.series_many(slos, start, end)
    slis = {}
    for slo in slos:
        status = evaluate(slo, counted[slo.key], NOW)  # SLI, budget, every burn window
        slis[slo.key] = status.sli if status.sli is not None else float("nan")
    engine.close()
    return time.perf_counter() - began, peak_rss_mib(), slis


def run_floor(file: Path, slos: list[Slo], one_by_one: bool = False) -> float:
    """Return the time of one hand-written GROUP BY (or one per SLO) giving the same counts."""
    con = duckdb.connect()
    con.execute("SET memory_limit = '512MB'")
    start_us = int((NOW - timedelta(days=DAYS)).timestamp() * 1_000_000)
    began = time.perf_counter()
    if one_by_one:
        for slo in slos:
            con.execute(
                f"SELECT (epoch_us(ts) - {start_us}) // 60000000 AS m, "
                "count(*) FILTER (WHERE status < 500), count(*) "
                f"FROM read_parquet('{file}') WHERE service = '{slo.service}' GROUP BY m"
            ).fetchnumpy()
    else:
        con.execute(
            f"SELECT service, (epoch_us(ts) - {start_us}) // 60000000 AS m, "
            "count(*) FILTER (WHERE status < 500), count(*) "
            f"FROM read_parquet('{file}') GROUP BY service, m"
        ).fetchnumpy()
    elapsed = time.perf_counter() - began
    con.close()
    return elapsed


def run_pandas(file: Path, slos: list[Slo]) -> tuple[float, float, dict[str, float]]:
    reset_peak()
    began = time.perf_counter()
    frame = pd.read_parquet(file, columns=["ts", "service", "status"])
    start = pd.Timestamp(NOW - timedelta(days=DAYS))
    minutes = ((frame["ts"] - start) // pd.Timedelta(minutes=1)).astype("int64")
    slis = {}
    for slo in slos:
        mine = frame["service"] == slo.service
        grouped = (
            pd.DataFrame({"minute": minutes[mine], "good": frame["status"][mine] < 500})
            .groupby("minute")["good"]
            .agg(["sum", "count"])
        )
        slis[slo.key] = float(grouped["sum"].sum() / grouped["count"].sum())
    elapsed = time.perf_counter() - began
    del frame, minutes
    return elapsed, peak_rss_mib(), slis


FLOOR_SCRIPT = """
import sys, duckdb
con = duckdb.connect()
rows = con.execute(
    "SELECT service, (epoch_us(ts) - " + sys.argv[2] + ") // 60000000 AS m, "
    "count(*) FILTER (WHERE status < 500), count(*) "
    "FROM read_parquet('" + sys.argv[1] + "') GROUP BY service, m").fetchnumpy()
print(len(rows["m"]))
"""
OPSLEDGER = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "opsledger"


def write_slo_file(root: Path, services: int, relative: str) -> None:
    """Write the benchmark's SLOs as a native ``slos/`` file of the workspace at ``root``."""
    lines = ["slos:"]
    for i in range(services):
        name = f"service-{i:02d}"
        lines += [f"  - service: {name}", "    name: availability", "    objective: 0.999",
                  f"    window: {DAYS}d", "    indicator:", "      duckdb:",
                  f"        path: {relative}", "        timestamp: ts",
                  f"        good: service = '{name}' AND status < 500",
                  f"        total: service = '{name}'"]
    (root / "slos").mkdir(exist_ok=True)
    (root / "slos" / "slos.yaml").write_text("\n".join(lines) + "\n")


def status_argv(root: Path, engine: str = "duckdb") -> list[str]:
    return [str(OPSLEDGER), "slo", "status", str(root), "--now", NOW.isoformat(), "--json",
            "--engine", engine]


def process_targets(root: Path, file: Path, slos: int, repeat: int,
                    spark: bool) -> list[Target]:
    """Time ``slo status`` and the floor as whole processes, alternately."""
    write_slo_file(root, slos, "telemetry/requests.parquet")
    start_us = str(int((NOW - timedelta(days=DAYS)).timestamp() * 1_000_000))
    floor_argv = [sys.executable, "-c", FLOOR_SCRIPT, str(file), start_us]
    ours, floor = [], []
    for _ in range(repeat):
        ours.append(run_process(status_argv(root)))
        floor.append(run_process(floor_argv))
    ours_runs = Runs(tuple(r.seconds for r in ours))
    floor_runs = Runs(tuple(r.seconds for r in floor))
    targets = [Target(f"slo status, {slos} SLOs, whole process", ours_runs, "s", floor=floor_runs,
                      floor_name="python + one DuckDB GROUP BY service, minute", max_ratio=1.2,
                      notes={"peak_mib": max(r.peak_mib for r in ours)})]
    our_start = figures.start_up(status_argv(root), repeat)
    floor_start = figures.start_up(floor_argv, repeat)
    targets += figures.start_up_targets("slo status", ours_runs, our_start, floor_runs,
                                        floor_start, "the floor")
    if spark:
        write_slo_file(root, 1, "telemetry/requests.parquet")
        one = Runs(tuple(run_process(status_argv(root, "spark")).seconds for _ in range(repeat)))
        write_slo_file(root, slos, "telemetry/requests.parquet")
        many = Runs(tuple(run_process(status_argv(root, "spark")).seconds for _ in range(repeat)))
        per_slo = (many.median - one.median) / max(slos - 1, 1)
        targets.append(Target(f"spark engine per-SLO overhead ({slos} SLOs vs 1)",
                              Runs((per_slo,)), "s",
                              notes={"one_slo": one.to_json(), "all_slos": many.to_json()}))
    return targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--slos", type=int, default=20)
    parser.add_argument("--skip-pandas", action="store_true")
    parser.add_argument("--per-slo", action="store_true", help="also time one query per SLO")
    parser.add_argument("--repeat", type=int, default=3, help="runs per phase")
    parser.add_argument("--spark", action="store_true", help="also time the Spark engine")
    args = parser.parse_args()
    speed_at_start = machine_speed()
    with tempfile.TemporaryDirectory(prefix="sli-bench-") as folder:
        root = Path(folder)
        file = root / "telemetry" / "requests.parquet"
        file.parent.mkdir()
        began = time.perf_counter()
        generate(file, args.events, args.slos)
        print(
            f"generated {args.events:,} events in {time.perf_counter() - began:.1f} s "
            f"({file.stat().st_size / 2**20:.0f} MiB Parquet)"
        )
        slos = slos_for(args.slos, "telemetry/requests.parquet")
        # Best of --repeat runs each, so the first (cold) run does not decide the ratio.
        runs = [run_engine(root, slos) for _ in range(args.repeat)]
        engine_s = min(r[0] for r in runs)
        engine_mib = max(r[1] for r in runs)
        engine_slis = runs[0][2]
        floor_s = min(run_floor(file, slos) for _ in range(args.repeat))
        print(
            f"engine:  {engine_s:7.2f} s for {len(slos)} SLOs + every burn window, one scan "
            f"({args.events / engine_s / 1e6:,.2f} M events/s); peak RSS {engine_mib:,.0f} MiB"
        )
        print(
            f"floor:   {floor_s:7.2f} s one hand-written GROUP BY service, minute "
            f"(engine/floor = {engine_s / floor_s:.2f}x, target <= 1.5x)"
        )
        if args.per_slo:
            each_s, each_mib, _ = run_engine(root, slos, one_by_one=True)
            each_floor = run_floor(file, slos, one_by_one=True)
            print(
                f"per SLO: {each_s:7.2f} s engine one query per SLO (peak {each_mib:,.0f} MiB); "
                f"{each_floor:.2f} s hand-written ({each_s / each_floor:.2f}x)"
            )
        if not args.skip_pandas:
            pandas_s, pandas_mib, pandas_slis = run_pandas(file, slos)
            worst = max(abs(engine_slis[k] - pandas_slis[k]) for k in engine_slis)
            print(
                f"pandas:  {pandas_s:7.2f} s; peak RSS {pandas_mib:,.0f} MiB "
                f"(pandas/engine = {pandas_s / engine_s:.1f}x, target >= 8x); "
                f"largest SLI difference {worst:.2e}"
            )
        print(f"memory:  engine peak {engine_mib:,.0f} MiB (target < 1024 MiB)")
        targets = process_targets(root, file, args.slos, args.repeat, args.spark)
        targets.append(Target("engine in process (one scan, every burn window)",
                              Runs(tuple(r[0] for r in runs)), "s",
                              floor=Runs((floor_s,)), floor_name="DuckDB GROUP BY in process",
                              max_ratio=1.5, notes={"peak_mib": engine_mib}))
        report("sli_engine", targets, {"events": args.events, "slos": args.slos,
                                       "repeat": args.repeat}, speed_at_start)


if __name__ == "__main__":
    main()
