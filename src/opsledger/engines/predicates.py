"""SLI predicates written by users, proven to be one harmless SQL expression before they run.

A predicate (``good``/``bad``/``total`` of a native ``indicator.duckdb``, an OpenSLO
``spec.filter`` or threshold ``column``) comes from a workspace file, and a workspace changes
through pull requests that CI then runs; so a predicate is untrusted text. It is never pasted
into a query. It is parsed with sqlglot in the dialect of the engine that will run it, as
exactly one expression, and every node of the tree is checked against an allow-list: column
references, literals, comparison, boolean and arithmetic operators, ``IN`` over a list,
``BETWEEN``, ``LIKE``/``ILIKE``, ``IS [NOT] NULL``, ``CASE``, casts to plain types and a
short list of scalar functions. Anything else (a subquery, a table function, a second
statement, a comment, a function off the list whatever its spelling, ``*``, a placeholder)
refuses the predicate with a message naming the SLO's file and line, where in the predicate
the construct is and what it is. The engines run the SQL rendered from the checked tree, so
what reaches an engine is what was checked, not the text the user wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.errors import ErrorLevel, ParseError, SqlglotError, TokenError
from sqlglot.tokens import TokenType

from opsledger.core.errors import EngineError
from opsledger.model.slo import DuckDbSource, Slo

# Longer than any real predicate; bounds the time spent parsing a hostile one.
MAX_PREDICATE_CHARS = 4_000
# Deeper nesting than any real predicate; bounds the recursion of the parser and generator.
MAX_PREDICATE_DEPTH = 64


class SqlDialect(StrEnum):
    """The SQL dialect of the engine a predicate is checked for and rendered in."""

    DUCKDB = "duckdb"
    SPARK = "spark"

    @property
    def sqlglot(self) -> Dialect:
        if self is SqlDialect.DUCKDB:
            return DuckDB()
        from opsledger.engines.spark_dialect import SparkSessionDialect

        return SparkSessionDialect()


class PredicateRefused(EngineError):
    """A user-written predicate is not one expression built from the allow-list."""

    exit_code = 2  # bad input, not an engine failure


# Structure of an expression: references, literals, operators, conditionals.
ALLOWED_NODES: frozenset[type[exp.Expr]] = frozenset(
    {
        exp.Column,
        exp.Identifier,
        exp.Literal,
        exp.Boolean,
        exp.Null,
        exp.Paren,
        exp.Not,
        exp.And,
        exp.Or,
        exp.EQ,
        exp.NEQ,
        exp.GT,
        exp.GTE,
        exp.LT,
        exp.LTE,
        exp.NullSafeEQ,
        exp.NullSafeNEQ,
        exp.Is,
        exp.In,
        exp.Between,
        exp.Like,
        exp.ILike,
        exp.Neg,
        exp.Add,
        exp.Sub,
        exp.Mul,
        exp.Div,
        exp.IntDiv,
        exp.Mod,
        exp.DPipe,
        exp.Case,
        exp.If,
        exp.Cast,
        exp.TryCast,
        exp.DataType,
        exp.DataTypeParam,
        exp.Interval,
    }
)

# Scalar functions sqlglot knows by class, whatever name or alias the user spelled them with.
ALLOWED_FUNCTIONS: frozenset[type[exp.Func]] = frozenset(
    {
        exp.Lower,
        exp.Upper,
        exp.Length,
        exp.Trim,
        exp.Substring,
        exp.StrPosition,
        exp.StartsWith,
        exp.EndsWith,
        exp.Contains,
        exp.RegexpLike,
        exp.Abs,
        exp.Round,
        exp.Floor,
        exp.Ceil,
        exp.Greatest,
        exp.Least,
        exp.Coalesce,
        exp.Nullif,
        exp.Extract,
    }
)

# Scalar functions a dialect has but sqlglot parses as unknown calls, by lower-case name.
ALLOWED_FUNCTION_NAMES: frozenset[str] = frozenset({"date_part", "regexp_matches"})

# Casts only to scalar types: no nested, user-defined or engine-internal types.
PLAIN_TYPES: frozenset[exp.DType] = frozenset(
    {
        exp.DType.BOOLEAN,
        exp.DType.TINYINT,
        exp.DType.SMALLINT,
        exp.DType.INT,
        exp.DType.BIGINT,
        exp.DType.UTINYINT,
        exp.DType.USMALLINT,
        exp.DType.UINT,
        exp.DType.UBIGINT,
        exp.DType.FLOAT,
        exp.DType.DOUBLE,
        exp.DType.DECIMAL,
        exp.DType.CHAR,
        exp.DType.VARCHAR,
        exp.DType.TEXT,
        exp.DType.DATE,
        exp.DType.TIME,
        exp.DType.TIMESTAMP,
        exp.DType.TIMESTAMPTZ,
        exp.DType.TIMESTAMPLTZ,
        exp.DType.TIMESTAMPNTZ,
        exp.DType.INTERVAL,
    }
)

# What a refused node is called in the message, for nodes a user is likely to try.
REFUSED_NAMES: dict[type[exp.Expr], str] = {
    exp.Subquery: "a subquery",
    exp.Select: "a SELECT",
    exp.Union: "a UNION",
    exp.Exists: "EXISTS",
    exp.Table: "a table",
    exp.Star: "'*'",
    exp.Placeholder: "a placeholder",
    exp.Parameter: "a parameter",
    exp.Alias: "an alias (AS)",
    exp.Window: "a window (OVER)",
    exp.Command: "a statement",
    exp.Copy: "a COPY statement",
    exp.Attach: "an ATTACH statement",
    exp.Set: "a SET statement",
    exp.Pragma: "a PRAGMA statement",
    exp.Create: "a CREATE statement",
    exp.Insert: "an INSERT statement",
    exp.Drop: "a DROP statement",
}


@dataclass(frozen=True)
class Predicate:
    """One checked predicate: its tree, and the SQL rendered from that tree."""

    tree: exp.Expr
    dialect: SqlDialect

    @property
    def sql(self) -> str:
        """Return the predicate rendered from its checked tree, in its engine's dialect."""
        return render(self.tree, self.dialect)

    def plain_columns(self) -> set[str] | None:
        """Return the names of the columns the predicate reads, or None if any is qualified."""
        names: set[str] = set()
        for column in self.tree.find_all(exp.Column):
            if column.table:
                return None
            names.add(column.name)
        return names


@dataclass(frozen=True)
class SliPredicates:
    """An event-file SLI's checked predicates.

    ``scope`` selects the events that count (``total``); ``verdict`` marks the good events
    when ``counts_good``, else the bad ones.
    """

    scope: Predicate
    verdict: Predicate
    counts_good: bool


def sli_predicates(slo: Slo, dialect: SqlDialect) -> SliPredicates:
    """Return the SLO's predicates checked for ``dialect``; refuse any that is not allowed."""
    source = slo.indicator
    if not isinstance(source, DuckDbSource):
        raise EngineError(f"{slo.key}: not an event-file SLI")
    counts_good = source.good is not None
    role = "good" if counts_good else "bad"
    verdict_text = source.good if counts_good else source.bad
    # The verdict first: when an OpenSLO total is derived from good and bad, a refused
    # good or bad predicate is then named as such rather than as the derived total.
    verdict = _checked(slo, role, verdict_text or "", dialect)
    scope = _checked(slo, "total", source.total, dialect) if source.total else true(dialect)
    return SliPredicates(scope, verdict, counts_good)


def in_any_scope(scopes: Sequence[Predicate]) -> Predicate | None:
    """Return one predicate that selects the events of any of ``scopes`` when each compares
    one and the same column to a literal (``service = 'checkout'``): an ``IN`` list, which
    DuckDB tests once per event where a chain of ``OR`` would test every term. None for any
    other scopes."""
    column: exp.Column | None = None
    values: dict[str, exp.Expr] = {}
    for scope in scopes:
        tree = scope.tree.unnest()
        if not isinstance(tree, exp.EQ):
            return None
        sides = (tree.left.unnest(), tree.right.unnest())
        named = [side for side in sides if isinstance(side, exp.Column) and not side.table]
        literal = [side for side in sides if isinstance(side, exp.Literal)]
        if len(named) != 1 or len(literal) != 1:
            return None
        if column is not None and named[0].name != column.name:
            return None
        column = named[0]
        values.setdefault(literal[0].sql(), literal[0])
    if column is None:
        return None
    tree = exp.In(this=column.copy(), expressions=[v.copy() for v in values.values()])
    return Predicate(tree, scopes[0].dialect)


def true(dialect: SqlDialect) -> Predicate:
    """Return the predicate every event satisfies (an SLI without a ``total`` predicate)."""
    return Predicate(exp.true(), dialect)


def _checked(slo: Slo, role: str, text: str, dialect: SqlDialect) -> Predicate:
    try:
        return parse_predicate(text, dialect)
    except PredicateRefused as refused:
        raise PredicateRefused(
            f"{slo.key} (defined at {slo.where}): the {role} predicate was refused: {refused}"
        ) from None


def parse_predicate(text: str, dialect: SqlDialect) -> Predicate:
    """Parse ``text`` as one SQL expression and check it against the allow-list.

    Raise :class:`PredicateRefused` saying what was refused and where in ``text``.
    """
    if not text.strip():
        raise PredicateRefused("it is empty; write a SQL condition such as status < 500")
    if len(text) > MAX_PREDICATE_CHARS:
        raise PredicateRefused(
            f"it is {len(text)} characters long; at most {MAX_PREDICATE_CHARS} are accepted"
        )
    _check_tokens(text, dialect)
    try:
        statements = sqlglot.parse(text, read=dialect.sqlglot, error_level=ErrorLevel.IMMEDIATE)
    except ParseError as exc:
        raise PredicateRefused(f"it is not one SQL expression ({_parse_problem(exc)})") from None
    except (SqlglotError, RecursionError):
        raise PredicateRefused("it is not one SQL expression") from None
    if len(statements) != 1 or statements[0] is None:
        raise PredicateRefused("it holds more than one statement; write one SQL condition")
    tree = statements[0]
    _check_tree(tree)
    try:
        render(tree, dialect)
    except (SqlglotError, RecursionError):
        raise PredicateRefused(f"it cannot be written in {dialect.value} SQL") from None
    return Predicate(tree, dialect)


def render(tree: exp.Expr, dialect: SqlDialect) -> str:
    """Return the SQL of ``tree`` in ``dialect``; raise rather than drop what cannot be said."""
    return tree.sql(dialect=dialect.sqlglot, unsupported_level=ErrorLevel.RAISE)


def _check_tokens(text: str, dialect: SqlDialect) -> None:
    """Refuse comments and statement separators, which the tree alone may not show."""
    try:
        tokens = dialect.sqlglot.tokenize(text)
    except TokenError as exc:
        raise PredicateRefused(f"it is not valid SQL ({_first_line(str(exc))})") from None
    for token in tokens:
        if token.comments:
            # sqlglot drops an empty /**/ from the tree, so a comment is caught on its token.
            raise PredicateRefused(f"a comment is not allowed (near line {token.line})")
        if token.token_type == TokenType.SEMICOLON:
            raise PredicateRefused(
                f"';' is not allowed (line {token.line}, column {token.col}): "
                "a predicate is one SQL condition, not statements"
            )


def _check_tree(tree: exp.Expr) -> None:
    for node in tree.walk():
        if node.comments:
            raise PredicateRefused(f"a comment is not allowed{_position(node)}")
        if node.depth > MAX_PREDICATE_DEPTH:
            raise PredicateRefused(
                f"it is nested more than {MAX_PREDICATE_DEPTH} levels deep{_position(node)}"
            )
        reason = _refusal(node)
        if reason is not None:
            # IN (SELECT ...) is refused on the IN, which comes first in the walk; point at
            # the subquery itself.
            located = node.args.get("query") if isinstance(node, exp.In) else None
            raise PredicateRefused(f"{reason} is not allowed{_position(located or node)}")


def _refusal(node: exp.Expr) -> str | None:
    """Return what ``node`` is when it is refused, None when it is allowed."""
    kind = type(node)
    if isinstance(node, exp.Anonymous):
        name = node.this
        if not isinstance(name, str):
            return f"function {node.name!r} (a quoted function name)"
        return None if name.lower() in ALLOWED_FUNCTION_NAMES else f"function {name.lower()!r}"
    if kind in ALLOWED_FUNCTIONS:
        return None
    if isinstance(node, exp.Var):
        # A bare word is only a date part: EXTRACT(hour FROM ts), INTERVAL 5 MINUTE.
        unit = isinstance(node.parent, exp.Extract | exp.Interval) and node.name.isidentifier()
        return None if unit else f"the word {node.name!r}"
    if kind not in ALLOWED_NODES:
        return _describe(node)
    if isinstance(node, exp.In) and node.args.get("query"):
        return "a subquery"
    if isinstance(node, exp.In) and (node.args.get("unnest") or node.args.get("field")):
        return "IN over anything but a list of values"
    if isinstance(node, exp.DataType) and (node.this not in PLAIN_TYPES or node.args.get("nested")):
        return f"a cast to {node.sql()}"
    if isinstance(node, exp.DataTypeParam) and not isinstance(node.this, exp.Literal):
        return f"a type parameter {node.sql()}"
    return None


def _describe(node: exp.Expr) -> str:
    for kind, name in REFUSED_NAMES.items():
        if isinstance(node, kind):
            return name
    if isinstance(node, exp.Func):
        return f"function {node.sql_name().lower()!r}"
    return f"{_snippet(node)!r} ({node.key})"


def _snippet(node: exp.Expr) -> str:
    try:
        text = node.sql()
    except (SqlglotError, RecursionError):
        text = node.key
    return text if len(text) <= 60 else text[:57] + "..."


def _position(node: exp.Expr) -> str:
    """Return where in the predicate the node is, when sqlglot kept its tokens' positions.

    Only some nodes keep one (names, literals, function calls), so this is the first
    position found within the node: near the construct, if not on its first character.
    """
    for part in node.walk():
        meta = part.meta if part.meta else {}
        if "line" in meta and "col" in meta:
            return f" (near line {meta['line']}, column {meta['col']} of the predicate)"
    return ""


def _parse_problem(exc: ParseError) -> str:
    if exc.errors:
        first = exc.errors[0]
        description = str(first.get("description") or "unexpected text").lower()
        return f"{description} at line {first.get('line')}, column {first.get('col')}"
    return _first_line(str(exc))


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "unreadable"
