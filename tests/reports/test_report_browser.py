"""The report in headless Chromium: charts drawn, Chinese text rendered with Noto Sans CJK SC.

Debian's ``/usr/bin/chromium`` driven by Playwright (never ``playwright install``); a missing
browser fails the test. The font is read from Chromium itself through the DevTools protocol
(``CSS.getPlatformFontsForNode``: the fonts that actually drew the node's glyphs), not guessed
from pixels; matplotlib's own font is checked with ``findfont``.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from monitor.reports.charts import CJK_FAMILY, cjk_font_file
from monitor.reports.compute import month_stats
from monitor.reports.period import Month
from monitor.reports.render import write_report
from monitor.reports.settings import ReportsConfig
from tests.helpers.browser import platform_fonts
from tests.reports.conftest import SeededSite

CHROMIUM = "/usr/bin/chromium"
CHARTS = ("#chart-daily", "#chart-monthly", "#chart-categories", "#chart-keywords")


@pytest.fixture(scope="module")
def report(seeded_site: SeededSite, tmp_path_factory: pytest.TempPathFactory) -> Path:
    stats = month_stats(seeded_site.database.engine, ReportsConfig(), Month(2026, 10))
    out = tmp_path_factory.mktemp("browser")
    return write_report(stats, out, pdf=True)[0]


def _ink(png: bytes) -> float:
    """Share of pixels that are not (near) white."""
    image = Image.open(io.BytesIO(png)).convert("L")
    histogram = image.histogram()
    return 1 - sum(histogram[245:]) / (image.width * image.height)


def test_matplotlib_draws_with_the_noto_cjk_font() -> None:
    assert cjk_font_file().name.startswith("NotoSansCJK")


def test_chromium_shows_charts_and_chinese_in_the_cjk_font(report: Path, tmp_path: Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            page.goto(report.as_uri())
            assert page.evaluate("document.documentElement.lang") == "zh-CN"
            (tmp_path / "report.png").write_bytes(page.screenshot(full_page=True))
            for chart in CHARTS:
                svg = page.locator(f"{chart} svg")
                box = svg.bounding_box()
                assert box is not None and box["width"] > 300 and box["height"] > 100, chart
                assert page.locator(f"{chart} svg path").count() > 5, chart
                assert _ink(svg.screenshot()) > 0.02, chart
            for selector in ("h1", "#chart-daily svg text:first-of-type", "#chart-keywords svg text"):
                fonts = platform_fonts(page, selector)
                used = {f["familyName"] for f in fonts}
                assert CJK_FAMILY in used, (selector, used)
            title = page.locator("#chart-daily svg text").filter(has_text="每日工单量")
            assert title.count() == 1
            assert CJK_FAMILY in title.evaluate("e => getComputedStyle(e).fontFamily")
        finally:
            browser.close()


def test_the_pdf_is_printed_by_chromium(report: Path) -> None:
    pdf = report.with_suffix(".pdf")
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and len(data) > 50_000
    assert b"NotoSansCJK" in data  # the embedded font's name
