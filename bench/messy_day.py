"""A whole messy day through the real daemon: every channel at once, the DEFAULT rules, a real
HTTP receiver for the pages (issue 15).

The day is assembled in a temporary folder from ``../shared/data`` and the project's own
fixtures, plus synthetic messy cases whose expected outcome is known:

* **mail** (Maildir): every sample mail of ``shared/data/email`` (broken MIME, bounces, odd
  charsets), the 1-4 KB labelled e-mails of the precision set, conversations with
  subject-only replies ("Re:", "回复：", "答复:"), replies to replies and References chains whose
  root is unknown, a mail with cut-off headers and one of binary junk;
* **posts** (JSONL files): the labelled post/chat-length precision items with times in every
  format the field sees (ISO, Twitter, RFC 2822, 2024年3月4日, relative, epoch ms, nonsense),
  a BOM, Weibo repost chains, and poison records (text as a list, an object id, nesting);
* **chats** (chat exports): every export of ``shared/data/chat`` plus a WhatsApp group with three
  interleaved conversations (one loud, two calm) and a Telegram chat with reply ids;
* **RSS**: the project's RSSHub/Atom/GB2312 feed fixtures and a broken feed, served on 127.0.0.1;
* **Reddit** and **X**: praw and tweepy cassettes replayed through an injected session.

The daemon runs in this process (``monitor.daemon.Daemon.run_once``, the code behind
``yuqing run --once``; in-process only so that the Reddit and X clients can be given replay
sessions), then its story timers run until every grouped notification is due and sent. Printed:
messages in / stored / quarantined / lost per source, tickets, stories, pages per story (max and
distribution), conversations split (replies not on their root's ticket) and calm messages that
paged (labelled calm, in a story that paged with no escalation-labelled message in it).

    .venv/bin/python bench/messy_day.py            # about a minute
    .venv/bin/python bench/messy_day.py --keep     # keep the folder; print its path for `rules explain`
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PRECISION = ROOT / "tests" / "fixtures" / "precision"
FEEDS = ROOT / "tests" / "connectors" / "fixtures" / "feeds"
DAY = datetime(2024, 6, 10, 1, 0, tzinfo=UTC)  # the day the synthetic traffic happens


def shared_data() -> Path:
    from tests.shared_data import SHARED_DATA

    return Path(SHARED_DATA)


@dataclass
class Expect:
    """What the day should come out as, from the ids the generator chose."""

    labels: dict[tuple[str, str], str] = field(default_factory=dict)  # (source, external id) -> calm/escalate
    pairs: list[tuple[str, str, str, str]] = field(default_factory=list)  # (source, reply id, source, root id)
    chat_pairs: list[tuple[str, str]] = field(default_factory=list)  # texts that must share a ticket
    chat_apart: list[tuple[str, str]] = field(default_factory=list)  # texts that must not


# -- mail --------------------------------------------------------------------------------------------


def _mail(mid: str, sender: str, subject: str, body: str, at: datetime, **headers: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "support@xinghe.example.com"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{mid}>"
    msg["Date"] = format_datetime(at)
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg.as_bytes()


def build_mail(folder: Path, expect: Expect) -> None:
    new = folder / "new"
    for sub in ("new", "cur", "tmp"):
        (folder / sub).mkdir(parents=True)
    count = 0

    def put(raw: bytes) -> str:
        nonlocal count
        count += 1
        name = f"{1718000000 + count}.M{count}P1.messy"
        (new / name).write_bytes(raw)
        return name

    for sample in sorted((shared_data() / "email").rglob("*")):
        if sample.is_file() and sample.suffix not in {".json", ".md", ".py", ".zip", ".gz"}:
            put(sample.read_bytes())
    for n, line in enumerate((PRECISION / "email.jsonl").read_text(encoding="utf-8").splitlines()):
        item = json.loads(line)
        mid = f"{item['id']}@precision.example"
        name = put(_mail(mid, f"客户{n} <c{n}@mail.example>", item["title"], item["text"], DAY + timedelta(minutes=n)))
        expect.labels[("mail", name)] = item["label"]
    # conversations: a root, then replies that only carry the subject, reply to a reply, or
    # name an unknown root in References
    for n in range(12):
        at = DAY + timedelta(hours=2, minutes=10 * n)
        who = f"王{n} <wang{n}@mail.example>"
        subject = f"热水器安装预约问题 第{n}号"
        root = put(_mail(f"root{n}@mail.example", who, subject, f"你好，我想预约安装热水器，订单 A{n:04d}，请问周末可以吗？", at))
        prefix = ("Re: ", "回复：", "答复: ", "RE: ")[n % 4]
        bare = put(_mail(f"bare{n}@mail.example", who, prefix + subject, "补充一下，地址是幸福路 8 号。", at + timedelta(hours=1)))
        expect.pairs.append(("mail", bare, "mail", root))
        agent = put(_mail(f"agent{n}@xinghe.example.com", "客服 <support@xinghe.example.com>", "Re: " + subject,
                          "您好，已为您安排周六上门。", at + timedelta(hours=2), In_Reply_To=f"<root{n}@mail.example>",
                          References=f"<root{n}@mail.example>"))
        expect.pairs.append(("mail", agent, "mail", root))
        again = put(_mail(f"again{n}@mail.example", who, "Re: Re: " + subject, "好的，谢谢，周六见。", at + timedelta(hours=3),
                          In_Reply_To=f"<agent{n}@xinghe.example.com>",
                          References=f"<unknown{n}@elsewhere.example> <agent{n}@xinghe.example.com>"))
        expect.pairs.append(("mail", again, "mail", root))
    put(b"From: someone@example.com\nTo: support@xinghe.example.com\nSubj")
    put(b"\x00\x01\x02\x03 binary junk where a mail was expected\x00")


# -- posts -------------------------------------------------------------------------------------------

TIME_FORMATS = [
    lambda t: t.isoformat(),
    lambda t: t.strftime("%a %b %d %H:%M:%S +0000 %Y"),  # Twitter v1.1
    lambda t: format_datetime(t),  # RFC 2822
    lambda t: f"{t.year}年{t.month}月{t.day}日 {t.hour + 8 - 24 if t.hour >= 16 else t.hour + 8}:{t.minute:02d}",
    lambda t: str(int(t.timestamp() * 1000)),  # epoch ms
    lambda t: t.strftime("%Y/%m/%d %H:%M"),
    lambda t: "刚刚",
    lambda t: "a while back",  # unparseable: stored with the fetch time, flagged
]


def build_posts(folder: Path, expect: Expect) -> None:
    folder.mkdir(parents=True)
    rows: list[dict[str, Any]] = []
    n = 0
    for path in sorted(PRECISION.glob("*.jsonl")):
        if path.name.startswith("email"):
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            at = DAY + timedelta(minutes=3 * n)
            rows.append({"id": item["id"], "text": item["text"], "author": f"user{n}",
                         "created_at": TIME_FORMATS[n % len(TIME_FORMATS)](at)})
            expect.labels[("posts", item["id"])] = item["label"]
            n += 1
    # Weibo repost chains: the original, reposts of it, a repost of a repost
    original = "星河热水器用了三天就漏水，客服电话一直打不通！[怒]"
    chain = [
        ("wb-orig", "小王爱喝茶", original),
        ("wb-r1", "路人甲", f"同款也漏水，售后一直拖//@小王爱喝茶:{original}"),
        ("wb-r2", "老李", f"太惨了[泪]//@路人甲:同款也漏水，售后一直拖//@小王爱喝茶:{original}"),
        ("wb-r3", "阿花", f"转发微博//@小王爱喝茶:{original}"),
    ]
    for k, (ident, author, text) in enumerate(chain):
        rows.append({"id": ident, "text": text, "author": author,
                     "created_at": (DAY + timedelta(hours=5, minutes=k)).isoformat()})
        if k:
            expect.pairs.append(("posts", ident, "posts", "wb-orig"))
    body = "\ufeff" + "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"
    (folder / "posts.jsonl").write_text(body, encoding="utf-8")
    poison = [
        '{"id": "p-list", "text": ["投诉", "x"], "author": "u"}',
        '{"id": {"nested": 1}, "text": "对象 id", "author": "u"}',
        '{"id": "p-deep", "text": ' + "[" * 3000 + "]" * 3000 + "}",
        '{"id": "p-epoch", "text": "时间是 1e20", "created_at": 1e20}',
        '{"id": "p-nan", "text": NaN}',
        '{"id": "p-cut", "text": "被截断的',
    ]
    (folder / "poison.jsonl").write_text("\n".join(poison) + "\n", encoding="utf-8")


# -- chats -------------------------------------------------------------------------------------------


def build_chats(folder: Path, expect: Expect) -> None:
    shared = shared_data() / "chat"
    shutil.copytree(shared, folder / "shared")
    for zipped in (folder / "shared").rglob("*.zip"):
        zipped.unlink()  # the same exports unpacked sit next to them
    # three interleaved conversations in one WhatsApp group: one loud, two calm
    loud = ["我的热水器漏电了，差点电到孩子！", "你们到底管不管？再不处理我就去12315投诉", "现在就要一个答复"]
    calm_a = ["请问周末可以上门安装吗", "好的，那就周六上午", "谢谢"]
    calm_b = ["滤芯多久换一次呀", "明白了，三个月一次", "感谢解答"]
    lines = []
    start = datetime(2024, 6, 10, 9, 0)
    for k in range(3):
        for who, texts, offset in (("张三", loud, 0), ("李四", calm_a, 1), ("王五", calm_b, 2)):
            at = start + timedelta(minutes=3 * k + offset)
            lines.append(f"{at:%d/%m/%y}, {at:%H:%M} - {who}: {texts[k]}")
    (folder / "WhatsApp Chat with 星河售后群.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for texts in (loud, calm_a, calm_b):
        expect.chat_pairs += [(texts[0], t) for t in texts[1:]]
    expect.chat_apart += [(loud[0], calm_a[0]), (loud[0], calm_b[0]), (calm_a[0], calm_b[0])]
    # a Telegram group where answers name the message they reply to
    messages = []
    for k in range(6):
        messages.append({"id": 100 + k, "type": "message", "date": f"2024-06-10T11:{k:02d}:00",
                         "date_unixtime": str(int(datetime(2024, 6, 10, 3, k, tzinfo=UTC).timestamp())),
                         "from": ("赵六", "孙七")[k % 2], "from_id": f"user{k % 2}",
                         "text": ("冰箱不制冷了", "空调遥控器丢了怎么办")[k % 2] if k < 2 else f"补充第{k}条",
                         **({"reply_to_message_id": 100 + k % 2} if k >= 2 else {})})
    export = {"name": "星河客服", "type": "private_supergroup", "id": 4242, "messages": messages}
    (folder / "result.json").write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    expect.chat_pairs += [("冰箱不制冷了", "补充第2条"), ("冰箱不制冷了", "补充第4条"),
                          ("空调遥控器丢了怎么办", "补充第3条"), ("空调遥控器丢了怎么办", "补充第5条")]
    expect.chat_apart.append(("冰箱不制冷了", "空调遥控器丢了怎么办"))


# -- the run -------------------------------------------------------------------------------------------


def config(base: Path, state: Path, rss_base: str, hook: str) -> Path:
    state.mkdir(parents=True, exist_ok=True)
    doc = {
        "instance": "messy-day",
        "state_dir": str(state),
        "database": {"url": f"sqlite:///{state / 'yuqing.db'}"},
        "logging": {"level": "warning", "format": "json"},
        "sources": [
            {"name": "mail", "kind": "maildir", "maildir": {"path": str(base / "mail")}},
            {"name": "posts", "kind": "files", "files": {"path": str(base / "posts"), "settle_seconds": 0}},
            {"name": "chats", "kind": "chat_export", "chat_export": {"path": str(base / "chats")}},
            {"name": "feeds", "kind": "rss", "rss": {"rsshub_base_url": rss_base, "backoff_base": 0.01,
                                                     "max_inline_wait": 1.0, "feeds": [
                {"route": "/weibo/user/7312345678"}, {"route": "/weibo/user/5598123456"},
                {"route": quote("/weibo/keyword/热水器")}, {"route": "/zhihu/topic/1"},
                {"route": "/bbs/gb2312"}, {"route": "/broken"}]}},
            {"name": "reddit", "kind": "reddit", "reddit": {
                "client_id": "<CLIENT_ID>", "client_secret": "messy-day-secret",
                "user_agent": "yuqing-bench/0.1", "subreddits": ["all"], "include_comments": False}},
            {"name": "x", "kind": "twitter", "twitter": {
                "bearer_token": "messy-day-bearer", "searches": ["Tweepy"], "page_size": 10,
                "initial_pages": 5, "backoff_base": 0.01}},
        ],
        "alerts": {
            "targets": [{"name": "hook", "kind": "webhook", "webhook": {"url": hook + "/hook"}}],
            "route": {"receivers": ["hook"], "group_wait": "5s", "group_interval": "5m",
                      "routes": [{"name": "urgent", "match": {"priority": ["L1"]}, "group_wait": "0s"}]},
        },
    }
    path = state / "yuqing.yaml"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def serve_feeds() -> Any:
    from tests.connectors.test_rss import FeedServer, Route

    server = FeedServer()
    for route, name, kind in [
        ("/weibo/user/7312345678", "weibo_rsshub.xml", "application/rss+xml; charset=utf-8"),
        ("/weibo/user/5598123456", "weibo_user_original.xml", "application/rss+xml; charset=utf-8"),
        (quote("/weibo/keyword/热水器"), "weibo_keyword_reposts.xml", "application/rss+xml; charset=utf-8"),
        ("/zhihu/topic/1", "zhihu_atom.xml", "application/atom+xml"),
        ("/bbs/gb2312", "bbs_gb2312.xml", "application/xml"),
        ("/broken", "malformed.xml", "application/rss+xml"),
    ]:
        server.routes[route] = Route(body=(FEEDS / name).read_bytes(), content_type=kind)
    return server


def replay_sessions() -> dict[str, Any]:
    from tests.connectors.replay import ANY, ReplayAdapter, load_cassette, replay_session
    from tests.connectors.test_reddit import listing
    from tests.connectors.test_twitter import SearchReplay

    token, all_new, _ = load_cassette("reddit/TestSubredditStreams.test_submissions.json")
    reddit = ReplayAdapter()
    reddit.add(token)
    reddit.add(all_new, params={"before": None, "after": None})
    reddit.add(listing(all_new, []), params={"after": ANY})
    x = ReplayAdapter()
    SearchReplay(x)
    return {"reddit": replay_session(reddit), "x": replay_session(x)}


def expected_in(base: Path, rss_base: str) -> dict[str, set[str]]:
    """What each source holds, read by a fresh connector (messages by id, bad records by ref)."""
    from monitor.config import load_config
    from monitor.runtime import Runtime

    runtime = Runtime(load_config(config(base, base / "dry", rss_base, "http://127.0.0.1:9")))
    sessions = replay_sessions()
    out: dict[str, set[str]] = {}
    for name, connector in runtime.connectors.items():
        if name in sessions:
            connector._session = sessions[name]  # type: ignore[attr-defined]
        seen: set[str] = set()
        for batch in connector.fetch(None, batch_size=500):
            seen.update("m:" + m.external_id for m in batch.messages)
            seen.update("q:" + q.raw_ref for q in batch.quarantined)
        out[name] = seen
    runtime.close()
    return out


def run(base: Path, hook: Any, rss_base: str) -> dict[str, Any]:
    from sqlalchemy import select

    from monitor.config import load_config
    from monitor.daemon import Daemon
    from monitor.storage.models import Story

    path = config(base, base / "state", rss_base, hook.url)
    daemon = Daemon(path, load_config(path))
    daemon.runtime.db.upgrade()
    for name, session in replay_sessions().items():
        daemon.runtime.connectors[name]._session = session  # type: ignore[attr-defined]
    started = time.perf_counter()
    code = daemon.run_once()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # grouped notifications (group_wait) fall due
        with daemon.runtime.db.read() as session:
            waiting = session.scalars(select(Story.id).where(Story.notify_at.is_not(None))).first()
        if waiting is None:
            break
        time.sleep(1.0)
        daemon.escalate()
        daemon.deliver()
    seconds = time.perf_counter() - started
    daemon.runtime.close()
    return {"exit": code, "seconds": seconds, "db": daemon.runtime.db}


def report(db: Any, base: Path, expect: Expect, read: dict[str, set[str]], hook: Any) -> None:
    from sqlalchemy import func, select

    from monitor.storage.models import Alert, QuarantineItem, Source, StoredMessage, Story, Ticket

    with db.read() as s:
        sources = {sid: name for sid, name in s.execute(select(Source.id, Source.name))}
        rows = s.execute(select(StoredMessage.source_id, StoredMessage.external_id, StoredMessage.ticket_id,
                                StoredMessage.incident_id, StoredMessage.text, StoredMessage.priority,
                                StoredMessage.flags)).all()
        quarantine = s.execute(select(QuarantineItem.source_id, QuarantineItem.raw_ref, QuarantineItem.reason)).all()
        tickets = s.scalar(select(func.count()).select_from(Ticket)) or 0
        stories = s.execute(select(Story.id, Story.kind, Story.ticket_id, Story.incident_id)).all()
        pages = s.execute(select(Alert.story_id, Alert.step, Alert.kind).where(
            Alert.target == "hook", Alert.status == "sent")).all()
    print(f"\nmessy day in {base}\n")
    print(f"{'source':<8} {'in':>6} {'stored':>7} {'quarant.':>9} {'lost':>5} {'time-unparsed':>14}")
    total = Counter[str]()
    for name in sorted(read):
        stored = {ext for sid, ext, *_ in rows if sources[sid] == name}
        held = {ref for sid, ref, _ in quarantine if sources[sid] == name}
        want = read[name]
        lost = {w for w in want if (w[2:] not in stored if w[0] == "m" else w[2:] not in held)}
        unparsed = sum(1 for sid, *_rest, flags in rows if sources[sid] == name and "time-unparsed" in (flags or ""))
        print(f"{name:<8} {len(want):>6} {len(stored):>7} {len(held):>9} {len(lost):>5} {unparsed:>14}")
        total.update(inn=len(want), stored=len(stored), held=len(held), lost=len(lost))
    print(f"{'total':<8} {total['inn']:>6} {total['stored']:>7} {total['held']:>9} {total['lost']:>5}")
    print("\nquarantine reasons:")
    for sid, ref, reason in quarantine:
        print(f"  {sources[sid]:<7} {reason[:90]}  ({ref[-40:]})")

    ticket_of = {(sources[sid], ext): ticket for sid, ext, ticket, *_ in rows}
    incident_of = {(sources[sid], ext): inc for sid, ext, _t, inc, *_ in rows}
    by_text = {text.strip(): ticket for sid, _e, ticket, _i, text, *_ in rows if sources[sid] == "chats"}
    split = [(r, root) for src, r, src2, root in expect.pairs if ticket_of.get((src, r)) != ticket_of.get((src2, root))]
    chat_split = [p for p in expect.chat_pairs if by_text.get(p[0]) is None or by_text.get(p[0]) != by_text.get(p[1])]
    chat_joined = [p for p in expect.chat_apart if by_text.get(p[0]) is not None and by_text.get(p[0]) == by_text.get(p[1])]

    per_story = Counter(story for story, step, kind in pages if story is not None)
    story_of_ticket = {t: sid for sid, kind, t, inc in stories if kind == "ticket" and t is not None}
    story_of_incident = {inc: sid for sid, kind, t, inc in stories if inc is not None}

    def story(key: tuple[str, str]) -> int | None:
        inc = incident_of.get(key)
        if inc is not None and inc in story_of_incident:
            return story_of_incident[inc]
        return story_of_ticket.get(ticket_of.get(key))  # type: ignore[arg-type]

    loud_stories = {story(k) for k, label in expect.labels.items() if label == "escalate"}
    calm_paged = [k for k, label in expect.labels.items()
                  if label == "calm" and per_story.get(story(k) or -1) and story(k) not in loud_stories]
    calm_escalated = [k for k, label in expect.labels.items()
                      if label == "calm" and any(sources[sid] == k[0] and ext == k[1] and p in ("L1", "L2")
                                                 for sid, ext, _t, _i, _x, p, _f in rows)]
    loud = [k for k, label in expect.labels.items() if label == "escalate"]
    loud_paged = [k for k in loud if per_story.get(story(k) or -1)]
    distribution = Counter(per_story.values())
    print(f"\ntickets {tickets}   stories {len(stories)} ({dict(Counter(k for _, k, _t, _i in stories))})")
    print(f"pages (hook, sent) {len(pages)} over {len(per_story)} stories; max per story "
          f"{max(per_story.values(), default=0)}; distribution (pages: stories) {dict(sorted(distribution.items()))}")
    print(f"pages by step {dict(Counter((step or '').split(':')[0] for _s, step, _k in pages))}, "
          f"by kind {dict(Counter(k for _s, _st, k in pages))}; receiver got {len(hook.requests)} requests")
    print(f"conversations split: {len(split)} of {len(expect.pairs)} replies not on their root's ticket; "
          f"chat: {len(chat_split)} of {len(expect.chat_pairs)} split, {len(chat_joined)} of "
          f"{len(expect.chat_apart)} distinct conversations joined")
    for r, root in split[:10]:
        print(f"  split: {r} (root {root})")
    labelled_calm = sum(1 for v in expect.labels.values() if v == "calm")
    print(f"labelled calm {labelled_calm}: escalated (L1/L2) {len(calm_escalated)}, paged {len(calm_paged)}; "
          f"labelled escalate {len(loud)}: paged {len(loud_paged)}")
    for key in calm_paged[:15]:
        print(f"  calm paged: {key[0]}:{key[1]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the generated folder and database")
    args = parser.parse_args()
    from tests.helpers.receiver import receiver

    base = Path(tempfile.mkdtemp(prefix="messy-day-"))
    expect = Expect()
    build_mail(base / "mail", expect)
    build_posts(base / "posts", expect)
    build_chats(base / "chats", expect)
    feeds = serve_feeds()
    try:
        read = expected_in(base, feeds.base)
        with receiver() as hook:
            result = run(base, hook, feeds.base)
            print(f"run --once exit {result['exit']} in {result['seconds']:.1f} s (with group_wait)")
            report(result["db"], base, expect, read, hook)
    finally:
        feeds.close()
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
