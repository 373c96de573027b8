"""The command line loads no heavy library until a command that needs one runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("pandas", "scipy", "statsforecast", "matplotlib", "pyarrow", "duckdb", "sklearn",
         "pyspark", "univers", "statsmodels")


def loaded_after(statement: str) -> set[str]:
    probe = f"import sys\n{statement}\nprint(' '.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)
    return set(done.stdout.split())


def test_importing_the_command_line_loads_no_heavy_library() -> None:
    loaded = loaded_after("import opsledger.cli.main")
    assert not [name for name in HEAVY if name in loaded]
    # The demo command's sizes, not the world a demo workspace is generated from.
    assert "opsledger.demo.sizes" in loaded
    assert "opsledger.demo.world" not in loaded


def test_version_and_help_build_every_command_without_heavy_libraries() -> None:
    # Building the Click command tree resolves every option's type, as --help does.
    loaded = loaded_after(
        "import typer.main\nfrom opsledger.cli.main import app\n"
        "group = typer.main.get_command(app)\n"
        "built = [group.commands[name] for name in group.commands]\n"
        "assert len(built) > 15 and 'slo' in group.commands"
    )
    assert not [name for name in HEAVY if name in loaded]


def test_a_command_still_finds_what_it_imports_late() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "opsledger.cli.main", "experiment", "plan", "--help"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Sample size" in done.stdout


def test_slo_status_over_event_files_loads_no_http_client_cron_parser_or_spark_dialect(
    tmp_path: Path,
) -> None:
    (tmp_path / "telemetry").mkdir()
    (tmp_path / "telemetry" / "requests.csv").write_text(
        "ts,service,status\n"
        + "".join(f"2026-03-30T{m // 60:02d}:{m % 60:02d}:00Z,checkout,{503 if m < 60 else 200}\n"
                  for m in range(24 * 60)))
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "slos.yaml").write_text(
        "slos:\n  - service: checkout\n    name: availability\n    objective: 0.99\n"
        "    window: 7d\n    indicator:\n      duckdb:\n        path: telemetry/requests.csv\n"
        "        timestamp: ts\n        good: status < 500\n        total: 'true'\n")
    probe = (
        "import sys\nfrom opsledger.cli.main import app\n"
        f"argv = ['slo', 'status', {str(tmp_path)!r}, '--now', '2026-03-31T00:00:00Z', '--json']\n"
        "try:\n    app(argv)\nexcept SystemExit as end:\n    assert not end.code, end.code\n"
        "print(' '.join(sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)
    status = json.loads(done.stdout)
    assert status[0]["sli"] == pytest.approx(23 / 24)
    loaded = set(done.stderr.split())
    assert not {"requests", "urllib3", "croniter", "sqlglot.dialects.spark"} & loaded
    # JSON into a pipe: no table, no spinner, so no Rich.
    assert not {m for m in loaded if m == "rich" or m.startswith("rich.")}
    # Of the command line's modules, only the command's own.
    assert {m for m in loaded if m.startswith("opsledger.cli.")} == {
        "opsledger.cli.common", "opsledger.cli.loading", "opsledger.cli.main",
        "opsledger.cli.slo"}


def test_slo_status_of_promql_slos_loads_no_event_engine(tmp_path: Path) -> None:
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "slos.yaml").write_text(
        "slos:\n  - service: checkout\n    name: availability\n    objective: 0.99\n"
        "    window: 7d\n    indicator:\n      prometheus: {good: ok_total, total: all_total}\n")
    # Nothing listens on the discard port: the query fails at once, the SLO is invalid.
    probe = (
        "import sys\nfrom opsledger.cli.main import app\n"
        f"argv = ['slo', 'status', {str(tmp_path)!r}, '--prometheus', 'http://127.0.0.1:9',"
        " '--json']\n"
        "try:\n    app(argv)\nexcept SystemExit as end:\n"
        "    assert end.code in (0, 1, None), end.code\n"
        "print(' '.join(sys.modules), file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True, timeout=120)
    [status] = json.loads(done.stdout)
    assert status["valid"] is False and "127.0.0.1:9" in " ".join(status["reasons"])
    loaded = set(done.stderr.split())
    assert "requests" in loaded
    assert not {"duckdb", "sqlglot", "pyspark"} & loaded


def test_erlang_c_staffing_and_wilson_intervals_load_no_scipy() -> None:
    # A review's own process sizes queues with Erlang C and weighs alert noise with Wilson
    # intervals; only Erlang A (callers who abandon) needs scipy.special.
    loaded = loaded_after(
        "from opsledger.support.staffing import erlang_c\n"
        "from opsledger.slo.confidence import share_evidence\n"
        "assert 0 < erlang_c(5, 3.0) < 1\n"
        "assert 0 < share_evidence('acted on', 3, 10).low < 0.3\n")
    assert "scipy" not in loaded
