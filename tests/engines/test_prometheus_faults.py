"""A hostile or broken Prometheus cannot hang a command, exhaust memory or corrupt a result.

Each test plays one attack from a scripted HTTP server on 127.0.0.1 (a trickled body or
header, a body that never ends, a late answer, a gzip bomb, answers of the wrong shape,
overflowing and non-finite numbers, a redirect to another server) and checks the refusal:
a clear message naming the SLO, the server and the query, within the deadline plus a little.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from opsledger.cli.slo import app as slo_app
from opsledger.core.errors import EngineError, InputError
from opsledger.engines.prometheus_client import (
    DEADLINE_ENV,
    Deadline,
    PrometheusAnswerRefused,
    PrometheusDeadlineExceeded,
    command_deadline,
)
from opsledger.engines.prometheus_engine import SIDE_LABEL, PrometheusEngine
from opsledger.model.slo import (
    PrometheusSource,
    PromQuery,
    SliSeries,
    Slo,
    SloWindow,
    Threshold,
)

START = datetime(2026, 3, 2, tzinfo=UTC)
END = START + timedelta(minutes=10)
DEADLINE = 2.0
SLACK = 1.5  # thread start-up and socket teardown on a busy machine
Handler = Callable[[BaseHTTPRequestHandler], None]


class FakePrometheus:
    """An HTTP server on 127.0.0.1 whose every GET is answered by ``behaviour``.

    Handlers that stall wait on ``stopping`` so the fixture can end them at once.
    """

    def __init__(self) -> None:
        self.behaviour: Handler = lambda request: request.send_error(404)
        self.stopping = threading.Event()
        self.hits = 0
        fake = self

        class Request(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 60  # a handler never outlives the test by more than this

            def do_GET(self) -> None:
                fake.hits += 1
                # The client hanging up is what a refusal looks like from here.
                with suppress(OSError):
                    fake.behaviour(self)
                self.close_connection = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Request)
        self.server.daemon_threads = True
        self.server.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def pause(self, seconds: float) -> bool:
        """Wait ``seconds``; return False when the test is over and the handler should end."""
        return not self.stopping.wait(seconds)


@pytest.fixture
def fake() -> Iterator[FakePrometheus]:
    server = FakePrometheus()
    server.thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.server.shutdown()
        server.server.server_close()


def matrix(
    values: list[list[Any]] | None = None, sides: tuple[str, ...] = ("good", "total"),
    **changes: Any,
) -> bytes:
    """Return a range-query answer: one series per side of an SLI asked for in one query,
    labelled as the engine labels them (one unlabelled series where ``sides`` is empty);
    ``changes`` replace top-level parts."""
    stamps = [(START + timedelta(minutes=m + 1)).timestamp() for m in range(10)]
    samples = values if values is not None else [[t, "1"] for t in stamps]
    result = [{"metric": {SIDE_LABEL: side}, "values": samples} for side in sides] or [
        {"metric": {}, "values": samples}]
    document: dict[str, Any] = {
        "status": "success",
        "data": {"resultType": "matrix", "result": result},
    }
    document.update(changes)
    return json.dumps(document).encode()


def answer(body: bytes, status: int = 200, **headers: str) -> Handler:
    def respond(request: BaseHTTPRequestHandler) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            request.send_header(name.replace("_", "-"), value)
        request.end_headers()
        request.wfile.write(body)

    return respond


def counter_slo() -> Slo:
    return Slo(
        "api",
        "availability",
        0.999,
        SloWindow(days=1),
        PrometheusSource(good=PromQuery("ok_total"), total=PromQuery("all_total")),
        source_path="slos/api.yaml",
        source_line=3,
    )


def engine(fake: FakePrometheus, **options: Any) -> PrometheusEngine:
    options.setdefault("deadline", Deadline(DEADLINE))
    options.setdefault("backoff", 0.05)
    return PrometheusEngine(fake.url, **options)


def refused(fake: FakePrometheus, slo: Slo | None = None) -> str:
    with pytest.raises(PrometheusAnswerRefused) as caught:
        engine(fake).series(slo or counter_slo(), START, END)
    assert caught.value.exit_code == 2
    return str(caught.value)


def timed_out(fake: FakePrometheus, **options: Any) -> tuple[str, float]:
    began = time.monotonic()
    with pytest.raises(PrometheusDeadlineExceeded) as caught:
        engine(fake, **options).series(counter_slo(), START, END)
    return str(caught.value), time.monotonic() - began


def assert_names_the_query(message: str, fake: FakePrometheus) -> None:
    assert "api/availability (defined at slos/api.yaml:3)" in message
    # Good and total are asked for in one query, shown as it was sent.
    assert "query: label_replace(sum(increase(ok_total[1m]))" in message
    assert "label_replace(sum(increase(all_total[1m]))" in message


def assert_names_the_side(message: str) -> None:
    """A refused sample is named by the expression of its own side, not the joined query."""
    assert "api/availability (defined at slos/api.yaml:3)" in message
    assert message.endswith("query: sum(increase(ok_total[1m]))")


# --- finding 5: one deadline per command -------------------------------------------------


def trickled_body(fake: FakePrometheus) -> Handler:
    def respond(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Length", "100000")
        request.end_headers()
        while fake.pause(1.0):
            request.wfile.write(b" ")

    return respond


def trickled_headers(fake: FakePrometheus) -> Handler:
    def respond(request: BaseHTTPRequestHandler) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Padding: " + b"a" * 10_000:
            if not fake.pause(0.5):
                return
            request.wfile.write(bytes([byte]))

    return respond


def endless_body(fake: FakePrometheus) -> Handler:
    def respond(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Transfer-Encoding", "chunked")
        request.end_headers()
        request.wfile.write(b'5\r\n{"a":\r\n')
        while fake.pause(0.1):
            request.wfile.write(b"64\r\n" + b" " * 100 + b"\r\n")

    return respond


def late_answer(fake: FakePrometheus) -> Handler:
    def respond(request: BaseHTTPRequestHandler) -> None:
        if fake.pause(30):
            answer(matrix())(request)

    return respond


@pytest.mark.parametrize(
    "attack", [trickled_body, trickled_headers, endless_body, late_answer], ids=lambda a: a.__name__
)
def test_a_stalling_server_is_stopped_at_the_deadline(
    fake: FakePrometheus, attack: Callable[[FakePrometheus], Handler]
) -> None:
    # Each attack keeps every socket read within the 30 s read timeout, so only a deadline
    # over the whole command stops it.
    fake.behaviour = attack(fake)
    message, took = timed_out(fake)
    assert took < DEADLINE + SLACK
    assert f"Prometheus at {fake.url} did not finish answering within the 2 s deadline" in message
    assert DEADLINE_ENV in message
    assert_names_the_query(message, fake)


def test_one_watchdog_serves_every_request_of_a_client(
    fake: FakePrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[float] = []

    class CountedTimer(threading.Timer):
        def start(self) -> None:
            started.append(self.interval)
            super().start()

    monkeypatch.setattr(threading, "Timer", CountedTimer)
    fake.behaviour = answer(matrix([]))
    client = engine(fake, chunk_minutes=1)
    client.series(counter_slo(), START, END)  # ten chunks: ten queries
    assert fake.hits == 10
    assert len(started) == 1 and 0 < started[0] <= DEADLINE


def test_retries_chunks_and_slos_draw_from_one_deadline(fake: FakePrometheus) -> None:
    def slow_but_valid(request: BaseHTTPRequestHandler) -> None:
        if fake.pause(0.4):
            answer(matrix([]))(request)

    fake.behaviour = slow_but_valid
    shared = Deadline(DEADLINE)
    began = time.monotonic()
    # One minute per chunk: 2 queries x 10 chunks x 0.4 s would take 8 s without the deadline.
    with pytest.raises(PrometheusDeadlineExceeded):
        engine(fake, chunk_minutes=1, deadline=shared).series(counter_slo(), START, END)
    assert time.monotonic() - began < DEADLINE + SLACK
    # A second SLO, on an engine for another server of the same command, gets no new budget.
    other = PrometheusEngine("http://127.0.0.1:9", deadline=shared)
    began = time.monotonic()
    with pytest.raises(PrometheusDeadlineExceeded):
        other.series(counter_slo(), START, END)
    assert time.monotonic() - began < 0.5


def test_the_deadline_comes_from_the_environment() -> None:
    assert command_deadline({}).seconds == 300
    assert command_deadline({DEADLINE_ENV: "2.5"}).seconds == 2.5
    for wrong in ("0", "-1", "nan", "inf", "1e9", "soon"):
        with pytest.raises(InputError, match=DEADLINE_ENV):
            command_deadline({DEADLINE_ENV: wrong})


# --- finding 6: bounded answers ------------------------------------------------------------

BOMB_MEMBER = gzip.compress(b" " * (16 * 1024 * 1024), compresslevel=9)
BOMB_MEMBERS = 128  # 128 x 16 MiB = 2 GiB once inflated


def gzip_bomb(fake: FakePrometheus) -> Handler:
    """Return a valid gzip JSON answer of ~2 MB that inflates to 2 GiB of whitespace."""
    head = gzip.compress(b'{"status": "success", "data": {"resultType": "matrix", "result": []')
    tail = gzip.compress(b"}}")

    def respond(request: BaseHTTPRequestHandler) -> None:
        request.send_response(200)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Encoding", "gzip")
        size = len(head) + BOMB_MEMBERS * len(BOMB_MEMBER) + len(tail)
        request.send_header("Content-Length", str(size))
        request.end_headers()
        request.wfile.write(head)
        for _ in range(BOMB_MEMBERS):
            request.wfile.write(BOMB_MEMBER)
        request.wfile.write(tail)

    return respond


def test_a_gzip_bomb_is_refused_without_filling_memory(fake: FakePrometheus) -> None:
    assert BOMB_MEMBERS * len(BOMB_MEMBER) < 3_000_000
    fake.behaviour = gzip_bomb(fake)
    tracemalloc.start()
    try:
        began = time.monotonic()
        message = refused(fake)
        took = time.monotonic() - began
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "exceeds 16 MiB once decompressed; refused" in message
    assert fake.url in message
    assert_names_the_query(message, fake)
    assert peak < 80 * 1024 * 1024 and took < DEADLINE + SLACK


def test_a_body_that_does_not_decompress_is_refused(fake: FakePrometheus) -> None:
    fake.behaviour = answer(b"\x1f\x8b\x08\x00garbage" * 10, Content_Encoding="gzip")
    assert "does not decompress" in refused(fake)


# --- finding 6: unchecked shapes -------------------------------------------------------------

T1 = (START + timedelta(minutes=1)).timestamp()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (matrix(data=[1, 2]), "'data' must be an object, found a list"),
        (matrix([[T1, "abc"]]), "holds 'abc', which is not a number"),
        (matrix([[T1]]), "'data.result[0].values[0]' must be [unix_time, \"value\"]"),
        (matrix([[T1, 1.5]]), "must hold its value as text"),
        (matrix([[True, "1"]]), "time that is not a finite number"),
        (matrix([[T1 + 86_400, "1"]]), "time outside the range asked for"),
        (matrix([[T1, "1"], [T1, "1"]]), "is not later than the sample before it"),
        (matrix([[T1, "1_000"]]), "which is not a number"),
        (matrix([[T1, "1e400"]]), "beyond the range of a 64-bit float"),
        (matrix(status="partial"), '\'status\' must be "success" or "error"'),
        (matrix(data={"resultType": "vector", "result": []}), "must be \"matrix\", found 'vector'"),
        (matrix(data={"resultType": "matrix", "result": {}}), "'data.result' must be a list"),
        (matrix(data={"resultType": "matrix", "result": [[]]}), "must be an object, found a list"),
        (
            matrix(data={"resultType": "matrix", "result": [{"metric": [], "values": []}]}),
            "'data.result[0].metric' must be an object",
        ),
        (matrix().replace(b'"1"]', b'"1"'), "not JSON"),
        (b'{"status": "success", "status": "success", "data": {}}', "duplicate key 'status'"),
        (matrix().replace(str(T1).encode(), b"NaN", 1), "NaN is not a JSON number"),
        (b"[" * 200_000 + b"]" * 200_000, "not JSON (nested too deeply)"),
        (b"<html>Sign in</html>", "not JSON"),
    ],
    ids=lambda value: value[:40] if isinstance(value, str) else None,
)
def test_an_answer_of_the_wrong_shape_is_bad_input(
    fake: FakePrometheus, body: bytes, expected: str
) -> None:
    fake.behaviour = answer(body)
    message = refused(fake)
    assert expected in message
    assert "is not a range-query answer" in message
    assert_names_the_query(message, fake)


@pytest.mark.parametrize(
    ("text", "shown"), [("NaN", "NaN"), ("+Inf", "+Inf"), ("-Inf", "-Inf"), ("1e308", "1e+308")]
)
def test_a_count_that_is_not_a_finite_plausible_number_is_refused(
    fake: FakePrometheus, text: str, shown: str
) -> None:
    # Today 1e308 + 1e308 overflows to Infinity and --json prints "Infinity"; NaN is dropped.
    fake.behaviour = answer(matrix([[T1, text], [T1 + 60, text]]))
    message = refused(fake)
    assert f"returned {shown} at 2026-03-02T00:01:00Z for a query read as event count" in message
    assert_names_the_side(message)


def ratio_slo(threshold: Threshold | None = None) -> Slo:
    source = PrometheusSource(ratio=PromQuery("job:success:ratio"), threshold=threshold)
    return Slo("api", "ratio", 0.99, SloWindow(days=1), source)


def test_a_nan_ratio_is_a_minute_without_data_and_an_infinite_one_is_refused(
    fake: FakePrometheus,
) -> None:
    # Prometheus writes NaN for 0/0, a minute without traffic: that minute is not counted.
    fake.behaviour = answer(matrix([[T1, "NaN"], [T1 + 60, "0.5"], [T1 + 120, "1"]],
                                   sides=()))
    series: SliSeries = engine(fake).series(ratio_slo(), START, END)
    assert series.total.tolist() == [0, 1, 1] + [0] * 7
    assert series.good.tolist() == [0, 0.5, 1] + [0] * 7
    fake.behaviour = answer(matrix([[T1, "+Inf"]], sides=()))
    assert "a ratio cannot be infinite" in refused(fake, ratio_slo())


def test_an_infinite_gauge_is_above_every_bound(fake: FakePrometheus) -> None:
    # histogram_quantile() gives +Inf when the quantile falls in the +Inf bucket: a bad minute.
    fake.behaviour = answer(matrix([[T1, "+Inf"], [T1 + 60, "0.2"], [T1 + 120, "NaN"]],
                                   sides=()))
    series = engine(fake).series(ratio_slo(Threshold("lt", 0.3)), START, END)
    assert series.total.tolist()[:3] == [1, 1, 0] and series.good.tolist()[:3] == [0, 1, 0]
    assert np.isfinite(series.good).all()


def test_a_query_the_server_rejects_stays_an_engine_error(fake: FakePrometheus) -> None:
    body = json.dumps({"status": "error", "errorType": "bad_data", "error": "parse \x1b[31m"})
    fake.behaviour = answer(body.encode(), status=400)
    with pytest.raises(EngineError) as caught:
        engine(fake).series(counter_slo(), START, END)
    assert not isinstance(caught.value, InputError)
    assert "rejected the query (bad_data): parse \\x1b[31m" in str(caught.value)


def test_sides_are_asked_alone_when_the_joined_query_is_rejected(fake: FakePrometheus) -> None:
    # A server limit (too many samples, say) can reject good and total asked for together
    # while each passes alone: the sides are then counted one query each.
    refusal = json.dumps({"status": "error", "errorType": "execution",
                          "error": "query processing would load too many samples"}).encode()
    asked: list[str] = []

    def behaviour(request: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(request.path).query)["query"][0]
        asked.append(query)
        if "label_replace" in query:
            answer(refusal, status=422)(request)
        else:
            answer(matrix(sides=()))(request)

    fake.behaviour = behaviour
    series = engine(fake).series(counter_slo(), START, END)
    assert series.good.sum() == series.total.sum() == 10
    assert asked == [asked[0], "sum(increase(ok_total[1m]))", "sum(increase(all_total[1m]))"]
    assert "label_replace" in asked[0]


def proxied(monkeypatch: pytest.MonkeyPatch, proxy: str, bypass: str = "") -> None:
    """Name ``proxy`` for HTTP and ``bypass`` as hosts reached directly, as a shell would."""
    for name in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.setenv(name, proxy)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(name, bypass)


def test_a_proxy_named_in_the_environment_carries_every_query(
    fake: FakePrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def behaviour(request: BaseHTTPRequestHandler) -> None:
        asked.append(request.path)  # a proxy is asked for the whole URL
        answer(matrix())(request)

    fake.behaviour = behaviour
    proxied(monkeypatch, fake.url)
    server = "http://prometheus.invalid:9090"
    series = PrometheusEngine(server, deadline=Deadline(DEADLINE)).series(
        counter_slo(), START, END)
    assert series.total.sum() == 10
    assert len(asked) == 1 and asked[0].startswith(f"{server}/api/v1/query_range?")


def test_no_proxy_reaches_the_server_directly(
    fake: FakePrometheus, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.behaviour = answer(matrix())
    proxied(monkeypatch, "http://127.0.0.1:9", bypass="127.0.0.1")  # nothing listens on 9
    assert engine(fake).series(counter_slo(), START, END).total.sum() == 10
    assert fake.hits == 1


# --- finding 6: redirects ------------------------------------------------------------------


@pytest.fixture
def elsewhere() -> Iterator[FakePrometheus]:
    server = FakePrometheus()
    server.behaviour = answer(matrix())
    server.thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.server.shutdown()
        server.server.server_close()


def test_a_redirect_to_another_server_is_not_followed(
    fake: FakePrometheus, elsewhere: FakePrometheus
) -> None:
    fake.behaviour = answer(b"", status=302, Location=f"{elsewhere.url}/api/v1/query_range?q=1")
    message = refused(fake)
    assert elsewhere.hits == 0
    assert f"answered HTTP 302 redirecting to {elsewhere.url}/api/v1/query_range" in message
    assert f"another server ({elsewhere.url.removeprefix('http://')})" in message
    assert_names_the_query(message, fake)


def test_a_redirect_hides_credentials_and_same_origin_ones_are_refused_too(
    fake: FakePrometheus,
) -> None:
    fake.behaviour = answer(b"", status=307, Location="http://user:s3cret@evil.example/x")
    message = refused(fake)
    assert "s3cret" not in message and "http://***@evil.example/x" in message
    fake.behaviour = answer(b"", status=301, Location="/prometheus/api/v1/query_range")
    message = refused(fake)
    assert f"redirecting to {fake.url}/prometheus/api/v1/query_range" in message
    assert "pass the URL it points to as the Prometheus URL" in message


# --- through the command line --------------------------------------------------------------

SLOS = """\
slos:
  - service: api
    name: promql
    objective: 99.9
    window: 1d
    indicator:
      prometheus: {good: 'ok_total', total: 'all_total'}
"""
NOW = "2026-03-03T00:00:00+00:00"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("OPSLEDGER_PROMETHEUS_URL", raising=False)
    monkeypatch.setenv(DEADLINE_ENV, str(DEADLINE))
    (tmp_path / "slos").mkdir()
    (tmp_path / "slos" / "slos.yaml").write_text(SLOS)
    return tmp_path


def slo_status(workspace: Path, url: str) -> tuple[int, str, str, float]:
    root = typer.Typer()
    root.add_typer(slo_app, name="slo")
    began = time.monotonic()
    result = CliRunner().invoke(
        root, ["slo", "status", str(workspace), "--prometheus", url, "--json", "--now", NOW]
    )
    return result.exit_code, result.stdout, result.stderr, time.monotonic() - began


# An answer refused as a whole names the query as sent (good and total together); a refused
# sample names the expression of its own side.
JOINED, SIDE = "query: label_replace(sum(increase(", "query: sum(increase("


@pytest.mark.parametrize(
    ("attack", "expected", "query"),
    [
        (lambda fake: answer(matrix(data=[])), "'data' must be an object, found a list", JOINED),
        (gzip_bomb, "exceeds 16 MiB once decompressed", JOINED),
        (lambda fake: answer(matrix([[T1, "1e308"]])), "returned 1e+308 at", SIDE),
    ],
    ids=["wrong-shape", "gzip-bomb", "1e308"],
)
def test_slo_status_refuses_a_hostile_answer_with_exit_2(
    workspace: Path,
    fake: FakePrometheus,
    attack: Callable[[FakePrometheus], Handler],
    expected: str,
    query: str,
) -> None:
    fake.behaviour = attack(fake)
    code, out, err, took = slo_status(workspace, fake.url)
    assert code == 2, (out, err)
    assert expected in err and "api/promql" in err and query in err
    assert "Traceback" not in err and out == ""
    assert took < DEADLINE + SLACK


def test_slo_status_stops_a_trickling_server_at_the_deadline(
    workspace: Path, fake: FakePrometheus
) -> None:
    fake.behaviour = trickled_body(fake)
    code, out, err, took = slo_status(workspace, fake.url)
    assert took < DEADLINE + SLACK
    # A server that does not answer in time makes its SLOs invalid, as an unreachable one does.
    assert code == 0, err
    (status,) = json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in --json"))
    assert status["valid"] is False
    assert "within the 2 s deadline of this command" in status["reasons"][0]


# --- several SLOs at once ----------------------------------------------------------------------


def several_slos(workspace: Path, count: int) -> None:
    (workspace / "slos" / "slos.yaml").write_text("slos:\n" + "".join(
        f"  - service: api-{i}\n    name: promql\n    objective: 99.9\n    window: 1d\n"
        "    indicator:\n      prometheus: {good: 'ok_total', total: 'all_total'}\n"
        for i in range(count)))


def slow_answer(fake: FakePrometheus, body: bytes, seconds: float) -> tuple[Handler, list[int]]:
    """Return a handler answering ``body`` after ``seconds``, and [in flight, most in flight]."""
    counts = [0, 0]
    lock = threading.Lock()

    def respond(request: BaseHTTPRequestHandler) -> None:
        with lock:
            counts[0] += 1
            counts[1] = max(counts)
        try:
            if fake.pause(seconds):
                answer(body)(request)
        finally:
            with lock:
                counts[0] -= 1

    return respond, counts


def test_several_slos_ask_the_server_side_by_side_and_report_in_order(
    workspace: Path, fake: FakePrometheus
) -> None:
    from opsledger.slo.service import PROMETHEUS_SLOS_AT_ONCE

    several_slos(workspace, 6)
    # Every query is answered, after a while, with no series: no SLO has events.
    empty = matrix(data={"resultType": "matrix", "result": []})
    fake.behaviour, counts = slow_answer(fake, empty, 0.05)
    code, out, err, _ = slo_status(workspace, fake.url)
    assert code == 0, err
    statuses = json.loads(out)
    assert [s["service"] for s in statuses] == [f"api-{i}" for i in range(6)]
    assert {(s["total"], tuple(s["reasons"])) for s in statuses} == {
        (None, (statuses[0]["reasons"][0],))}
    assert statuses[0]["reasons"][0].startswith("0 events") and fake.hits >= 12
    assert 2 <= counts[1] <= PROMETHEUS_SLOS_AT_ONCE


def test_several_slos_still_share_one_deadline(workspace: Path, fake: FakePrometheus) -> None:
    several_slos(workspace, 6)
    fake.behaviour = trickled_body(fake)
    code, out, err, took = slo_status(workspace, fake.url)
    assert took < DEADLINE + SLACK
    assert code == 0, err
    statuses = json.loads(out)
    assert len(statuses) == 6 and not any(s["valid"] for s in statuses)
    assert all("deadline of this command" in s["reasons"][0] for s in statuses)


def test_a_hostile_answer_to_one_of_several_slos_is_still_exit_2(
    workspace: Path, fake: FakePrometheus
) -> None:
    several_slos(workspace, 6)
    fake.behaviour = answer(matrix(data=[]))
    code, out, err, took = slo_status(workspace, fake.url)
    assert code == 2, (out, err)
    assert "'data' must be an object, found a list" in err and "Traceback" not in err
    assert took < DEADLINE + SLACK
