"""Headless Chromium helpers for the browser tests (Debian's chromium driven by Playwright)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page


def platform_fonts(page: Page, selector: str) -> list[dict[str, Any]]:
    """The fonts that actually drew the glyphs of the node at ``selector``, read from Chromium
    through the DevTools protocol (``CSS.getPlatformFontsForNode``), not guessed from pixels."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    assert node, selector
    fonts: list[dict[str, Any]] = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
    return fonts
