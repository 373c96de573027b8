"""Smoke and health-check results, and performance runs.

A probe history can hold millions of probes (a year of five-minute probes of a hundred
services is ten million), so it is held by column in :class:`ProbeHistory`: a handful of
arrays in place of as many objects. :class:`ProbeResult` is one probe, made on demand.
"""

from __future__ import annotations

import operator
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cached_property
from typing import Any, TypeVar, overload

import numpy as np
import numpy.typing as npt

T = TypeVar("T")

Codes = npt.NDArray[np.integer[Any]]
Rows = npt.NDArray[np.intp]
# Lookups of one service's rows answered by a scan before all are grouped (ProbeHistory.rows_of).
SCANNED_LOOKUPS = 8
# A column given as its distinct values and, for each row, the index of its value.
Encoded = tuple[Sequence[T], Codes]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)
_MICROSECOND = timedelta(microseconds=1)
_ROWS_AT_A_TIME = 1 << 16  # probes made at a time when a history is iterated


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """One probe of one check against one service."""

    time: datetime
    service: str
    check: str
    ok: bool
    latency_ms: float | None


@dataclass(frozen=True)
class EndpointPerf:
    """Latency, throughput and errors of one endpoint in one run."""

    endpoint: str
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    rps: float | None
    error_rate: float | None  # 0-1
    requests: int | None = None


@dataclass(frozen=True)
class PerfRun:
    """A performance run: ``label`` is ``baseline`` or ``current`` (or a run name)."""

    label: str
    endpoints: tuple[EndpointPerf, ...]
    started_at: datetime | None = None
    tool: str = "native"


@dataclass(frozen=True)
class PerfReport:
    baseline: PerfRun | None
    current: PerfRun | None


def epoch_microseconds(moment: datetime) -> int:
    """Return ``moment`` as whole microseconds since 1970-01-01 UTC (a naive time as UTC)."""
    return (moment - (_NAIVE_EPOCH if moment.tzinfo is None else EPOCH)) // _MICROSECOND


@dataclass(frozen=True, eq=False)
class EncodedTimes:
    """A time column given as its distinct instants and, for each row, the index of its
    instant (``at``).

    ``micros`` holds each distinct instant in microseconds since 1970-01-01 UTC, and
    ``zone_of`` the zone it was written in, as an index into ``zones``; without zone codes
    every instant was written in UTC.
    """

    micros: npt.NDArray[np.int64]
    at: Codes
    zones: tuple[tzinfo | None, ...] = ()
    zone_of: Codes | None = None

    @classmethod
    def of(cls, instants: Sequence[tuple[int, tzinfo | None]], at: Codes) -> EncodedTimes:
        """Return the column of distinct ``instants`` (microseconds and zone) at rows ``at``."""
        micros = np.fromiter((us for us, _ in instants), dtype=np.int64, count=len(instants))
        if all(zone is UTC for _, zone in instants):
            return cls(micros, at)
        kinds: list[tzinfo | None] = []
        by_identity: dict[int, int] = {}  # a zone object is usually shared by many instants
        kind_of = np.empty(len(instants), dtype=np.intp)
        for index, (_, zone) in enumerate(instants):
            kind = by_identity.get(id(zone))
            if kind is None:
                kind = by_identity[id(zone)] = len(kinds)
                kinds.append(zone)
            kind_of[index] = kind
        return cls.zoned(micros, at, kinds, kind_of)

    @classmethod
    def zoned(
        cls, micros: npt.NDArray[np.int64], at: Codes, written_in: Sequence[tzinfo | None],
        kind_of: Codes,
    ) -> EncodedTimes:
        """Return the column of distinct instants ``micros`` at rows ``at``, each written in
        the zone ``written_in[kind_of[i]]``; a zone written in several ways is held once."""
        zones: list[tzinfo | None] = []
        remap = [_zone_index(zones, zone) for zone in written_in]
        if all(zone is UTC for zone in zones):
            return cls(micros, at)
        codes = np.asarray(remap, dtype=_code_type(len(zones)))
        return cls(micros, at, tuple(zones), codes[kind_of])


@dataclass(frozen=True, eq=False)
class ProbeHistory:
    """Probe results held by column, one entry per probe in each array, in reading order.

    - ``time``: microseconds since 1970-01-01 UTC;
    - ``service``, ``check``: codes into ``services`` and ``checks``, which are sorted and
      name each once, so that codes sort as the names do;
    - ``ok``; ``latency_ms``: NaN where the probe reported no latency;
    - ``zone``: codes into ``zones``, the time zone each time was written in (None in
      ``zones`` for a time without one), so that a probe made from the history is the one
      read; ``zone`` is None when every time is in UTC, as a history's times usually are.

    Indexing with a number gives a :class:`ProbeResult`; with a slice, a boolean mask or an
    array of rows, the history of those probes (with the same names).
    """

    time: npt.NDArray[np.int64]
    service: Codes
    check: Codes
    ok: npt.NDArray[np.bool_]
    latency_ms: npt.NDArray[np.float64]
    services: tuple[str, ...]
    checks: tuple[str, ...]
    zone: Codes | None = None
    zones: tuple[tzinfo | None, ...] = ()

    def __post_init__(self) -> None:
        count = len(self.time)
        columns = (self.service, self.check, self.ok, self.latency_ms)
        if any(len(column) != count for column in columns) or (
            self.zone is not None and len(self.zone) != count
        ):
            raise ValueError("the columns of a probe history differ in length")
        for names in (self.services, self.checks):
            if not all(map(operator.lt, names, names[1:])):
                raise ValueError("the names of a probe history must be sorted and distinct")

    # --- building ---------------------------------------------------------------------------

    @classmethod
    def empty(cls) -> ProbeHistory:
        """Return a history without probes."""
        return cls.from_records(())

    @classmethod
    def of(cls, probes: Iterable[ProbeResult] | ProbeHistory) -> ProbeHistory:
        """Return ``probes`` as a history (itself when it is one already)."""
        return probes if isinstance(probes, ProbeHistory) else cls.from_records(probes)

    @classmethod
    def from_records(cls, records: Iterable[ProbeResult]) -> ProbeHistory:
        """Return the history of ``records``, in their order."""
        items = records if isinstance(records, Sequence) else list(records)
        rows = np.arange(len(items), dtype=np.intp)
        return cls.from_encoded(
            EncodedTimes.of([(epoch_microseconds(p.time), p.time.tzinfo) for p in items], rows),
            ([p.service for p in items], rows),
            ([p.check for p in items], rows),
            ([p.ok for p in items], rows),
            ([p.latency_ms for p in items], rows),
        )

    @classmethod
    def from_encoded(
        cls,
        time: EncodedTimes,
        service: Encoded[str],
        check: Encoded[str],
        ok: Encoded[bool],
        latency_ms: Encoded[float | None],
    ) -> ProbeHistory:
        """Return the history of columns each given as distinct values and each row's index
        into them (as a dictionary-encoded column of Arrow's); a time is its microseconds
        since 1970-01-01 UTC and the zone it was written in. Values are converted once each.
        """
        services, service_codes = _name_codes(service)
        checks, check_codes = _name_codes(check)
        oks = np.fromiter(ok[0], dtype=np.bool_, count=len(ok[0]))
        latencies = np.fromiter(
            (np.nan if value is None else value for value in latency_ms[0]),
            dtype=np.float64,
            count=len(latency_ms[0]),
        )
        return cls(
            time=time.micros[time.at],
            service=service_codes,
            check=check_codes,
            ok=oks[ok[1]],
            latency_ms=latencies[latency_ms[1]],
            services=services,
            checks=checks,
            zone=None if time.zone_of is None else time.zone_of[time.at],
            zones=time.zones,
        )

    @classmethod
    def concat(cls, parts: Sequence[ProbeHistory]) -> ProbeHistory:
        """Return the probes of ``parts`` one after the other, in one history."""
        filled = [part for part in parts if len(part)]
        if not filled:
            return cls.empty()
        if len(filled) == 1:
            return filled[0]
        services = tuple(sorted({name for part in filled for name in part.services}))
        checks = tuple(sorted({name for part in filled for name in part.checks}))
        zoned = any(part.zone is not None for part in filled)
        zones: list[tzinfo | None] = [UTC] if zoned else []
        zone_columns: list[Codes] = []
        for part in filled:
            if not zoned:
                break
            if part.zone is None:
                zone_columns.append(np.zeros(len(part), dtype=np.uint8))
                continue
            codes = [_zone_index(zones, zone) for zone in part.zones]
            zone_columns.append(np.asarray(codes, dtype=np.int32)[part.zone])
        return cls(
            time=np.concatenate([part.time for part in filled]),
            service=np.concatenate([_recoded(part.service, part.services, services)
                                    for part in filled]),
            check=np.concatenate([_recoded(part.check, part.checks, checks) for part in filled]),
            ok=np.concatenate([part.ok for part in filled]),
            latency_ms=np.concatenate([part.latency_ms for part in filled]),
            services=services,
            checks=checks,
            zone=np.concatenate(zone_columns).astype(_code_type(len(zones))) if zoned else None,
            zones=tuple(zones),
        )

    # --- probes -----------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.time)

    def __iter__(self) -> Iterator[ProbeResult]:
        for start in range(0, len(self), _ROWS_AT_A_TIME):
            yield from self._records(slice(start, start + _ROWS_AT_A_TIME))

    @overload
    def __getitem__(self, index: int) -> ProbeResult: ...

    @overload
    def __getitem__(
        self, index: slice | npt.NDArray[np.bool_] | npt.NDArray[np.integer[Any]]
    ) -> ProbeHistory: ...

    def __getitem__(
        self, index: int | slice | npt.NDArray[np.bool_] | npt.NDArray[np.integer[Any]]
    ) -> ProbeResult | ProbeHistory:
        if isinstance(index, int | np.integer):
            row = range(len(self))[index]  # a negative index counts from the end
            (probe,) = self._records(slice(row, row + 1))
            return probe
        return ProbeHistory(
            self.time[index], self.service[index], self.check[index], self.ok[index],
            self.latency_ms[index], self.services, self.checks,
            None if self.zone is None else self.zone[index], self.zones,
        )

    def moment(self, row: int) -> datetime:
        """Return the time of the probe in ``row``, in the time zone it was written in."""
        return self[row].time

    def between(self, start: datetime, end: datetime) -> npt.NDArray[np.bool_]:
        """Return which probes ran in ``[start, end)``."""
        since, until = epoch_microseconds(start), epoch_microseconds(end)
        mask: npt.NDArray[np.bool_] = (self.time >= since) & (self.time < until)
        return mask

    def _records(self, rows: slice) -> list[ProbeResult]:
        micros = self.time[rows].tolist()
        if self.zone is None:
            times = [EPOCH + timedelta(microseconds=us) for us in micros]
        else:
            times = [_written(us, self.zones[code])
                     for us, code in zip(micros, self.zone[rows].tolist(), strict=True)]
        services = [self.services[code] for code in self.service[rows].tolist()]
        checks = [self.checks[code] for code in self.check[rows].tolist()]
        latencies = [None if value != value else value  # NaN: no latency
                     for value in self.latency_ms[rows].tolist()]
        return list(map(ProbeResult, times, services, checks, self.ok[rows].tolist(), latencies))

    # --- groups -----------------------------------------------------------------------------

    def service_code(self, service: str) -> int | None:
        """Return the code of ``service`` in ``services``, or None when it has none."""
        return _code_of(self.services, service)

    @property
    def present_services(self) -> tuple[str, ...]:
        """Return the services with at least one probe, sorted."""
        counts = _code_counts(self.service, len(self.services))
        return tuple(self.services[code] for code in np.flatnonzero(counts).tolist())

    @cached_property
    def rows_by_service(self) -> Mapping[str, Rows]:
        """Return each service's rows in reading order, for the services with probes."""
        return _groups(self.service, self.services)

    @cached_property
    def rows_by_check(self) -> Mapping[tuple[str, str], Rows]:
        """Return the rows of each service's check in reading order, keyed (service, check)."""
        pairs = self.service.astype(np.int64) * max(len(self.checks), 1) + self.check
        keys = [(service, check) for service in self.services for check in self.checks]
        return _groups(pairs, keys)

    def rows_of(self, service: str, check: str | None = None) -> Rows:
        """Return the rows of ``service`` (of its ``check`` only, when given), in order.

        The first ``SCANNED_LOOKUPS`` lookups scan the codes, a few milliseconds for millions
        of probes. Past them, the rows of every service (or of every check) are grouped once
        and kept: a sort of the whole history, held at eight bytes a probe, which pays only
        when most services are asked for.
        """
        grouped = "rows_by_service" if check is None else "rows_by_check"
        # The count is kept beside the cached groupings, in the instance's own dictionary.
        state = vars(self)
        if grouped not in state and state.get("_scans", 0) < SCANNED_LOOKUPS:
            state["_scans"] = state.get("_scans", 0) + 1
            return self._scanned(service, check)
        found = (self.rows_by_service.get(service) if check is None
                 else self.rows_by_check.get((service, check)))
        return np.zeros(0, dtype=np.intp) if found is None else found

    def _scanned(self, service: str, check: str | None) -> Rows:
        code = self.service_code(service)
        check_code = None if check is None else _code_of(self.checks, check)
        if code is None or (check is not None and check_code is None):
            return np.zeros(0, dtype=np.intp)
        match = self.service == code
        if check_code is not None:
            match &= self.check == check_code
        return np.flatnonzero(match)


def _code_of(names: tuple[str, ...], name: str) -> int | None:
    """Return the position of ``name`` in the sorted ``names``, or None when absent."""
    code = bisect_left(names, name)
    return code if code < len(names) and names[code] == name else None


def _written(micros: int, zone: tzinfo | None) -> datetime:
    """Return the time ``micros`` after the epoch as written in ``zone`` (None: naive)."""
    if zone is None:
        return _NAIVE_EPOCH + timedelta(microseconds=micros)
    moment = EPOCH + timedelta(microseconds=micros)
    return moment if zone is UTC else moment.astimezone(zone)


def _code_type(count: int) -> type[np.integer[Any]]:
    """Return the smallest integer type that codes ``count`` names."""
    if count <= 1 << 8:
        return np.uint8
    if count <= 1 << 16:
        return np.uint16
    return np.int32


def _name_codes(column: Encoded[str]) -> tuple[tuple[str, ...], Codes]:
    """Return the sorted distinct names of an encoded column and each row's code into them."""
    values, at = column
    names = sorted(set(values))
    index = {name: code for code, name in enumerate(names)}
    codes = np.fromiter((index[value] for value in values), dtype=_code_type(len(names)),
                        count=len(values))
    return tuple(names), codes[at]


def _zone_index(zones: list[tzinfo | None], zone: tzinfo | None) -> int:
    """Return the index of ``zone`` in ``zones``, added when new.

    Zones are told apart by their representation: ``timezone`` compares offsets only, and
    a zone's name is part of how its times are written.
    """
    key = repr(zone)
    for index, known in enumerate(zones):
        if known is zone or repr(known) == key:
            return index
    zones.append(zone)
    return len(zones) - 1


def _recoded(codes: Codes, names: tuple[str, ...], into: tuple[str, ...]) -> Codes:
    """Return ``codes`` into ``names`` as codes into ``into`` (which holds every name)."""
    index = {name: code for code, name in enumerate(into)}
    remap = np.fromiter((index[name] for name in names), dtype=_code_type(len(into)),
                        count=len(names))
    return remap[codes]


def _code_counts(codes: Codes | npt.NDArray[np.int64], size: int) -> npt.NDArray[np.intp]:
    """Return how many times each of the codes ``0 .. size - 1`` occurs in ``codes``."""
    return np.bincount(codes, minlength=size) if len(codes) else np.zeros(size, np.intp)


def _groups(codes: Codes | npt.NDArray[np.int64], keys: Sequence[T]) -> dict[T, Rows]:
    """Return the rows of each code that occurs, keyed by ``keys[code]``, rows in order."""
    order = np.argsort(codes, kind="stable")
    counts = _code_counts(codes, len(keys))
    ends = np.cumsum(counts)
    return {keys[code]: order[ends[code] - counts[code]: ends[code]]
            for code in np.flatnonzero(counts).tolist()}
