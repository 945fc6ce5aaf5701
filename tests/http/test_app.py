"""The HTTP application itself: routers passed in ``extra``, forwarded headers, the bound port."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from litestar import Request, Router, get, post

from monitor.http.app import build_app
from monitor.http.context import HttpContext
from monitor.http.server import HttpServer
from monitor.storage.db import Database
from tests.helpers.context import settings


@get("/whoami")
async def whoami(request: Request[Any, Any, Any]) -> dict[str, str]:
    return {"host": request.client.host if request.client else "", "scheme": request.url.scheme}


@post("/survey/answer", status_code=200)
async def answer(request: Request[Any, Any, Any]) -> dict[str, int]:
    body: dict[str, int] = await request.json()
    return body


EXTRA = Router(path="/", route_handlers=[whoami, answer])


def serve(db: Database, proxies: tuple[str, ...] = ()) -> HttpServer:
    ctx = HttpContext(db=db, secret=b"k" * 32, stories=lambda: settings([]))
    return HttpServer(build_app(ctx, [EXTRA]), trusted_proxies=proxies).start()


@pytest.mark.parametrize(
    ("proxies", "host", "scheme"),
    [((), "127.0.0.1", "http"), (("127.0.0.1",), "203.0.113.9", "https"), (("10.0.0.1",), "127.0.0.1", "http")],
    ids=["no-proxy-trusted", "trusted-proxy", "other-proxy-trusted"],
)
def test_forwarded_headers_are_believed_only_from_configured_proxies(
    sqlite_db: Database, proxies: tuple[str, ...], host: str, scheme: str
) -> None:
    server = serve(sqlite_db, proxies)
    try:
        assert server.host == "127.0.0.1" and server.port > 0
        seen = requests.get(
            f"http://127.0.0.1:{server.port}/whoami",
            headers={"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"},
            timeout=5,
        ).json()
    finally:
        server.stop()
    assert seen == {"host": host, "scheme": scheme}


def test_extra_routers_are_mounted_outside_csrf_and_the_openapi_document_is_served(sqlite_db: Database) -> None:
    server = serve(sqlite_db)
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert requests.post(f"{base}/survey/answer", json={"score": 5}, timeout=5).json() == {"score": 5}
        assert requests.get(f"{base}/api/v1/openapi.json", timeout=5).status_code == 200
        assert requests.get(f"{base}/feedback", timeout=5).status_code == 404  # no intake configured
    finally:
        server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{base}/whoami", timeout=2)  # stopped means closed
