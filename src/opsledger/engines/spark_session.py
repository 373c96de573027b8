"""A local Spark session for opsledger, started on first use and stopped by its owner.

PySpark is optional (``pip install opsledger[spark]``) and needs a Java runtime; both are
looked for only when Spark is asked for, so importing opsledger never starts a JVM. The
session is quiet (errors only, no web UI), runs in the UTC time zone like the DuckDB engine,
reads double-quoted names as identifiers as DuckDB does, and cannot query arbitrary files
from SQL text (``parquet.`/path```), since SLI predicates are written by users.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from opsledger.core.errors import EngineError
from opsledger.core.fileio import atomic_write_text

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[2]"

# Without this the JVM logs a screenful of INFO/WARN lines before any setting can apply.
QUIET_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = stderr
appender.console.type = Console
appender.console.name = stderr
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
# The gateway compares its own logger's level with the root's and announces any difference.
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
"""

SESSION_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.doubleQuotedIdentifiers": "true",
    "spark.sql.runSQLOnFiles": "false",
    # Minute-bucketed counts are small: a few partitions beat the default 200.
    "spark.sql.shuffle.partitions": "4",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


def java_executable() -> str | None:
    """Return the Java runtime Spark would use (``JAVA_HOME`` first, then ``PATH``), or None."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").is_file():
        return str(Path(home) / "bin" / "java")
    return shutil.which("java")


def missing_requirement() -> str | None:
    """Return why Spark cannot start here (no PySpark, no Java), or None when it can."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "PySpark is not installed: pip install 'opsledger[spark]'"
    if java_executable() is None:
        return "Spark needs a Java runtime (17 or later): install one or set JAVA_HOME"
    return None


def active_session() -> SparkSession | None:
    """Return the Spark session already running in this process (a notebook's), or None."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        return None
    return SparkSession.getActiveSession()


def start_session(master: str = DEFAULT_MASTER, memory: str = "1g") -> SparkSession:
    """Return a new (or the running) Spark session; raise EngineError when Spark cannot run."""
    reason = missing_requirement()
    if reason is not None:
        raise EngineError(reason)
    from pyspark.sql import SparkSession

    # Python workers must run this interpreter (with opsledger's dependencies installed).
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    if "SPARK_CONF_DIR" not in os.environ:
        # log4j2 finds its configuration in the Spark configuration folder at JVM start,
        # before any setting from this session could apply.
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
        conf_dir = cache / "opsledger" / "spark-conf"
        log_config = conf_dir / "log4j2.properties"
        if not log_config.exists() or log_config.read_text() != QUIET_LOG4J2:
            atomic_write_text(log_config, QUIET_LOG4J2)
        os.environ["SPARK_CONF_DIR"] = str(conf_dir)
    builder = SparkSession.builder.master(master).appName("opsledger")
    for key, value in SESSION_CONF.items():
        builder = builder.config(key, value)
    builder = builder.config("spark.driver.memory", memory)
    try:
        session = builder.getOrCreate()
    except Exception as exc:  # the JVM failing to start surfaces as several exception types
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EngineError(f"Spark could not start ({master}): {first}") from None
    session.sparkContext.setLogLevel("ERROR")
    return session
