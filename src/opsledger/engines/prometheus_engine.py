"""SLI counts from Prometheus over its HTTP API, the ratio pushed down as PromQL.

Each counter is asked for ``sum(increase(<counter>[1m]))`` with ``/api/v1/query_range`` at a
60 s step: the value at ``t`` counts the events in ``(t - 1m, t]``, i.e. the minute that ends
at ``t``. Prometheus refuses more than 11,000 points per series, so long spans are fetched in
chunks. Sloth-style templates (``{{.window}}``) are filled with ``1m``; rate templates are
multiplied by 60 to give events.

``increase`` extrapolates to the window edges when the first or last sample is not on them,
so a minute's count is exact when samples fall on the minute boundaries or traffic is steady
within the minute, and an estimate otherwise.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import requests

from opsledger.engines.interface import minutes_between
from opsledger.errors import EngineError
from opsledger.model.slo import (
    MINUTE,
    FloatArray,
    PrometheusSource,
    PromQuery,
    PromQueryKind,
    SliSeries,
    Slo,
)

MAX_POINTS = 11_000  # Prometheus' limit on points per series in one range query
CHUNK_MINUTES = 10_000
_SELECTOR = re.compile(r"^\s*[A-Za-z_:][A-Za-z0-9_:]*\s*(\{[^{}]*\})?\s*$")
_RETRYABLE_STATUS = {429, 502, 503, 504}


def counts_expr(query: PromQuery) -> str:
    """Return the PromQL giving events in the minute ending at each evaluation time."""
    if query.kind is PromQueryKind.RATE_TEMPLATE:
        return f"(sum({query.expr.replace('{{.window}}', '1m')}) * 60)"
    if query.kind is PromQueryKind.COUNT_TEMPLATE:
        return f"sum({query.expr.replace('{{.window}}', '1m')})"
    if _SELECTOR.match(query.expr):
        return f"sum(increase({query.expr.strip()}[1m]))"
    # An expression over counters: a subquery keeps increase() applicable.
    return f"sum(increase(({query.expr})[1m:15s]))"


def ratio_expr(query: PromQuery) -> str:
    """Return the PromQL for a ratio or gauge query sampled once per minute."""
    return query.expr.replace("{{.window}}", "1m")


def redact_url(url: str) -> str:
    """Return ``url`` without the user and password it may carry (``https://u:t@host``)."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=f"***@{netloc}"))


class PrometheusEngine:
    """Asks one Prometheus server (``url``) for SLI counts."""

    name = "prometheus"

    def __init__(
        self,
        url: str,
        timeout: float = 30.0,
        connect_timeout: float = 3.0,
        attempts: int = 3,
        backoff: float = 0.5,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        chunk_minutes: int = CHUNK_MINUTES,
    ) -> None:
        self.url = url.rstrip("/")
        # What messages and labels show: never the credentials a URL may carry.
        self.shown_url = redact_url(self.url)
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.session = session or requests.Session()
        self.sleep = sleep
        self.chunk_minutes = min(max(1, chunk_minutes), MAX_POINTS - 1)

    def supports(self, slo: Slo) -> bool:
        return isinstance(slo.indicator, PrometheusSource)

    def series(self, slo: Slo, start: datetime, end: datetime) -> SliSeries:
        source = slo.indicator
        if not isinstance(source, PrometheusSource):
            raise EngineError(f"{slo.key}: not a Prometheus SLI")
        minutes = minutes_between(start, end)
        if source.ratio is not None:
            values = self.minute_values(ratio_expr(source.ratio), start, minutes, slo)
            present = ~np.isnan(values)
            total = present.astype(np.float64)
            if source.threshold is not None:
                good = np.zeros(minutes)
                good[present] = _meets(values[present], source.threshold.op, source.threshold.bound)
            else:
                good = np.where(present, np.clip(values, 0.0, 1.0), 0.0)
            return SliSeries(start, good, total, source=f"prometheus:{self.shown_url}")
        fetched = {
            name: np.nan_to_num(self.minute_values(counts_expr(query), start, minutes, slo))
            for name, query in (("good", source.good), ("bad", source.bad), ("total", source.total))
            if query is not None
        }
        if "total" in fetched:
            total = fetched["total"]
            good = fetched["good"] if "good" in fetched else total - fetched["bad"]
        else:
            good = fetched["good"]
            total = good + fetched["bad"]
        return SliSeries(
            start,
            np.clip(good, 0.0, None),
            np.clip(total, 0.0, None),
            f"prometheus:{self.shown_url}",
        )

    def minute_values(self, expr: str, start: datetime, minutes: int, slo: Slo) -> FloatArray:
        """Return one value per minute (NaN where Prometheus has none), evaluated at minute end."""
        values = np.full(minutes, np.nan)
        first = 0
        while first < minutes:
            count = min(self.chunk_minutes, minutes - first)
            eval_start = start + (first + 1) * MINUTE
            eval_end = start + (first + count) * MINUTE
            for series in self.query_range(expr, eval_start, eval_end, slo):
                for stamp, text in series.get("values", []):
                    index = round((float(stamp) - start.timestamp()) / 60) - 1
                    value = float(text)
                    if 0 <= index < minutes and math.isfinite(value):
                        previous = values[index]
                        values[index] = value if np.isnan(previous) else previous + value
            first += count
        return values

    def query_range(
        self, expr: str, start: datetime, end: datetime, slo: Slo
    ) -> list[dict[str, Any]]:
        """Return the matrix result of one range query, retrying transient failures."""
        params = {
            "query": expr,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": "60",
        }
        if (end - start) / timedelta(seconds=60) + 1 > MAX_POINTS:
            raise EngineError(f"range query of {start}..{end} exceeds {MAX_POINTS} points")
        where = f"{slo.key} (defined at {slo.where})"
        last = ""
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self.session.get(
                    f"{self.url}/api/v1/query_range",
                    params=params,
                    timeout=(self.connect_timeout, self.timeout),
                )
            except requests.ConnectionError as exc:
                last = f"Prometheus at {self.shown_url} is not reachable ({_reason(exc)})"
                continue
            except requests.Timeout:
                last = f"Prometheus at {self.shown_url} did not answer within {self.timeout:g} s"
                continue
            except requests.RequestException as exc:
                raise EngineError(f"{where}: request to Prometheus failed: {exc}") from None
            if response.status_code in _RETRYABLE_STATUS:
                last = f"Prometheus at {self.shown_url} answered HTTP {response.status_code}"
                continue
            return _matrix(response, expr, where)
        raise EngineError(f"{where}: {last} after {self.attempts} attempt(s)")


def _reason(exc: Exception) -> str:
    text = str(exc)
    if "Connection refused" in text:
        return "connection refused"
    if "Name or service not known" in text or "getaddrinfo" in text:
        return "unknown host"
    return text.split(":")[-1].strip()[:120] or type(exc).__name__


def _matrix(response: requests.Response, expr: str, where: str) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        raise EngineError(
            f"{where}: Prometheus answered HTTP {response.status_code} with a non-JSON body"
        ) from None
    if not isinstance(body, dict) or body.get("status") != "success":
        detail = body.get("error", "") if isinstance(body, dict) else ""
        kind = body.get("errorType", "") if isinstance(body, dict) else ""
        raise EngineError(
            f"{where}: Prometheus rejected the query ({kind or response.status_code}): {detail}\n"
            f"  query: {expr}"
        )
    data = body.get("data") or {}
    if data.get("resultType") != "matrix":
        raise EngineError(
            f"{where}: expected a matrix from Prometheus, got {data.get('resultType')}"
        )
    result = data.get("result") or []
    return [item for item in result if isinstance(item, dict)]


def _meets(values: FloatArray, op: str, bound: float) -> FloatArray:
    compare = {"lt": np.less, "lte": np.less_equal, "gt": np.greater, "gte": np.greater_equal}[op]
    return compare(values, bound).astype(np.float64)
