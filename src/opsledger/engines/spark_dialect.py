"""Spark SQL as opsledger's Spark sessions read it, for checking and rendering predicates.

Kept apart from :mod:`opsledger.engines.predicates` so that sqlglot's Spark, Spark 2 and
Hive dialects load only when a predicate is checked for Spark.
"""

from __future__ import annotations

from typing import ClassVar

from sqlglot.dialects.spark import Spark


class SparkSessionDialect(Spark):
    """Spark SQL as opsledger's sessions read it: double quotes delimit identifiers.

    The sessions set ``spark.sql.ansi.doubleQuotedIdentifiers``, so ``"status"`` is the
    column, as in DuckDB; sqlglot's Spark dialect would read it as a string.
    """

    class Tokenizer(Spark.Tokenizer):
        QUOTES: ClassVar[list[str | tuple[str, str]]] = ["'"]
        IDENTIFIERS: ClassVar[list[str | tuple[str, str]]] = ["`", '"']
        RAW_STRINGS: ClassVar[list[str | tuple[str, str]]] = [("r'", "'"), ("R'", "'")]
