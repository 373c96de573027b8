"""The dashboard in a real headless Chromium: drawn, quiet, and inert to hostile input."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from opsledger.backlog.section import backlog_section
from opsledger.core.workspace import open_workspace
from opsledger.render.html import render_dashboard
from opsledger.render.sections import Chart, Section, Status, md_table
from opsledger.review.roadmap import roadmap_section
from opsledger.review.service import ReviewResult
from opsledger.support.section import support_section
from tests.conftest import DEMO_NOW

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PAYLOADS = [
    "<script>window.__xss = 1</script>",
    '<img src=x onerror="window.__xss = 2">',
    '"><svg onload="window.__xss = 3">',
    "javascript:window.__xss=4",
]

# Sections the dashboard needs beyond the review's own list (registered here if missing).
DASHBOARD_SECTIONS = (support_section, backlog_section)
ROADMAP = roadmap_section

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


def hostile_sections() -> list[Section]:
    rows = [[p, f"[link]({PAYLOADS[3]})", 99.5] for p in PAYLOADS]
    table = md_table(["Service", "Note", "Availability"], rows + [["ok", "x", 12]] * 3)
    chart = Chart(
        "hostile",
        PAYLOADS[0],
        "bar",
        {"categories": PAYLOADS, "series": [{"name": PAYLOADS[1], "values": [1, 2, 3, 4]}]},
    )
    line = Chart(
        "trend", "Trend", "line", {"x": [1, 2, 3], "series": [{"name": "a", "y": [3, 1, 2]}]}
    )
    return [
        Section(
            "hostile", PAYLOADS[2], table + f"\n{PAYLOADS[0]}\n", Status.FAIL, charts=(chart, line)
        ),
        Section.skipped("later", "Skipped section", PAYLOADS[1]),
    ]


def open_page(browser: object, path: Path, height: int = 900) -> tuple[object, list[str]]:
    page = browser.new_page(viewport={"width": 1366, "height": height})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    def refuse(dialog: Any) -> None:
        errors.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    page.on("dialog", refuse)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, errors


def test_hostile_values_stay_inert_and_charts_draw(browser: object, tmp_path: Path) -> None:
    actions = [{"action": PAYLOADS[1], "owner": PAYLOADS[0]}]
    html = render_dashboard(PAYLOADS[0], PAYLOADS[1], hostile_sections(), actions)
    path = tmp_path / "index.html"
    path.write_text(html)
    page, errors = open_page(browser, path)
    assert page.evaluate("window.__xss === undefined")  # type: ignore[attr-defined]
    assert errors == []
    # The payload text is shown as text.
    assert PAYLOADS[0] in page.inner_text("body")  # type: ignore[attr-defined]
    # Only the page's own script exists.
    assert page.evaluate("document.scripts.length") == 1  # type: ignore[attr-defined]
    links = page.evaluate(  # type: ignore[attr-defined]
        "Array.from(document.links).map(a => a.getAttribute('href'))"
    )
    assert not any(str(h).startswith("javascript:") for h in links)
    for figure in page.query_selector_all("figure.chart"):  # type: ignore[attr-defined]
        box = figure.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 80
        assert figure.query_selector_all("svg path, svg rect, svg line")


def test_tables_sort_and_filter(browser: object, tmp_path: Path) -> None:
    path = tmp_path / "index.html"
    path.write_text(render_dashboard("t", "s", hostile_sections(), []))
    page, errors = open_page(browser, path)
    header = page.locator("section#hostile th", has_text="Availability")  # type: ignore[attr-defined]
    header.click()
    first = page.locator("section#hostile tbody tr").first.inner_text()  # type: ignore[attr-defined]
    assert "12" in first
    header.click()
    first = page.locator("section#hostile tbody tr").first.inner_text()  # type: ignore[attr-defined]
    assert "99.5" in first
    page.fill("section#hostile input.filter", "onerror")  # type: ignore[attr-defined]
    visible = page.locator("section#hostile tbody tr:visible").count()  # type: ignore[attr-defined]
    assert visible == 1
    assert errors == []


@pytest.fixture(scope="module")
def demo_review(small_demo: Path, tmp_path_factory: pytest.TempPathFactory) -> ReviewResult:
    """The review of the small demo, with every dashboard section registered, run once."""
    from opsledger.review import service as review

    ws = tmp_path_factory.mktemp("review") / "ws"
    shutil.copytree(small_demo, ws)
    sections = list(review.SECTIONS)
    for target in DASHBOARD_SECTIONS:
        if target not in sections:
            sections.insert(sections.index(ROADMAP) if ROADMAP in sections else len(sections),
                            target)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(review, "SECTIONS", sections)
        return review.run_review(open_workspace(ws), DEMO_NOW)


def test_review_dashboard_of_the_demo(browser: object, demo_review: ReviewResult) -> None:
    result = demo_review
    page, errors = open_page(browser, result.dashboard)
    assert errors == []
    for section in result.sections:
        assert page.locator(f"section#{section.key}").count() == 1  # type: ignore[attr-defined]
    charts = sum(len(s.charts) for s in result.sections)
    assert page.locator("figure.chart svg").count() == charts  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-demo.png"), full_page=True)  # type: ignore[attr-defined]
    assert (ARTIFACTS / "dashboard-demo.png").stat().st_size > 10_000


# What each chart panel must show, by chart key (a trailing "*" matches a family).
PANELS = {
    "slo-burndown-*": "slos",
    "slo-burn-rates": "slos",
    "alerting-recall": "alerting",
    "incidents-per-week": "incidents",
    "incidents-response-trend": "incidents",
    "support-forecast-*": "support",
    "support-staffing": "support",
    "cost-targets": "cost",
    "cost-forecast": "cost",
    "capacity-runway": "capacity",
    "backlog-risk-matrix": "backlog",
    "security-finding-age": "security-patching",
}
SCREENSHOTS = ("slos", "alerting", "incidents", "support", "cost", "capacity", "backlog",
               "security-patching")

# Counts, inside one chart's axes, the marks that carry data: bars and bands (patch paths),
# scatter markers (paths or uses inside a collection), raster cells (images), and the
# longest line; the legend's samples are not counted.
DRAWN = """figure => {
  const axes = figure.querySelector('svg g[id^="axes_"]');
  const marks = sel => axes ? Array.from(axes.querySelectorAll(sel))
    .filter(el => !el.closest('g[id^="legend_"]')) : [];
  let longest = 0;
  for (const path of marks('g[id^="line2d_"] path')) {
    longest = Math.max(longest, ((path.getAttribute('d') || '').match(/L/g) || []).length);
  }
  return {patches: marks('g[id^="patch_"] path').length,
          markers: marks('g[id*="Collection_"] path, g[id*="Collection_"] use').length,
          images: marks('image').length, longest: longest};
}"""


def _charts_by_key(result: ReviewResult) -> dict[str, tuple[str, Chart]]:
    return {c.key: (s.key, c) for s in result.sections for c in s.charts}


def _expected_marks(chart: Chart) -> tuple[str, int]:
    """Return which count must reach how much for the chart's data to have been drawn."""
    data = chart.data
    if chart.kind == "scatter":
        return "markers", len(data["points"])
    if chart.kind == "heatmap":
        return "images", 1
    if chart.kind == "barh":
        return "patches", sum(1 for v in data["values"] if v)
    if chart.kind == "bar":
        return "patches", sum(1 for s in data["series"] for v in s["values"] if v)
    # Matplotlib simplifies collinear runs, so a line has fewer vertices than data points;
    # but no grid line or axis has more than two, and a series with three points has.
    points = max(sum(1 for y in s["y"] if y is not None) for s in data["series"])
    return "longest", min(points - 1, 2)


def test_every_panel_is_drawn_from_the_analyses(
    browser: object, demo_review: ReviewResult
) -> None:
    charts = _charts_by_key(demo_review)
    page, errors = open_page(browser, demo_review.dashboard, height=768)
    for pattern, section in PANELS.items():
        keys = [k for k in charts
                if k == pattern or (pattern.endswith("*") and k.startswith(pattern[:-1]))]
        assert keys, f"no chart {pattern}"
        for key in keys:
            owner, chart = charts[key]
            assert owner == section
            figure = page.locator(  # type: ignore[attr-defined]
                f'section#{section} figure.chart[data-chart="{key}"]')
            assert figure.count() == 1
            drawn = figure.evaluate(DRAWN)
            what, least = _expected_marks(chart)
            assert least > 0, f"{key}: no data to draw"
            assert drawn[what] >= least, f"{key}: {drawn} (expected {what} >= {least})"
            box = figure.bounding_box()
            assert box and box["width"] > 400 and box["height"] > 150
    ARTIFACTS.mkdir(exist_ok=True)
    for key in SCREENSHOTS:
        shot = ARTIFACTS / f"dashboard-{key}.png"
        # Sticky navigation and table headers would sit over the section once scrolled to it.
        page.locator(f"section#{key}").screenshot(  # type: ignore[attr-defined]
            path=str(shot), style="nav, th { position: static !important; }")
        assert shot.stat().st_size > 20_000
    assert errors == []


def test_the_dashboard_prints(browser: object, demo_review: ReviewResult) -> None:
    page, errors = open_page(browser, demo_review.dashboard)
    page.emulate_media(media="print")  # type: ignore[attr-defined]
    assert page.locator("nav").is_hidden()  # type: ignore[attr-defined]
    pdf = page.pdf(format="A4", print_background=True)  # type: ignore[attr-defined]
    assert pdf.startswith(b"%PDF-")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    charts = sum(len(s.charts) for s in demo_review.sections)
    # One chart per row in print: the charts alone need several A4 pages.
    assert pages >= charts // 3 and len(pdf) > 200_000
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "dashboard-demo.pdf").write_bytes(pdf)
    assert errors == []


def test_charts_redraw_to_the_same_bytes(demo_review: ReviewResult) -> None:
    from opsledger.render.charts import chart_svg
    from opsledger.review.service import CHARTS_DIR, chart_file

    folder = demo_review.report.parent / CHARTS_DIR
    for _, chart in _charts_by_key(demo_review).values():
        assert chart_svg(chart) == (folder / chart_file(chart)).read_text()
    report = demo_review.report.read_text()
    for key in ("slo-burn-rates", "support-staffing", "backlog-risk-matrix",
                "security-finding-age", "incidents-per-week", "alerting-recall"):
        assert f"]({CHARTS_DIR}/{key}.svg)" in report
