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

# Counts, inside one chart's plot area, the marks that carry data: bars and bands, scatter
# points, heat-map cells, and the vertices of the longest line; the legend is outside it.
DRAWN = """figure => {
  const plot = figure.querySelector('svg g.plot');
  const marks = sel => plot ? Array.from(plot.querySelectorAll(sel)) : [];
  let longest = 0;
  for (const path of marks('path.line')) {
    longest = Math.max(longest, ((path.getAttribute('d') || '').match(/[LHV]/g) || []).length);
  }
  return {patches: marks('rect.bar, path.band').length, markers: marks('path.point').length,
          cells: marks('rect.cell').length, longest: longest};
}"""


def _charts_by_key(result: ReviewResult) -> dict[str, tuple[str, Chart]]:
    return {c.key: (s.key, c) for s in result.sections for c in s.charts}


def _expected_marks(chart: Chart) -> tuple[str, int]:
    """Return which count must reach how much for the chart's data to have been drawn."""
    data = chart.data
    if chart.kind == "scatter":
        return "markers", len(data["points"])
    if chart.kind == "heatmap":
        return "cells", sum(1 for row in data["values"] for v in row if v is not None)
    if chart.kind == "barh":
        return "patches", sum(1 for v in data["values"] if v)
    if chart.kind == "bar":
        return "patches", sum(1 for s in data["series"] for v in s["values"] if v)
    # A line through n points has n - 1 segments; a gap (a missing value) breaks it in two.
    whole = [len(s["y"]) for s in data["series"] if all(y is not None for y in s["y"])]
    if whole:
        return "longest", max(whole) - 1
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


# Layout facts at one viewport width: what sticks out of the page (outside a box that
# scrolls or clips it), which tables do not scroll inside their card, the charts' widths.
LAYOUT = """() => {
  const vw = window.innerWidth;
  const contained = el => {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(p).overflowX)) return true;
    }
    return false;
  };
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if ((r.width > vw + 0.5 || r.right > vw + 0.5) && !contained(el)) {
      wide.push(`${el.tagName}.${el.className} ${Math.round(r.width)}px`);
    }
  }
  const tables = Array.from(document.querySelectorAll('main table'));
  const holder = t => t.parentElement;
  return {
    scrollWidth: document.documentElement.scrollWidth, width: vw, wide: wide,
    first: document.querySelector('main').firstElementChild.id,
    unscrolled: tables.filter(t => !holder(t).classList.contains('table-scroll')
      || getComputedStyle(holder(t)).overflowX !== 'auto').length,
    scrolling: tables.filter(t => holder(t).scrollWidth > holder(t).clientWidth + 1).length,
    charts: Array.from(document.querySelectorAll('figure.chart')).map(f => {
      const style = getComputedStyle(f);
      const inner = f.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
      return [inner, f.querySelector('svg').getBoundingClientRect().width];
    }),
    nav: Array.from(document.querySelectorAll('nav a[class]')).map(a => [a.className,
      a.querySelector('.icon') ? a.querySelector('.icon').textContent : '',
      a.textContent]),
  };
}"""
ICONS = {"pass": "✓", "warn": "!", "fail": "✗", "error": "✗", "skipped": "–"}


@pytest.mark.parametrize("width", [1400, 768, 390])
def test_the_dashboard_fits_desktops_tablets_and_phones(
        browser: object, demo_review: ReviewResult, tmp_path: Path, width: int) -> None:
    page = browser.new_page(viewport={"width": width, "height": 900})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(demo_review.dashboard.as_uri())
    page.wait_for_load_state("load")
    shot = tmp_path / f"dashboard-{width}.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    layout = page.evaluate(LAYOUT)
    assert layout["scrollWidth"] <= width, layout["wide"][:5]
    assert layout["wide"] == []
    assert layout["first"] == "summary"  # the summary is the first thing in the content
    assert layout["unscrolled"] == 0  # every table scrolls inside its card
    if width == 390:  # and on a phone some have to
        assert layout["scrolling"] > 0
    assert layout["charts"]
    for inner, drawn in layout["charts"]:
        assert drawn == pytest.approx(inner, abs=1.0)  # as wide as the card allows
    statuses = {s.key: s.status.value for s in demo_review.sections}
    assert len(layout["nav"]) == len(statuses)
    for status, icon, text in layout["nav"]:
        assert icon == ICONS[status] and f"({status})" in text  # not by colour alone
    assert errors == []


def test_the_summary_panel_names_every_section(
        browser: object, demo_review: ReviewResult) -> None:
    page, errors = open_page(browser, demo_review.dashboard)
    summary = page.locator("main > section#summary")  # type: ignore[attr-defined]
    assert summary.count() == 1
    for section in demo_review.sections:
        link = summary.locator(f'a[href="#{section.key}"]')
        assert link.count() >= 1, section.key
        row = summary.locator(f'[data-status="{section.status.value}"]',
                              has=page.locator(f'a[href="#{section.key}"]'))  # type: ignore[attr-defined]
        assert row.count() >= 1, section.key
    # What is on target is there, collapsed until asked for.
    collapsed = page.locator("section#kpis details.on-target")  # type: ignore[attr-defined]
    assert collapsed.count() == 1 and collapsed.evaluate("el => el.open") is False
    assert collapsed.locator("table tbody tr").count() > 0
    summary.locator('a[href="#kpis"]').first.click()
    assert page.evaluate("location.hash") == "#kpis"  # type: ignore[attr-defined]
    assert errors == []
