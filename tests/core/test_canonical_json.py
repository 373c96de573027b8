"""Canonical JSON (``dumps_json``): what the standard library writes with two-space indent,
sorted keys, text as it is and ``default=str``, however the document is encoded."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum, IntEnum, StrEnum
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from opsledger.core.fileio import dumps_json


def standard(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n"


def strict_load(text: str) -> Any:
    def refuse(constant: str) -> None:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


class Status(StrEnum):
    OK = "ok"


class Tier(IntEnum):
    GOLD = 0


class Colour(Enum):
    RED = "red"


@dataclass(frozen=True)
class Point:
    x: int


def test_every_kind_of_value_a_document_holds_is_written_as_before() -> None:
    document = {
        "status": Status.OK,
        "tier": Tier.GOLD,
        "share": np.float64(0.25),
        "count": np.int64(7),
        "at": datetime(2026, 11, 1, 12, 30, tzinfo=UTC),
        "day": date(2026, 11, 1),
        "point": Point(3),
        "path": Path("reports/ops"),
        "pair": (1, 2.5),
        "set_aside": None,
        "flags": [True, False],
        "text": 'quote " backslash \\ tab \t newline \n bell \x07 del \x7f',
        "wide": "Zürich — 東京 🚀 \u2028 \u2029",
        "nested": {"b": [], "a": {}, "c": [{"z": 1, "y": -0.0}]},
        "big": 2**63 - 1,
        "small": -(2**63),
        "float": 1234.5678,
    }
    assert dumps_json(document) == standard(document)


def test_integer_keys_and_integers_beyond_64_bits_are_written_as_before() -> None:
    by_tier = {10: "ten", 2: "two"}  # sorted as numbers, then written as text
    assert dumps_json(by_tier) == standard(by_tier)
    assert dumps_json({"huge": 2**70}) == standard({"huge": 2**70})


def test_an_enumeration_that_is_not_text_is_written_as_its_value_not_its_python_name() -> None:
    assert strict_load(dumps_json({"colour": Colour.RED})) == {"colour": "red"}


def test_a_float_that_is_not_finite_is_written_as_json_null() -> None:
    text = dumps_json({"rate": math.nan, "ceiling": math.inf})
    assert strict_load(text) == {"ceiling": None, "rate": None}


def test_floats_with_an_exponent_read_back_as_the_same_number() -> None:
    values = [2.2744343111241592e-07, 1e16, 1e-5, 5e-324, 1.7976931348623157e308]
    assert strict_load(dumps_json(values)) == values


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_any_json_document_reads_back_as_the_standard_library_writes_it(value: Any) -> None:
    text = dumps_json(value)
    assert text.endswith("\n")
    assert strict_load(text) == strict_load(standard(value))


@given(st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
))
def test_a_document_without_floats_is_written_byte_for_byte_as_before(value: Any) -> None:
    assert dumps_json(value) == standard(value)
