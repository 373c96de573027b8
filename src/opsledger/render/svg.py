"""SVG writing for the charts: escaped text, compact numbers, text widths, the palette.

Everything that reaches the document from chart data passes through :func:`escape` (text and
attribute values alike), so labels are shown as text and never parsed as markup. Numbers are
written with at most one decimal, which keeps the output small and byte-for-byte stable.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping

# Okabe & Ito (2008): distinguishable with the common colour-vision deficiencies.
OKABE_ITO = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#F0E442",  # yellow
    "#000000",  # black
)
INK = "#1b1f24"
MUTED = "#57606a"
GRID = "#d8dde3"
REFERENCE = "#444444"  # reference lines (objectives, limits, budgets)
# Dash patterns, one per series: colour is never the only cue.
DASHES = ("", "6 3", "2 2", "8 3 2 3", "4 4", "1 3")
FONT_FAMILY = "DejaVu Sans, Verdana, Arial, sans-serif"

# Advance widths of DejaVu Sans (regular, bold) for ASCII 32..126, in hundredths of an em.
# DejaVu Sans is the widest of the families named above, so estimates err on the roomy side.
_REGULAR = (
    32, 40, 46, 84, 64, 95, 78, 27, 39, 39, 50, 84, 32, 36, 32, 34, 64, 64, 64, 64, 64, 64, 64,
    64, 64, 64, 34, 34, 84, 84, 84, 53, 100, 68, 69, 70, 77, 63, 58, 77, 75, 29, 29, 66, 56, 86,
    75, 79, 60, 79, 69, 63, 61, 73, 68, 99, 69, 61, 69, 39, 34, 39, 84, 50, 50, 61, 63, 55, 63,
    62, 35, 63, 63, 28, 28, 58, 28, 97, 63, 61, 63, 63, 41, 52, 39, 63, 59, 82, 59, 59, 52, 64,
    34, 64, 84,
)
_BOLD = (
    35, 46, 52, 84, 70, 100, 87, 31, 46, 46, 52, 84, 38, 42, 38, 37, 70, 70, 70, 70, 70, 70, 70,
    70, 70, 70, 40, 40, 84, 84, 84, 58, 100, 77, 76, 73, 83, 68, 68, 82, 84, 37, 37, 77, 64, 100,
    84, 85, 73, 85, 77, 72, 68, 81, 77, 110, 77, 72, 73, 46, 37, 46, 84, 50, 50, 67, 72, 59, 72,
    68, 44, 72, 71, 34, 34, 67, 34, 104, 71, 69, 72, 72, 49, 60, 48, 71, 65, 92, 65, 65, 58, 71,
    37, 71, 84,
)
# Characters XML 1.0 does not allow anywhere in a document.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def escape(value: object) -> str:
    """Return ``value`` as text safe in SVG content and in double-quoted attributes."""
    text = _NOT_XML.sub("\ufffd", "" if value is None else str(value))
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def num(value: float, places: int = 1) -> str:
    """Return a number with at most ``places`` decimals (coordinates: a tenth of a unit in
    a 480-wide viewBox) and no trailing zeros."""
    text = f"{value:.{places}f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def chart_id(key: str) -> str:
    """Return a document-unique, markup-safe id prefix for the chart with this key."""
    safe = _ID_UNSAFE.sub("-", key).strip("-")[:40]
    return f"chart-{safe}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:8]}"


def _char_width(char: str, table: tuple[int, ...]) -> float:
    code = ord(char)
    if 32 <= code <= 126:
        return table[code - 32] / 100
    if unicodedata.combining(char):
        return 0.0
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 1.0
    return 0.65


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Return the estimated width of one line of ``text`` at font ``size``."""
    table = _BOLD if bold else _REGULAR
    return sum(_char_width(c, table) for c in text) * size


def wrap(text: str, size: float, width: float, bold: bool = False, max_lines: int = 3) -> list[str]:
    """Return ``text`` broken at spaces into lines no wider than ``width`` (the last one
    shortened with an ellipsis when more than ``max_lines`` would be needed)."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if current and text_width(candidate, size, bold) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = [*lines[: max_lines - 1], " ".join(lines[max_lines - 1:])]
    return [shorten(line, size, width, bold) for line in lines] or [""]


def shorten(text: str, size: float, width: float, bold: bool = False) -> str:
    """Return ``text``, cut and ended with an ellipsis if it is wider than ``width``."""
    if text_width(text, size, bold) <= width:
        return text
    while text and text_width(text + "…", size, bold) > width:
        text = text[:-1]
    return text.rstrip() + "…"


def attributes(attrs: Mapping[str, object]) -> str:
    """Return ``name="value"`` pairs; names are ours, values are escaped; None is left out."""
    parts = []
    for name, value in attrs.items():
        if value is None:
            continue
        if isinstance(value, float):
            shown = num(value, 2 if name.endswith("opacity") else 1)
        else:
            shown = str(value)
        parts.append(f' {name.rstrip("_").replace("_", "-")}="{escape(shown)}"')
    return "".join(parts)


class Canvas:
    """An SVG body being written: elements in drawing order, then :meth:`document`."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.defs: list[str] = []

    def element(self, tag: str, tooltip: str | None = None, **attrs: object) -> None:
        if tooltip is None:
            self.parts.append(f"<{tag}{attributes(attrs)}/>")
        else:  # a <title> child: the value on hover, and its accessible name
            self.parts.append(f"<{tag}{attributes(attrs)}><title>{escape(tooltip)}</title></{tag}>")

    def open(self, tag: str, **attrs: object) -> None:
        self.parts.append(f"<{tag}{attributes(attrs)}>")

    def close(self, tag: str) -> None:
        self.parts.append(f"</{tag}>")

    def text(self, x: float, y: float, content: str | Iterable[str], size: float = 11,
             anchor: str = "start", fill: str = INK, bold: bool = False,
             rotate: float | None = None, tooltip: str | None = None, **attrs: object) -> None:
        """Write text at (x, y); a sequence of lines becomes one <tspan> per line."""
        lines = [content] if isinstance(content, str) else list(content)
        transform = None if rotate is None else f"rotate({num(rotate)} {num(x)} {num(y)})"
        self.parts.append(
            "<text" + attributes({"x": float(x), "y": float(y), "font-size": float(size),
                                  "text-anchor": None if anchor == "start" else anchor,
                                  "font-weight": "bold" if bold else None,
                                  "fill": fill, "transform": transform, **attrs}) + ">")
        if tooltip is not None:
            self.parts.append(f"<title>{escape(tooltip)}</title>")
        if len(lines) == 1:
            self.parts.append(escape(lines[0]))
        else:
            for i, line in enumerate(lines):
                dy = "0" if i == 0 else num(size * 1.15)
                self.parts.append(f'<tspan x="{num(x)}" dy="{dy}">{escape(line)}</tspan>')
        self.parts.append("</text>")

    def document(self, ident: str, width: float, height: float, title: str, desc: str,
                 kind: str) -> str:
        """Return the standalone SVG: sized by its viewBox only, so it fills its container."""
        head = (
            f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {num(width)} {num(height)}"'
            f' role="img" aria-labelledby="{ident}-title {ident}-desc"'
            f' class="chart" data-kind="{escape(kind)}" font-family="{FONT_FAMILY}"'
            ' preserveAspectRatio="xMidYMid meet">'
            f'<title id="{ident}-title">{escape(title)}</title>'
            f'<desc id="{ident}-desc">{escape(desc)}</desc>'
        )
        defs = f"<defs>{''.join(self.defs)}</defs>" if self.defs else ""
        background = f'<rect width="{num(width)}" height="{num(height)}" fill="#ffffff"/>'
        return head + defs + background + "".join(self.parts) + "</svg>\n"


def path_data(points: Iterable[tuple[float, float]]) -> str:
    """Return ``M x y L x y ...`` for a polyline."""
    out = []
    for i, (x, y) in enumerate(points):
        out.append(f"{'M' if i == 0 else 'L'}{num(x)} {num(y)}")
    return "".join(out)


MARKERS = ("circle", "square", "triangle", "diamond", "triangle-down", "plus", "cross", "star")


def marker_path(shape: str, x: float, y: float, r: float) -> str:
    """Return path data for a marker of radius ``r`` centred on (x, y)."""
    if shape == "circle":
        return (f"M{num(x - r)} {num(y)}a{num(r)} {num(r)} 0 1 0 {num(2 * r)} 0"
                f"a{num(r)} {num(r)} 0 1 0 {num(-2 * r)} 0Z")
    if shape == "square":
        s = r * 0.9
        return f"M{num(x - s)} {num(y - s)}h{num(2 * s)}v{num(2 * s)}h{num(-2 * s)}Z"
    if shape in ("triangle", "triangle-down"):
        d = 1 if shape == "triangle" else -1
        return (f"M{num(x)} {num(y - d * r * 1.1)}L{num(x + r)} {num(y + d * r * 0.7)}"
                f"L{num(x - r)} {num(y + d * r * 0.7)}Z")
    if shape == "diamond":
        return (f"M{num(x)} {num(y - r * 1.2)}L{num(x + r)} {num(y)}L{num(x)} {num(y + r * 1.2)}"
                f"L{num(x - r)} {num(y)}Z")
    if shape in ("plus", "cross"):
        w = r * 0.35
        arms = [(-w, -r), (w, -r), (w, -w), (r, -w), (r, w), (w, w), (w, r), (-w, r), (-w, w),
                (-r, w), (-r, -w), (-w, -w)]
        if shape == "cross":  # the plus turned by 45°
            arms = [((a - b) * 0.7071, (a + b) * 0.7071) for a, b in arms]
        return path_data((x + a, y + b) for a, b in arms) + "Z"
    # star: five points
    points = []
    for i in range(10):
        radius = r * 1.2 if i % 2 == 0 else r * 0.5
        angle = math.pi / 2 + i * math.pi / 5
        points.append((x + radius * math.cos(angle), y - radius * math.sin(angle)))
    return path_data(points) + "Z"


def hatch_pattern(ident: str, line: str, kind: int, background: str | None) -> str:
    """Return a <pattern> definition: ``line``-coloured strokes over ``background``."""
    strokes = {
        1: "M-1 1L1 -1M0 8L8 0M7 9L9 7",  # forward diagonals
        2: "M1.5 1.5h0.01M5.5 5.5h0.01",  # dots
        3: "M0 0L8 8M8 0L0 8",  # crossed diagonals
        4: "M-1 7L1 9M0 0L8 8M7 -1L9 1",  # backward diagonals
    }[kind]
    width = 2.2 if kind == 2 else 1.3
    fill = f'<rect width="8" height="8" fill="{background}"/>' if background else ""
    return (f'<pattern id="{ident}" width="8" height="8" patternUnits="userSpaceOnUse">{fill}'
            f'<path d="{strokes}" stroke="{line}" stroke-width="{width}"'
            ' stroke-linecap="round"/></pattern>')
