"""RSS/Atom feeds, including RSSHub routes (Weibo, Zhihu, Douyin, Bilibili, WeChat official accounts).

Each configured feed is fetched with our own HTTP call so that timeouts, size caps and conditional
GET are under our control; the bytes then go to ``feedparser.parse``. Per feed, the checkpoint keeps:

* ``etag`` / ``modified`` - sent back as ``If-None-Match`` / ``If-Modified-Since``; a 304 costs
  nothing. They are stored only with the *last* batch of a feed: storing them earlier would make a
  crash mid-feed turn the rest of the entries into a 304.
* ``seen`` - the ids of recent entries (bounded), the primary deduplication;
* ``watermark`` - the newest published time seen; an unseen entry much older than it (by
  ``lookback_days``) is ignored, so a feed that reshuffles old entries does not re-alert;
* ``bad`` - hash of the last garbage body, so one broken response is quarantined once, not on
  every poll (it is still fetched again each poll: the source is retried, not disabled).

A failing feed does not stop the others of the same source: their batches are yielded first and
the failure is raised at the end.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import json
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, ClassVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import feedparser
import requests
import structlog
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.base import Connector
from connectors.guard import failure_reason, guarded, is_source_error
from connectors.http import (
    HttpSettings,
    Interrupted,
    RetryPolicy,
    error_for_status,
    make_session,
    unavailable_from_exception,
)
from connectors.hygiene import TIME_UNPARSED
from connectors.mail.html import html_to_text
from connectors.reposts import chain_refs, quoted_refs, repost_key
from connectors.timeparse import in_bounds, parse_time
from monitor.errors import AuthError, UnavailableError, YuqingError
from monitor.message import Author, Batch, Checkpoint, Message, Quarantined

log = structlog.get_logger(__name__)
RAW_CAP = 1_000_000  # bytes of a bad body kept in quarantine


class FeedSpec(BaseModel):
    """One feed: a full ``url`` or an RSSHub ``route`` (joined to ``rsshub_base_url``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | None = None
    route: str | None = None
    label: str = ""
    timeout: float | None = Field(default=None, gt=0, description="total seconds for this feed")

    @model_validator(mode="after")
    def _one_of_url_route(self) -> FeedSpec:
        if (self.url is None) == (self.route is None):
            raise ValueError("give exactly one of 'url' or 'route'")
        if self.url is not None and urlsplit(self.url).scheme not in ("http", "https"):
            raise ValueError("url must be http(s)")
        if self.route is not None and not self.route.startswith("/"):
            raise ValueError("route must start with '/', e.g. /weibo/user/1195230310")
        return self


class RssConfig(HttpSettings):
    feeds: list[FeedSpec] = Field(min_length=1)
    rsshub_base_url: str = "https://rsshub.app"
    rsshub_access_key: SecretStr | None = None
    max_bytes: int = Field(default=10_000_000, gt=0, description="larger bodies are quarantined")
    seen_ids: int = Field(default=1000, ge=10, description="entry ids remembered per feed")
    lookback_days: float = Field(default=3.0, ge=0)
    timezone: str = Field(default="Asia/Shanghai", description="zone of feed times written without one")

    @field_validator("feeds", mode="before")
    @classmethod
    def _plain_urls(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"url": v} if isinstance(v, str) else v for v in value]
        return value

    def feed_url(self, feed: FeedSpec) -> str:
        """The public URL of a feed (no access key): the checkpoint key and ``raw_ref``."""
        if feed.url is not None:
            return feed.url
        return self.rsshub_base_url.rstrip("/") + str(feed.route)


@dataclass(frozen=True, slots=True)
class _Fetched:
    status: int
    body: bytes
    headers: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class _Entry:
    key: str
    message: Message
    published: datetime | None


class RssConnector(Connector[RssConfig]):
    """Polls RSS/Atom feeds with conditional GET; one message per new entry."""

    kind: ClassVar[str] = "rss"
    channel: ClassVar[str] = "rss"
    Config: ClassVar[type[RssConfig]] = RssConfig

    def __init__(self, name: str, config: RssConfig, *, session: requests.Session | None = None) -> None:
        super().__init__(name, config)
        self._session = session
        self._own_session = session is None
        self._failing: dict[str, str] = {}  # feed part -> error of its last fetch, while failing

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = make_session(self.config)
        return self._session

    def close(self) -> None:
        if self._own_session and self._session is not None:
            self._session.close()
            self._session = None

    # -- fetching -------------------------------------------------------------------------------

    def fetch(
        self,
        checkpoint: Checkpoint | None,
        *,
        batch_size: int = 500,
        stop: threading.Event | None = None,
    ) -> Iterator[Batch]:
        states: dict[str, dict[str, Any]] = dict((checkpoint or {}).get("feeds", {}))
        policy = RetryPolicy(self.config, stop=stop)
        failures: list[YuqingError] = []
        for feed in self.config.feeds:
            if stop is not None and stop.is_set():
                return
            url = self.config.feed_url(feed)
            state = dict(states.get(url, {}))
            try:
                fetched = policy.run(functools.partial(self._get, feed, state))
            except Interrupted:
                return
            except (UnavailableError, AuthError) as exc:
                log.warning("rss.feed_failed", source=self.name, feed=url, error=str(exc))
                failures.append(exc)
                self._failing[self._part(feed)] = str(exc)
                continue
            self._failing.pop(self._part(feed), None)
            if fetched.status == 304:
                continue
            for new_state, batch in self._batches(url, state, fetched, batch_size):
                states = {**states, url: new_state}
                yield Batch(batch.messages, {"feeds": states}, batch.quarantined)
                if stop is not None and stop.is_set():
                    return
        if failures:
            auth = [f for f in failures if isinstance(f, AuthError)]
            raise auth[0] if auth else failures[0]

    @staticmethod
    def _part(feed: FeedSpec) -> str:
        """How the operator knows the feed: its RSSHub route, else its label or URL."""
        return feed.route or feed.label or str(feed.url)

    def failing_parts(self) -> Mapping[str, str]:
        configured = {self._part(f) for f in self.config.feeds}
        return {part: error for part, error in self._failing.items() if part in configured}

    def _get(self, feed: FeedSpec, state: Mapping[str, Any], attempt: int) -> _Fetched:
        """One conditional GET, body capped at ``max_bytes`` and bounded by the feed's total timeout."""
        url = self.config.feed_url(feed)
        params = {}
        if feed.route is not None and self.config.rsshub_access_key is not None:
            params["key"] = self.config.rsshub_access_key.get_secret_value()
        headers = {"Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"}
        if state.get("etag"):
            headers["If-None-Match"] = str(state["etag"])
        if state.get("modified"):
            headers["If-Modified-Since"] = str(state["modified"])
        total = feed.timeout or (self.config.connect_timeout + self.config.timeout)
        deadline = time.monotonic() + total
        what = f"feed {url}"
        try:
            with self.session.get(
                url,
                params=params,
                headers=headers,
                timeout=(self.config.connect_timeout, min(self.config.timeout, total)),
                stream=True,
            ) as response:
                error = error_for_status(
                    response.status_code, response.headers, what=what, settings=self.config, attempt=attempt
                )
                if error is not None:
                    raise error
                body = bytearray()
                for chunk in response.iter_content(65536):
                    body.extend(chunk)
                    if len(body) > self.config.max_bytes:
                        break
                    if time.monotonic() > deadline:
                        raise UnavailableError(f"{what}: no complete response within {total:g} s")
                return _Fetched(response.status_code, bytes(body), dict(response.headers))
        except requests.RequestException as exc:
            raise unavailable_from_exception(exc, what=what, settings=self.config) from None

    def _batches(
        self, url: str, state: dict[str, Any], fetched: _Fetched, batch_size: int
    ) -> Iterator[tuple[dict[str, Any], Batch]]:
        """Parse one fetched body; yield (new feed state, batch) pairs, conditional headers last."""
        validators = {
            "etag": fetched.headers.get("ETag") or fetched.headers.get("etag"),
            "modified": fetched.headers.get("Last-Modified") or fetched.headers.get("last-modified"),
        }
        problem = None
        parsed: Any = None
        if len(fetched.body) > self.config.max_bytes:
            problem = f"feed larger than max_bytes={self.config.max_bytes}"
        else:
            try:
                parsed = feedparser.parse(
                    fetched.body,
                    response_headers={"content-type": fetched.headers.get("Content-Type", "")},
                )
                if not parsed.get("entries") and (parsed.get("bozo") or not parsed.get("version")):
                    reason = parsed.get("bozo_exception") or "no feed recognised"
                    problem = f"not a valid RSS/Atom feed: {reason}"
            except Exception as exc:  # feedparser is lenient, but an empty body has no .version
                if is_source_error(exc):
                    raise
                problem = f"not a valid RSS/Atom feed: {failure_reason(exc)}"
        if problem is not None:
            digest = hashlib.sha256(fetched.body).hexdigest()
            if state.get("bad") == digest:
                return
            log.warning("rss.feed_quarantined", source=self.name, feed=url, reason=problem)
            whole = Quarantined(
                source=self.name,
                reason=f"{url}: {problem}",
                raw=fetched.body[:RAW_CAP],
                raw_ref=url,
                raw_size=len(fetched.body),
            )
            yield {**state, "bad": digest}, Batch((), {}, (whole,))
            return

        fetched_at = datetime.now(UTC)
        entries, broken = self._entries(url, parsed.entries, fetched_at)
        seen = list(state.get("seen", []))
        seen_set = set(seen)
        bad = [(key, item) for key, item in broken if key not in seen_set]  # quarantined once, not per poll
        seen_set.update(key for key, _ in bad)
        watermark = _parse_iso(state.get("watermark"))
        floor = watermark - timedelta(days=self.config.lookback_days) if watermark else None
        new: list[_Entry] = []
        for entry in entries:
            if entry.key in seen_set or (floor and entry.published and entry.published <= floor):
                continue
            seen_set.add(entry.key)
            new.append(entry)
        new.sort(key=lambda e: (e.message.created_at, e.key))

        current = dict(state)
        current.pop("bad", None)
        chunks = [new[i : i + batch_size] for i in range(0, len(new), batch_size)] or [[]]
        for index, chunk in enumerate(chunks):
            quarantined = tuple(item for _, item in bad) if index == 0 else ()
            seen = (seen + [key for key, _ in bad] * (index == 0) + [e.key for e in chunk])[-self.config.seen_ids :]
            times = [e.published for e in chunk if e.published] + ([watermark] if watermark else [])
            watermark = max(times) if times else None
            current = {**current, "seen": seen, "watermark": watermark.isoformat() if watermark else None}
            if index == len(chunks) - 1:
                # Everything in the document is now known: remember it all, then the validators.
                known = set(seen)
                in_doc = [e.key for e in entries if e.key not in known]
                current["seen"] = (seen + in_doc)[-self.config.seen_ids :]
                current.update(validators)
                if not chunk and not quarantined and current == state:
                    return
            yield current, Batch(tuple(e.message for e in chunk), {}, quarantined)

    def _entries(
        self, url: str, raw_entries: list[Any], fetched_at: datetime
    ) -> tuple[list[_Entry], list[tuple[str, Quarantined]]]:
        """Every entry as a message; an entry that cannot be one becomes a quarantine row (with a
        key from its content, remembered in ``seen`` so the same broken entry is quarantined once)."""
        entries: list[_Entry] = []
        bad: list[tuple[str, Quarantined]] = []
        for index, raw_entry in enumerate(raw_entries):
            item = guarded(
                functools.partial(self._entry, url, raw_entry, fetched_at),
                source=self.name,
                raw=functools.partial(_entry_bytes, raw_entry),
                raw_ref=f"{url}#entry-{index}",
            )
            if isinstance(item, Quarantined):
                bad.append(("bad:" + hashlib.sha1(item.raw, usedforsecurity=False).hexdigest(), item))
            else:
                entries.append(item)
        return entries, bad

    def _entry(self, url: str, entry: Any, fetched_at: datetime) -> _Entry:
        """One feedparser entry as a message (HTML content reduced to text, links kept)."""
        link = str(entry.get("link") or "")
        title = str(entry.get("title") or "")
        html = ""
        contents = entry.get("content") or []
        if contents:
            html = "\n".join(str(c.get("value", "")) for c in contents)
        if not html:
            html = str(entry.get("summary") or entry.get("description") or "")
        text = html_to_text(html) if html else ""
        ident = str(entry.get("id") or link)
        if not ident:
            ident = "sha1:" + hashlib.sha1(f"{title}\n{text}".encode(), usedforsecurity=False).hexdigest()
        key = ident if ":" in ident else f"{url}#{ident}"
        published, flags = _entry_time(entry, fetched_at, ZoneInfo(self.config.timezone))
        author_name = str(entry.get("author") or "")
        detail = entry.get("author_detail") or {}
        author = Author(
            id=str(detail.get("href") or detail.get("email") or author_name), display_name=author_name
        )
        refs = (*quoted_refs(text, own=link), *chain_refs(text))
        message = Message(
            source=self.name,
            external_id=key,
            thread_key=repost_key(text) or f"rss:{link or key}",
            ref_id=link,
            refs=refs,
            is_reply=bool(refs),
            text=text or title,
            created_at=published or fetched_at,
            channel=self.channel,
            author=author,
            title=title,
            html=html or None,
            url=link or None,
            raw_ref=f"{url}#{ident}",
            flags=flags,
        )
        return _Entry(key, message, published)

    # -- checks ---------------------------------------------------------------------------------

    def check(self) -> list[str]:
        problems: list[str] = []
        policy = RetryPolicy(self.config.model_copy(update={"max_retries": 0}))
        for feed in self.config.feeds:
            url = self.config.feed_url(feed)
            try:
                fetched = policy.run(functools.partial(self._get, feed, {}))
            except YuqingError as exc:
                problems.append(str(exc))
                continue
            parsed = feedparser.parse(
                fetched.body, response_headers={"content-type": fetched.headers.get("Content-Type", "")}
            )
            if not parsed.entries and (parsed.bozo or not parsed.version):
                problems.append(f"feed {url}: not a valid RSS/Atom feed")
        return problems


def _entry_time(entry: Any, fetched_at: datetime, zone: tzinfo) -> tuple[datetime | None, tuple[str, ...]]:
    """feedparser's parsed time; else the raw text (RSSHub writes Weibo's ``3分钟前``, Chinese
    dates) read by :mod:`connectors.timeparse`; flagged when a time was there but unreadable."""
    for field in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(field)
        if value:
            parsed = datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
            if in_bounds(parsed, fetched_at):
                return parsed, ()
    for field in ("published", "updated", "created"):
        value = entry.get(field)
        if isinstance(value, str) and value.strip():
            found = parse_time(value, now=fetched_at, zone=zone)
            return (found, ()) if found is not None else (None, (TIME_UNPARSED,))
    return None, ()


def _entry_bytes(entry: Any) -> bytes:
    """A feed entry as JSON for its quarantine row (feedparser values are mostly strings)."""
    return json.dumps(entry, ensure_ascii=False, default=str).encode("utf-8", "replace")


def _parse_iso(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
