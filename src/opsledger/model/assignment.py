"""Deterministic variant assignment by salted hashing.

A unit's bucket is ``SHA-256("<salt>:<experiment>:<unit>")`` read as a number in [0, 1):
the first 8 bytes of the digest as a big-endian integer, keeping its top 53 bits so that
the division by 2**53 is exact in a double. The variant is the first whose cumulative
(normalised) weight exceeds the bucket. Nothing depends on the process, the platform or
Python's per-process string hashing, so the same unit gets the same variant everywhere.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

BUCKET_BITS = 53  # the precision of a double: every bucket value is exactly representable


def bucket(salt: str, experiment: str, unit_id: str) -> float:
    """Return the unit's position in [0, 1) for this experiment and salt."""
    digest = hashlib.sha256(f"{salt}:{experiment}:{unit_id}".encode()).digest()
    number = int.from_bytes(digest[:8], "big") >> (64 - BUCKET_BITS)
    return number / float(1 << BUCKET_BITS)


def variant_for(position: float, variants: Sequence[tuple[str, float]]) -> str:
    """Return the variant whose cumulative weight band holds ``position`` (weights > 0)."""
    total = sum(weight for _, weight in variants)
    cumulative = 0.0
    for name, weight in variants:
        cumulative += weight
        # Compare on the unnormalised scale: no division, so no rounding in the weights.
        if position * total < cumulative:
            return name
    return variants[-1][0]  # position * total rounded up to the total: the last band


def assign_unit(
    salt: str, experiment: str, unit_id: str, variants: Sequence[tuple[str, float]]
) -> str:
    """Return the variant of ``unit_id`` in ``experiment``."""
    return variant_for(bucket(salt, experiment, unit_id), variants)


def assign_units(
    salt: str, experiment: str, unit_ids: Sequence[str], variants: Sequence[tuple[str, float]]
) -> list[str]:
    """Return the variant of every unit, as :func:`assign_unit` gives it one by one."""
    prefix = f"{salt}:{experiment}:"
    shift = 64 - BUCKET_BITS
    numbers = np.fromiter(
        (int.from_bytes(hashlib.sha256((prefix + unit).encode()).digest()[:8], "big") >> shift
         for unit in unit_ids),
        dtype=np.float64, count=len(unit_ids),
    )
    positions = numbers / float(1 << BUCKET_BITS)
    total = sum(weight for _, weight in variants)
    cumulative = np.cumsum([weight for _, weight in variants])  # added in order, as one by one
    band = np.searchsorted(cumulative, positions * total, side="right")
    names = [name for name, _ in variants]
    return [names[i] for i in np.minimum(band, len(names) - 1)]
