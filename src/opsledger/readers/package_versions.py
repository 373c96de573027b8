"""Versions compared by each ecosystem's own rules, through ``univers``.

A version is read in the scheme its ecosystem's package URL type names (Debian, RPM with
epochs, Alpine, PEP 440, semver, Maven, RubyGems, NuGet, Go...). A version in no known
scheme compares by dpkg's algorithm, which orders digit runs numerically and letters
lexically, the usual shape of an unknown scheme.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

from univers.version_range import RANGE_CLASS_BY_SCHEMES
from univers.versions import DebianVersion, Version

_MAVEN_PRE = re.compile(
    r"(?:^|[.\-_])(alpha|beta|milestone|rc|cr|snapshot|preview|ea|[abm]\d+)(?:$|[.\-_\d])",
    re.IGNORECASE,
)
_ALPINE_PRE = re.compile(r"_(alpha|beta|pre|rc)\d*", re.IGNORECASE)
_OTHER_PRE = re.compile(
    r"(?:^|[.\-_+~\d])(alpha|beta|rc|pre|preview|dev|snapshot|milestone)(?:$|[.\-_+\d])|~",
    re.IGNORECASE,
)


_SEMVER_LIKE = frozenset({"npm", "cargo", "golang", "composer", "nuget", "hex", "pub"})


def _version_class(scheme: str) -> type[Version]:
    if not scheme or scheme == "generic" or scheme not in RANGE_CLASS_BY_SCHEMES:
        return DebianVersion
    version_class: type[Version] | None = RANGE_CLASS_BY_SCHEMES[scheme].version_class
    return version_class or DebianVersion


@functools.lru_cache(maxsize=8192)
def parse_version(version: str, scheme: str) -> Version | None:
    """Return the version in its ecosystem's scheme, or ``None`` when it is not one."""
    text = version.strip()
    if not text:
        return None
    try:
        return _version_class(scheme)(text)
    except Exception:  # univers raises ValueError, InvalidVersion and its own errors
        return None


def compare_versions(a: str, b: str, scheme: str) -> int | None:
    """Return -1, 0 or 1 as ``a`` is lower, equal or higher; ``None`` when not comparable."""
    left, right = parse_version(a, scheme), parse_version(b, scheme)
    if left is None or right is None:
        return None
    try:
        return -1 if left < right else (1 if right < left else 0)
    except TypeError:
        return None


def same_version(a: str | None, b: str | None, scheme: str) -> bool:
    if a is None or b is None:
        return a is b
    return a.strip() == b.strip() or compare_versions(a, b, scheme) == 0


def sort_versions(versions: Iterable[str], scheme: str) -> tuple[str, ...]:
    """Return the versions lowest first; ones the scheme cannot read go last, as written."""
    unique = list(dict.fromkeys(v for v in versions if v))

    def order(a: str, b: str) -> int:
        result = compare_versions(a, b, scheme)
        if result is None:
            readable_a = parse_version(a, scheme) is not None
            readable_b = parse_version(b, scheme) is not None
            if readable_a != readable_b:
                return -1 if readable_a else 1
            return (a > b) - (a < b)
        return result or (a > b) - (a < b)

    return tuple(sorted(unique, key=functools.cmp_to_key(order)))


def is_prerelease(version: str, scheme: str) -> bool:
    """Return whether a version is a pre-release under its ecosystem's rules."""
    text = version.strip()
    parsed = parse_version(text, scheme)
    value = getattr(parsed, "value", None)
    if scheme == "pypi" and value is not None:
        return bool(getattr(value, "is_prerelease", False))
    if scheme == "gem" and value is not None and callable(getattr(value, "prerelease", None)):
        return bool(value.prerelease())
    if scheme in _SEMVER_LIKE and value is not None:
        return bool(getattr(value, "prerelease", None))
    if scheme == "maven":
        return bool(_MAVEN_PRE.search(text))
    if scheme in ("deb", "rpm", "alpm"):
        return "~" in text
    if scheme == "apk":
        return bool(_ALPINE_PRE.search(text))
    return bool(_OTHER_PRE.search(text))
