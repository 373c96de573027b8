"""A Prometheus HTTP API client that treats the server as untrusted input.

The server's URL may come from a workspace file that changes through pull requests, so the
server may be hostile or broken. Whatever it does, the client:

- stops at one **deadline** per command, shared by every request, retry, chunk and SLO: each
  request's connect and read timeouts are cut to the time left, and a watchdog (one timer
  per client, started with its first request) shuts the client's sockets when the deadline
  passes, so neither a body trickled one byte at a time nor headers that never end can hold
  the command past it;
- reads at most ``max_answer_bytes`` of the **decompressed** body, counted while streaming, so
  a small gzip body that inflates to gigabytes is refused before it fills memory;
- follows **no redirect**: a 3xx names where it points and is refused;
- accepts only answers of the documented shape (``status``, ``data.resultType`` matrix,
  ``result`` a list of ``{"metric": {...}, "values": [[unix_time, "number"], ...]}``) and only
  numbers written the way Prometheus writes them.

A refused answer is an :class:`PrometheusAnswerRefused` (bad input, exit 2); a server that
cannot be reached, answers too slowly or rejects the query is an
:class:`~opsledger.core.errors.EngineError`, reported against the SLO it was asked for.
"""

from __future__ import annotations

import json
import math
import os
import re
import reprlib
import socket
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from contextlib import suppress
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit

import numpy as np
import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.poolmanager import ProxyManager

from opsledger.core.errors import EngineError, InputError
from opsledger.model.slo import FloatArray

DEADLINE_ENV = "OPSLEDGER_PROMETHEUS_DEADLINE"
DEFAULT_DEADLINE_SECONDS = 300.0
MAX_DEADLINE_SECONDS = 86_400.0
# A range query of one summed series at the 11,000-point limit is about 300 KiB of JSON; the
# cap leaves ample room for many-series answers and refuses a decompression bomb early.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
READ_CHUNK_BYTES = 64 * 1024
_RETRYABLE_STATUS = {429, 502, 503, 504}
# Prometheus writes sample values with Go's FormatFloat: decimal text, "NaN", "+Inf", "-Inf".
# Compatible stores spell the special values in other cases; exponents appear too.
_SAMPLE_TEXT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|(?i:[+-]?inf(?:inity)?|nan)")
_SAMPLE_TEXT_MAX = 64
_SHOWN_TEXT_MAX = 300


class PrometheusAnswerRefused(InputError):
    """The server's answer is not a well-formed Prometheus answer: bad input, exit code 2."""


class PrometheusDeadlineExceeded(EngineError):
    """The command's Prometheus deadline passed before the server finished answering."""


class PrometheusQueryRejected(EngineError):
    """Prometheus answered that it cannot run the query (bad PromQL, say)."""


class Deadline:
    """One time budget, fixed when created, that every request of a command draws from."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._ends_at = clock() + seconds

    def left(self) -> float:
        """Return the seconds left (never negative)."""
        return max(0.0, self._ends_at - self._clock())

    @property
    def expired(self) -> bool:
        return self.left() <= 0.0


def command_deadline(environ: Mapping[str, str] = os.environ) -> Deadline:
    """Return a new deadline of ``OPSLEDGER_PROMETHEUS_DEADLINE`` seconds (default 300)."""
    text = environ.get(DEADLINE_ENV, "").strip()
    if not text:
        return Deadline(DEFAULT_DEADLINE_SECONDS)
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_DEADLINE_SECONDS:
        raise InputError(
            f"{DEADLINE_ENV}='{_printable(text)}' must be a number of seconds "
            f"above 0 and at most {MAX_DEADLINE_SECONDS:g}"
        )
    return Deadline(seconds)


def redact_url(url: str) -> str:
    """Return ``url`` without the user and password it may carry (``https://u:t@host``)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=f"***@{netloc}"))


@dataclass(frozen=True)
class MatrixSeries:
    """One series of a range query's answer: its labels and its samples, time-ordered.

    ``values`` may hold NaN and ±Inf, which Prometheus writes as ``"NaN"``/``"+Inf"``; what
    such a sample means depends on the query, so the caller decides.
    """

    labels: Mapping[str, str]
    stamps: FloatArray
    values: FloatArray


# Sockets the current request opens are reported here so that the deadline watchdog can shut
# them; the connection classes below cannot be handed the client directly, because urllib3
# builds them from pool keys it validates.
_SOCKET_OPENED: ContextVar[Callable[[socket.socket], None] | None] = ContextVar(
    "_SOCKET_OPENED", default=None
)


def _report_socket(sock: socket.socket) -> socket.socket:
    opened = _SOCKET_OPENED.get()
    if opened is not None:
        opened(sock)
    return sock


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        return _report_socket(super()._new_conn())


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        return _report_socket(super()._new_conn())


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS: dict[str, type[HTTPConnectionPool]] = {
    "http": _WatchedHTTPPool,
    "https": _WatchedHTTPSPool,
}


class _WatchedAdapter(HTTPAdapter):
    """An adapter whose connections (direct or through an HTTP proxy) report their sockets."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        # A SOCKS manager brings its own connection classes; only plain HTTP proxies are watched.
        if type(manager) is ProxyManager:
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


class _Retry(Exception):
    """A transient failure: worth another attempt while the deadline allows."""


@dataclass(frozen=True)
class _Ask:
    """What one query is, for messages: the SLO it serves and the PromQL it runs."""

    where: str
    query: str


class PrometheusClient:
    """Runs range queries against one server within a shared :class:`Deadline`."""

    def __init__(
        self,
        url: str,
        deadline: Deadline,
        timeout: float = 30.0,
        connect_timeout: float = 3.0,
        attempts: int = 3,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.url = url.rstrip("/")
        # What messages show: never the credentials a URL may carry.
        self.shown_url = redact_url(self.url)
        self.deadline = deadline
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.sleep = sleep
        self.max_answer_bytes = max_answer_bytes
        # One session per thread: the SLOs of a command may be asked for from several.
        self._local = threading.local()
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._sockets_lock = threading.Lock()
        self._cut = threading.Event()
        self._watchdog: threading.Timer | None = None

    @property
    def session(self) -> requests.Session:
        """This thread's session, its connections watched by the deadline.

        What the environment says about the server's URL (a proxy or ``NO_PROXY``, a CA
        bundle, credentials in ``.netrc``) is read once, as the session is made: every
        request goes to the same server, and reading the environment again for each one
        took a fifth of a request's time."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = _WatchedAdapter()
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            found = session.merge_environment_settings(self.url, {}, None, None, None)
            session.proxies, session.verify, session.cert = (
                found["proxies"], found["verify"], found["cert"])
            session.auth = requests.utils.get_netrc_auth(self.url)
            session.trust_env = False
            self._local.session = session
        return session

    def query_range(
        self, query: str, start: datetime, end: datetime, step_seconds: int, where: str
    ) -> list[MatrixSeries]:
        """Return the validated matrix answer of one range query, retrying transient failures."""
        ask = _Ask(where, query)
        params = {
            "query": query,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": str(step_seconds),
        }
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                pause = self.backoff * 2 ** (attempt - 1)
                if pause >= self.deadline.left():
                    raise self._deadline_error(ask, last)
                self.sleep(pause)
            if self.deadline.expired:
                raise self._deadline_error(ask, last)
            try:
                status, body = self._get("/api/v1/query_range", params, ask)
            except _Retry as exc:
                last = str(exc)
                continue
            window = (start.timestamp() - step_seconds, end.timestamp() + step_seconds)
            return _matrix(body, status, ask, window)
        raise EngineError(f"{where}: {last} after {self.attempts} attempt(s)")

    def _get(self, path: str, params: dict[str, str], ask: _Ask) -> tuple[int, bytes]:
        """Return the status and the whole (decoded) body of one GET, within the deadline."""
        left = self.deadline.left()
        self._watch_deadline()
        token = _SOCKET_OPENED.set(self._watch_socket)
        try:
            try:
                response = self.session.get(
                    f"{self.url}{path}",
                    params=params,
                    timeout=(min(self.connect_timeout, left), min(self.timeout, left)),
                    stream=True,
                    allow_redirects=False,
                )
            except requests.ConnectionError as exc:
                if self._cut.is_set() or self.deadline.expired:
                    raise self._deadline_error(ask, "") from None
                raise _Retry(
                    f"Prometheus at {self.shown_url} is not reachable ({_reason(exc)})"
                ) from None
            except requests.Timeout:
                if self.deadline.expired:
                    raise self._deadline_error(ask, "") from None
                raise _Retry(
                    f"Prometheus at {self.shown_url} did not answer within {self.timeout:g} s"
                ) from None
            except requests.RequestException as exc:
                raise EngineError(
                    f"{ask.where}: request to Prometheus at {self.shown_url} failed: "
                    f"{_printable(_reason(exc))}"
                ) from None
            with response:
                return response.status_code, self._body(response, ask)
        finally:
            _SOCKET_OPENED.reset(token)

    def _body(self, response: requests.Response, ask: _Ask) -> bytes:
        status = response.status_code
        if 300 <= status < 400:
            raise self._redirect_refused(response, ask)
        if status in _RETRYABLE_STATUS:
            raise _Retry(f"Prometheus at {self.shown_url} answered HTTP {status}")
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in response.iter_content(READ_CHUNK_BYTES):
                size += len(chunk)
                if size > self.max_answer_bytes:
                    raise PrometheusAnswerRefused(
                        f"{ask.where}: the answer of Prometheus at {self.shown_url} exceeds "
                        f"{_mib(self.max_answer_bytes)} once decompressed; refused\n"
                        f"  query: {ask.query}"
                    )
                if self.deadline.expired:
                    raise self._deadline_error(ask, "")
                chunks.append(chunk)
        except requests.exceptions.ContentDecodingError:
            raise PrometheusAnswerRefused(
                f"{ask.where}: Prometheus at {self.shown_url} sent a body that does not "
                f"decompress as its Content-Encoding says\n  query: {ask.query}"
            ) from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
            if self._cut.is_set() or self.deadline.expired:
                raise self._deadline_error(ask, "") from None
            raise _Retry(
                f"Prometheus at {self.shown_url} broke off its answer ({_reason(exc)})"
            ) from None
        # A body without a length ends when the connection closes, which the watchdog does.
        if self._cut.is_set() or self.deadline.expired:
            raise self._deadline_error(ask, "")
        return b"".join(chunks)

    def _watch_deadline(self) -> None:
        """Start the watchdog, once: when the deadline passes, it shuts this client's sockets,
        waking any request still running. It ends with the client, or at the deadline."""
        with self._sockets_lock:
            if self._watchdog is not None:
                return
            timer = threading.Timer(self.deadline.left(), _cut_connections_of,
                                    args=(weakref.ref(self),))
            timer.daemon = True
            self._watchdog = timer
        timer.start()
        weakref.finalize(self, timer.cancel)

    def _watch_socket(self, sock: socket.socket) -> None:
        with self._sockets_lock:
            self._sockets.add(sock)

    def _cut_connections(self) -> None:
        self._cut.set()
        with self._sockets_lock:
            sockets = list(self._sockets)
        for sock in sockets:
            # shutdown, not close: it wakes a read blocked in another thread at once.
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _deadline_error(self, ask: _Ask, last: str) -> PrometheusDeadlineExceeded:
        before = f" (before that: {last})" if last else ""
        return PrometheusDeadlineExceeded(
            f"{ask.where}: Prometheus at {self.shown_url} did not finish answering within the "
            f"{self.deadline.seconds:g} s deadline of this command{before}; "
            f"set {DEADLINE_ENV} to change it\n  query: {ask.query}"
        )

    def _redirect_refused(self, response: requests.Response, ask: _Ask) -> PrometheusAnswerRefused:
        location = response.headers.get("Location", "")
        target = urlsplit(urljoin(f"{self.url}/", location))
        origin = urlsplit(self.url)
        shown = _printable(redact_url(urlunsplit(target._replace(query="", fragment=""))))
        same = (target.scheme, target.hostname, target.port) == (
            origin.scheme,
            origin.hostname,
            origin.port,
        )
        hint = (
            "pass the URL it points to as the Prometheus URL"
            if same
            else f"it points to another server ({_printable(_host_port(target))})"
        )
        return PrometheusAnswerRefused(
            f"{ask.where}: Prometheus at {self.shown_url} answered HTTP {response.status_code} "
            f"redirecting to {shown}; redirects are never followed ({hint})\n"
            f"  query: {ask.query}"
        )


def _cut_connections_of(client: weakref.ref[PrometheusClient]) -> None:
    """The watchdog's work: shut the sockets of the client, if it is still in use."""
    alive = client()
    if alive is not None:
        alive._cut_connections()


def _matrix(body: bytes, status: int, ask: _Ask, window: tuple[float, float]) -> list[MatrixSeries]:
    """Return the series of a range-query answer, or refuse an answer of any other shape."""

    def refuse(what: str) -> PrometheusAnswerRefused:
        return PrometheusAnswerRefused(
            f"{ask.where}: the answer from Prometheus is not a range-query answer: {what}\n"
            f"  query: {ask.query}"
        )

    try:
        document = json.loads(body, parse_constant=_no_constant, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:
        if not 200 <= status < 300:
            raise EngineError(
                f"{ask.where}: Prometheus answered HTTP {status} with a non-JSON body"
            ) from None
        detail = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise refuse(f"not JSON ({_printable(detail)})") from None
    if not isinstance(document, dict):
        raise refuse(f"expected a JSON object, found {_kind(document)}")
    if document.get("status") == "error":
        kind = _printable(str(document.get("errorType") or status))
        detail = _printable(str(document.get("error", "")))
        raise PrometheusQueryRejected(
            f"{ask.where}: Prometheus rejected the query ({kind}): {detail}\n  query: {ask.query}"
        )
    if document.get("status") != "success":
        found = _shown(document.get("status"))
        raise refuse(f'\'status\' must be "success" or "error", found {found}')
    if not 200 <= status < 300:
        raise refuse(f'HTTP {status} with status "success"')
    data = document.get("data")
    if not isinstance(data, dict):
        raise refuse(f"'data' must be an object, found {_kind(data)}")
    if data.get("resultType") != "matrix":
        found = _shown(data.get("resultType"))
        raise refuse(f"'data.resultType' must be \"matrix\", found {found}")
    result = data.get("result")
    if not isinstance(result, list):
        raise refuse(f"'data.result' must be a list, found {_kind(result)}")
    return [_series(item, index, refuse, window) for index, item in enumerate(result)]


def _series(
    item: Any,
    index: int,
    refuse: Callable[[str], PrometheusAnswerRefused],
    window: tuple[float, float],
) -> MatrixSeries:
    at = f"data.result[{index}]"
    if not isinstance(item, dict):
        raise refuse(f"'{at}' must be an object, found {_kind(item)}")
    labels = item.get("metric")
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise refuse(f"'{at}.metric' must be an object of label names to text")
    if "histograms" in item:
        raise refuse(f"'{at}' holds native histogram samples, which are not event counts")
    samples = item.get("values")
    if not isinstance(samples, list):
        raise refuse(f"'{at}.values' must be a list, found {_kind(samples)}")
    stamps = np.empty(len(samples))
    values = np.empty(len(samples))
    previous = -math.inf
    for position, sample in enumerate(samples):
        where = f"'{at}.values[{position}]'"
        if not isinstance(sample, list) or len(sample) != 2:
            raise refuse(f'{where} must be [unix_time, "value"], found {_shown(sample)}')
        stamp, text = sample
        if type(stamp) not in (int, float) or not math.isfinite(stamp):
            raise refuse(f"{where} has a time that is not a finite number: {_shown(stamp)}")
        if not window[0] <= stamp <= window[1]:
            raise refuse(f"{where} has a time outside the range asked for: {_shown(stamp)}")
        if stamp <= previous:
            raise refuse(f"{where} is not later than the sample before it")
        if not isinstance(text, str) or len(text) > _SAMPLE_TEXT_MAX:
            raise refuse(f"{where} must hold its value as text, found {_shown(text)}")
        if not _SAMPLE_TEXT.fullmatch(text):
            raise refuse(f"{where} holds {_shown(text)}, which is not a number")
        value = float(text)
        if math.isinf(value) and "inf" not in text.lower():
            raise refuse(f"{where} holds {_shown(text)}, beyond the range of a 64-bit float")
        stamps[position] = stamp
        values[position] = value
        previous = stamp
    return MatrixSeries(dict(labels), stamps, values)


def sample_time(stamp: float) -> str:
    """Return a sample's Unix time as ISO 8601 UTC, for messages."""
    return datetime.fromtimestamp(stamp, UTC).isoformat().replace("+00:00", "Z")


def sample_text(value: float) -> str:
    """Return a sample value as Prometheus writes it (``NaN``, ``+Inf``), for messages."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:g}"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise ValueError(f"duplicate key '{key}'")
        found[key] = value
    return found


def _reason(exc: Exception) -> str:
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "getaddrinfo" in text:
        return "unknown host"
    return text.split(":")[-1].strip()[:120] or type(exc).__name__


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "a boolean"}
    if value is None:
        return "nothing"
    return names.get(type(value), "a number" if isinstance(value, int | float) else "a value")


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 2, 3, 3
_SHORT.maxstring, _SHORT.maxother = 40, 40


def _shown(value: Any) -> str:
    """Return a short, printable rendering of a value the server sent (cheap at any size)."""
    return _printable(_SHORT.repr(value), 80)


def _printable(text: str, limit: int = _SHOWN_TEXT_MAX) -> str:
    """Return ``text`` shortened and with control characters escaped: it came from a server."""
    cleaned = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text[: limit + 1])
    return cleaned if len(cleaned) <= limit else cleaned[:limit] + "…"


def _host_port(parts: SplitResult) -> str:
    host = parts.hostname or "?"
    return f"{host}:{parts.port}" if parts.port else host


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"
