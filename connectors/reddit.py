"""Reddit through praw: new posts and comments of subreddits, searches, and the account's inbox.

Each listing is a *stream* (``new:<sub>``, ``comments:<sub>``, ``search:<query>``, ``inbox:<kind>``)
read newest first until it reaches what the checkpoint already holds::

    {"created": <newest created_utc stored>, "names": [fullnames stored with exactly that time]}

Reddit timestamps are whole seconds and busy listings post several items per second, so the
fullnames at the boundary second are kept too: an item is new when it is younger than ``created``
or has that very time and an unknown fullname. Items are emitted oldest first, each batch carrying
the checkpoint of its last item, so a crash replays at most one batch. The first poll of a stream
reads ``initial_items`` (no backfill of the subreddit's history).

Comments thread onto their submission (``thread_key`` ``reddit:t3_<id>``), private messages onto
their first message. Rate limits: praw itself waits up to ~10 s between calls; when Reddit's
``x-ratelimit-remaining`` reaches zero and the reset is further away than ``max_inline_wait`` the
connector raises :class:`~monitor.errors.UnavailableError` instead of letting praw block the worker.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

import praw
import prawcore
import requests
import structlog
from pydantic import Field, SecretStr, model_validator

from connectors.base import Connector
from connectors.http import (
    CLIENT_ERROR_RETRY_AFTER,
    HttpSettings,
    Interrupted,
    backoff_delay,
    make_session,
    parse_retry_after,
)
from connectors.reposts import quoted_refs
from monitor.errors import AuthError, UnavailableError, YuqingError
from monitor.message import Author, Batch, Checkpoint, Engagement, Message

InboxKind = Literal["mentions", "comment_replies", "submission_replies", "messages", "unread"]
log = structlog.get_logger(__name__)
_CONTEXT_LINK = re.compile(r"/comments/([a-z0-9]+)/")


class RedditConfig(HttpSettings):
    client_id: SecretStr | None = None
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = Field(default=None, description="user auth, needed for the inbox")
    username: str | None = None
    password: SecretStr | None = Field(default=None, description="script-app user auth (with username)")
    subreddits: list[str] = Field(default_factory=list, description="read new posts of these")
    include_comments: bool = Field(default=True, description="also read new comments of the subreddits")
    searches: list[str] = Field(default_factory=list, description="search queries, newest first")
    search_subreddit: str = Field(default="all", description="where searches run ('all' = everywhere)")
    inbox: list[InboxKind] = Field(default_factory=list)
    initial_items: int = Field(default=100, ge=1, le=1000, description="items read on a stream's first poll")
    max_items: int = Field(default=1000, ge=1, le=1000, description="items per stream and poll")

    @model_validator(mode="after")
    def _something_to_watch(self) -> RedditConfig:
        if not (self.subreddits or self.searches or self.inbox):
            raise ValueError("configure at least one of subreddits, searches, inbox")
        return self


class _RateBudget:
    """Reddit's rate-limit headers as last seen (fed by a response hook on the session)."""

    def __init__(self) -> None:
        self.remaining: float | None = None
        self.reset_at: float | None = None

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "x-ratelimit-remaining" in response.headers:
            try:
                self.remaining = float(response.headers["x-ratelimit-remaining"])
                self.reset_at = time.time() + float(response.headers.get("x-ratelimit-reset", "0"))
            except ValueError:
                pass

    def wait_needed(self) -> float:
        """Seconds praw would sleep before the next call because the window is exhausted."""
        if self.remaining is None or self.remaining >= 1 or self.reset_at is None:
            return 0.0
        return max(0.0, self.reset_at - time.time())


class RedditConnector(Connector[RedditConfig]):
    """Reads subreddits (posts, comments), searches and the inbox with praw."""

    kind: ClassVar[str] = "reddit"
    channel: ClassVar[str] = "reddit"
    Config: ClassVar[type[RedditConfig]] = RedditConfig

    def __init__(self, name: str, config: RedditConfig, *, session: requests.Session | None = None) -> None:
        super().__init__(name, config)
        self._session = session
        self._reddit: praw.Reddit | None = None
        self._own_session: requests.Session | None = None
        self._budget = _RateBudget()

    # -- client ---------------------------------------------------------------------------------

    def _user_auth(self) -> dict[str, str]:
        c = self.config
        if c.refresh_token is not None:
            return {"refresh_token": c.refresh_token.get_secret_value()}
        if c.username and c.password is not None:
            return {"username": c.username, "password": c.password.get_secret_value()}
        return {}

    @property
    def reddit(self) -> praw.Reddit:
        c = self.config
        if c.client_id is None or c.client_secret is None:
            raise AuthError(
                f"reddit source {self.name!r}: client_id/client_secret missing "
                "(set them via ${ENV} or client_secret_file: PATH)"
            )
        user = self._user_auth()
        if c.inbox and not user:
            raise AuthError(
                f"reddit source {self.name!r}: reading the inbox needs user credentials "
                "(refresh_token, or username + password)"
            )
        if self._reddit is None:
            session = self._session
            if session is None:
                session = self._own_session = make_session(c)
            if self._budget.hook not in session.hooks["response"]:
                session.hooks["response"].append(self._budget.hook)
            self._reddit = praw.Reddit(
                client_id=c.client_id.get_secret_value(),
                client_secret=c.client_secret.get_secret_value(),
                user_agent=c.user_agent,
                requestor_kwargs={"session": session, "timeout": c.timeout},
                check_for_updates=False,
                check_for_async=False,
                refresh_token=user.get("refresh_token"),
                username=user.get("username"),
                password=user.get("password"),
            )
            self._reddit.read_only = not user
        return self._reddit

    def close(self) -> None:
        if self._own_session is not None:
            self._own_session.close()
        self._reddit = self._own_session = None

    def _streams(self) -> list[str]:
        out: list[str] = []
        for sub in self.config.subreddits:
            out.append(f"new:{sub}")
            if self.config.include_comments:
                out.append(f"comments:{sub}")
        out += [f"search:{q}" for q in self.config.searches]
        out += [f"inbox:{kind}" for kind in self.config.inbox]
        return out

    def _listing(self, stream: str, limit: int) -> Iterable[Any]:
        kind, _, target = stream.partition(":")
        reddit = self.reddit
        if kind == "new":
            return reddit.subreddit(target).new(limit=limit)
        if kind == "comments":
            comments: Iterable[Any] = reddit.subreddit(target).comments(limit=limit)
            return comments
        if kind == "search":
            subreddit = reddit.subreddit(self.config.search_subreddit)
            return subreddit.search(target, sort="new", time_filter="all", limit=limit)
        if target == "unread":
            return reddit.inbox.unread(mark_read=False, limit=limit)
        listing: Callable[..., Iterable[Any]] = getattr(reddit.inbox, target)
        return listing(limit=limit)

    # -- fetching -------------------------------------------------------------------------------

    def fetch(
        self,
        checkpoint: Checkpoint | None,
        *,
        batch_size: int = 500,
        stop: threading.Event | None = None,
    ) -> Iterator[Batch]:
        streams: dict[str, Any] = dict((checkpoint or {}).get("streams", {}))
        emitted: set[str] = set()
        failures: list[UnavailableError] = []
        for stream in self._streams():
            if stop is not None and stop.is_set():
                return
            state = streams.get(stream) or {}
            try:
                items = self._collect(stream, state, stop)
            except UnavailableError as exc:
                log.warning("reddit.stream_failed", source=self.name, stream=stream, error=str(exc))
                failures.append(exc)
                continue
            except Interrupted:
                return
            for new_state, chunk in _chunks(items, state, batch_size):
                fresh = tuple(self._message(stream, item) for item in chunk if item["name"] not in emitted)
                emitted.update(m.external_id for m in fresh)
                streams = {**streams, stream: new_state}
                yield Batch(fresh, {"streams": streams})
                if stop is not None and stop.is_set():
                    return
        if failures:
            raise failures[0]

    def _collect(
        self, stream: str, state: Mapping[str, Any], stop: threading.Event | None, *, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """New items of one stream, oldest first (as raw attribute dicts)."""
        created = float(state.get("created", 0.0))
        names = set(state.get("names", []))
        if limit is None:
            limit = self.config.max_items if state else self.config.initial_items
        found: list[dict[str, Any]] = []
        try:
            iterator = iter(self._listing(stream, limit))
            while True:
                self._check_budget(stream)
                if stop is not None and stop.is_set():
                    # Newest-first: a partial read would advance the checkpoint past a gap.
                    raise Interrupted("stop requested")
                try:
                    item = next(iterator)
                except StopIteration:
                    break
                data = _attributes(item)
                when = float(data.get("created_utc") or 0.0)
                if state and when < created:
                    break  # listings are newest first: the rest is stored already
                if state and when == created and data["name"] in names:
                    continue
                found.append(data)
        except prawcore.exceptions.PrawcoreException as exc:
            raise self._translate(stream, exc) from None
        if state and len(found) >= limit:
            log.warning("reddit.items_skipped", source=self.name, stream=stream, limit=limit)
        found.sort(key=lambda d: (float(d.get("created_utc") or 0.0), d["name"]))
        return found

    def _check_budget(self, stream: str) -> None:
        wait = self._budget.wait_needed()
        if wait > self.config.max_inline_wait:
            raise UnavailableError(f"reddit {stream}: rate limit exhausted", retry_after=wait)

    def _translate(self, stream: str, exc: prawcore.exceptions.PrawcoreException) -> YuqingError:
        """prawcore's exceptions classified by what the daemon should do."""
        what = f"reddit source {self.name!r} {stream}"
        errors = prawcore.exceptions
        if isinstance(exc, errors.OAuthException | errors.InvalidToken | errors.InsufficientScope):
            return AuthError(
                f"{what}: credentials rejected ({exc}) - client id/secret or token wrong or revoked"
            )
        if isinstance(exc, errors.TooManyRequests):
            wait = parse_retry_after(exc.response.headers)
            return UnavailableError(f"{what}: HTTP 429 rate limited", retry_after=wait)
        if isinstance(exc, errors.ServerError | errors.RequestException | errors.BadJSON):
            wait = backoff_delay(0, base=self.config.backoff_base, cap=self.config.backoff_max)
            return UnavailableError(f"{what}: {type(exc).__name__}: {exc}", retry_after=wait)
        if isinstance(
            exc, errors.Forbidden | errors.Redirect | errors.NotFound | errors.UnavailableForLegalReasons
        ):
            return UnavailableError(
                f"{what}: {exc} - subreddit private, quarantined, banned or missing",
                retry_after=CLIENT_ERROR_RETRY_AFTER,
            )
        if isinstance(exc, errors.ResponseException):
            status = exc.response.status_code
            token_request = "/api/v1/access_token" in str(exc.response.url)
            if status == 401 or (token_request and status in (400, 403)):
                where = " on the token request" if token_request else ""
                return AuthError(
                    f"{what}: credentials rejected (HTTP {status}{where})"
                    " - client id/secret or token wrong or revoked"
                )
        return UnavailableError(f"{what}: {type(exc).__name__}: {exc}", retry_after=CLIENT_ERROR_RETRY_AFTER)

    def _message(self, stream: str, data: Mapping[str, Any]) -> Message:
        name = str(data["name"])
        kind = name.split("_", 1)[0]
        author = data.get("author")
        author_name = str(getattr(author, "name", author) or "[deleted]")
        if kind == "t3":
            thread, title = name, str(data.get("title") or "")
            body = str(data.get("selftext") or "")
            text = f"{title}\n\n{body}".strip()
            html = data.get("selftext_html")
            engagement = Engagement(
                likes=int(data.get("score") or 0),
                reposts=int(data.get("num_crossposts") or 0),
                replies=int(data.get("num_comments") or 0),
            )
        else:
            thread = _comment_thread(data) if kind == "t1" else str(data.get("first_message_name") or name)
            title = str(data.get("subject") or data.get("link_title") or "") if kind == "t4" else ""
            text = str(data.get("body") or "")
            html = data.get("body_html")
            engagement = Engagement(likes=int(data.get("score") or 0))
        link = data.get("permalink") or data.get("context")
        crossposted = str(data.get("crosspost_parent") or "")
        refs = tuple(dict.fromkeys([*([f"reddit:{crossposted}"] if crossposted else []),
                                    *quoted_refs(text, own=f"reddit:{name}")]))
        return Message(
            source=self.name,
            external_id=name,
            thread_key=f"reddit:{thread}",
            ref_id=f"reddit:{name}",
            refs=refs,
            is_reply=bool(refs),
            text=text,
            created_at=datetime.fromtimestamp(float(data.get("created_utc") or 0.0), tz=UTC),
            channel=self.channel,
            author=Author(id=str(data.get("author_fullname") or author_name), display_name=author_name),
            title=title,
            html=str(html) if html else None,
            url=f"https://www.reddit.com{link}" if link else None,
            engagement=engagement,
            raw_ref=f"{stream}#{name}",
        )

    def check(self) -> list[str]:
        problems: list[str] = []
        try:
            for stream in self._streams():
                self._collect(stream, {}, None, limit=1)
        except YuqingError as exc:
            problems.append(str(exc))
        return problems


def _attributes(item: Any) -> dict[str, Any]:
    """The attributes praw parsed from the listing, without triggering a lazy fetch."""
    data = dict(vars(item))
    data.setdefault("name", f"{getattr(item, 'fullname', '')}")
    return data


def _comment_thread(data: Mapping[str, Any]) -> str:
    """The submission a comment belongs to: ``link_id``, else the inbox ``context`` link."""
    if data.get("link_id"):
        return str(data["link_id"])
    match = _CONTEXT_LINK.search(str(data.get("context") or ""))
    if match:
        return f"t3_{match.group(1)}"
    parent = str(data.get("parent_id") or "")
    return parent if parent.startswith("t3_") else str(data["name"])


def _chunks(
    items: list[dict[str, Any]], state: Mapping[str, Any], batch_size: int
) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Split oldest-first items into batches, each with the checkpoint valid after it."""
    created = float(state.get("created", 0.0))
    names = list(state.get("names", []))
    for start in range(0, len(items), batch_size):
        chunk = items[start : start + batch_size]
        for item in chunk:
            when = float(item.get("created_utc") or 0.0)
            if when > created:
                created, names = when, []
            names.append(str(item["name"]))
        yield {"created": created, "names": list(names)}, chunk
