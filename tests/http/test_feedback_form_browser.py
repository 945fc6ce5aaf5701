"""The hosted form and the status page in headless Chromium, against the real daemon.

Debian's ``/usr/bin/chromium`` driven by Playwright (never ``playwright install``); a missing
browser fails the test. Screenshots are kept under ``tests/artifacts/`` (git-ignored). The font
that drew the Chinese heading is read from Chromium through the DevTools protocol.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.helpers.browser import platform_fonts
from tests.http.intake_daemon import HTML, PNG, Intake, start_intake

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def intake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Intake]:
    yield from start_intake(tmp_path_factory.mktemp("form"), {})


@pytest.fixture
def page() -> Iterator[Page]:
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (scripts/test installs it)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser.new_page(viewport={"width": 800, "height": 1100}, locale="zh-CN")
        finally:
            browser.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"intake-{name}.png"), full_page=True)


def test_a_customer_submits_with_a_picture_and_checks_the_status(intake: Intake, page: Page, tmp_path: Path) -> None:
    photo = tmp_path / "小票.png"
    photo.write_bytes(PNG)
    page.goto(f"{intake.base}/feedback")
    assert page.locator("h1").inner_text() == "意见反馈"
    assert any(f["familyName"].startswith("Noto Sans CJK") for f in platform_fonts(page, "h1"))
    page.select_option("#type", "complaint")
    page.fill("#content", "南京路店的店员态度很差，小票见附件")
    page.fill("#name", "陈女士")
    page.fill("#contact", "13700001111")
    page.set_input_files("#attachments", str(photo))
    shot(page, "form-filled")
    time.sleep(3.2)  # a person takes longer than form_min_seconds (3 s in this test)
    page.click("button[type=submit]")
    page.wait_for_selector("#receipt")
    shot(page, "receipt")
    code, token = page.inner_text("#receipt-code"), page.inner_text("#receipt-token")
    assert code.startswith("Q") and len(token) >= 40

    ticket = intake.ticket(code)
    assert ticket["channel"] == "web" and ticket["customer"] == "陈女士"
    assert [(a["name"], a["media_type"]) for a in ticket["attachments"]] == [("小票.png", "image/png")]

    page.click("a[href^='/feedback/status']")
    page.wait_for_selector("form#status")
    page.fill("#code", code)
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_selector("#result")
    assert page.inner_text("#status-label") == "已收到"
    shot(page, "status")

    page.goto(f"{intake.base}/feedback/status?lang=en")
    page.fill("#code", code)
    page.fill("#token", "wrong-token-" + "x" * 40)
    page.click("button[type=submit]")
    assert "Not found" in page.wait_for_selector(".error").inner_text()
    page.fill("#code", code)
    page.fill("#contact", "137 0000 1111")
    page.click("button[type=submit]")
    assert page.wait_for_selector("#status-label").inner_text() == "Received"
    shot(page, "status-en")


def test_the_form_refuses_a_disguised_file_bots_and_forged_posts(intake: Intake, page: Page, tmp_path: Path) -> None:
    fake = tmp_path / "photo.jpg"
    fake.write_bytes(HTML)
    page.goto(f"{intake.base}/feedback?lang=en")
    assert page.locator("h1").inner_text() == "Feedback"
    page.check("#anonymous")
    assert "may not be able to reply" in page.inner_text(".notice")
    page.fill("#content", "a file that is really a web page")
    page.set_input_files("#attachments", str(fake))
    time.sleep(3.2)
    page.click("button[type=submit]")
    page.wait_for_selector(".error")
    assert "只接受图片" in page.inner_text(".error") and page.input_value("#content").startswith("a file")
    shot(page, "refused-file")

    # a bot fills the hidden honeypot field: refused without a ticket
    before = len(intake.cli("tickets", "list", "--json", "--all"))
    page.goto(f"{intake.base}/feedback")
    page.fill("#content", "buy cheap followers")
    page.fill("#contact", "13700002222")
    page.evaluate("document.querySelector('input[name=website]').value = 'http://spam.example'")
    time.sleep(3.2)
    page.click("button[type=submit]")
    assert "提交过快" in page.wait_for_selector(".error").inner_text()
    # and so is a form sent back at once
    # (filled and sent by script right after the page loads, as a bot would)
    page.goto(f"{intake.base}/feedback")
    page.evaluate(
        "document.querySelector('#content').value = 'too fast';"
        "document.querySelector('#contact').value = '13700002222';"
        "document.querySelector('button[type=submit]').click()"
    )
    assert "提交过快" in page.wait_for_selector(".error").inner_text()
    # a post from another site (no CSRF cookie/token) is refused by the framework
    answer = page.request.post(f"{intake.base}/feedback", multipart={"type": "complaint", "content": "x", "contact": "1"},
                               headers={"Cookie": ""})
    assert answer.status == 403
    assert len(intake.cli("tickets", "list", "--json", "--all")) == before
