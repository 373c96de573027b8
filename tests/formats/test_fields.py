from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsledger.formats.fields import (
    EARLIEST,
    LATEST,
    Fields,
    outside_the_dates,
    parse_datetime,
    parse_duration_seconds,
    stamp_column,
)
from opsledger.model.common import ItemStatus, Severity


def make(values: dict[str, object]) -> Fields:
    return Fields("f.csv", values, lambda c: f"line 2, column '{c}'")


def test_typed_fields_read_good_values() -> None:
    f = make(
        {
            "n": "1,234.5",
            "i": "7",
            "b": "Yes",
            "t": "2026-01-02T03:04:05Z",
            "d": "2026-01-02",
            "dur": "5m",
            "sev": "P1",
        }
    )
    assert f.number("n") == 1234.5
    assert f.integer("i") == 7
    assert f.boolean("b") is True
    assert f.timestamp("t") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert f.day("d") == date(2026, 1, 2)
    assert f.duration("dur") == 300
    assert f.choice("sev", Severity) is None  # P1 is not a member name/value...
    assert Severity.parse("P1") is Severity.CRITICAL  # ...but parses as a spelling
    assert f.problems[-1].location == "line 2, column 'sev'"


def test_bad_fields_name_location_expected_and_found() -> None:
    f = make({"when": "yesterday-ish", "n": "abc", "ok": "maybe", "missing": ""})
    assert f.timestamp("when") is None
    assert f.number("n") is None
    assert f.boolean("ok") is None
    assert f.text("missing") is None
    texts = [str(p) for p in f.problems]
    assert texts[0] == (
        "f.csv: line 2, column 'when': 'when' is not a date-time "
        "(expected an ISO 8601 date-time, found 'yesterday-ish')"
    )
    assert "found 'abc'" in texts[1]
    assert "true/false" in texts[2]
    assert "missing value for 'missing'" in texts[3]
    assert not f.ok


def test_commas_are_only_thousands_separators() -> None:
    f = make({"us": "12,345.5", "eu": "1,5", "odd": "1,23"})
    assert f.number("us") == 12345.5
    assert f.number("eu") is None
    assert f.number("odd") is None
    assert "found '1,5'" in str(f.problems[0])


def test_optional_fields_may_be_empty() -> None:
    f = make({"x": "  "})
    assert f.number("x", required=False) is None
    assert f.ok


def test_number_bounds_and_non_finite() -> None:
    f = make({"a": "6", "b": "nan", "c": "inf"})
    assert f.number("a", maximum=5) is None
    assert f.number("b") is None
    assert f.number("c") is None
    assert len(f.problems) == 3


def test_parse_datetime_variants() -> None:
    assert parse_datetime("2026-03-01 10:00") == datetime(2026, 3, 1, 10, tzinfo=UTC)
    assert parse_datetime("2026-03-01T10:00:00+02:00").utcoffset() == timedelta(hours=2)
    assert parse_datetime("1767225600") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_datetime("1767225600000") == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_datetime("2026-01-01 00:00:00 UTC") == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        parse_datetime("31/12/2026")


@given(
    st.datetimes(
        timezones=st.just(UTC), min_value=datetime(1971, 1, 1), max_value=datetime(2199, 12, 31)
    )
)
def test_parse_datetime_round_trips_isoformat(value: datetime) -> None:
    assert parse_datetime(value.isoformat()) == value


def test_durations() -> None:
    assert parse_duration_seconds("01:30:00") == 5400
    assert parse_duration_seconds("1.5h") == 5400
    assert parse_duration_seconds("250ms") == 0.25
    with pytest.raises(ValueError):
        parse_duration_seconds("soon")


def test_status_and_severity_spellings() -> None:
    assert ItemStatus.parse("Closed") is ItemStatus.DONE
    assert ItemStatus.parse("In Progress") is ItemStatus.IN_PROGRESS
    assert ItemStatus.parse("weird") is None
    assert Severity.parse("SEV2") is Severity.HIGH
    assert Severity.parse("Moderate") is Severity.MEDIUM


_CELLS = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31),
                 timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]))
    .map(lambda t: t.isoformat()),
    st.sampled_from(["2026-03-01T00:00:00Z", " 2026-03-01T00:00:00Z ", "2026-03-01",
                     "2026-03-01 12:00", "2026-03-01T12:00:00.5", "2026-03-01T12:00:00-0330",
                     "2026-03-01T12:00+01", "2026-03-01T12:00:00z", "2300-01-01T00:00:00Z",
                     "garbage", "", "  ", "2026-02-30T00:00:00Z"]),
    st.none(), st.integers(0, 10**10),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_CELLS, max_size=30), st.integers(0, 100))
def test_a_time_column_reads_each_cell_as_reading_every_row_does(
        cells: list[object], first: int) -> None:
    """Each cell is read as pandas reads it alone, whatever its neighbours, and the same
    cells are told unreadable or out of range."""
    values = pd.Series(cells, index=range(first, first + len(cells)), dtype=object)
    stamps, unreadable, outside = stamp_column(values)
    text = values.where(values.notna(), "").astype(str).str.strip()
    every = pd.Series([pd.to_datetime(pd.Series([cell]), utc=True, errors="coerce",
                                      format="ISO8601").iloc[0] for cell in text],
                      index=values.index, dtype="datetime64[ns, UTC]")
    assert stamps.index.equals(values.index)
    assert stamps.equals(every.where(~outside))
    missing = every.isna().to_numpy()
    early_or_late = ~missing & ((every < pd.Timestamp(EARLIEST))
                                | (every > pd.Timestamp(LATEST))).to_numpy()
    beyond = np.array([m and outside_the_dates(cell) for m, cell in zip(missing, text,
                                                                          strict=True)],
                      dtype=bool)
    assert (outside == (early_or_late | beyond)).all()
    assert (unreadable == (missing & ~outside)).all()

