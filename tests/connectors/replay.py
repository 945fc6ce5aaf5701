"""Replay recorded HTTP interactions (praw Betamax / tweepy vcrpy cassettes) through a requests.Session.

No betamax or vcrpy needed: :class:`ReplayAdapter` is a ``requests`` transport adapter mounted on a
session that the connector under test receives (praw ``requestor_kwargs={"session": ...}``, tweepy
``Client.session``). Routes are searched newest-added first, so a test can lay a later recording or
a derived response over an earlier one; a route may be limited to ``times`` uses (a 429 first, then
the recorded 200). Requests nobody answers get HTTP 501 and are listed in :attr:`misses`, which the
test fixtures assert empty - a replay that silently answers everything would prove nothing.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
import yaml
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict

from tests.shared_data import SHARED_DATA

DATA = SHARED_DATA


@dataclass(frozen=True)
class Interaction:
    """One recorded request/response pair (body already decompressed)."""

    method: str
    url: str
    status: int
    reason: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.url).query).items()}

    def json(self) -> Any:
        return json.loads(self.body)

    def with_json(self, data: Any, **changes: Any) -> Interaction:
        """A derived copy with another JSON body (and e.g. another ``status`` or ``headers``)."""
        body = json.dumps(data, ensure_ascii=False).encode()
        return replace(self, body=body, **changes)


def _body_bytes(body: Any, headers: Mapping[str, str]) -> bytes:
    if isinstance(body, dict):
        if "base64_string" in body:
            import base64

            raw = base64.b64decode(body["base64_string"])
        else:
            raw = body.get("string", b"")
    else:
        raw = body
    data = raw if isinstance(raw, bytes) else str(raw or "").encode("utf-8")
    encoding = headers.get("content-encoding", "").lower()
    if encoding == "gzip" and data[:2] == b"\x1f\x8b":
        return gzip.decompress(data)
    if encoding == "deflate":
        try:
            return zlib.decompress(data)
        except zlib.error:
            return data
    return data


def load_cassette(path: str | Path) -> list[Interaction]:
    """Interactions of a Betamax JSON or vcrpy YAML/JSON cassette under ``shared/data``."""
    full = Path(path) if Path(path).is_absolute() else DATA / path
    text = full.read_text(encoding="utf-8")
    data = yaml.safe_load(text) if full.suffix in (".yaml", ".yml") else json.loads(text)
    out: list[Interaction] = []
    for item in data["interactions"]:
        request, response = item["request"], item["response"]
        headers: dict[str, str] = {}
        for name, value in response.get("headers", {}).items():
            if name.lower() == "set-cookie":
                continue
            headers[name.lower()] = ", ".join(value) if isinstance(value, list) else str(value)
        body = _body_bytes(response.get("body"), headers)
        headers.pop("content-encoding", None)
        headers["content-length"] = str(len(body))
        status = response["status"]
        out.append(
            Interaction(
                method=request["method"].upper(),
                url=request["uri"],
                status=int(status["code"]),
                reason=str(status.get("message", "")),
                headers=headers,
                body=body,
            )
        )
    return out


ANY = "<any value>"  # in ``params``: the parameter must be present, whatever its value

Handler = Callable[[requests.PreparedRequest], Interaction]


@dataclass
class _Route:
    method: str
    path: str
    params: Mapping[str, str | None]
    handler: Handler
    times: int | None = None

    def matches(self, request: requests.PreparedRequest) -> bool:
        parts = urlsplit(request.url or "")
        if request.method != self.method or parts.path.rstrip("/") != self.path.rstrip("/"):
            return False
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return all(query.get(k) == v or (v == ANY and k in query) for k, v in self.params.items())


class ReplayAdapter(HTTPAdapter):
    """Answers requests from registered interactions; records every request it sees."""

    def __init__(self) -> None:
        super().__init__()
        self.routes: list[_Route] = []
        self.requests: list[requests.PreparedRequest] = []
        self.misses: list[str] = []

    def add(
        self,
        interaction: Interaction,
        *,
        params: Mapping[str, str | None] | None = None,
        times: int | None = None,
    ) -> None:
        """Answer ``interaction``'s method and path; ``params`` must match (``None`` = absent, ``ANY``)."""
        self.route(interaction.method, interaction.path, lambda _req: interaction, params=params, times=times)

    def route(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        params: Mapping[str, str | None] | None = None,
        times: int | None = None,
    ) -> None:
        self.routes.append(_Route(method.upper(), path, dict(params or {}), handler, times))

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        self.requests.append(request)
        for route in reversed(self.routes):
            if route.times == 0 or not route.matches(request):
                continue
            if route.times is not None:
                route.times -= 1
            return self._response(request, route.handler(request))
        self.misses.append(f"{request.method} {request.url}")
        miss = Interaction(str(request.method), str(request.url), 501, "No Recording", {}, b"{}")
        return self._response(request, miss)

    def _response(self, request: requests.PreparedRequest, interaction: Interaction) -> requests.Response:
        response = requests.Response()
        response.status_code = interaction.status
        response.reason = interaction.reason
        response.headers = CaseInsensitiveDict(dict(interaction.headers))
        response._content = interaction.body
        response.raw = io.BytesIO(interaction.body)
        response.url = str(request.url)
        response.request = request
        response.encoding = "utf-8"
        return response

    def params_of(self, index: int) -> dict[str, str]:
        """Query parameters of the ``index``-th request seen."""
        return {k: v[-1] for k, v in parse_qs(urlsplit(self.requests[index].url or "").query).items()}

    def paths(self) -> list[str]:
        return [urlsplit(r.url or "").path for r in self.requests]


def replay_session(adapter: ReplayAdapter) -> requests.Session:
    """A session whose every http(s) request goes to ``adapter``."""
    session = requests.Session()
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
