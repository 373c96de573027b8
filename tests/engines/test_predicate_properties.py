"""Property: nothing outside the predicate allow-list ever reaches an engine.

Predicates are generated from a small grammar that mixes allowed constructs (columns,
literals with SQL punctuation inside, operators, IN lists, BETWEEN, LIKE, CASE, casts,
allowed functions) with forbidden ones (subqueries, functions off the list in several
spellings, stacked statements, comments, table functions, ``*``, placeholders). Whenever a
forbidden construct is in the text, the check refuses it; whenever the check accepts, the
SQL it renders is re-parsed and walked with this test's own list of node types, holds one
expression and no comment, and (for DuckDB) DuckDB's own parser sees one SELECT.
"""

from __future__ import annotations

from functools import cache

import duckdb
import pytest
import sqlglot
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sqlglot import exp

from opsledger.engines.predicates import (
    PredicateRefused,
    SqlDialect,
    in_any_scope,
    parse_predicate,
)

# A fragment of predicate text, and whether it holds a forbidden construct.
Fragment = tuple[str, bool]

ALLOWED_NODE_NAMES = frozenset(
    {
        *("Column", "Identifier", "Literal", "Boolean", "Null", "Paren", "Var"),
        *("Not", "And", "Or", "EQ", "NEQ", "GT", "GTE", "LT", "LTE", "NullSafeEQ", "NullSafeNEQ"),
        *("Is", "In", "Between", "Like", "ILike", "Neg", "Add", "Sub", "Mul", "Div", "IntDiv"),
        *("Mod", "DPipe", "Case", "If", "Cast", "TryCast", "DataType", "DataTypeParam"),
        *("Interval", "Lower", "Upper", "Length", "Trim", "Substring", "StrPosition"),
        *("StartsWith", "EndsWith", "Contains", "RegexpLike", "Abs", "Round", "Floor", "Ceil"),
        *("Greatest", "Least", "Coalesce", "Nullif", "Extract", "Anonymous"),
    }
)
ALLOWED_UNKNOWN_FUNCTIONS = frozenset({"date_part", "regexp_matches"})

COLUMNS = st.sampled_from(["status", "service", "latency_ms", '"odd; name--x"', '"Region"'])
ALLOWED_UNARY = st.sampled_from(["lower", "upper", "length", "abs", "trim", "LOWER", "Abs"])
ALLOWED_BINARY = st.sampled_from(["coalesce", "nullif", "starts_with", "contains", "greatest"])
FORBIDDEN_FUNCTIONS = st.sampled_from(
    [
        "reflect",
        "java_method",
        "try_reflect",
        "REFLECT",
        "Java_Method",
        "read_csv",
        "read_text",
        "getenv",
        "query",
        "count",
        "sum",
        "my_udf",
        "system.reflect",
    ]
)
STATEMENTS = st.sampled_from(
    [
        "COPY (SELECT 1) TO 'x.csv'",
        "ATTACH 'x.db' AS x",
        "SET threads = 1",
        "PRAGMA version",
        "INSTALL httpfs",
        "SELECT 1",
        "CREATE TABLE t AS SELECT 1",
    ]
)
WORDS = st.text(alphabet="abcxyz ", min_size=0, max_size=6)


def string(dialect: SqlDialect) -> st.SearchStrategy[Fragment]:
    """String literals whose content looks like SQL: quotes, semicolons, dashes, slashes."""

    def quote(text: str) -> str:
        if dialect is SqlDialect.SPARK:
            return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + text.replace("'", "''") + "'"

    content = st.text(alphabet="ab ;-'/*\\%_()", max_size=10)
    return content.map(lambda text: (quote(text), False))


def values(dialect: SqlDialect, hostile: bool) -> st.SearchStrategy[Fragment]:
    number = st.integers(-1000, 10**6).map(lambda n: (f"({n})" if n < 0 else str(n), False))
    plain = st.one_of(
        COLUMNS.map(lambda c: (c, False)), number, string(dialect), st.just(("NULL", False))
    )

    def extend(inner: st.SearchStrategy[Fragment]) -> st.SearchStrategy[Fragment]:
        allowed = st.one_of(
            st.tuples(ALLOWED_UNARY, inner).map(lambda t: (f"{t[0]}({t[1][0]})", t[1][1])),
            st.tuples(ALLOWED_BINARY, inner, inner).map(
                lambda t: (f"{t[0]}({t[1][0]}, {t[2][0]})", t[1][1] or t[2][1])
            ),
            st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "%", "||"]), inner).map(
                lambda t: (f"({t[0][0]} {t[1]} {t[2][0]})", t[0][1] or t[2][1])
            ),
            st.tuples(inner, st.sampled_from(["INT", "BIGINT", "DOUBLE", "VARCHAR", "DATE"])).map(
                lambda t: (f"CAST({t[0][0]} AS {t[1]})", t[0][1])
            ),
        )
        if not hostile:
            return allowed
        return allowed | st.one_of(
            # Functions off the list, subqueries, table functions, '*', placeholders.
            st.tuples(FORBIDDEN_FUNCTIONS, inner).map(lambda t: (f"{t[0]}({t[1][0]})", True)),
            inner.map(lambda v: (f"(SELECT {v[0]})", True)),
            st.just(("(SELECT count(*) FROM range(3))", True)),
            st.just(("(SELECT * FROM read_csv('/etc/passwd'))", True)),
            st.just(("?", True)),
            st.just(("$1", True)),
        )

    # Backquoted names are identifiers only in Spark; DuckDB refuses them as unparseable.
    # Spark reads `lower`(x) as the allowed lower(x), rendered unquoted from the tree.
    def quoted_call(name: str, argument: Fragment) -> Fragment:
        allowed = name == "`lower`" and dialect is SqlDialect.SPARK
        return f"{name}({argument[0]})", argument[1] or not allowed

    spelled = st.tuples(st.sampled_from(["`java_method`", "`reflect`", "`lower`"]), plain).map(
        lambda t: quoted_call(*t)
    )
    return st.recursive(plain | spelled if hostile else plain, extend, max_leaves=4)


def conditions(dialect: SqlDialect, hostile: bool) -> st.SearchStrategy[Fragment]:
    value = values(dialect, hostile)

    def both(op: str) -> st.SearchStrategy[Fragment]:
        return st.tuples(value, value).map(
            lambda t: (f"{t[0][0]} {op} {t[1][0]}", t[0][1] or t[1][1])
        )

    allowed_leaf = st.one_of(
        *(both(op) for op in ("=", "<>", "<", "<=", ">", ">=", "LIKE", "IS DISTINCT FROM")),
        value.map(lambda v: (f"{v[0]} IS NULL", v[1])),
        value.map(lambda v: (f"{v[0]} IS NOT NULL", v[1])),
        st.tuples(value, st.lists(value, min_size=1, max_size=3)).map(
            lambda t: (
                f"{t[0][0]} IN ({', '.join(v[0] for v in t[1])})",
                t[0][1] or any(v[1] for v in t[1]),
            )
        ),
        st.tuples(value, value, value).map(
            lambda t: (f"{t[0][0]} BETWEEN {t[1][0]} AND {t[2][0]}", any(v[1] for v in t))
        ),
        st.sampled_from([("TRUE", False), ("FALSE", False)]),
    )
    hostile_leaf = st.one_of(
        value.map(lambda v: (f"{v[0]} IN (SELECT 1)", True)),
        value.map(lambda v: (f"EXISTS (SELECT {v[0]})", True)),
        st.just(("*", True)),
    )

    def extend(inner: st.SearchStrategy[Fragment]) -> st.SearchStrategy[Fragment]:
        allowed = st.one_of(
            st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(
                lambda t: (f"({t[0][0]}) {t[1]} ({t[2][0]})", t[0][1] or t[2][1])
            ),
            inner.map(lambda c: (f"NOT ({c[0]})", c[1])),
            st.tuples(inner, inner, inner).map(
                lambda t: (
                    f"CASE WHEN ({t[0][0]}) THEN ({t[1][0]}) ELSE ({t[2][0]}) END",
                    any(c[1] for c in t),
                )
            ),
        )
        if not hostile:
            return allowed
        return allowed | st.one_of(
            # Comments, stacked statements, the FILTER closed early, an alias.
            st.tuples(inner, WORDS).map(lambda t: (f"({t[0][0]}) /*{t[1]}*/", True)),
            st.tuples(inner, WORDS).map(lambda t: (f"({t[0][0]}) --{t[1]}\n", True)),
            st.tuples(inner, STATEMENTS).map(lambda t: (f"{t[0][0]}; {t[1]}", True)),
            inner.map(lambda c: (f"TRUE)) AS good FROM t; SELECT ({c[0]}", True)),
            inner.map(lambda c: (f"({c[0]}) AS good", True)),
        )

    leaf = allowed_leaf | hostile_leaf if hostile else allowed_leaf
    return st.recursive(leaf, extend, max_leaves=5)


# Half the predicates are built from allowed constructs only, half may hold forbidden ones.
CASES = st.tuples(st.sampled_from(list(SqlDialect)), st.booleans()).flatmap(
    lambda chosen: st.tuples(st.just(chosen[0]), conditions(*chosen))
)


@cache
def duckdb_parser() -> duckdb.DuckDBPyConnection:
    return duckdb.connect(":memory:")


def rendered_is_allowed(sql: str, dialect: SqlDialect) -> None:
    """Walk the re-parsed rendering with this test's own allow-list."""
    tokens = dialect.sqlglot.tokenize(sql)
    assert not any(t.comments for t in tokens), sql
    assert not any(t.token_type.name == "SEMICOLON" for t in tokens), sql
    statements = sqlglot.parse(sql, read=dialect.sqlglot)
    assert len(statements) == 1 and statements[0] is not None, sql
    for node in statements[0].walk():
        assert type(node).__name__ in ALLOWED_NODE_NAMES, (type(node).__name__, sql)
        if isinstance(node, exp.Anonymous):
            assert str(node.this).lower() in ALLOWED_UNKNOWN_FUNCTIONS, sql
        if isinstance(node, exp.In):
            assert not node.args.get("query"), sql
    if dialect is SqlDialect.DUCKDB:
        # DuckDB's own parser, on the query shape the engine builds around a predicate.
        query = f"SELECT count(*) FILTER (WHERE ({sql})) AS good FROM t WHERE ({sql})"
        parsed = duckdb_parser().extract_statements(query)
        assert [s.type for s in parsed] == [duckdb.StatementType.SELECT], sql


@settings(max_examples=400, deadline=None)
@given(CASES)
@example((SqlDialect.SPARK, ("(status = status) AND (status = `lower`(NULL))", False)))
@example((SqlDialect.SPARK, ("`java_method`(status) = status", True)))
def test_forbidden_constructs_are_refused_and_accepted_ones_render_clean(
    case: tuple[SqlDialect, Fragment],
) -> None:
    dialect, (text, forbidden) = case
    try:
        predicate = parse_predicate(text, dialect)
    except PredicateRefused:
        # Refusing an allowed predicate would be a usability bug, never a hole; the grammar
        # only builds predicates both dialects parse, so it does not happen here either.
        assert forbidden, f"refused an allowed predicate: {text!r}"
        return
    assert not forbidden, f"accepted a forbidden predicate: {text!r}"
    rendered = predicate.sql
    rendered_is_allowed(rendered, dialect)
    # Rendering is a fixpoint: what ran is what a second check would accept unchanged.
    assert parse_predicate(rendered, dialect).sql == rendered


@pytest.mark.parametrize(("scopes", "expected"), [
    (["service = 'a'", "(service = 'b')", "'a' = service"], "service IN ('a', 'b')"),
    (['"service" = \'a\'', "status = 1"], None),  # two columns
    (["status = 500", "status = 404"], "status IN (500, 404)"),
    (["service = 'a' AND status < 500"], None),
    (["service = other"], None),  # no literal
    (["service <> 'a'"], None),
])
def test_scopes_naming_one_value_of_one_column_each_become_one_in_list(
    scopes: list[str], expected: str | None,
) -> None:
    narrowed = in_any_scope([parse_predicate(text, SqlDialect.DUCKDB) for text in scopes])
    assert (narrowed.sql if narrowed is not None else None) == expected
