"""Weibo repost chains from RSSHub feeds find the stored post they quote by its words (issue 15).

RSSHub writes a repost as ``my words//@B:B's words//@A:A's words`` with no link to either quoted
post, so the ticket stage looks the quoted posts up by their normalised text
(``connectors.reposts.text_key``, an indexed column): a repost joins the stored original's ticket
even when the original came through another feed (another source), and a repost of a repost joins
the repost it quotes; an original stored after its reposts joins them. Feeds are served on 127.0.0.1 and polled through the daemon's own path.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import select

from connectors.reposts import chain_refs, owner_keys, root_key, text_key
from connectors.rss import RssConnector
from monitor.storage.db import Database
from monitor.storage.models import StoredMessage
from tests.connectors.test_rss import FeedServer, Route, make_connector
from tests.helpers.poison import poll_once

FEEDS = Path(__file__).parents[1] / "connectors" / "fixtures" / "feeds"
ORIGINAL = "https://weibo.com/5598123456/O3kA1b2C3"
WEATHER = "https://weibo.com/5598123456/O3iZ9y8X7"
REPOST = "https://weibo.com/6612000001/O3kM4n5B6"  # 路人甲 reposts 小王爱喝茶
REPOST_OF_REPOST = "https://weibo.com/6612000003/O3kR7t6Y5"  # 老李 reposts 路人甲's repost
HELPER = "https://weibo.com/6612000009/O3kP1q2W3"  # a plain post with a link, no chain
OTHER_CHAIN = "https://weibo.com/6612000005/O3kK8j9H0"  # a repost of a post never stored


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    server = FeedServer()
    server.routes["/weibo/user/5598123456"] = Route(body=(FEEDS / "weibo_user_original.xml").read_bytes())
    server.routes[quote("/weibo/keyword/热水器")] = Route(body=(FEEDS / "weibo_keyword_reposts.xml").read_bytes())
    yield server
    server.close()


def connector(server: FeedServer, name: str, route: str) -> RssConnector:
    made = make_connector(server, [{"route": route}])
    made.name = name
    return made


def tickets(db: Database) -> dict[str, int | None]:
    with db.read() as session:
        rows = session.execute(select(StoredMessage.external_id, StoredMessage.ticket_id))
        return {external_id: ticket_id for external_id, ticket_id in rows}


@pytest.mark.parametrize("batch_size", [500, 1], ids=["one-batch", "one-post-per-batch"])
def test_reposts_in_a_search_feed_join_the_original_stored_from_the_authors_feed(
    any_db: Database, feeds: FeedServer, batch_size: int
) -> None:
    poll_once(any_db, connector(feeds, "weibo-users", "/weibo/user/5598123456"))
    polled = poll_once(any_db, connector(feeds, "weibo-search", "/weibo/keyword/热水器"), batch_size=batch_size)
    assert polled.stats.new == 4 and polled.quarantine == []

    found = tickets(any_db)
    assert found[REPOST] == found[ORIGINAL], "the repost is on the original's ticket (another source)"
    assert found[REPOST_OF_REPOST] == found[ORIGINAL], "so is the repost of the repost"
    others = {found[WEATHER], found[HELPER], found[OTHER_CHAIN]}
    assert found[ORIGINAL] not in others and len(others) == 3


def test_a_repost_of_a_repost_joins_the_repost_when_the_original_is_not_stored(
    sqlite_db: Database, feeds: FeedServer
) -> None:
    poll_once(sqlite_db, connector(feeds, "weibo-search", "/weibo/keyword/热水器"), batch_size=1)
    found = tickets(sqlite_db)
    assert found[REPOST_OF_REPOST] == found[REPOST]
    assert len({found[REPOST], found[HELPER], found[OTHER_CHAIN]}) == 3


@pytest.mark.parametrize("batch_size", [500, 1], ids=["one-batch", "one-post-per-batch"])
def test_an_original_that_arrives_after_its_reposts_joins_their_ticket(
    any_db: Database, feeds: FeedServer, batch_size: int
) -> None:
    """The search feed is read first: the original, stored later from its author's feed, finds
    the reposts by the chain's root key; nothing else (the weather post, the unrelated chain) is
    pulled onto their ticket."""
    poll_once(any_db, connector(feeds, "weibo-search", "/weibo/keyword/热水器"), batch_size=batch_size)
    poll_once(any_db, connector(feeds, "weibo-users", "/weibo/user/5598123456"), batch_size=batch_size)
    found = tickets(any_db)
    assert found[ORIGINAL] == found[REPOST] == found[REPOST_OF_REPOST]
    assert len({found[ORIGINAL], found[WEATHER], found[OTHER_CHAIN], found[HELPER]}) == 4


# -- the keys ---------------------------------------------------------------------------------------


def test_a_chain_quotes_every_post_in_it_by_the_key_of_that_posts_text() -> None:
    original = "买的热水器用了三天就漏水，客服电话一直打不通！"
    repost = "同款也漏水，售后一直拖//@小王爱喝茶 <https://weibo.com/n/小王爱喝茶>:" + original
    again = "太惨了 大家买之前看看吧//@路人甲:同款也漏水，售后一直拖//@小王爱喝茶:" + original
    assert chain_refs(repost) == (f"text:{text_key(original)}",)
    assert chain_refs(again) == (f"text:{text_key(repost)}", f"text:{text_key(original)}")
    assert chain_refs(original) == ()
    assert root_key(again) == root_key(repost) != "" and root_key(original) == ""
    assert root_key(again) in owner_keys(original, ["小王爱喝茶", "https://weibo.com/5598123456"])
    assert owner_keys(original, ["路人甲"]) and root_key(again) not in owner_keys(original, ["路人甲"])
    assert owner_keys(repost, ["路人甲"]) == (), "a repost is never the original of a chain"


@pytest.mark.parametrize(
    ("stored", "quoted"),
    [
        ("买的热水器用了三天就漏水，客服电话一直打不通！", "//@小王：买的热水器用了三天就漏水， 客服电话一直打不通！ "),
        ("Heater LEAKS after 3 days, support never answers", "//@wang: heater leaks after 3 days, support never answers"),
        ("热水器漏水了，看图 http://t.cn/A6abc", "//@小王:热水器漏水了，看图 <http://t.cn/A6abc>"),
        ("ＡＢＣ热水器漏水三天了", "//@小王:ABC热水器漏水三天了"),
    ],
    ids=["full-width-colon-and-spaces", "case", "links", "full-width-letters"],
)
def test_the_text_key_ignores_what_a_feed_changes_when_it_quotes(stored: str, quoted: str) -> None:
    assert chain_refs("转发" + quoted) == (f"text:{text_key(stored)}",)


@pytest.mark.parametrize("text", ["转发微博", "支持", "好的好的", "x" * 20_000])
def test_texts_too_short_or_too_long_to_tell_posts_apart_have_no_key(text: str) -> None:
    assert text_key(text) == ""
    assert chain_refs("转发//@某人:" + text) == ()
