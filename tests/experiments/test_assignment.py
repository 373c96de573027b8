"""Assignment by salted hashing: pinned values, independence from the process, uniformity."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from opsledger.experiments.service import assign
from opsledger.model.assignment import bucket, variant_for

from .builders import definition, definition_data

THREE = [{"name": "a", "weight": 0.2}, {"name": "b", "weight": 0.3}, {"name": "c", "weight": 0.5}]

# Pinned once: a change to the hashing or the banding would move live users between variants.
PINNED = {
    "u3": (0.6589650080941579, "treatment", "c"),
    "u4": (0.31919246337233764, "control", "b"),
    "u7": (0.24847958598477804, "control", "b"),
    "u12": (0.07191656671154911, "control", "a"),
    "u31": (0.007039844928489636, "control", "a"),
}


def test_pinned_buckets_and_variants() -> None:
    two = definition()
    three = definition(variants=THREE)
    for unit, (position, in_two, in_three) in PINNED.items():
        assert bucket("s1", "trial", unit) == position
        assert assign(unit, two) == in_two
        assert assign(unit, three) == in_three


def test_bucket_is_the_documented_hash() -> None:
    # SHA-256 of "salt:experiment:unit", first 8 bytes big-endian, top 53 bits / 2**53.
    digest = hashlib.sha256(b"s1:trial:u3").digest()
    expected = (int.from_bytes(digest[:8], "big") >> 11) / 2**53
    assert bucket("s1", "trial", "u3") == expected


def test_same_variant_in_another_process_with_another_hash_seed() -> None:
    units = [f"user-{i}" for i in range(50)]
    here = [assign(u, definition(variants=THREE)) for u in units]
    code = (
        "from opsledger.experiments.service import assign\n"
        "from opsledger.model.experiments import ExperimentDefinition\n"
        f"d = ExperimentDefinition.model_validate({definition_data(variants=THREE)!r})\n"
        f"print(','.join(assign(u, d) for u in {units!r}))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True, cwd=os.getcwd())
    assert out.stdout.strip().split(",") == here


def test_uniform_over_100k_units_chi_square() -> None:
    units = [f"id-{i}" for i in range(100_000)]
    three = definition(variants=THREE)
    counts = Counter(assign(u, three) for u in units)
    observed = [counts["a"], counts["b"], counts["c"]]
    expected = [20_000, 30_000, 50_000]
    assert stats.chisquare(observed, expected).pvalue > 0.001
    # The buckets themselves: 20 equal bins, uniform.
    bins = Counter(int(bucket("s1", "trial", u) * 20) for u in units)
    assert stats.chisquare([bins[i] for i in range(20)]).pvalue > 0.001
    assert sum(bins.values()) == 100_000 and set(bins) == set(range(20))


def test_salt_re_randomises() -> None:
    units = [f"id-{i}" for i in range(4000)]
    first = [assign(u, definition(salt="one")) for u in units]
    second = [assign(u, definition(salt="two")) for u in units]
    moved = sum(a != b for a, b in zip(first, second, strict=True)) / len(units)
    assert 0.45 < moved < 0.55  # independent 50/50 draws disagree half the time


def test_bands_at_the_edges() -> None:
    weights = [("a", 1.0), ("b", 3.0)]
    assert variant_for(0.0, weights) == "a"
    assert variant_for(0.2499999, weights) == "a"
    assert variant_for(0.25, weights) == "b"
    assert variant_for(1 - 2**-53, weights) == "b"


@given(st.text(min_size=0, max_size=40), st.text(min_size=1, max_size=10))
def test_every_unit_gets_a_declared_variant(unit: str, salt: str) -> None:
    position = bucket(salt, "trial", unit)
    assert 0.0 <= position < 1.0
    assert assign(unit, definition(variants=THREE, salt=salt)) in {"a", "b", "c"}


@pytest.mark.parametrize("unit", [123, "123"])
def test_unit_ids_are_text(unit: object) -> None:
    assert assign(unit, definition()) == assign("123", definition())  # type: ignore[arg-type]
