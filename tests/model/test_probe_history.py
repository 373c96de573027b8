"""The probe history held by column: the records it is made from are the records it gives."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsledger.model.health import (
    SCANNED_LOOKUPS,
    ProbeHistory,
    ProbeResult,
    epoch_microseconds,
)

T0 = datetime(2026, 10, 1, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))


def exact(probes: list[ProbeResult] | ProbeHistory) -> list[tuple[object, ...]]:
    """Return each probe as the values and types a consumer could tell apart."""
    return [(p.time, p.time.tzinfo, p.service, p.check, p.ok, type(p.ok), repr(p.latency_ms))
            for p in probes]


def sample() -> list[ProbeResult]:
    return [
        ProbeResult(T0, "search", "http", True, 41.5),
        ProbeResult(T0 + timedelta(minutes=5), "checkout", "login", False, None),
        ProbeResult((T0 + timedelta(minutes=5)).astimezone(PLUS_TWO), "search", "http", True,
                    -0.0),
        ProbeResult(T0 + timedelta(minutes=10), "checkout", "http", True, 0.25),
    ]


def test_records_round_trip_with_their_zones_and_missing_latencies() -> None:
    records = sample()
    history = ProbeHistory.from_records(records)
    assert len(history) == 4
    assert list(history) == records
    assert exact(history) == exact(records)
    assert history.services == ("checkout", "search") and history.checks == ("http", "login")
    assert history[2].time.tzinfo == PLUS_TWO and history[2].time.hour == 2
    assert history[-1] == records[-1]
    # No latency is NaN in the column and None in the record made from it.
    assert math.isnan(history.latency_ms[1]) and history[1].latency_ms is None
    assert history.time[0] == epoch_microseconds(T0) == 1_790_812_800_000_000


def test_a_history_of_utc_times_holds_no_zones() -> None:
    history = ProbeHistory.from_records([p for p in sample() if p.time.tzinfo is UTC])
    assert history.zone is None and history.zones == ()
    assert all(p.time.tzinfo is UTC for p in history)


def test_naive_times_stay_naive() -> None:
    naive = ProbeResult(datetime(2026, 10, 1, 12), "a", "http", True, None)
    (back,) = ProbeHistory.from_records([naive])
    assert back == naive and back.time.tzinfo is None


def test_masks_slices_and_rows_select_probes_in_order() -> None:
    records = sample()
    history = ProbeHistory.from_records(records)
    assert list(history[history.ok]) == [p for p in records if p.ok]
    assert list(history[1:3]) == records[1:3]
    assert list(history[np.array([3, 0])]) == [records[3], records[0]]
    selected = history[history.service == history.service_code("checkout")]
    assert selected.services == history.services  # the names stay, whatever is selected
    assert selected.present_services == ("checkout",)
    # Naming the services keeps no grouping of the rows (eight bytes a probe) for later.
    assert "rows_by_service" not in vars(selected)


def test_between_is_half_open() -> None:
    history = ProbeHistory.from_records(sample())
    inside = history.between(T0 + timedelta(minutes=5), T0 + timedelta(minutes=10))
    assert inside.tolist() == [False, True, True, False]


def test_rows_by_service_and_check_are_in_reading_order() -> None:
    history = ProbeHistory.from_records(sample())
    assert {k: v.tolist() for k, v in history.rows_by_service.items()} == {
        "checkout": [1, 3], "search": [0, 2]}
    assert {k: v.tolist() for k, v in history.rows_by_check.items()} == {
        ("checkout", "http"): [3], ("checkout", "login"): [1], ("search", "http"): [0, 2]}
    assert history.rows_of("search").tolist() == [0, 2]
    assert history.rows_of("checkout", "login").tolist() == [1]
    assert history.rows_of("checkout", "tcp").tolist() == []
    assert history.rows_of("nobody").tolist() == []
    assert history.service_code("search") == 1 and history.service_code("nobody") is None


@settings(max_examples=60, deadline=None)
@given(probes=st.lists(st.tuples(st.sampled_from(["a", "b", "c"]),
                                 st.sampled_from(["http", "tcp"])), max_size=30))
def test_rows_of_a_few_services_are_scanned_and_of_many_grouped_alike(
    probes: list[tuple[str, str]],
) -> None:
    history = ProbeHistory.from_records(
        [ProbeResult(T0 + timedelta(minutes=i), service, check, True, 1.0)
         for i, (service, check) in enumerate(probes)])
    asked = [(s, c) for s in ("a", "b", "c", "nobody") for c in (None, "http", "tcp", "dns")]
    # Reference: the positions of the matching probes, in reading order.
    expected = {(s, c): [i for i, (ps, pc) in enumerate(probes)
                         if ps == s and (c is None or pc == c)] for s, c in asked}
    found = {(s, c): history.rows_of(s, c).tolist() for s, c in asked}
    assert found == expected
    # The first lookups scanned; the later ones grouped every service and check once.
    assert len(asked) > SCANNED_LOOKUPS
    assert {"rows_by_service", "rows_by_check"} <= set(vars(history))
    scanned = ProbeHistory.from_records(list(history))
    assert scanned.rows_of("a", "http").tolist() == expected["a", "http"]
    assert not {"rows_by_service", "rows_by_check"} & set(vars(scanned))


def test_concat_joins_names_zones_and_rows() -> None:
    records = sample()
    first = ProbeHistory.from_records(records[:2])  # UTC only
    second = ProbeHistory.from_records(records[2:])  # one time at +02:00
    third = ProbeHistory.from_records([ProbeResult(T0, "auth", "tcp", False, 3.0)])
    joined = ProbeHistory.concat([first, ProbeHistory.empty(), second, third])
    assert exact(joined) == exact([*records, *third])
    assert joined.services == ("auth", "checkout", "search")
    assert joined.checks == ("http", "login", "tcp")
    assert ProbeHistory.concat([first]) is first
    assert len(ProbeHistory.concat([])) == 0


def test_an_empty_history() -> None:
    empty = ProbeHistory.empty()
    assert len(empty) == 0 and list(empty) == [] and empty.present_services == ()
    assert empty.rows_by_service == {} and empty.rows_of("a").tolist() == []
    assert empty.between(T0, T0 + timedelta(days=1)).tolist() == []
    assert ProbeHistory.of([]).services == ()
    with pytest.raises(IndexError):
        empty[0]


def test_a_history_is_taken_as_it_is_and_records_are_converted() -> None:
    history = ProbeHistory.from_records(sample())
    assert ProbeHistory.of(history) is history
    assert list(ProbeHistory.of(iter(sample()))) == sample()


def test_columns_of_different_lengths_or_unsorted_names_are_refused() -> None:
    history = ProbeHistory.from_records(sample())
    with pytest.raises(ValueError, match="length"):
        ProbeHistory(history.time[:2], history.service, history.check, history.ok,
                     history.latency_ms, history.services, history.checks)
    with pytest.raises(ValueError, match="sorted"):
        ProbeHistory(history.time, history.service, history.check, history.ok,
                     history.latency_ms, ("search", "checkout"), history.checks)


def test_a_long_history_is_iterated_in_blocks_in_order() -> None:
    records = [ProbeResult(T0 + timedelta(seconds=i), f"s{i % 7}", "http", i % 3 > 0,
                           None if i % 5 == 0 else float(i)) for i in range(70_000)]
    assert list(ProbeHistory.from_records(records)) == records


probes = st.builds(
    ProbeResult,
    time=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 1, 1),
                      timezones=st.sampled_from([UTC, PLUS_TWO, timezone(timedelta(0), "Z")])),
    service=st.sampled_from(["a", "b", "checkout", "é"]),
    check=st.sampled_from(["http", "tcp", "health"]),
    ok=st.booleans(),
    latency_ms=st.none() | st.floats(min_value=0, max_value=1e9, allow_nan=False),
)


@settings(max_examples=80, deadline=None)
@given(parts=st.lists(st.lists(probes, max_size=8), max_size=4))
def test_any_records_round_trip_alone_and_concatenated(parts: list[list[ProbeResult]]) -> None:
    everything = [p for part in parts for p in part]
    joined = ProbeHistory.concat([ProbeHistory.from_records(part) for part in parts])
    assert exact(joined) == exact(everything)
    assert exact(ProbeHistory.from_records(everything)) == exact(everything)
    assert [p.time.tzname() for p in joined] == [p.time.tzname() for p in everything]
    mask = np.array([p.ok for p in everything], dtype=np.bool_)
    assert exact(joined[mask]) == exact([p for p in everything if p.ok])


@pytest.mark.parametrize("services", [("search", "checkout"), ("checkout", "checkout"),
                                      ("a", "c", "b")])
def test_names_that_are_not_sorted_and_distinct_are_refused(services: tuple[str, ...]) -> None:
    history = ProbeHistory.from_records(sample())
    with pytest.raises(ValueError, match="sorted and distinct"):
        ProbeHistory(history.time, history.service, history.check, history.ok,
                     history.latency_ms, services, history.checks)
    kept = ProbeHistory(history.time, history.service, history.check, history.ok,
                        history.latency_ms, tuple(sorted(set(services))), history.checks)
    assert kept.services == tuple(sorted(set(services)))
