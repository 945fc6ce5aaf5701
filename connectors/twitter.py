"""X / Twitter through the API v2 with tweepy's ``Client``: recent search, mentions, user timelines.

Each configured query or account is a *stream* with its own checkpoint::

    {"since_id": "<newest id stored>", "run": {"newest": id, "token": page token, "below": id} | null}

The API pages newest first. A poll asks for tweets newer than ``since_id`` and walks the pages;
``since_id`` advances to the newest id only when the walk is complete. Until then ``run`` says
where the walk is: the page token being read and the last id emitted from that page (``below``),
so a crash mid-walk resumes on the same page without losing or repeating a tweet. The first poll
of a stream reads ``initial_pages`` pages (no backfill of a week of history).

429 responses honour ``x-rate-limit-reset``: a short wait is slept, a longer one raises
:class:`~monitor.errors.UnavailableError` with ``retry_after``; 401/403 raise
:class:`~monitor.errors.AuthError`; everything already yielded stays valid.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import requests
import tweepy
from pydantic import Field, SecretStr, model_validator

from connectors.base import Connector
from connectors.http import (
    HttpSettings,
    Interrupted,
    RetryPolicy,
    error_for_status,
    make_session,
    unavailable_from_exception,
)
from connectors.reposts import quoted_refs
from monitor.errors import AuthError, UnavailableError, YuqingError
from monitor.message import Author, Batch, Checkpoint, Engagement, Message

TWEET_FIELDS = [
    "created_at", "author_id", "conversation_id", "public_metrics", "lang", "note_tweet", "referenced_tweets",
]
USER_FIELDS = ["username", "name", "public_metrics"]
TWITTER_EPOCH_MS = 1288834974657


class TwitterConfig(HttpSettings):
    bearer_token: SecretStr | None = Field(default=None, description="app-only bearer token (read)")
    searches: list[str] = Field(default_factory=list, description="recent-search queries")
    mentions_of: list[str] = Field(default_factory=list, description="accounts (username or id)")
    timelines: list[str] = Field(default_factory=list, description="accounts whose posts to read")
    page_size: int = Field(default=100, ge=10, le=100)
    max_pages: int = Field(default=10, ge=1, description="pages per stream and poll")
    initial_pages: int = Field(default=1, ge=1, description="pages read on a stream's first poll")

    @model_validator(mode="after")
    def _something_to_watch(self) -> TwitterConfig:
        if not (self.searches or self.mentions_of or self.timelines):
            raise ValueError("configure at least one of searches, mentions_of, timelines")
        return self


def snowflake_time(tweet_id: str) -> datetime:
    """When a tweet was created, from its id (used when ``created_at`` is missing)."""
    return datetime.fromtimestamp(((int(tweet_id) >> 22) + TWITTER_EPOCH_MS) / 1000, tz=UTC)


class TwitterConnector(Connector[TwitterConfig]):
    """Reads tweets from recent search, mentions and user timelines (API v2)."""

    kind: ClassVar[str] = "twitter"
    channel: ClassVar[str] = "twitter"
    Config: ClassVar[type[TwitterConfig]] = TwitterConfig

    def __init__(self, name: str, config: TwitterConfig, *, session: requests.Session | None = None) -> None:
        super().__init__(name, config)
        self._session = session
        self._client: tweepy.Client | None = None
        self._user_ids: dict[str, str] = {}

    @property
    def client(self) -> tweepy.Client:
        if self.config.bearer_token is None:
            raise AuthError(
                f"twitter source {self.name!r}: no bearer_token configured "
                "(set bearer_token: ${X_BEARER_TOKEN} or bearer_token_file: PATH)"
            )
        if self._client is None:
            client = tweepy.Client(
                bearer_token=self.config.bearer_token.get_secret_value(),
                return_type=dict,
                wait_on_rate_limit=False,
            )
            client.session = self._session if self._session is not None else make_session(self.config)
            self._client = client
        return self._client

    def close(self) -> None:
        if self._client is not None and self._session is None:
            self._client.session.close()
        self._client = None

    # -- requests -------------------------------------------------------------------------------

    def _call(
        self, policy: RetryPolicy, what: str, method: Callable[..., Any], **params: Any
    ) -> dict[str, Any]:
        """One API call with the shared retry policy; tweepy/requests errors classified."""

        def attempt(n: int) -> dict[str, Any]:
            try:
                result: dict[str, Any] = method(**params)
                return result
            except tweepy.HTTPException as exc:
                response = exc.response
                error = error_for_status(
                    response.status_code, response.headers, what=what, settings=self.config, attempt=n
                )
                if isinstance(error, AuthError):
                    raise AuthError(
                        f"twitter source {self.name!r}: {what}: HTTP {response.status_code} "
                        f"{'; '.join(exc.api_messages) or 'credentials rejected'} - bearer token missing, "
                        "wrong, revoked or without access to this endpoint"
                    ) from None
                if response.status_code == 400:
                    raise _BadRequest(f"{what}: {'; '.join(exc.api_messages)}") from None
                raise error or UnavailableError(f"{what}: HTTP {response.status_code}") from None
            except requests.RequestException as exc:
                raise unavailable_from_exception(exc, what=what, settings=self.config) from None

        return policy.run(attempt)

    def _user_id(self, policy: RetryPolicy, account: str) -> str:
        handle = account.lstrip("@")
        if handle.isdigit():
            return handle
        if handle not in self._user_ids:
            data = self._call(policy, f"user @{handle}", self.client.get_user, username=handle)
            user = data.get("data")
            if not user:
                raise UnavailableError(f"user @{handle} not found", retry_after=3600.0)
            self._user_ids[handle] = str(user["id"])
        return self._user_ids[handle]

    def _streams(self) -> list[str]:
        return (
            [f"search:{q}" for q in self.config.searches]
            + [f"mentions:{a}" for a in self.config.mentions_of]
            + [f"timeline:{a}" for a in self.config.timelines]
        )

    def _page(self, policy: RetryPolicy, stream: str, since: str | None, token: str | None) -> dict[str, Any]:
        kind, _, target = stream.partition(":")
        params: dict[str, Any] = {
            "max_results": self.config.page_size,
            "expansions": ["author_id"],
            "tweet_fields": TWEET_FIELDS,
            "user_fields": USER_FIELDS,
            "since_id": since,
        }
        if kind == "search":
            # Search pages with ``next_token``; the user timelines with ``pagination_token``.
            return self._call(
                policy,
                stream,
                self.client.search_recent_tweets,
                query=target,
                sort_order="recency",
                next_token=token,
                **params,
            )
        params["pagination_token"] = token
        user_id = self._user_id(policy, target)
        method = self.client.get_users_mentions if kind == "mentions" else self.client.get_users_tweets
        return self._call(policy, stream, method, id=user_id, user_auth=False, **params)

    # -- fetching -------------------------------------------------------------------------------

    def fetch(
        self,
        checkpoint: Checkpoint | None,
        *,
        batch_size: int = 500,
        stop: threading.Event | None = None,
    ) -> Iterator[Batch]:
        streams: dict[str, Any] = dict((checkpoint or {}).get("streams", {}))
        policy = RetryPolicy(self.config, stop=stop)
        emitted: set[str] = set()
        try:
            for stream in self._streams():
                for state, messages in self._read_stream(policy, stream, streams.get(stream, {}), batch_size):
                    fresh = tuple(m for m in messages if m.external_id not in emitted)
                    emitted.update(m.external_id for m in fresh)
                    streams = {**streams, stream: state}
                    yield Batch(fresh, {"streams": streams})
                    policy.check_stop()
        except Interrupted:
            return

    def _read_stream(
        self, policy: RetryPolicy, stream: str, state: Mapping[str, Any], batch_size: int
    ) -> Iterator[tuple[dict[str, Any], list[Message]]]:
        since: str | None = state.get("since_id")
        run: dict[str, Any] = dict(state.get("run") or {})
        first_poll = since is None and not run
        try:
            yield from self._walk(policy, stream, since, run, batch_size, first_poll=first_poll)
        except _BadRequest as exc:
            if since is None or "since_id" not in str(exc):
                raise UnavailableError(str(exc), retry_after=3600.0) from None
            # since_id older than the search window: start the stream afresh (storage dedupes).
            yield from self._walk(policy, stream, None, {}, batch_size, first_poll=True)

    def _walk(
        self,
        policy: RetryPolicy,
        stream: str,
        since: str | None,
        run: dict[str, Any],
        batch_size: int,
        *,
        first_poll: bool,
    ) -> Iterator[tuple[dict[str, Any], list[Message]]]:
        token: str | None = run.get("token")
        newest: str | None = run.get("newest")
        below: str | None = run.get("below")
        limit = self.config.initial_pages if first_poll else self.config.max_pages
        for _ in range(limit):
            policy.check_stop()
            page = self._page(policy, stream, since, token)
            tweets = [t for t in page.get("data") or [] if below is None or int(t["id"]) < int(below)]
            users = {str(u["id"]): u for u in (page.get("includes") or {}).get("users", [])}
            for tweet in page.get("data") or []:
                if newest is None or int(tweet["id"]) > int(newest):
                    newest = str(tweet["id"])
            next_token = (page.get("meta") or {}).get("next_token")
            tweets.sort(key=lambda t: int(t["id"]), reverse=True)
            chunks = [tweets[i : i + batch_size] for i in range(0, len(tweets), batch_size)]
            for index, chunk in enumerate(chunks):
                messages = [self._message(stream, t, users) for t in chunk]
                if index == len(chunks) - 1 and not next_token:
                    break  # the last chunk is yielded below with the completed state
                below = chunk[-1]["id"]
                yield {"since_id": since, "run": {"newest": newest, "token": token, "below": below}}, messages
            else:
                messages = []
            if not next_token:
                yield {"since_id": newest or since, "run": None}, messages
                return
            token, below = next_token, None
        if first_poll:
            # No backfill beyond initial_pages: older tweets are history, not news.
            yield {"since_id": newest or since, "run": None}, []
        else:
            yield {"since_id": since, "run": {"newest": newest, "token": token, "below": None}}, []

    def _message(self, stream: str, tweet: Mapping[str, Any], users: Mapping[str, Any]) -> Message:
        tweet_id = str(tweet["id"])
        author_id = str(tweet.get("author_id") or "")
        user = users.get(author_id) or {}
        username = str(user.get("username") or "")
        metrics = tweet.get("public_metrics") or {}
        followers = (user.get("public_metrics") or {}).get("followers_count")
        created = tweet.get("created_at")
        created_at = (
            datetime.fromisoformat(str(created).replace("Z", "+00:00"))
            if created
            else snowflake_time(tweet_id)
        )
        note = tweet.get("note_tweet") or {}
        name = str(user.get("name") or "")
        text = str(note.get("text") or tweet.get("text") or "")
        thread, refs = _threading(tweet, text)
        return Message(
            source=self.name,
            external_id=tweet_id,
            thread_key=thread,
            ref_id=f"twitter:{tweet_id}",
            refs=refs,
            is_reply=bool(refs),
            text=text,
            created_at=created_at,
            channel=self.channel,
            author=Author(
                id=author_id,
                display_name=f"{name} (@{username})" if name and username else name or username,
                followers=int(followers) if followers is not None else None,
            ),
            url=f"https://x.com/{username or 'i/web'}/status/{tweet_id}",
            engagement=Engagement(
                likes=int(metrics.get("like_count", 0)),
                reposts=int(metrics.get("retweet_count", 0)) + int(metrics.get("quote_count", 0)),
                replies=int(metrics.get("reply_count", 0)),
            ),
            raw_ref=f"{stream}#{tweet_id}",
        )

    def check(self) -> list[str]:
        policy = RetryPolicy(self.config.model_copy(update={"max_retries": 0}))
        problems: list[str] = []
        try:
            for stream in self._streams():
                self._page(policy, stream, None, None)
        except YuqingError as exc:
            problems.append(str(exc))
        except _BadRequest as exc:
            problems.append(f"rejected by the API: {exc}")
        return problems


class _BadRequest(Exception):
    """HTTP 400 from the API (invalid query, since_id out of the search window ...)."""


def _threading(tweet: Mapping[str, Any], text: str) -> tuple[str, tuple[str, ...]]:
    """Thread key and references of a tweet: the tweets it replies to, quotes or retweets, and
    the tweets its text links to. A retweet has no conversation of its own: it threads onto the
    retweeted tweet, so retweets of one tweet share a thread even when that tweet is not stored."""
    tweet_id = str(tweet["id"])
    referenced = [r for r in tweet.get("referenced_tweets") or [] if isinstance(r, Mapping) and r.get("id")]
    refs = tuple(dict.fromkeys([*(f"twitter:{r['id']}" for r in referenced),
                                *quoted_refs(text, own=f"twitter:{tweet_id}")]))
    retweeted = next((str(r["id"]) for r in referenced if r.get("type") == "retweeted"), "")
    return f"twitter:{retweeted or tweet.get('conversation_id') or tweet_id}", refs
