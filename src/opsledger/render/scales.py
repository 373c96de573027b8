"""Scales for the charts: value domains, tick positions and labels, time ticks, colours.

Domains are chosen to show differences: a line of ratios near 1 gets an axis around its data
(with a margin), not 0 to 1; bars keep zero in view, since their length is the value.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

MARGIN = 0.06  # share of the data's span added on each side of a data-derived domain
OFF_PLOT_SPANS = 1e6  # how far outside its domain a scale places a value, at most
SNAP_TO_ZERO = 1e-200  # magnitudes below this are drawn as 0
LARGEST = 1e300  # no domain reaches beyond this, so its round ticks stay finite


class ScaleError(ValueError):
    """A domain or scale setting that cannot be used."""


@dataclass(frozen=True)
class Linear:
    """Maps ``domain`` onto ``span`` (pixel coordinates, possibly decreasing)."""

    lo: float
    hi: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        if self.hi == self.lo:
            return (self.start + self.end) / 2
        span = self.hi - self.lo
        # A value far outside the domain is drawn at a million spans from it: off the plot in
        # the same direction, and a distance from the domain that cannot overflow.
        reach = OFF_PLOT_SPANS * span
        value = min(max(value, self.lo - reach), self.hi + reach)
        return self.start + (value - self.lo) / span * (self.end - self.start)

    def clamp(self, value: float) -> float:
        return self(min(max(value, self.lo), self.hi))


def finite(values: Iterable[Any]) -> list[float]:
    """Return the values that are numbers (not None, not NaN or infinite), as floats."""
    out = []
    for value in values:
        if value is None or isinstance(value, bool):
            continue
        number = float(value)
        if math.isfinite(number):
            out.append(number)
    return out


def step_for(span: float, count: int) -> float:
    """Return a 1-2-2.5-5 × 10^k step that divides ``span`` into about ``count`` parts."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / max(1, count)
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * power * 1.0000001:
            return factor * power
    return 10 * power


def ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Return round tick values from ``lo`` to ``hi`` inclusive (both within the domain)."""
    step = step_for(hi - lo, count)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [float(f"{i * step:.12g}") for i in range(first, last + 1)]  # no float noise


def nice(lo: float, hi: float, count: int = 5) -> tuple[float, float]:
    """Return the domain widened to whole tick steps."""
    if hi == lo:
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    step = step_for(hi - lo, count)
    return math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step


def explicit_domain(value: Any, name: str) -> tuple[float, float]:
    """Return ``[lo, hi]`` given in chart data, checked."""
    if (not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2
            or any(isinstance(v, bool) or not isinstance(v, int | float) for v in value)):
        raise ScaleError(f"'{name}' must be [low, high] numbers, not {value!r}")
    lo, hi = float(value[0]), float(value[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ScaleError(f"'{name}' must have low < high, got [{lo:g}, {hi:g}]")
    if max(abs(lo), abs(hi)) > LARGEST:
        raise ScaleError(f"'{name}' must lie within ±{LARGEST:g}, got [{lo:g}, {hi:g}]")
    return lo, hi


def data_domain(values: Sequence[float], zero: bool = False, count: int = 5) -> tuple[float, float]:
    """Return a domain around ``values``, widened to round ticks.

    With ``zero`` (bars) the domain reaches zero and ends at the first round tick at or
    beyond the data. Otherwise a margin is added on each side, and zero is included only
    when it is already close (the data's nearest end within a quarter of its farthest), so
    counts start at zero and ratios near 1 are shown around their data. Data within [0, 1]
    (a ratio) keeps its domain within [0, 1].
    """
    if not values:
        return (0.0, 1.0)
    # Beyond what any axis can label: tiny magnitudes are drawn as 0, and the domain stops
    # well short of the largest float so that its round ticks stay finite.
    values = [0.0 if abs(v) < SNAP_TO_ZERO else max(-LARGEST, min(LARGEST, v)) for v in values]
    lo, hi = min(values), max(values)
    ratio = lo >= 0.0 and hi <= 1.0
    if zero or (lo >= 0 and lo <= 0.25 * hi) or (hi <= 0 and hi >= 0.25 * lo):
        lo, hi = min(lo, 0.0), max(hi, 0.0)
        if lo == hi:
            return (0.0, 1.0)
        if not zero:
            lo -= 0.0 if lo == 0 else (hi - lo) * MARGIN
            hi += 0.0 if hi == 0 else (hi - lo) * MARGIN
        out_lo, out_hi = nice(lo, hi, count)
    else:
        span = hi - lo
        pad = span * MARGIN if span > 0 else (abs(hi) * 0.05 or 1.0)
        out_lo, out_hi = nice(lo - pad, hi + pad, count)
    if ratio:  # no tick beyond 0 or 1
        out_lo, out_hi = max(out_lo, 0.0), min(out_hi, 1.0)
    return out_lo, out_hi


def decimals_for(step: float) -> int:
    """Return how many decimals tell ticks ``step`` apart."""
    if step <= 0 or not math.isfinite(step):
        return 0
    places = 0
    while places < 10 and abs(round(step, places) - step) > step * 1e-6:
        places += 1
    return places


def tick_labels(values: Sequence[float], percent: bool = False) -> list[str]:
    """Return labels for evenly spaced ticks: as few decimals as tell them apart, large
    numbers with k / M, ratios as percentages when ``percent``."""
    if not values:
        return []
    scale, suffix = 1.0, ""
    if percent:
        scale, suffix = 100.0, " %"
    else:
        largest = max(abs(v) for v in values)
        if largest >= 1e6:
            scale, suffix = 1e-6, "M"
        elif largest >= 1e4:
            scale, suffix = 1e-3, "k"
    shown = [v * scale for v in values]
    step = min((abs(b - a) for a, b in itertools.pairwise(shown) if b != a),
               default=abs(shown[0]) or 1.0)
    places = decimals_for(step)
    labels = []
    for value in shown:
        text = f"{value:,.{places}f}"
        if text.strip("-0.,") == "":  # zero: no sign, no decimals, no k or M
            labels.append("0" + (suffix if percent else ""))
        else:
            labels.append(text + suffix)
    digits = 2
    while len(set(labels)) < len(labels) and digits <= 15:  # tiny steps: significant digits
        labels = [("0" if v == 0 else f"{v:.{digits}g}") + suffix for v in shown]
        digits += 1
    return labels


def value_label(value: float) -> str:
    """Return a value as shown beside bars, in cells and tooltips: up to four decimals,
    enough to tell 99.76 from 99.95 and 0.9976 from 0.9995; whole numbers from 1000 on."""
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"{value:,.0f}"
    if 0 < magnitude < 0.001:
        return f"{value:.3g}"
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


# --- time -----------------------------------------------------------------------------

def parse_time(value: Any) -> datetime | None:
    """Return ``value`` as a naive UTC datetime, or None when it is not a date or time."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) >= 10 and value[4:5] == "-":
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day)
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


EPOCH = datetime(1970, 1, 1)


def seconds(moment: datetime) -> float:
    return (moment - EPOCH).total_seconds()


HOUR, DAY = 3600.0, 86400.0
# Steps tried in order: the first that gives at most the wanted number of ticks is used.
_FIXED_STEPS = (HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY)
_MONTH_STEPS = (1, 2, 3, 6, 12, 24, 60)


def time_ticks(lo: float, hi: float, most: int = 6) -> list[tuple[float, str]]:
    """Return (seconds, label) ticks on calendar boundaries between ``lo`` and ``hi``."""
    span = hi - lo
    for step in _FIXED_STEPS:
        if span / step <= most:
            return _fixed_ticks(lo, hi, step)
    for months in _MONTH_STEPS:
        if span / (30.44 * DAY * months) <= most:
            return _month_ticks(lo, hi, months)
    return _month_ticks(lo, hi, 12 * max(1, math.ceil(span / (365.25 * DAY * most))))


def _fixed_ticks(lo: float, hi: float, step: float) -> list[tuple[float, str]]:
    # Weeks start on Monday (1970-01-05, four days after the epoch, was one).
    origin = 4 * DAY if step in (7 * DAY, 14 * DAY) else 0.0
    first = math.ceil((lo - origin) / step - 1e-9) * step + origin
    out = []
    value = first
    while value <= hi + 1e-6:
        moment = EPOCH + timedelta(seconds=value)
        if step < DAY:
            label = moment.strftime("%b %d") if moment.hour == 0 else moment.strftime("%H:%M")
        else:
            label = moment.strftime("%b %d")
        out.append((value, label))
        value += step
    return out


def _month_ticks(lo: float, hi: float, months: int) -> list[tuple[float, str]]:
    start = EPOCH + timedelta(seconds=lo)
    index = start.year * 12 + start.month - 1
    if start.day != 1 or start.hour or start.minute or start.second:
        index += 1
    index = math.ceil(index / months) * months
    out: list[tuple[float, str]] = []
    while True:
        moment = datetime(index // 12, index % 12 + 1, 1)
        value = seconds(moment)
        if value > hi + 1e-6:
            return out
        label = moment.strftime("%Y") if months >= 12 else (
            moment.strftime("%b %Y") if moment.month == 1 or not out else moment.strftime("%b"))
        out.append((value, label))
        index += months


# --- colour ---------------------------------------------------------------------------

def _rgb(colour: str) -> tuple[float, float, float]:
    return (int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16))


def mix(stops: Sequence[str], t: float) -> str:
    """Return the colour at ``t`` in [0, 1] along evenly spaced ``stops``."""
    t = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(t), len(stops) - 2)
    a, b = _rgb(stops[i]), _rgb(stops[i + 1])
    f = t - i
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b, strict=True))


def luminance(colour: str) -> float:
    """Return the relative luminance (WCAG) of a ``#rrggbb`` colour."""
    def channel(c: float) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(colour))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def text_on(colour: str) -> str:
    """Return black or white, whichever reads better on ``colour``."""
    return "#000000" if luminance(colour) > 0.22 else "#ffffff"


# Sequential: pale to vermillion to dark brown; lightness falls steadily (greyscale-safe).
SEQUENTIAL = ("#f7f7f7", "#fbd48a", "#E69F00", "#D55E00", "#7a1f00")
# Diverging: blue (below the centre) through near-white to vermillion and dark brown (above).
# The warm end is much darker than the cool end, so the two sides differ in greyscale too.
COOL = ("#f4f4f4", "#b7d7ec", "#56B4E9", "#0072B2")
WARM = ("#f4f4f4", "#fbd48a", "#E69F00", "#D55E00", "#7a1f00", "#3d1000")


@dataclass(frozen=True)
class ColourScale:
    """Maps values to colours: sequential from ``lo`` to ``hi``, or diverging at ``center``.

    In a diverging scale with ``log`` set, the warm half is spaced by the ratio to the
    centre, so twice and four times the centre differ as much as four and eight times.
    """

    lo: float
    hi: float
    center: float | None = None
    log: bool = False

    def position(self, value: float) -> float:
        """Return where ``value`` sits on the colour bar, 0 (bottom) to 1 (top)."""
        value = min(max(value, self.lo), self.hi)
        if self.center is None:
            return 0.0 if self.hi == self.lo else (value - self.lo) / (self.hi - self.lo)
        c = self.center
        if value <= c:
            return 0.5 if c == self.lo else 0.5 * (value - self.lo) / (c - self.lo)
        if self.hi == c:
            return 0.5
        if self.log:
            return 0.5 + 0.5 * math.log(value / c) / math.log(self.hi / c)
        return 0.5 + 0.5 * (value - c) / (self.hi - c)

    def colour(self, value: float) -> str:
        return self.colour_at(self.position(value))

    def colour_at(self, t: float) -> str:
        """Return the colour at ``t`` along the colour bar (0 bottom, 1 top)."""
        if self.center is None:
            return mix(SEQUENTIAL, t)
        return mix(COOL, (0.5 - t) * 2) if t <= 0.5 else mix(WARM, (t - 0.5) * 2)

    def ticks(self, gap: float = 0.08) -> list[float]:
        """Return values to label on the colour bar: round ones at least ``gap`` of the bar
        apart, the centre (if any) and the top of the scale always among them."""
        if self.center is None:
            candidates = ticks(self.lo, self.hi, 5)
        else:
            below = [v for v in ticks(self.lo, self.center, 2) if v < self.center]
            if self.log and self.hi > self.center > 0:
                above = [m * 10 ** e * self.center for e in range(-1, 6) for m in (2, 5, 10)]
                above = [v for v in above if self.center < v <= self.hi]
            else:
                above = [v for v in ticks(self.center, self.hi, 3) if v > self.center]
            candidates = [*below, self.center, *above]
        kept: list[float] = []
        for v in candidates:
            if not kept or self.position(v) - self.position(kept[-1]) >= gap:
                kept.append(v)
        if kept and kept[-1] != self.hi:
            if 1.0 - self.position(kept[-1]) < gap and kept[-1] != self.center:
                kept[-1] = self.hi
            else:
                kept.append(self.hi)
        return kept


def colour_scale(setting: Any, values: Sequence[float], vmax: Any = None) -> ColourScale:
    """Return the heat map's colour scale from its ``scale`` setting (or the sequential
    default from 0 to ``vmax`` or the data's maximum)."""
    top = max(values, default=1.0)
    if setting is None:
        hi = float(vmax) if vmax is not None else top
        return ColourScale(0.0, hi if hi > 0 else 1.0)
    if not isinstance(setting, dict):
        raise ScaleError(f"'scale' must be a mapping, not {setting!r}")
    kind = setting.get("type", "sequential")
    lo = float(setting.get("min", min(0.0, min(values, default=0.0))))
    hi = float(setting.get("max", top if vmax is None else vmax))
    if kind == "sequential":
        return ColourScale(lo, hi if hi > lo else lo + 1.0)
    if kind != "diverging":
        raise ScaleError(f"'scale.type' must be 'sequential' or 'diverging', not {kind!r}")
    center = setting.get("center")
    if isinstance(center, bool) or not isinstance(center, int | float):
        raise ScaleError("a diverging 'scale' needs a numeric 'center'")
    center = float(center)
    if not lo <= center <= hi:
        raise ScaleError(f"'scale.center' {center:g} is outside [{lo:g}, {hi:g}]")
    log = bool(setting.get("log", center > 0 and lo >= 0))
    return ColourScale(lo, hi, center, log and center > 0)
