"""CVSS base scores computed from vectors, and the qualitative severity band of a score.

Scores come from the ``cvss`` library (RedHat's implementation of the FIRST specifications
for CVSS 2.0, 3.0, 3.1 and 4.0) so that a finding's severity does not depend on which tool
rounded what. Bands are the FIRST/NVD qualitative ratings for CVSS v3.x and v4.0:
None 0.0, Low 0.1-3.9, Medium 4.0-6.9, High 7.0-8.9, Critical 9.0-10.0. CVSS 2.0 has no
Critical band; NVD rates v2 scores Low 0.0-3.9, Medium 4.0-6.9, High 7.0-10.0.
"""

from __future__ import annotations

from dataclasses import dataclass

from cvss import CVSS2, CVSS3, CVSS4
from cvss.exceptions import CVSSError

from opsledger.model.common import Severity

# When one advisory carries several vectors, the one used for the band: 3.x first because
# the v3 calculator is what SLAs and dashboards are written against, then 4.0, then 2.0.
VERSION_PREFERENCE = ("3.1", "3.0", "4.0", "2.0")


@dataclass(frozen=True)
class CvssRating:
    version: str  # "2.0", "3.0", "3.1" or "4.0"
    vector: str
    score: float
    severity: Severity

    @property
    def preference(self) -> int:
        return VERSION_PREFERENCE.index(self.version)


def severity_band(score: float, version: str = "3.1") -> Severity:
    """Return the qualitative band of a base score (NVD v2 bands when ``version`` is 2.0)."""
    if not 0.0 <= score <= 10.0:
        raise ValueError(f"CVSS score {score} is outside 0-10")
    if version.startswith("2"):
        if score >= 7.0:
            return Severity.HIGH
        return Severity.MEDIUM if score >= 4.0 else Severity.LOW
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    # 0.0 is "None" in the specification; a finding with no impact is still at most low.
    return Severity.LOW


def rate_vector(vector: str) -> CvssRating:
    """Return the base score and band of a CVSS vector; raise ``ValueError`` if malformed."""
    text = vector.strip()
    try:
        if text.startswith("CVSS:4.0/"):
            v4 = CVSS4(text)
            score = float(v4.base_score)
            version = "4.0"
            clean = v4.clean_vector()
        elif text.startswith(("CVSS:3.0/", "CVSS:3.1/")):
            v3 = CVSS3(text)
            score = float(v3.base_score)
            version = text[5:8]
            clean = v3.clean_vector()
        elif text.startswith("CVSS:"):
            raise ValueError(f"unsupported CVSS version in '{text[:12]}'")
        else:
            # CVSS 2.0 vectors carry no prefix; some tools write "(AV:N/...)" or "CVSS2#".
            bare = text.removeprefix("CVSS2#").removeprefix("CVSS:2.0/").strip("()")
            v2 = CVSS2(bare)
            score = float(v2.base_score)
            version = "2.0"
            clean = v2.clean_vector()
    except CVSSError as exc:
        raise ValueError(f"malformed CVSS vector '{text}': {exc}") from None
    return CvssRating(version, clean, score, severity_band(score, version))


def preferred(ratings: list[CvssRating]) -> CvssRating | None:
    """Return the rating to use: the preferred version, and the highest score within it."""
    if not ratings:
        return None
    return min(ratings, key=lambda r: (r.preference, -r.score, r.vector))
