"""Benchmark: reading and summing a large FOCUS CSV export against a plain DuckDB GROUP BY.

Generates a FOCUS 1.0 CSV of N rows (default 1 million, about 650 MB: every FOCUS 1.0
column, hourly charges of a few hundred resources as cloud providers export them, or daily
ones with ``--granularity daily``) in a temporary folder, then times in process,
alternately, ``--repeat`` runs each:

- opsledger: ``cost_focus.read`` (DuckDB typed read, checks, sums per day and resource,
  service names from the 'application' tag by a cost_mapping rule) followed by
  ``summarise_spend`` (spend by month, service, team, invoice);
- the floor: one hand-written DuckDB query, EffectiveCost by month and ServiceName with
  ``read_csv``'s own type detection.

Prints both times (wall clock and CPU, since other work on the machine moves the wall clock),
their ratios, opsledger's peak memory (VmHWM from /proc, reset before the phase) and whether
both give the same EffectiveCost per month. Then it times the whole processes, alternately:
``opsledger cost WS --json`` over a workspace holding the file, against ``python -c`` running
the floor's query, each run once untimed first. The target lines (median, min, max of the
runs; ratio of the medians) go to ``bench/results/cost_focus.json``. Targets: within 2x of
the floor, under 600 MB. Without a target: each side's start-up (a fresh interpreter
importing every module that side's own process loads) and what is left once it is taken away.

    .venv/bin/python bench/cost_focus.py --rows 1000000
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent))
import figures
from figures import (
    MIB_PER_MB,
    Runs,
    Target,
    machine_speed,
    peak_rss_mib,
    report,
    reset_peak,
    run_process,
)

from opsledger.core.config import CostMapping, CostMappingRule
from opsledger.cost.spend import summarise_spend
from opsledger.readers import cost_focus
from opsledger.readers.cost_mapping import ServiceMapping
from opsledger.readers.focus_columns import VERSION_COLUMNS

START = datetime(2026, 1, 1, tzinfo=UTC)
RESOURCES = 600
SERVICES = 150
TARGET_RATIO = 2.0
TARGET_MB = 600
TARGET_MIB = TARGET_MB * MIB_PER_MB
# The generated tags name the service under 'application', as many organisations tag.
MAPPING = ServiceMapping(CostMapping(service=[CostMappingRule(tag="application")],
                                     team=[CostMappingRule(tag="team")]))


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value


# Every FOCUS 1.0 column, as an hourly EC2 row of a cloud export writes it; None: per row.
CONSTANT = {
    "AvailabilityZone": "eu-west-1a", "BilledCost": None, "BillingAccountId": "123456789012",
    "BillingAccountName": "Example Corp", "BillingCurrency": "USD", "BillingPeriodEnd": None,
    "BillingPeriodStart": None, "ChargeCategory": "Usage", "ChargeClass": "NULL",
    "ChargeDescription": "$0.0416 per On Demand Linux t3.medium Instance Hour",
    "ChargeFrequency": "Usage-Based", "ChargePeriodEnd": None, "ChargePeriodStart": None,
    "CommitmentDiscountCategory": "NULL", "CommitmentDiscountId": "NULL",
    "CommitmentDiscountName": "NULL", "CommitmentDiscountStatus": "NULL",
    "CommitmentDiscountType": "NULL", "ConsumedQuantity": "1", "ConsumedUnit": "Hours",
    "ContractedCost": None, "ContractedUnitPrice": "0.0416", "EffectiveCost": None,
    "InvoiceIssuerName": "Amazon Web Services, Inc.", "ListCost": None,
    "ListUnitPrice": "0.0416", "PricingCategory": "Standard", "PricingQuantity": "1",
    "PricingUnit": "Hours", "ProviderName": "AWS", "PublisherName": "Amazon Web Services, Inc.",
    "RegionId": "eu-west-1", "RegionName": "Europe (Ireland)", "ResourceId": None,
    "ResourceName": None, "ResourceType": "Instance", "ServiceCategory": "Compute",
    "ServiceName": "Amazon Elastic Compute Cloud", "SkuId": "G95FST5FTYV3JSRX",
    "SkuPriceId": "G95FST5FTYV3JSRX.JRTCKXETXF.6YS6EN2CT7", "SubAccountId": "210987654321",
    "SubAccountName": "Production", "Tags": None,
}


def generate(path: Path, rows: int, hourly: bool, seed: int = 1) -> None:
    """Write ``rows`` FOCUS 1.0 charge rows: each resource once per hour (or day)."""
    rng = random.Random(seed)
    header = VERSION_COLUMNS["1.0"]
    assert tuple(CONSTANT) == header
    # One row template: the per-row fields become str.format fields, the rest is fixed text.
    template = ",".join("{" + c + "}" if CONSTANT[c] is None
                        else _quote(str(CONSTANT[c])).replace("{", "{{").replace("}", "}}")
                        for c in header)
    resources = []
    for i in range(RESOURCES):
        service = f"service-{i % SERVICES:03d}"
        tags = json.dumps({"application": service, "team": f"team-{i % 17}",
                           "environment": "prod"})
        instance = f"i-{rng.getrandbits(64):016x}"
        resources.append({"ResourceId": f"arn:aws:ec2:eu-west-1:123456789012:instance/{instance}",
                          "ResourceName": f"{service}-node-{i}", "Tags": _quote(tags)})
    step = timedelta(hours=1) if hourly else timedelta(days=1)
    with path.open("w", encoding="utf-8", newline="\n") as handle:
        handle.write(",".join(header) + "\n")
        written, period = 0, 0
        while written < rows:
            start = START + step * period
            billing = start.replace(day=1, hour=0)
            after = (billing + timedelta(days=32)).replace(day=1)
            stamps = {name: f"{moment:%Y-%m-%dT%H:%M:%SZ}" for name, moment in (
                ("ChargePeriodStart", start), ("ChargePeriodEnd", start + step),
                ("BillingPeriodStart", billing), ("BillingPeriodEnd", after))}
            chunk = []
            for resource_fields in resources[: rows - written]:
                cost = f"{rng.uniform(0.01, 2.0):.10f}"
                chunk.append(template.format(**stamps, **resource_fields, BilledCost=cost,
                                             EffectiveCost=cost, ListCost=cost,
                                             ContractedCost=cost))
            handle.write("\n".join(chunk) + "\n")
            written += len(chunk)
            period += 1


def run_opsledger(file: Path) -> tuple[float, float, float, dict[str, float]]:
    """Return wall time, CPU time, peak memory and EffectiveCost by month of opsledger."""
    reset_peak()
    began, cpu = time.perf_counter(), cpu_seconds()
    result = cost_focus.read(file, MAPPING)
    summary = summarise_spend(result.records[0])
    elapsed, used = time.perf_counter() - began, cpu_seconds() - cpu
    peak = peak_rss_mib()
    problems = [p for p in result.problems if p.level != "warning"]
    assert not problems, problems[:3]
    assert summary.unmapped == 0 and len(summary.by_service) == min(SERVICES, RESOURCES)
    del result
    return elapsed, used, peak, summary.by_month


def run_floor(file: Path) -> tuple[float, float, dict[str, float]]:
    """Return wall and CPU time of one hand-written GROUP BY, and its EffectiveCost by month."""
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    began, cpu = time.perf_counter(), cpu_seconds()
    rows = connection.execute(
        "SELECT strftime(date_trunc('month', ChargePeriodStart), '%Y-%m') AS month, "
        "ServiceName, sum(EffectiveCost) FROM read_csv(?) GROUP BY ALL", [str(file)]
    ).fetchall()
    elapsed, used = time.perf_counter() - began, cpu_seconds() - cpu
    connection.close()
    by_month: dict[str, float] = {}
    for month, _, cost in rows:
        by_month[month] = by_month.get(month, 0.0) + cost
    return elapsed, used, by_month


FLOOR_SCRIPT = """
import sys, duckdb
con = duckdb.connect()
con.execute("SET TimeZone = 'UTC'")
rows = con.execute(
    "SELECT strftime(date_trunc('month', ChargePeriodStart), '%Y-%m') AS month, "
    "ServiceName, sum(EffectiveCost) FROM read_csv(?) GROUP BY ALL", [sys.argv[1]]).fetchall()
print(len(rows))
"""
CONFIG = """\
organisation: Bench
cost_mapping:
  service:
    - tag: application
  team:
    - tag: team
"""
OPSLEDGER = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "opsledger"


def process_targets(folder: Path, file: Path, repeat: int) -> list[Target]:
    """Time ``opsledger cost`` and the floor as whole processes, alternately."""
    workspace = folder / "workspace"
    (workspace / "costs").mkdir(parents=True)
    (workspace / "opsledger.yaml").write_text(CONFIG)
    (workspace / "costs" / file.name).symlink_to(file)
    commands = ([str(OPSLEDGER), "cost", str(workspace), "--json"],
                [sys.executable, "-c", FLOOR_SCRIPT, str(file)])
    # Each command runs once untimed first, so that neither side pays for compiling modules
    # edited since their last run or for a cold page cache.
    for command in commands:
        run_process(command)
    ours, floor = [], []
    for _ in range(repeat):  # unsampled: sampling the process tree would slow both sides
        ours.append(run_process(commands[0]))
        floor.append(run_process(commands[1]))
    peak = Runs(tuple(r.peak_mib for r in ours))
    # The month-end forecast is fitted in a worker process: its memory counts too.
    tree = Runs(tuple(run_process(commands[0], tree=True).tree_peak_mib
                     for _ in range(repeat)))
    ours_seconds = Runs(tuple(r.seconds for r in ours))
    floor_seconds = Runs(tuple(r.seconds for r in floor))
    # Start-up of the command's own process: the forecasting worker imports beside it.
    starts = [figures.start_up(command, repeat) for command in commands]
    return [
        Target("opsledger cost, whole process", ours_seconds, "s", floor=floor_seconds,
               floor_name="python + one DuckDB GROUP BY month, service",
               max_ratio=TARGET_RATIO),
        *figures.start_up_targets("opsledger cost", ours_seconds, starts[0], floor_seconds,
                                  starts[1], "the floor"),
        Target("opsledger cost, peak memory of its own process", peak, "MiB",
               limit=TARGET_MIB, limit_as_written=f"{TARGET_MB} MB"),
        Target("opsledger cost, peak memory with its workers", tree, "MiB", limit=TARGET_MIB,
               limit_as_written=f"{TARGET_MB} MB"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--granularity", choices=("hourly", "daily"), default="hourly")
    parser.add_argument("--repeat", type=int, default=3, help="runs per phase")
    args = parser.parse_args()
    speed_at_start = machine_speed()
    with tempfile.TemporaryDirectory(prefix="cost-bench-") as folder:
        file = Path(folder) / "focus.csv"
        began = time.perf_counter()
        generate(file, args.rows, args.granularity == "hourly")
        print(f"generated {args.rows:,} {args.granularity} FOCUS rows in "
              f"{time.perf_counter() - began:.1f} s ({file.stat().st_size / 2**20:,.0f} MiB CSV)")
        ours: list[tuple[float, float, float, dict[str, float]]] = []
        floor: list[tuple[float, float, dict[str, float]]] = []
        # Alternated, so that a busy moment on the machine hits both alike.
        for _ in range(args.repeat):
            ours.append(run_opsledger(file))
            floor.append(run_floor(file))
        wall, cpu = min(r[0] for r in ours), min(r[1] for r in ours)
        floor_wall, floor_cpu = min(r[0] for r in floor), min(r[1] for r in floor)
        peak = max(r[2] for r in ours)
        print(f"opsledger read + summary: {wall:6.2f} s wall, {cpu:6.2f} s CPU "
              f"({args.rows / wall / 1e6:,.2f} M rows/s); peak RSS {peak:,.0f} MiB")
        print(f"plain DuckDB GROUP BY:    {floor_wall:6.2f} s wall, {floor_cpu:6.2f} s CPU")
        print(f"ratio: {wall / floor_wall:.2f}x wall, {cpu / floor_cpu:.2f}x CPU "
              f"(target <= {TARGET_RATIO:g}x); peak {peak:,.0f} MiB "
              f"(target <= {TARGET_MB} MB = {TARGET_MIB:.1f} MiB)")
        same = ours[0][3].keys() == floor[0][2].keys() and all(
            abs(ours[0][3][m] - floor[0][2][m]) <= 1e-6 * max(1.0, abs(floor[0][2][m]))
            for m in floor[0][2])
        print("EffectiveCost by month: " + ("the same in both" if same else
                                             f"DIFFERS: {ours[0][3]} vs {floor[0][2]}"))
        targets = process_targets(Path(folder), file, args.repeat)
        targets.append(Target("read + summary in process", Runs(tuple(r[0] for r in ours)), "s",
                              floor=Runs(tuple(r[0] for r in floor)),
                              floor_name="DuckDB GROUP BY in process", max_ratio=TARGET_RATIO,
                              notes={"same_effective_cost_by_month": same}))
        report("cost_focus", targets, {"rows": args.rows, "granularity": args.granularity,
                                       "repeat": args.repeat}, speed_at_start)


if __name__ == "__main__":
    main()
