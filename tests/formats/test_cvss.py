"""CVSS base scores against the FIRST calculators, and the qualitative bands."""

from __future__ import annotations

import pytest

from opsledger.formats.cvss_rating import rate_vector, severity_band
from opsledger.model.common import Severity

# Scores as the FIRST CVSS v3.1 calculator (https://www.first.org/cvss/calculator/3.1)
# shows them for these vectors; the 3.1 specification's examples use the first three.
CALCULATOR_V31 = [
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8, Severity.CRITICAL),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1, Severity.MEDIUM),
    ("CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H", 7.8, Severity.HIGH),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5, Severity.HIGH),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:U/C:L/I:L/A:N", 5.4, Severity.MEDIUM),
    ("CVSS:3.1/AV:N/AC:H/PR:H/UI:N/S:U/C:H/I:N/A:N", 4.4, Severity.MEDIUM),
    ("CVSS:3.1/AV:P/AC:H/PR:H/UI:R/S:U/C:L/I:N/A:N", 1.6, Severity.LOW),
    ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H", 10.0, Severity.CRITICAL),
]


@pytest.mark.parametrize(("vector", "score", "band"), CALCULATOR_V31)
def test_v31_scores_match_the_first_calculator(vector: str, score: float, band: Severity) -> None:
    rating = rate_vector(vector)
    assert rating.version == "3.1"
    assert rating.score == score
    assert rating.severity is band


def test_v30_v40_and_v2_vectors() -> None:
    # CVSS 3.0 uses the same formula here: 5.9 in the v3.0 calculator.
    assert rate_vector("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N").score == 5.9
    # CVSS 4.0 calculator (https://www.first.org/cvss/calculator/4.0): 9.3 for this vector.
    v4 = rate_vector("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N")
    assert (v4.version, v4.score, v4.severity) == ("4.0", 9.3, Severity.CRITICAL)
    # NVD's v2 calculator: 7.5 for AV:N/AC:L/Au:N/C:P/I:P/A:P, rated High (v2 has no Critical).
    v2 = rate_vector("AV:N/AC:L/Au:N/C:P/I:P/A:P")
    assert (v2.version, v2.score, v2.severity) == ("2.0", 7.5, Severity.HIGH)
    assert rate_vector("AV:N/AC:L/Au:N/C:C/I:C/A:C").severity is Severity.HIGH  # 10.0 in v2


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (0.1, Severity.LOW),
        (3.9, Severity.LOW),
        (4.0, Severity.MEDIUM),
        (6.9, Severity.MEDIUM),
        (7.0, Severity.HIGH),
        (8.9, Severity.HIGH),
        (9.0, Severity.CRITICAL),
        (10.0, Severity.CRITICAL),
    ],
)
def test_band_edges(score: float, band: Severity) -> None:
    assert severity_band(score) is band


@pytest.mark.parametrize(
    "vector",
    [
        "CVSS:3.1/AV:N/AC:H",
        "CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "CVSS:5.0/AV:N",
        "not a vector",
    ],
)
def test_malformed_vectors_raise_value_error(vector: str) -> None:
    with pytest.raises(ValueError):
        rate_vector(vector)


def test_score_outside_range_is_refused() -> None:
    with pytest.raises(ValueError):
        severity_band(10.5)
