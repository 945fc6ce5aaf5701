"""A lone UTF-16 surrogate costs nothing but the character it stands for.

JSON may carry one (``"\\ud83d"``: half an emoji, cut off by a source that truncates UTF-16), and
the mail parser's surrogate escapes stand for undecodable bytes. UTF-8, OpenCC, RE2 and every
database refuse them; before the fix the whole message went to quarantine ("pipeline error
UnicodeEncodeError") - an urgent complaint lost to half an emoji. Now :class:`Message` replaces
each one with U+FFFD and flags ``invalid-bytes-replaced``; the message is analysed, stored and
ticketed like any other.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from monitor.message import INVALID_BYTES, Author, Message
from tests.helpers.workload import query, write_config

REPO = Path(__file__).resolve().parents[1]
WHEN = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)


def test_a_message_replaces_lone_surrogates_and_says_so() -> None:
    m = Message(
        "s", "id-\udcff", "t", "服务太差\ud83d，紧急投诉", WHEN, title="标题\udc80",
        author=Author("u", "名字\ud800"), refs=("r\udfff", "fine"),
    )
    assert m.text == "服务太差\ufffd，紧急投诉"
    assert (m.external_id, m.title, m.refs) == ("id-\ufffd", "标题\ufffd", ("r\ufffd", "fine"))
    assert m.author.display_name == "名字\ufffd"
    assert m.flags == (INVALID_BYTES,)
    for value in (m.text, m.title, m.external_id, *m.refs):
        value.encode("utf-8")  # storable and analysable
    again = pickle.loads(pickle.dumps(m))  # the analysis workers rebuild it: flagged once
    assert again == m and again.flags == (INVALID_BYTES,)


def test_a_clean_message_is_left_as_it_is() -> None:
    text = "一条正常的反馈 with an emoji 😀 (a surrogate pair in UTF-16, one code point here)"
    m = Message("s", "1", "t", text, WHEN, flags=("time-unparsed",))
    assert m.text is text and m.flags == ("time-unparsed",)


def test_a_post_with_half_an_emoji_is_ticketed_not_quarantined(tmp_path: Path) -> None:
    inbox = tmp_path / "in"
    inbox.mkdir()
    records = [
        {"id": "p1", "text": "服务太差了 \ud83d 我要投诉，紧急！电话一直打不通"},  # json.dumps escapes it
        {"id": "p2", "text": "一切正常，谢谢"},
    ]
    (inbox / "posts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="ascii")
    database = tmp_path / "state" / "yuqing.db"
    config = write_config(
        tmp_path / "yuqing.yaml", source=inbox, rules=REPO / "rules", database=database,
        sink=tmp_path / "alerts.jsonl", settle_seconds=0,
    )
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "-c", str(config), "run", "--once"],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert query(database, "SELECT count(*) FROM quarantine") == [(0,)]
    rows = dict(query(database, "SELECT external_id, text FROM messages"))
    assert rows["p1"] == "服务太差了 \ufffd 我要投诉，紧急！电话一直打不通"
    flagged = query(database, "SELECT external_id FROM messages WHERE flags LIKE ?", (f"%{INVALID_BYTES}%",))
    assert flagged == [("p1",)]
    priorities = dict(
        query(database, "SELECT m.external_id, t.priority FROM messages m JOIN tickets t ON t.id = m.ticket_id")
    )
    assert priorities["p1"] in ("L1", "L2"), priorities  # analysed: the complaint keywords count
