"""Knowledge base: resolved tickets are indexed as analysis tokens and found again by BM25;
problem records hold resolutions; ``yuqing kb link|search|show|rebuild``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from monitor.cli import main
from monitor.storage.db import Database
from monitor.storage.models import KbDoc, KbTerm, Source, Ticket, TicketEvent
from monitor.tickets.knowledge import rebuild, search, tokens
from monitor.tickets.lifecycle import set_status
from monitor.tickets.problems import ProblemError, link, new_problem
from tests.helpers.builders import write_config, write_rules

NOW = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
CORPUS = {
    "sms": "App 登录时收不到短信验证码，换了手机号也不行，一直提示发送失败",
    "refund": "申请退款一周了还没有到账，客服电话也打不通，请尽快处理",
    "parcel": "快递包裹破损，里面的玻璃杯碎了，要求换货",
    "crash": "The app crashes every time I upload a photo on Android 14",
    "password": "Cannot reset my password: the reset email never arrives in my inbox",
    "invoice": (
        "我想开具增值税专用发票，公司抬头和税号已经填好，但是发票一直显示审核中。"
        "另外上次登录的时候验证码也慢，不过后来收到了。发票什么时候能开出来？发票邮寄地址要改一下。"
    ),
}


def _tickets(db: Database, *, resolve: tuple[str, ...] = tuple(CORPUS)) -> dict[str, int]:
    ids: dict[str, int] = {}
    with db.transaction() as session:
        source = Source(name="mail", kind="files")
        session.add(source)
        session.flush()
        for key, text in CORPUS.items():
            ticket = Ticket(source_id=source.id, channel="email", thread_key=key, title=text[:20], content=text,
                            status="processing", created_at=NOW, updated_at=NOW)
            session.add(ticket)
            session.flush()
            ticket.code = f"Q{ticket.id:06d}"
            ids[key] = ticket.id
            if key in resolve:
                set_status(session, ticket, "resolved", actor="wangfang", note=f"已处理 {key}", now=NOW)
    return ids


def _ranked(db: Database, text: str, limit: int = 10) -> list[tuple[int, float]]:
    with db.read() as session:
        return [(h.ticket_id, round(h.score, 9)) for h in search(session, text, limit=limit)]


def test_tokens_fold_traditional_case_and_drop_punctuation() -> None:
    assert tokens("收不到短信驗證碼，無法登錄！") == tokens("收不到短信验证码，无法登录!")
    assert "验证码" in tokens("收不到短信驗證碼")
    assert tokens("Cannot RESET my Password.") == ["cannot", "reset", "password"]


def test_resolving_indexes_and_the_right_ticket_ranks_first(sqlite_db: Database) -> None:
    ids = _tickets(sqlite_db)
    with sqlite_db.read() as session:
        assert session.scalar(select(func.count()).select_from(KbDoc)) == len(CORPUS)
    ranked = _ranked(sqlite_db, "收不到短信验证码，无法登录")
    assert ranked[0][0] == ids["sms"]
    # the long invoice ticket mentions 登录 and 验证码 once each among other things: found, but lower
    assert ids["invoice"] in [t for t, _ in ranked[1:]]
    assert ids["refund"] not in [t for t, _ in ranked], "nothing in common with the query"
    assert _ranked(sqlite_db, "退款没到账")[0][0] == ids["refund"]
    assert _ranked(sqlite_db, "包裹破损 换货")[0][0] == ids["parcel"]


def test_a_traditional_query_finds_the_same_tickets_as_a_simplified_one(sqlite_db: Database) -> None:
    _tickets(sqlite_db)
    simplified = _ranked(sqlite_db, "收不到短信验证码，无法登录")
    traditional = _ranked(sqlite_db, "收不到短信驗證碼，無法登錄")
    assert simplified and traditional == simplified


def test_english_queries(sqlite_db: Database) -> None:
    ids = _tickets(sqlite_db)
    assert _ranked(sqlite_db, "password reset mail not arriving")[0][0] == ids["password"]
    assert _ranked(sqlite_db, "App CRASH when uploading photos")[0][0] == ids["crash"]


def test_only_tickets_resolved_now_are_found(sqlite_db: Database) -> None:
    ids = _tickets(sqlite_db, resolve=("refund", "invoice"))
    assert [t for t, _ in _ranked(sqlite_db, "短信验证码收不到")] == [ids["invoice"]], "sms is still processing"
    with sqlite_db.transaction() as session:
        set_status(session, session.get_one(Ticket, ids["invoice"]), "reopened", actor="x", now=NOW)
    assert _ranked(sqlite_db, "短信验证码收不到") == [], "a reopened ticket drops out"
    assert _ranked(sqlite_db, "，。！") == []


def test_rebuild_gives_the_same_index(sqlite_db: Database) -> None:
    _tickets(sqlite_db)
    before = _ranked(sqlite_db, "收不到短信验证码")
    with sqlite_db.transaction() as session:
        terms = session.execute(select(KbTerm.term, KbTerm.ticket_id, KbTerm.tf).order_by(KbTerm.term, KbTerm.ticket_id)).all()
        assert rebuild(session) == len(CORPUS)
    with sqlite_db.read() as session:
        again = session.execute(select(KbTerm.term, KbTerm.ticket_id, KbTerm.tf).order_by(KbTerm.term, KbTerm.ticket_id)).all()
    assert again == terms
    assert _ranked(sqlite_db, "收不到短信验证码") == before


def test_problems_link_only_resolved_tickets_with_an_audit_event(sqlite_db: Database) -> None:
    ids = _tickets(sqlite_db, resolve=("sms",))
    with sqlite_db.transaction() as session:
        problem = new_problem(session, "短信通道故障", "切换到备用短信通道", tags=["登录"], actor="chen")
        assert link(session, session.get_one(Ticket, ids["sms"]), problem, actor="chen").created
        assert not link(session, session.get_one(Ticket, ids["sms"]), problem, actor="chen").created
        with pytest.raises(ProblemError, match="only a resolved or closed ticket"):
            link(session, session.get_one(Ticket, ids["refund"]), problem, actor="chen")
        events = session.scalars(select(TicketEvent).where(TicketEvent.kind == "problem")).all()
        assert [(e.ticket_id, e.new_value, e.actor) for e in events] == [(ids["sms"], f"P{problem.id}", "chen")]


def test_cli_link_show_search_rebuild(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(
        tmp_path / "c.yaml",
        {"state_dir": str(tmp_path / "state"), "rules": {"paths": [str(write_rules(tmp_path / "rules"))]}},
    )
    c = ["--config", str(path)]
    assert main(["db", "upgrade", *c]) == 0
    db = Database(f"sqlite:///{tmp_path / 'state' / 'yuqing.db'}")
    ids = _tickets(db, resolve=("sms", "password", "invoice"))
    sms, password = f"Q{ids['sms']:06d}", f"Q{ids['password']:06d}"
    db.dispose()
    assert main(["kb", "link", sms, "--new-problem", "短信通道故障", "--resolution", "切换到备用短信通道", "--tags", "登录,短信",
                 "--actor", "chen", *c]) == 0
    assert "P1 短信通道故障" in capsys.readouterr().out
    assert main(["kb", "link", f"Q{ids['refund']:06d}", "--problem", "P1", "--actor", "chen", *c]) == 2
    assert "only a resolved or closed ticket" in capsys.readouterr().err
    assert main(["kb", "link", password, "--problem", "P9", *c]) == 3
    assert main(["kb", "link", password, *c]) == 2
    capsys.readouterr()
    assert main(["kb", "show", "P1", "--json", *c]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert (shown["title"], shown["resolution"], shown["tags"]) == ("短信通道故障", "切换到备用短信通道", ["登录", "短信"])
    assert [t["code"] for t in shown["tickets"]] == [sms]
    assert main(["kb", "search", "登錄收不到驗證碼", "--limit", "2", "--json", *c]) == 0
    found = json.loads(capsys.readouterr().out)["results"]
    assert found[0]["code"] == sms and found[0]["problems"][0]["resolution"] == "切换到备用短信通道"
    assert len(found) == 2 and found[1]["resolution_note"] == "已处理 invoice"
    assert main(["kb", "search", "登录 验证码", *c]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(sms) and "P1 短信通道故障: 切换到备用短信通道" in out
    assert main(["kb", "rebuild", *c]) == 0
    assert "3 tickets" in capsys.readouterr().out
