"""SLI predicates from workspace files cannot run statements, write files or run forever.

Each attack below rewrote ``opsledger.yaml``, created a database file, wrote beside the
current folder or called into the JVM before predicates were parsed; each is now refused
with a message naming the SLO's file and line and the construct, and nothing is written.
"""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
import typer
from typer.testing import CliRunner

from opsledger.cli.slo import app
from opsledger.core.config import Config, EngineChoice
from opsledger.core.errors import EngineError
from opsledger.engines.choice import event_engine
from opsledger.engines.duckdb_engine import DuckDbEngine
from opsledger.engines.predicates import PredicateRefused, SqlDialect, parse_predicate
from opsledger.model.slo import DuckDbSource, Slo, SloWindow

from ..slo.slo_events import MINUTES, START, generate, write_parquet

NOW = START + timedelta(minutes=MINUTES)
SPAN = (START, NOW)
EVENTS = "telemetry/requests/*.parquet"
CONFIG = "version: 1\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    write_parquet(generate(seed=5), root / "telemetry" / "requests" / "events.parquet")
    (root / "opsledger.yaml").write_text(CONFIG)
    (root / ".opsledger").mkdir()
    return root


def slo(good: str | None = None, bad: str | None = None, total: str | None = None) -> Slo:
    return Slo(
        "checkout",
        "availability",
        0.99,
        SloWindow(days=1),
        DuckDbSource(EVENTS, "ts", good=good, bad=bad, total=total),
        source_path="slos/checkout.yaml",
        source_line=4,
    )


def stacked(root: Path, statement: str) -> str:
    """A ``good`` predicate that closes the FILTER, ends the query and stacks ``statement``."""
    return (
        f"TRUE)) AS good, count(*) AS total FROM read_parquet('{root}/{EVENTS}') GROUP BY ALL; "
        f"{statement}; SELECT 0 AS minute, 1 AS good, 1 AS total --"
    )


def untouched(root: Path) -> None:
    assert (root / "opsledger.yaml").read_text() == CONFIG
    assert list((root / ".opsledger").iterdir()) == []


# --- finding 1: stacked statements --------------------------------------------------------


def test_stacked_copy_over_opsledger_yaml_is_refused(workspace: Path) -> None:
    attack = stacked(
        workspace,
        f"COPY (SELECT 'engine: spark' AS x) TO '{workspace}/opsledger.yaml' "
        "(FORMAT csv, HEADER false)",
    )
    with pytest.raises(PredicateRefused) as refused:
        DuckDbEngine(workspace).series(slo(good=attack), *SPAN)
    message = str(refused.value)
    assert message.startswith("checkout/availability (defined at slos/checkout.yaml:4)")
    assert "good predicate was refused" in message and "';' is not allowed" in message
    untouched(workspace)


def test_stacked_attach_is_refused(workspace: Path) -> None:
    attack = stacked(workspace, f"ATTACH '{workspace}/.opsledger/evil.db' AS evil")
    with pytest.raises(PredicateRefused, match="not allowed"):
        DuckDbEngine(workspace).series(slo(good=attack), *SPAN)
    untouched(workspace)


def test_openslo_filter_closing_the_where_is_refused(workspace: Path) -> None:
    # An OpenSLO spec.filter becomes the total predicate, pasted after WHERE ... AND (.
    attack = (
        f"TRUE) GROUP BY minute; COPY (SELECT 1) TO '{workspace}/.opsledger/x.csv'; "
        "SELECT 0 AS minute, 1 AS good, 1 AS total --"
    )
    with pytest.raises(PredicateRefused, match="the total predicate was refused"):
        DuckDbEngine(workspace).series(slo(bad="status >= 500", total=attack), *SPAN)
    untouched(workspace)


@pytest.mark.parametrize(
    ("predicate", "construct"),
    [
        ("COPY (SELECT 1) TO 'x.csv'", "a COPY statement"),
        ("status IN (SELECT 1 FROM read_csv('/etc/passwd'))", "a subquery"),
        ("EXISTS (SELECT 1)", "EXISTS"),
        ("read_text('/etc/passwd') IS NOT NULL", "function 'read_text'"),
        ("getenv('HOME') IS NOT NULL", "function 'getenv'"),
        ("status < 500 -- and the rest", "a comment"),
        ("status /* hidden */ < 500", "a comment"),
        ("count(*) > 0", "function 'count'"),
        ("status = ?", "a placeholder"),
        ("CAST(status AS INT[]) IS NULL", "a cast to"),
        ("", "empty"),
    ],
)
def test_each_forbidden_construct_is_named(workspace: Path, predicate: str, construct: str) -> None:
    with pytest.raises(PredicateRefused) as refused:
        DuckDbEngine(workspace).series(slo(good=predicate), *SPAN)
    assert construct in str(refused.value)
    assert "(defined at slos/checkout.yaml:4)" in str(refused.value)


def test_allowed_predicates_still_count(workspace: Path) -> None:
    engine = DuckDbEngine(workspace)
    plain = engine.series(slo(good="status < 500", total="service = 'checkout'"), *SPAN)
    spelled = engine.series(
        slo(
            good="CASE WHEN lower(\"service\") LIKE 'check%' THEN status::INT BETWEEN 0 AND 499 "
            "ELSE coalesce(status, 0) IN (200, 201) END",
            total="starts_with(service, 'check') AND status IS NOT NULL",
        ),
        *SPAN,
    )
    assert plain.total.sum() > 0
    assert (plain.good == spelled.good).all() and (plain.total == spelled.total).all()
    engine.close()


def test_the_query_is_rendered_from_the_tree(workspace: Path) -> None:
    engine = DuckDbEngine(workspace)
    sql = engine.query_sql(slo(good="status<500 AND service ilike 'CHECK%'"), *SPAN)
    assert "status < 500 AND service ILIKE 'CHECK%'" in sql  # sqlglot's spelling, not the user's
    engine.close()


def test_refusal_reaches_slo_status_as_an_invalid_slo(workspace: Path) -> None:
    (workspace / "slos").mkdir()
    attack = stacked(workspace, f"COPY (SELECT 1) TO '{workspace}/opsledger.yaml'")
    definition = {
        "slos": [
            {
                "service": "checkout",
                "name": "availability",
                "objective": 99,
                "window": "1d",
                "indicator": {"duckdb": {"path": EVENTS, "good": attack}},
            }
        ]
    }
    (workspace / "slos" / "slos.yaml").write_text(json.dumps(definition))
    root = typer.Typer()
    root.add_typer(app, name="slo")
    result = CliRunner().invoke(
        root, ["slo", "status", str(workspace), "--json", "--now", NOW.isoformat()]
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)
    [status] = json.loads(result.stdout)
    assert status["valid"] is False
    assert "slos/slos.yaml" in status["reasons"][0] and "refused" in status["reasons"][0]
    untouched(workspace)


# --- finding 2: the sandbox has no side doors --------------------------------------------


def test_connection_cannot_write_beside_the_cwd_or_in_the_workspace(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Even a statement that got past the predicate check (here: run directly on the
    # connection) cannot write to <cwd>/.tmp, the workspace root or .opsledger/.
    cwd = tmp_path / "cwd"
    (cwd / ".tmp").mkdir(parents=True)
    monkeypatch.chdir(cwd)
    engine = DuckDbEngine(workspace)
    engine.relation_sql(DuckDbSource(EVENTS))
    con = engine.connection
    spill = engine.spill_directory
    assert spill is not None and spill.is_dir() and not spill.is_relative_to(workspace)
    settings = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('temp_directory', 'allowed_directories', 'enable_external_access', "
            "'lock_configuration', 'autoload_known_extensions')"
        ).fetchall()
    )
    assert settings["temp_directory"] == str(spill)
    assert ".tmp" not in settings["allowed_directories"]
    assert f"{workspace}/telemetry/requests/" in settings["allowed_directories"]
    assert settings["enable_external_access"] == "false"
    assert settings["lock_configuration"] == "true"
    targets = [
        cwd / ".tmp" / "x.csv",
        Path(".tmp/y.csv"),
        workspace / "opsledger.yaml",
        workspace / ".opsledger" / "z.csv",
    ]
    for target in targets:
        with pytest.raises(duckdb.Error, match="disabled by configuration"):
            con.execute(f"COPY (SELECT 1 AS x) TO '{target}'")
    for setting in ("allowed_directories = ['/']", "enable_external_access = true"):
        with pytest.raises(duckdb.Error, match="locked"):
            con.execute(f"SET {setting}")
    assert list((cwd / ".tmp").iterdir()) == []
    untouched(workspace)
    engine.close()
    assert not spill.exists()


def test_a_spilling_query_writes_only_to_the_private_folder(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = DuckDbEngine(workspace, memory_limit="32MB", threads=1)
    rows = engine.connection.execute(
        "SELECT count(*) FROM (SELECT i, md5(i::VARCHAR) AS h FROM range(3000000) t(i) ORDER BY h)"
    ).fetchone()
    assert rows == (3_000_000,)
    assert not (tmp_path / ".tmp").exists()
    spill = engine.spill_directory
    engine.close()
    assert spill is not None and not spill.exists()


def test_a_new_folder_of_events_gets_a_new_connection(workspace: Path) -> None:
    write_parquet(generate(seed=6), workspace / "other" / "events.parquet")
    engine = DuckDbEngine(workspace)
    first = engine.series(slo(good="status < 500"), *SPAN)
    other = Slo("checkout", "other", 0.99, SloWindow(days=1), DuckDbSource("other", "ts", "TRUE"))
    second = engine.series(other, *SPAN)
    assert first.total.sum() > 0 and second.total.sum() > 0
    engine.close()


# --- finding 5 (DuckDB part): the statement deadline -------------------------------------


def test_a_slow_query_is_interrupted_at_the_deadline(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rows without end: a relation no deadline-free query could finish.
    endless = (
        "(SELECT TIMESTAMPTZ '2026-03-01 00:00:00+00' + to_microseconds(i % 3600000000) AS ts, "
        "(i % 600)::INTEGER AS status FROM range(9000000000000000) r(i))"
    )
    engine = DuckDbEngine(workspace, deadline_seconds=1)
    monkeypatch.setattr(engine, "relation_sql", lambda source: endless)
    began = time.monotonic()
    with pytest.raises(
        EngineError,
        match=r"SLI query for SLO checkout/availability .*"
        r"exceeded the 1 s deadline",
    ):
        engine.series(slo(good="status < 500"), *SPAN)
    assert time.monotonic() - began < 15
    # The connection stays usable after the interrupt.
    assert engine.connection.execute("SELECT 42").fetchone() == (42,)
    engine.close()


def test_a_shared_scan_past_its_deadline_is_not_repeated_per_slo(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    endless = (
        "(SELECT TIMESTAMPTZ '2026-03-01 00:00:00+00' + to_microseconds(i % 3600000000) AS ts, "
        "(i % 600)::INTEGER AS status, 'x' || (i % 7)::VARCHAR AS service "
        "FROM range(9000000000000000) r(i))"
    )
    engine = DuckDbEngine(workspace, deadline_seconds=1)
    monkeypatch.setattr(engine, "relation_sql", lambda source: endless)
    many = [slo(good="status < 500"), slo(good="status < 400")]
    many[1] = Slo("checkout", "stricter", 0.99, SloWindow(days=1), many[1].indicator)
    began = time.monotonic()
    with pytest.raises(EngineError, match="deadline"):
        engine.series_many(many, *SPAN)
    with pytest.raises(EngineError, match="deadline"):
        engine.series(many[1], *SPAN)  # answered from the expired scan, not scanned again
    assert time.monotonic() - began < 15
    engine.close()


def test_the_deadline_is_configured_in_opsledger_yaml(tmp_path: Path) -> None:
    assert Config().sli_query_deadline_seconds == 300
    assert Config(sli_query_deadline_seconds=2).sli_query_deadline_seconds == 2
    with pytest.raises(ValueError, match="greater than 0"):
        Config(sli_query_deadline_seconds=0)
    engine = event_engine(EngineChoice.DUCKDB, tmp_path, deadline_seconds=7)
    assert isinstance(engine, DuckDbEngine) and engine.deadline_seconds == 7


# --- finding 3: Spark, checked without a JVM ----------------------------------------------


@pytest.mark.parametrize(
    "predicate",
    [
        "reflect('java.lang.System', 'getenv', 'PATH') IS NOT NULL",
        "`java_method`('java.lang.System', 'getenv', 'PATH') IS NOT NULL",
        "`JAVA_METHOD`('java.lang.System', 'getenv', 'PATH') IS NOT NULL",
        "reflect/**/('java.lang.System', 'getenv', 'PATH') IS NOT NULL",
        "Try_Reflect ('java.io.File', 'createTempFile', 'x', 'y') IS NULL",
        "java_method\n('java.lang.Thread', 'sleep', 1000000) IS NULL",
        "my_registered_udf(status) > 0",
        # Closing the FILTER moves the call into the WHERE clause of the query.
        "TRUE)) AS total_0 FROM opsledger_events_0 "
        "WHERE java_method('java.lang.System', 'getenv', 'PATH') IS NOT NULL GROUP BY 1 --",
        "status < 500 AND (SELECT java_method('java.lang.System', 'exit', 1)) IS NULL",
        "status IN (SELECT reflect('java.lang.System', 'getenv', 'PATH'))",
    ],
)
def test_spark_predicates_cannot_reach_the_jvm(predicate: str) -> None:
    with pytest.raises(PredicateRefused, match=r"not allowed|not one SQL expression"):
        parse_predicate(predicate, SqlDialect.SPARK)


def test_spark_reads_double_quotes_as_column_names() -> None:
    # The Spark sessions set spark.sql.ansi.doubleQuotedIdentifiers, as DuckDB reads them.
    checked = parse_predicate("\"status\" IN (200, 201) AND service = 'a\\'b'", SqlDialect.SPARK)
    assert checked.sql == "`status` IN (200, 201) AND service = 'a\\'b'"
    assert checked.plain_columns() == {"status", "service"}


def test_a_refused_predicate_names_its_position() -> None:
    with pytest.raises(PredicateRefused) as refused:
        parse_predicate("status < 500 AND\n  reflect('x', 'y') IS NULL", SqlDialect.SPARK)
    assert "function 'reflect' is not allowed" in str(refused.value)
    assert "line 2" in str(refused.value)


def test_an_unparseable_predicate_says_where(workspace: Path) -> None:
    with pytest.raises(PredicateRefused, match=r"not one SQL expression .*line 1, column"):
        DuckDbEngine(workspace).series(slo(good="(status < 500"), *SPAN)


def test_engine_connection_gives_freed_memory_back_early(workspace: Path) -> None:
    engine = DuckDbEngine(workspace)
    engine.relation_sql(DuckDbSource(EVENTS))
    thresholds = dict(engine.connection.execute(
        "SELECT name, value FROM duckdb_settings() WHERE name IN "
        "('allocator_flush_threshold', 'allocator_bulk_deallocation_flush_threshold')"
    ).fetchall())
    assert len(thresholds) == 2
    assert all(_bytes(value) <= 8 * 2**20 for value in thresholds.values()), thresholds


def _bytes(shown: str) -> float:
    """Return a size as DuckDB shows it ('8MB', '7.6 MiB', '134217728B') in bytes."""
    found = re.fullmatch(r"([0-9.]+)\s*(?:([KMGT])(i?))?B", shown)
    assert found, shown
    number, prefix, binary = found.groups()
    power = " KMGT".index(prefix) if prefix else 0
    return float(number) * (1024 if binary else 1000) ** power
