"""Print the HTML report to PDF with headless Chromium (Debian ``chromium``)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

CANDIDATES = ("chromium", "chromium-headless-shell", "chromium-browser", "google-chrome")


class PdfError(RuntimeError):
    """Chromium is missing or failed; the HTML report is still written."""


def chromium() -> str:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    raise PdfError("找不到 Chromium / chromium not found: apt-get install chromium")


def print_pdf(html: Path, pdf: Path, *, timeout: float = 120.0) -> Path:
    with tempfile.TemporaryDirectory(prefix="yuqing-chromium-") as profile:
        command = [
            chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
            "--no-pdf-header-footer", f"--print-to-pdf={pdf}", html.resolve().as_uri(),
        ]
        try:
            done = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise PdfError(f"Chromium 超时 / chromium timed out after {timeout:g}s") from None
    if done.returncode != 0 or not pdf.exists() or pdf.stat().st_size == 0:
        raise PdfError(f"Chromium 打印失败 / chromium failed (exit {done.returncode})")
    return pdf
