"""Minimal HTML pages (Chinese first, then English); everything interpolated is escaped."""

from __future__ import annotations

import html

from litestar import Response, status_codes

NO_STORE = {"Cache-Control": "no-store"}


def page(text: str, extra: str = "", *, status: int = status_codes.HTTP_200_OK) -> Response[str]:
    """A one-paragraph page; ``extra`` is trusted markup built by the caller."""
    body = f'<!doctype html><meta charset="utf-8"><title>yuqing</title><p>{html.escape(text)}</p>{extra}'
    return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers=NO_STORE)
