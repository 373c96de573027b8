"""The dashboard in a real headless Chromium: drawn, quiet, and inert to hostile input."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from opsledger.render.html import render_dashboard
from opsledger.render.sections import Chart, Section, Status, md_table

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PAYLOADS = [
    "<script>window.__xss = 1</script>",
    '<img src=x onerror="window.__xss = 2">',
    '"><svg onload="window.__xss = 3">',
    "javascript:window.__xss=4",
]

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


def open_page(browser: object, path: Path) -> tuple[object, list[str]]:
    page = browser.new_page(viewport={"width": 1366, "height": 900})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: (errors.append(f"dialog: {d.message}"), d.dismiss()))
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


def test_review_dashboard_of_the_demo(browser: object, small_demo: Path, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from opsledger.review import run_review
    from opsledger.workspace import open_workspace

    ws = tmp_path / "ws"
    shutil.copytree(small_demo, ws)
    result = run_review(open_workspace(ws), datetime(2026, 11, 1, tzinfo=UTC))
    page, errors = open_page(browser, result.dashboard)
    assert errors == []
    for section in result.sections:
        assert page.locator(f"section#{section.key}").count() == 1  # type: ignore[attr-defined]
    charts = sum(len(s.charts) for s in result.sections)
    assert page.locator("figure.chart svg").count() == charts  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-demo.png"), full_page=True)  # type: ignore[attr-defined]
    assert (ARTIFACTS / "dashboard-demo.png").stat().st_size > 10_000
