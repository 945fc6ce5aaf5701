"""X / Twitter connector replaying tweepy's recorded API v2 responses through an injected session.

The recordings (``shared/data/twitter/v2``) hold one page per endpoint. The recent-search query
``Tweepy`` was recorded twice, 24 minutes apart (the async-client recording is the later one), so the
later page followed by its ``next_token`` leads to the earlier page: a two-page walk built only from
recorded bodies. :class:`SearchReplay` serves those pages and applies the API's ``since_id``
semantics to them; tweets appended by a test are *derived* (same shape, with the expansions and
metrics the connector requests) because the recordings requested no fields.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from connectors.registry import connector_class
from connectors.twitter import TwitterConfig, TwitterConnector, snowflake_time
from monitor.errors import AuthError, UnavailableError
from monitor.pipeline import process_batch
from monitor.storage.db import Database
from monitor.storage.models import StoredMessage
from tests.connectors.conformance import ConnectorConformance, drain
from tests.connectors.replay import Interaction, ReplayAdapter, load_cassette, replay_session
from tests.helpers.builders import KeywordStub
from tests.helpers.context import context

BEARER = "AAAAAAAAAAAAAAAAAAAAAtest-bearer-token-9d8f"
SEARCH = "/2/tweets/search/recent"
LATER = load_cassette("twitter/v2/test_asyncclient_search_recent_tweets.yaml")[0]
EARLIER = load_cassette("twitter/v2/test_client_search_recent_tweets.yaml")[0]


class SearchReplay:
    """Recorded search pages, newest first, chained by their recorded ``next_token``."""

    def __init__(self, adapter: ReplayAdapter) -> None:
        self.recorded = [LATER, EARLIER]
        self.appended: list[dict[str, Any]] = []
        self.users: list[dict[str, Any]] = []
        adapter.route("GET", SEARCH, self.handle)

    def pages(self) -> list[tuple[str | None, Interaction | None, list[dict[str, Any]]]]:
        """(token that requests the page, recorded interaction or None, tweets) per page."""
        out: list[tuple[str | None, Interaction | None, list[dict[str, Any]]]] = []
        token: str | None = None
        if self.appended:
            out.append((None, None, sorted(self.appended, key=lambda t: -int(t["id"]))))
            token = "derived-appended-page"
        for interaction in self.recorded:
            body = interaction.json()
            out.append((token, interaction, body["data"]))
            token = body["meta"].get("next_token")
        out.append((token, None, []))  # what the API answers past the last tweet
        return out

    def handle(self, request: requests.PreparedRequest) -> Interaction:
        query = {k: v[-1] for k, v in parse_qs(urlsplit(request.url or "").query).items()}
        since = int(query.get("since_id", "0"))
        wanted = query.get("next_token")
        everything = self.pages()
        pages = [(tok, rec, [t for t in tweets if int(t["id"]) > since]) for tok, rec, tweets in everything]
        live = [p for p in pages if p[2]]
        if pages[-2][2] == everything[-2][2]:
            live.append(pages[-1])  # the oldest recorded page is complete: its next_token leads on
        for index, (token, recorded, tweets) in enumerate(live):
            if token != wanted and not (wanted is None and index == 0):
                continue
            following = live[index + 1][0] if index + 1 < len(live) else None
            if recorded is not None and len(tweets) == len(recorded.json()["data"]) and following:
                return recorded  # byte-for-byte the recording
            meta: dict[str, Any] = {"result_count": len(tweets)}
            if tweets:
                meta.update(newest_id=tweets[0]["id"], oldest_id=tweets[-1]["id"])
            if following:
                meta["next_token"] = following
            body: dict[str, Any] = {"data": tweets, "meta": meta}
            if recorded is None and self.users:
                body["includes"] = {"users": self.users}
            return EARLIER.with_json(body)
        return EARLIER.with_json({"meta": {"result_count": 0}})

    def newest(self) -> int:
        return max(int(t["id"]) for _, _, tweets in self.pages() for t in tweets)

    def append(self, n: int) -> int:
        """Derived tweets newer than everything recorded, with expansions and public metrics."""
        start = self.newest()
        user = {
            "id": "1500000000000000001",
            "name": "小王",
            "username": "xiaowang_cs",
            "public_metrics": {"followers_count": 4321, "following_count": 12, "tweet_count": 88},
        }
        self.users = [user]
        for k in range(n):
            tweet_id = start + (k + 1) * (1000 << 22)  # one second apart
            self.appended.append(
                {
                    "id": str(tweet_id),
                    "text": f"@Tweepy 第{len(self.appended)}次投诉：客服三天没回复 😠",
                    "author_id": user["id"],
                    "conversation_id": "1578500000000000000",
                    "created_at": snowflake_time(str(tweet_id)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                    "public_metrics": {
                        "retweet_count": 3,
                        "reply_count": 2,
                        "like_count": 17,
                        "quote_count": 1,
                    },
                    "edit_history_tweet_ids": [str(tweet_id)],
                }
            )
        return n


def make_connector(session: requests.Session, **settings: Any) -> TwitterConnector:
    values: dict[str, Any] = {
        "bearer_token": BEARER,
        "searches": ["Tweepy"],
        "page_size": 10,
        "initial_pages": 5,
        "backoff_base": 0.01,
        "max_inline_wait": 2.0,
        **settings,
    }
    return TwitterConnector("x", TwitterConfig.model_validate(values), session=session)


@pytest.fixture
def adapter() -> Iterator[ReplayAdapter]:
    replay = ReplayAdapter()
    yield replay
    assert replay.misses == [], "every request must be answered by a recording"


@pytest.fixture
def search(adapter: ReplayAdapter) -> SearchReplay:
    return SearchReplay(adapter)


def too_many_requests(reset_in: float) -> Interaction:
    """A 429 as the API sends it: recorded headers, remaining 0, reset as epoch seconds."""
    headers = dict(EARLIER.headers)
    headers.update({"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(int(time.time() + reset_in))})
    body = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
    return EARLIER.with_json(body, status=429, reason="Too Many Requests", headers=headers)


# -- conformance ---------------------------------------------------------------------------------


class TestTwitterConformance(ConnectorConformance):
    min_messages = 20

    @pytest.fixture
    def connector(self, adapter: ReplayAdapter, search: SearchReplay) -> TwitterConnector:
        return make_connector(replay_session(adapter))

    @pytest.fixture
    def append_source(self, search: SearchReplay) -> Callable[[int], int]:
        return search.append

    @pytest.fixture
    def secret_values(self) -> list[str]:
        return [BEARER]


# -- behaviour -----------------------------------------------------------------------------------


def test_registered_under_its_kind() -> None:
    assert connector_class("twitter") is TwitterConnector


def test_pagination_walks_the_recorded_pages_and_sets_since_id(
    adapter: ReplayAdapter, search: SearchReplay
) -> None:
    messages, checkpoint, _ = drain(make_connector(replay_session(adapter)), None)

    recorded_ids = [t["id"] for i in (LATER, EARLIER) for t in i.json()["data"]]
    assert sorted(m.external_id for m in messages) == sorted(recorded_ids)
    assert checkpoint == {
        "streams": {"search:Tweepy": {"since_id": LATER.json()["meta"]["newest_id"], "run": None}}
    }
    first, second, third = (adapter.params_of(i) for i in range(3))
    assert "next_token" not in first and "since_id" not in first
    assert second["next_token"] == LATER.json()["meta"]["next_token"]
    assert third["next_token"] == EARLIER.json()["meta"]["next_token"]
    assert first["expansions"] == "author_id"
    assert {"created_at", "public_metrics", "conversation_id", "author_id"} <= set(
        first["tweet.fields"].split(",")
    )
    assert "public_metrics" in first["user.fields"] and first["sort_order"] == "recency"
    assert [m.external_id for m in messages[:10]] == [t["id"] for t in LATER.json()["data"]], "newest first"


def test_recorded_tweets_without_fields_get_their_time_from_the_id(
    adapter: ReplayAdapter, search: SearchReplay
) -> None:
    messages, _, _ = drain(make_connector(replay_session(adapter)), None)
    by_id = {m.external_id: m for m in messages}
    # The recorded text of these bot tweets is the time they were posted.
    tweet = by_id["1578516068309794817"]
    assert tweet.text.startswith("2022-10-07 22:42:12")
    posted = datetime.fromisoformat(tweet.text.removesuffix(" tweepy")).replace(tzinfo=UTC)
    assert timedelta(0) <= tweet.created_at - posted < timedelta(seconds=2)
    assert tweet.thread_key == "twitter:1578516068309794817"
    assert tweet.author.followers is None and tweet.engagement.total == 0


def test_first_poll_reads_only_initial_pages(adapter: ReplayAdapter, search: SearchReplay) -> None:
    messages, checkpoint, _ = drain(make_connector(replay_session(adapter), initial_pages=1), None)
    assert len(messages) == 10 and len(adapter.requests) == 1
    assert checkpoint is not None
    assert checkpoint["streams"]["search:Tweepy"] == {"since_id": "1578522194770296832", "run": None}


def test_next_poll_asks_since_id_and_gets_expanded_authors_and_metrics(
    adapter: ReplayAdapter, search: SearchReplay
) -> None:
    connector = make_connector(replay_session(adapter))
    _, checkpoint, _ = drain(connector, None)
    search.append(2)
    new, checkpoint2, _ = drain(connector, checkpoint)

    assert adapter.params_of(-1)["since_id"] == "1578522194770296832"
    assert len(new) == 2
    tweet = new[0]
    assert "客服三天没回复" in tweet.text
    assert tweet.author.followers == 4321
    assert tweet.author.display_name == "小王 (@xiaowang_cs)"
    assert tweet.engagement.likes == 17 and tweet.engagement.reposts == 4 and tweet.engagement.replies == 2
    assert tweet.thread_key == "twitter:1578500000000000000"
    assert tweet.url == f"https://x.com/xiaowang_cs/status/{tweet.external_id}"
    assert tweet.created_at == snowflake_time(tweet.external_id).replace(microsecond=0)
    assert checkpoint2 is not None
    assert checkpoint2["streams"]["search:Tweepy"]["since_id"] == str(search.newest())


def test_rate_limit_mid_walk_raises_retry_after_and_resumes_on_the_same_page(
    adapter: ReplayAdapter, search: SearchReplay
) -> None:
    connector = make_connector(replay_session(adapter))
    limited = too_many_requests(900)
    adapter.add(limited, params={"next_token": LATER.json()["meta"]["next_token"]}, times=1)

    got = []
    with pytest.raises(UnavailableError) as caught:
        for batch in connector.fetch(None):
            got.append(batch)
    assert caught.value.retry_after == pytest.approx(900, abs=2)
    assert len([m for b in got for m in b.messages]) == 10
    assert got[-1].checkpoint["streams"]["search:Tweepy"]["since_id"] is None

    rest, final, _ = drain(connector, got[-1].checkpoint)
    assert adapter.params_of(-2)["next_token"] == LATER.json()["meta"]["next_token"]
    assert len(rest) == 10
    assert not {m.external_id for m in rest} & {m.external_id for b in got for m in b.messages}
    assert final is not None and final["streams"]["search:Tweepy"]["since_id"] == "1578522194770296832"


def test_short_rate_limit_is_waited_out_in_process(adapter: ReplayAdapter, search: SearchReplay) -> None:
    adapter.add(too_many_requests(0), params={"next_token": None}, times=1)
    messages, _, _ = drain(make_connector(replay_session(adapter)), None)
    assert len(messages) == 20
    assert len(adapter.requests) == 4


def test_server_errors_are_retried_with_backoff(adapter: ReplayAdapter, search: SearchReplay) -> None:
    unavailable = EARLIER.with_json({"title": "Service Unavailable"}, status=503, headers={})
    adapter.add(unavailable, times=2)
    messages, _, _ = drain(make_connector(replay_session(adapter)), None)
    assert len(messages) == 20


@pytest.mark.parametrize("status", [401, 403], ids=["unauthorized", "forbidden"])
def test_rejected_token_is_an_auth_error(adapter: ReplayAdapter, status: int) -> None:
    body = {"title": "Unauthorized", "type": "about:blank", "status": status, "detail": "Unauthorized"}
    adapter.add(EARLIER.with_json(body, status=status, headers={}))
    with pytest.raises(AuthError) as caught:
        drain(make_connector(replay_session(adapter)), None)
    assert str(status) in str(caught.value) and "bearer token" in str(caught.value)
    assert BEARER not in str(caught.value)


def test_missing_token_is_an_auth_error_and_a_check_problem(adapter: ReplayAdapter) -> None:
    connector = TwitterConnector(
        "x", TwitterConfig.model_validate({"searches": ["Tweepy"]}), session=replay_session(adapter)
    )
    with pytest.raises(AuthError, match="no bearer_token configured"):
        drain(connector, None)
    assert any("bearer_token" in p for p in connector.check())
    assert adapter.requests == []


def test_bearer_token_from_a_file(tmp_path: Any, adapter: ReplayAdapter, search: SearchReplay) -> None:
    secret = tmp_path / "x-token"
    secret.write_text(BEARER + "\n")
    config = TwitterConfig.model_validate({"bearer_token_file": str(secret), "searches": ["Tweepy"]})
    assert config.bearer_token is not None and config.bearer_token.get_secret_value() == BEARER
    assert TwitterConnector("x", config, session=replay_session(adapter)).check() == []
    assert adapter.requests[0].headers["Authorization"] == f"Bearer {BEARER}"


def test_since_id_outside_the_search_window_restarts_the_stream(
    adapter: ReplayAdapter, search: SearchReplay
) -> None:
    body = {
        "errors": [
            {
                "parameters": {"since_id": ["1"]},
                "message": "Invalid 'since_id':'1'. 'since_id' must be "
                "a tweet id created after 2022-09-30T22:43Z.",
            }
        ],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": "https://api.twitter.com/2/problems/invalid-request",
    }
    adapter.add(EARLIER.with_json(body, status=400, headers={}), params={"since_id": "1"})
    checkpoint = {"streams": {"search:Tweepy": {"since_id": "1", "run": None}}}
    messages, final, _ = drain(make_connector(replay_session(adapter)), checkpoint)
    assert len(messages) == 20
    assert final is not None and final["streams"]["search:Tweepy"]["since_id"] == "1578522194770296832"


def test_mentions_and_timelines_resolve_the_username_once(adapter: ReplayAdapter) -> None:
    for name in ("get_user", "get_users_mentions", "get_users_tweets"):
        for interaction in load_cassette(f"twitter/v2/test_client_{name}.yaml"):
            adapter.add(interaction, params={"pagination_token": None})
            if "next_token" in interaction.json().get("meta", {}):
                token = interaction.json()["meta"]["next_token"]
                adapter.add(
                    interaction.with_json({"meta": {"result_count": 0}}), params={"pagination_token": token}
                )
    connector = make_connector(
        replay_session(adapter), searches=[], mentions_of=["@Twitter"], timelines=["Twitter"]
    )
    messages, checkpoint, _ = drain(connector, None)

    assert adapter.paths().count("/2/users/by/username/Twitter") == 1
    assert checkpoint is not None and set(checkpoint["streams"]) == {"mentions:@Twitter", "timeline:Twitter"}
    mentions = load_cassette("twitter/v2/test_client_get_users_mentions.yaml")[0].json()["data"]
    timeline = load_cassette("twitter/v2/test_client_get_users_tweets.yaml")[0].json()["data"]
    assert sorted(m.external_id for m in messages) == sorted(t["id"] for t in mentions + timeline)
    assert any("🤨" in m.text for m in messages)
    assert all(m.created_at < datetime(2022, 10, 8, tzinfo=UTC) for m in messages)


def test_stop_event_ends_the_walk_between_pages(adapter: ReplayAdapter, search: SearchReplay) -> None:
    stop = threading.Event()
    batches = []
    for batch in make_connector(replay_session(adapter)).fetch(None, stop=stop):
        batches.append(batch)
        stop.set()
    assert len(batches) == 1 and len(adapter.requests) == 1


def test_config_needs_something_to_watch() -> None:
    with pytest.raises(ValueError, match="at least one"):
        TwitterConfig.model_validate({"bearer_token": BEARER})


def test_recorded_bodies_are_replayed_verbatim(adapter: ReplayAdapter, search: SearchReplay) -> None:
    session = replay_session(adapter)
    response = session.get("https://api.twitter.com" + SEARCH, params={"query": "Tweepy"})
    assert json.loads(response.content) == LATER.json()
    assert response.headers["x-rate-limit-limit"] == "450"


def test_retweets_and_quotes_thread_onto_the_original_tweet(
    adapter: ReplayAdapter, search: SearchReplay, sqlite_db: Database
) -> None:
    """X v2 ``referenced_tweets``: a retweet or quote joins the stored original's ticket;
    retweets of a tweet that is not stored share one thread."""
    connector = make_connector(replay_session(adapter))
    _, checkpoint, _ = drain(connector, None)
    search.append(6)
    tweets = search.appended[-6:]
    original = tweets[0]["id"]
    unknown = "1577000000000000000"
    kinds = [None, ("retweeted", original), ("quoted", original), ("retweeted", unknown),
             ("retweeted", unknown), None]
    for tweet, kind in zip(tweets, kinds, strict=True):
        tweet["conversation_id"] = tweet["id"]
        if kind is not None:
            tweet["referenced_tweets"] = [{"type": kind[0], "id": kind[1]}]
    tweets[-1]["text"] = f"看看这条 https://x.com/xiaowang_cs/status/{original}?s=20"
    drained, _, batches = drain(connector, checkpoint)
    by_id = {m.external_id: m for m in drained}
    new = [by_id[t["id"]] for t in tweets]
    assert [m.ref_id for m in new] == [f"twitter:{t['id']}" for t in tweets]
    assert new[1].refs == (f"twitter:{original}",) and new[1].thread_key == f"twitter:{original}"
    assert new[3].thread_key == new[4].thread_key == f"twitter:{unknown}"
    assert new[5].refs == (f"twitter:{original}",)
    for batch in batches:
        process_batch(context(sqlite_db, KeywordStub({}), []), "x", "twitter", batch)
    with sqlite_db.read() as session:
        rows = session.execute(select(StoredMessage.external_id, StoredMessage.ticket_id))
        ticket_of = {external_id: ticket_id for external_id, ticket_id in rows}
    tickets = [ticket_of[t["id"]] for t in tweets]
    assert tickets[0] == tickets[1] == tickets[2] == tickets[5]
    assert tickets[3] == tickets[4] != tickets[0]


# -- poison tweets -------------------------------------------------------------------------------


def test_one_poison_tweet_among_a_thousand_is_quarantined_in_one_poll(
    adapter: ReplayAdapter, sqlite_db: Any
) -> None:
    """Ten pages of 100 tweets derived from the recorded search page, one whose ``like_count`` is
    not a number: 999 stored, the bad tweet quarantined as JSON, since_id advanced, one poll."""
    from tests.helpers.poison import poll_once

    template = EARLIER.json()["data"][0]
    first_id = int(template["id"])
    tweets = []
    for k in range(1000):
        tweet = dict(template, id=str(first_id - k * (1000 << 22)), text=f"第{k}条投诉")
        tweet["public_metrics"] = {"retweet_count": 0, "reply_count": 0, "like_count": 1, "quote_count": 0}
        if k == 500:
            tweet["public_metrics"] = dict(tweet["public_metrics"], like_count="n/a")
        tweets.append(tweet)

    def page(request: requests.PreparedRequest) -> Interaction:
        token = {k: v[-1] for k, v in parse_qs(urlsplit(request.url or "").query).items()}.get("next_token")
        start = int(token or 0)
        chunk = tweets[start : start + 100]
        meta: dict[str, Any] = {"result_count": len(chunk), "newest_id": chunk[0]["id"], "oldest_id": chunk[-1]["id"]}
        if start + 100 < len(tweets):
            meta["next_token"] = str(start + 100)
        return EARLIER.with_json({"data": chunk, "meta": meta})

    adapter.route("GET", SEARCH, page)
    connector = make_connector(replay_session(adapter), page_size=100, initial_pages=10)
    first = poll_once(sqlite_db, connector)
    assert (first.stored, first.stats.new) == (999, 999)
    ((reason, raw_ref, raw),) = first.quarantine
    assert reason == "parser error ValueError: invalid literal for int() with base 10: 'n/a'"
    assert raw_ref == f"search:Tweepy#{tweets[500]['id']}" and b'"n/a"' in raw
    assert first.checkpoint["streams"]["search:Tweepy"] == {"since_id": str(first_id), "run": None}
