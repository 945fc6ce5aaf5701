"""Reddit connector replaying praw's recorded Betamax cassettes through an injected session.

``TestSubredditStreams.test_submissions`` recorded r/all/new twice: a 100-item page, then (with
``before``) the 4 posts that arrived in the next seconds. Laying "4 newer + the 100 older" over the
replay is what r/all/new showed at that moment, built only from recorded listing items.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import prawcore
import pytest

from connectors.reddit import RedditConfig, RedditConnector
from connectors.registry import connector_class
from monitor.errors import AuthError, UnavailableError
from monitor.message import Message
from tests.connectors.conformance import ConnectorConformance, drain
from tests.connectors.replay import ANY, Interaction, ReplayAdapter, load_cassette, replay_session

SECRET = "reddit-client-secret-7a1b"
REFRESH = "reddit-refresh-token-55e0"
TOKEN, ALL_NEW, ALL_NEWER = load_cassette("reddit/TestSubredditStreams.test_submissions.json")
_, KAKAPO, _, KAKAPO_LATER = load_cassette("reddit/TestSubredditStreams.test_comments__with_pause.json")
_, MENTIONS = load_cassette("reddit/TestInbox.test_mentions.json")
_, UNREAD = load_cassette("reddit/TestInbox.test_unread.json")
_, SEARCH = load_cassette("reddit/TestSubreddit.test_search.json")
UNAUTHORIZED = load_cassette("reddit/TestAuthImplicit.test_implicit__with_invalid_token.json")[0]
QUARANTINED = load_cassette("reddit/TestSubredditQuarantine.test_opt_out.json")[2]


def children(interaction: Interaction) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = interaction.json()["data"]["children"]
    return items


def listing(template: Interaction, items: list[dict[str, Any]], *, after: str | None = None) -> Interaction:
    """A listing response made of recorded items (recorded headers kept)."""
    body = {"kind": "Listing", "data": {"modhash": "", "children": items, "after": after, "before": None}}
    return template.with_json(body)


def make_connector(adapter: ReplayAdapter, **settings: Any) -> RedditConnector:
    values: dict[str, Any] = {
        "client_id": "<CLIENT_ID>",
        "client_secret": SECRET,
        "user_agent": "yuqing-tests/0.1 by u/yuqing",
        "max_inline_wait": 2.0,
        **settings,
    }
    return RedditConnector("reddit", RedditConfig.model_validate(values), session=replay_session(adapter))


@pytest.fixture
def adapter() -> Iterator[ReplayAdapter]:
    replay = ReplayAdapter()
    replay.add(TOKEN)
    yield replay
    assert replay.misses == [], "every request must be answered by a recording"


@pytest.fixture
def no_praw_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """prawcore sleeps 0-4 s between its own 5xx retries; the tests need not wait for real."""
    monkeypatch.setattr(prawcore.sessions.FiniteRetryStrategy, "_sleep_seconds", lambda self: None)


# -- conformance ---------------------------------------------------------------------------------


class TestRedditConformance(ConnectorConformance):
    min_messages = 100

    @pytest.fixture
    def connector(self, adapter: ReplayAdapter) -> RedditConnector:
        adapter.add(ALL_NEW, params={"before": None, "after": None})
        # Resuming from an old item reads past the recorded page; nothing older was recorded.
        adapter.add(listing(ALL_NEW, []), params={"after": ANY})
        return make_connector(adapter, subreddits=["all"], include_comments=False)

    @pytest.fixture
    def append_source(self, adapter: ReplayAdapter) -> Callable[[int], int]:
        def append(_n: int) -> int:
            newer = children(ALL_NEWER)
            page = listing(ALL_NEW, newer + children(ALL_NEW)[: 100 - len(newer)], after="t3_5jo10g")
            adapter.add(page, params={"before": None, "after": None})
            return len(newer)

        return append

    @pytest.fixture
    def secret_values(self) -> list[str]:
        return [SECRET]


# -- behaviour -----------------------------------------------------------------------------------


def test_registered_under_its_kind() -> None:
    assert connector_class("reddit") is RedditConnector


def test_new_posts_oldest_first_with_boundary_names_in_the_checkpoint(adapter: ReplayAdapter) -> None:
    adapter.add(ALL_NEW)
    messages, checkpoint, _ = drain(make_connector(adapter, subreddits=["all"], include_comments=False), None)

    recorded = [c["data"] for c in children(ALL_NEW)]
    assert len(messages) == 100
    assert [m.created_at.timestamp() for m in messages] == sorted(d["created_utc"] for d in recorded)
    newest = max(d["created_utc"] for d in recorded)
    assert checkpoint == {
        "streams": {
            "new:all": {
                "created": newest,
                "names": sorted(d["name"] for d in recorded if d["created_utc"] == newest),
            }
        }
    }
    post = next(m for m in messages if m.external_id == "t3_5jo13y")
    assert post.thread_key == "reddit:t3_5jo13y"
    assert post.title and post.text.startswith(post.title)
    assert (
        post.url
        == "https://www.reddit.com/r/LeagueOfVideos/comments/5jo13y/farewell_rush_we_will_never_forget_your_stream/"
    )
    assert post.author.display_name == "AnotherProGamer"
    assert post.engagement.likes == 1 and post.engagement.replies == 0
    assert adapter.params_of(1)["limit"] == "100"


def test_next_poll_stops_at_the_stored_items_without_paging(adapter: ReplayAdapter) -> None:
    adapter.add(ALL_NEW)
    connector = make_connector(adapter, subreddits=["all"], include_comments=False)
    _, checkpoint, _ = drain(connector, None)

    newer = children(ALL_NEWER)
    adapter.add(listing(ALL_NEW, newer + children(ALL_NEW), after="t3_5jo10c"))
    new, checkpoint2, _ = drain(connector, checkpoint)

    assert sorted(m.external_id for m in new) == sorted(c["data"]["name"] for c in newer)
    assert adapter.paths().count("/r/all/new") == 2, "no second page: the first already reached stored items"
    assert checkpoint2 is not None and checkpoint2["streams"]["new:all"]["created"] == 1482373052.0


def test_items_sharing_the_boundary_second_are_not_lost(adapter: ReplayAdapter) -> None:
    adapter.add(ALL_NEW)
    recorded = [c["data"] for c in children(ALL_NEW)]
    newest = max(d["created_utc"] for d in recorded)
    at_boundary = sorted(d["name"] for d in recorded if d["created_utc"] == newest)
    assert len(at_boundary) >= 2
    # A crash after storing only the first of the posts made in the newest second:
    checkpoint = {"streams": {"new:all": {"created": newest, "names": at_boundary[:1]}}}
    new, _, _ = drain(make_connector(adapter, subreddits=["all"], include_comments=False), checkpoint)
    assert sorted(m.external_id for m in new) == at_boundary[1:]


def test_comments_thread_onto_their_submission_and_arrive_incrementally(adapter: ReplayAdapter) -> None:
    adapter.add(KAKAPO)
    adapter.route("GET", "/r/kakapo/new", lambda _r: listing(ALL_NEW, []))  # no posts in this replay
    connector = make_connector(adapter, subreddits=["kakapo"])
    messages, checkpoint, _ = drain(connector, None)

    assert len(messages) == len(children(KAKAPO))
    for message, item in zip(
        messages, sorted((c["data"] for c in children(KAKAPO)), key=lambda d: d["created_utc"]), strict=True
    ):
        assert message.thread_key == f"reddit:{item['link_id']}"
        assert message.text == item["body"]
        assert message.external_id.startswith("t1_")

    adapter.add(KAKAPO_LATER)
    new, _, _ = drain(connector, checkpoint)
    assert [m.external_id for m in new] == ["t1_dgd9bcm"]
    assert new[0].thread_key == "reddit:t3_62gzev"


def test_search_sorts_by_new_and_keeps_cjk_text(adapter: ReplayAdapter) -> None:
    adapter.add(SEARCH, params={"q": "praw oauth search"})
    messages, _, _ = drain(make_connector(adapter, searches=["praw oauth search"]), None)
    assert len(messages) == len(children(SEARCH))
    params = adapter.params_of(1)
    assert params["sort"] == "new" and params["q"] == "praw oauth search"
    assert any("話題" in m.text for m in messages)


def test_inbox_mentions_thread_from_their_context(adapter: ReplayAdapter) -> None:
    adapter.add(MENTIONS, params={"after": None})
    last = MENTIONS.json()["data"]["after"]
    adapter.add(listing(MENTIONS, []), params={"after": last})
    connector = make_connector(adapter, inbox=["mentions"], refresh_token=REFRESH)
    messages, _, _ = drain(connector, None)

    assert len(messages) == len(children(MENTIONS))
    first = next(m for m in messages if m.external_id == "t1_ekftbox")
    assert first.thread_key == "reddit:t3_bb24k7"
    assert first.author.id == "t2_3efd9zdo"
    assert adapter.params_of(2)["after"] == last, "the inbox is paged with 'after'"


def test_inbox_private_messages_thread_on_the_first_message(adapter: ReplayAdapter) -> None:
    adapter.add(UNREAD, params={"after": None})
    adapter.add(listing(UNREAD, []), params={"after": UNREAD.json()["data"]["after"]})
    connector = make_connector(adapter, inbox=["unread"], refresh_token=REFRESH)
    messages, _, _ = drain(connector, None)

    assert adapter.params_of(1)["mark"] == "False", "reading never marks messages read"
    recorded = {c["data"]["name"]: c["data"] for c in children(UNREAD)}
    private = [m for m in messages if m.external_id.startswith("t4_")]
    assert private
    for message in private:
        item = recorded[message.external_id]
        assert message.thread_key == f"reddit:{item['first_message_name'] or item['name']}"
        assert message.title == item["subject"]


def test_exhausted_rate_limit_raises_instead_of_sleeping(adapter: ReplayAdapter) -> None:
    headers = {**MENTIONS.headers, "x-ratelimit-remaining": "0", "x-ratelimit-used": "1000"}
    headers["x-ratelimit-reset"] = "300"
    adapter.add(MENTIONS.with_json(MENTIONS.json(), headers=headers), params={"after": None})
    connector = make_connector(adapter, inbox=["mentions"], refresh_token=REFRESH, max_inline_wait=5)
    started = time.monotonic()
    with pytest.raises(UnavailableError) as caught:
        drain(connector, None)
    assert caught.value.retry_after == pytest.approx(300, abs=3)
    assert time.monotonic() - started < 5
    assert adapter.paths().count("/message/mentions") == 1


def test_too_many_requests_honours_the_reset_header(adapter: ReplayAdapter) -> None:
    headers = {
        **ALL_NEW.headers,
        "x-ratelimit-remaining": "0",
        "x-ratelimit-used": "600",
        "x-ratelimit-reset": "42",
    }
    adapter.add(
        ALL_NEW.with_json({"message": "Too Many Requests", "error": 429}, status=429, headers=headers)
    )
    with pytest.raises(UnavailableError) as caught:
        drain(make_connector(adapter, subreddits=["all"], include_comments=False), None)
    assert caught.value.retry_after == pytest.approx(42)


@pytest.mark.usefixtures("no_praw_sleep")
@pytest.mark.parametrize(("failures", "ok"), [(2, True), (3, False)], ids=["recovers", "gives-up"])
def test_server_errors_are_retried_then_reported(adapter: ReplayAdapter, failures: int, ok: bool) -> None:
    adapter.add(ALL_NEW)
    adapter.add(ALL_NEW.with_json({"message": "Service Unavailable"}, status=503), times=failures)
    connector = make_connector(adapter, subreddits=["all"], include_comments=False)
    if ok:
        assert len(drain(connector, None)[0]) == 100
    else:
        with pytest.raises(UnavailableError) as caught:
            drain(connector, None)
        assert caught.value.retry_after is not None and "ServerError" in str(caught.value)


def test_forbidden_subreddit_does_not_stop_the_others(adapter: ReplayAdapter) -> None:
    adapter.add(ALL_NEW)
    adapter.route("GET", "/r/ferguson/new", lambda _r: QUARANTINED)
    connector = make_connector(adapter, subreddits=["ferguson", "all"], include_comments=False)
    delivered: list[Message] = []
    with pytest.raises(UnavailableError) as caught:
        for batch in connector.fetch(None):
            delivered.extend(batch.messages)
    assert len(delivered) == 100
    assert "new:ferguson" in str(caught.value) and "quarantined" in str(caught.value)


@pytest.mark.usefixtures("no_praw_sleep")
def test_invalid_token_is_an_auth_error(adapter: ReplayAdapter) -> None:
    adapter.route("GET", "/r/all/new", lambda _r: UNAUTHORIZED)
    with pytest.raises(AuthError) as caught:
        drain(make_connector(adapter, subreddits=["all"], include_comments=False), None)
    assert SECRET not in str(caught.value)


@pytest.mark.parametrize("status", [200, 400], ids=["error-in-body", "http-400"])
def test_revoked_refresh_token_is_an_auth_error(adapter: ReplayAdapter, status: int) -> None:
    adapter.add(TOKEN.with_json({"error": "invalid_grant"}, status=status))
    connector = make_connector(adapter, inbox=["mentions"], refresh_token=REFRESH)
    with pytest.raises(AuthError, match="credentials rejected"):
        drain(connector, None)
    problems = connector.check()
    assert len(problems) == 1 and "credentials rejected" in problems[0]
    assert REFRESH not in problems[0] and SECRET not in problems[0]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"client_secret": None, "subreddits": ["all"]}, "client_id/client_secret missing"),
        ({"inbox": ["mentions"]}, "needs user credentials"),
    ],
    ids=["no-client-secret", "inbox-without-user"],
)
def test_missing_credentials_disable_the_source_with_a_clear_message(
    adapter: ReplayAdapter, settings: dict[str, Any], message: str
) -> None:
    connector = make_connector(adapter, **settings)
    with pytest.raises(AuthError, match=message):
        drain(connector, None)
    assert any(message in p for p in connector.check())
    assert adapter.requests == []


def test_client_secret_from_a_file(tmp_path: Any) -> None:
    secret_file = tmp_path / "reddit-secret"
    secret_file.write_text(SECRET + "\n")
    config = RedditConfig.model_validate(
        {"client_id": "<CLIENT_ID>", "client_secret_file": str(secret_file), "subreddits": ["all"]}
    )
    assert config.client_secret is not None and config.client_secret.get_secret_value() == SECRET
    assert SECRET not in repr(config)


def test_stop_event_ends_the_fetch_between_streams(adapter: ReplayAdapter) -> None:
    adapter.add(ALL_NEW)
    adapter.add(KAKAPO)
    connector = make_connector(adapter, subreddits=["all", "kakapo"], include_comments=False)
    stop = threading.Event()
    batches = []
    for batch in connector.fetch(None, stop=stop):
        batches.append(batch)
        stop.set()
    assert len(batches) == 1
    assert "/r/kakapo/new" not in adapter.paths()


def test_config_needs_something_to_watch() -> None:
    with pytest.raises(ValueError, match="at least one"):
        RedditConfig.model_validate({"client_id": "x", "client_secret": "y"})


@pytest.mark.parametrize(
    ("data", "refs"),
    [
        ({"name": "t3_cross1", "title": "x", "crosspost_parent": "t3_orig9"}, ("reddit:t3_orig9",)),
        ({"name": "t3_quote1", "title": "see", "selftext": "https://www.reddit.com/r/a/comments/Orig9/t/"},
         ("reddit:t3_orig9",)),
        ({"name": "t3_plain1", "title": "hello", "selftext": "no links"}, ()),
    ],
    ids=["crosspost", "quoted-permalink", "plain"],
)
def test_crossposts_and_quoted_permalinks_reference_the_original(
    adapter: ReplayAdapter, data: dict[str, Any], refs: tuple[str, ...]
) -> None:
    message = make_connector(adapter, subreddits=["a"])._message("new", {"created_utc": 1.7e9, "author": "u", **data})
    assert message.ref_id == f"reddit:{data['name']}"
    assert message.refs == refs and message.is_reply is bool(refs)
    assert message.thread_key == f"reddit:{data['name']}"  # its own comments still thread onto it
