"""The intake API against the real daemon on 127.0.0.1: keys, idempotency, files, limits, status."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.helpers.daemon import yuqing
from tests.http.intake_daemon import AMR, HTML, JPEG, PNG, Intake, start_intake

KEYS = {"website": "web", "ios": "app", "retry": "web", "burst": "web", "old": "web", "files": "web", "fields": "web", "race": "app",
        "download": "app"}


@pytest.fixture(scope="module")
def intake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Intake]:
    yield from start_intake(tmp_path_factory.mktemp("intake"), KEYS)


def post(intake: Intake, key: str | None, body: Any = None, **kwargs: Any) -> requests.Response:
    headers = {**({"X-API-Key": intake.keys.get(key, key)} if key else {}), **kwargs.pop("headers", {})}
    if body is not None:
        kwargs["json"] = body
    return requests.post(f"{intake.base}/api/v1/feedback", headers=headers, timeout=10, **kwargs)


def status(intake: Intake, code: str, **headers: str) -> requests.Response:
    return requests.get(f"{intake.base}/api/v1/feedback/{code}", headers=headers, timeout=10)


COMPLAINT = {"type": "complaint", "content": "订单 8812 的耳机坏了，客服一直没回复", "name": "王女士", "contact": "13800138000"}


def test_a_json_submission_becomes_a_web_ticket_with_the_customer_and_a_status_token(intake: Intake) -> None:
    answer = post(intake, "website", {**COMPLAINT, "app_version": "3.2.1", "locale": "zh-CN"})
    assert answer.status_code == 201, answer.text
    receipt = answer.json()
    assert receipt["code"].startswith("Q") and len(receipt["token"]) >= 40 and receipt["replayed"] is False
    assert receipt["status"] == "received" and receipt["status_label"] == "已收到 Received"
    ticket = intake.ticket(receipt["code"])
    assert (ticket["channel"], ticket["type"], ticket["customer"], ticket["customer_contact"]) == (
        "web", "complaint", "王女士", "13800138000"
    )
    assert ticket["messages"][0]["text"] == COMPLAINT["content"] and ticket["source"] == "intake"

    found = status(intake, receipt["code"], **{"X-Status-Token": receipt["token"]})
    assert found.status_code == 200 and found.json()["status_label"] == "已收到 Received"
    assert set(found.json()) == {"code", "status", "status_label", "type", "submitted_at", "updated_at", "reply"}
    by_contact = status(intake, receipt["code"], **{"X-Contact": "138 0013 8000"})
    assert by_contact.status_code == 200
    assert status(intake, receipt["code"], **{"X-Status-Token": receipt["token"][:-2] + "xx"}).status_code == 404
    assert status(intake, receipt["code"], **{"X-Contact": "13900000000"}).status_code == 404
    assert status(intake, "Q999999", **{"X-Status-Token": receipt["token"]}).status_code == 404

    # staff answer the customer and resolve: the customer sees 已解决 and the reply, never the note
    intake.cli("tickets", "note", receipt["code"], "内部：供应商批次问题", "--actor", "ops")
    intake.cli("tickets", "respond", receipt["code"], "--note", "已为您换新，快递单号 SF123", "--actor", "ops")
    intake.cli("tickets", "set-status", receipt["code"], "resolved", "--actor", "ops")
    resolved = status(intake, receipt["code"], **{"X-Status-Token": receipt["token"]}).json()
    assert resolved["status_label"] == "已解决 Resolved" and resolved["reply"] == "已为您换新，快递单号 SF123"
    assert "供应商" not in json.dumps(resolved, ensure_ascii=False) and "ops" not in json.dumps(resolved)


def review(intake: Intake, text: str, decision: str) -> None:
    """Approve or reject the held message with this text, as staff do."""
    held = [m for m in intake.cli("review", "list", "--json") if m["text"] == text]
    assert len(held) == 1, held
    intake.cli("review", decision, str(held[0]["id"]))


def test_feedback_held_for_review_gets_its_own_code_at_once_and_its_ticket_on_approval(intake: Intake) -> None:
    body = {**COMPLAINT, "content": "再不退款我就炸了你们的店", "contact": "13700001111"}
    answer = post(intake, "website", body, headers={"Idempotency-Key": "held-1"})
    assert answer.status_code == 201, answer.text
    receipt = answer.json()
    assert receipt["code"].startswith("F") and receipt["status_label"] == "已收到 Received"
    token = {"X-Status-Token": receipt["token"]}
    waiting = status(intake, receipt["code"], **token)
    assert waiting.status_code == 200 and waiting.json()["status_label"] == "已收到 Received", waiting.text
    assert waiting.json()["code"] == receipt["code"] and waiting.json()["reply"] is None
    assert status(intake, receipt["code"], **{"X-Contact": "137 0000 1111"}).status_code == 200
    assert status(intake, receipt["code"], **{"X-Contact": "13800138000"}).status_code == 404
    assert status(intake, receipt["code"], **{"X-Status-Token": receipt["token"][:-2] + "xx"}).status_code == 404
    again = post(intake, "website", body, headers={"Idempotency-Key": "held-1"})
    assert (again.status_code, again.json()["code"], again.json()["token"]) == (200, receipt["code"], receipt["token"])

    review(intake, body["content"], "approve")
    approved = status(intake, receipt["code"], **token).json()  # the same code and token still work
    code = approved["code"]
    assert code.startswith("Q") and approved["status_label"] == "已收到 Received"
    assert status(intake, code, **token).json()["code"] == code
    ticket = intake.ticket(code)
    assert (ticket["channel"], ticket["type"], ticket["customer"], ticket["customer_contact"]) == (
        "web", "complaint", "王女士", "13700001111"
    )
    assert post(intake, "website", body, headers={"Idempotency-Key": "held-1"}).json()["code"] == code


def test_feedback_rejected_in_review_reads_not_accepted(intake: Intake) -> None:
    body = {**COMPLAINT, "content": "明天就炸了你们的仓库", "contact": "13700002222"}
    receipt = post(intake, "website", body).json()
    assert receipt["code"].startswith("F")
    review(intake, body["content"], "reject")
    found = status(intake, receipt["code"], **{"X-Status-Token": receipt["token"]})
    assert found.status_code == 200 and found.json()["status_label"] == "未受理 Not accepted", found.text
    assert found.json()["code"] == receipt["code"]


def test_multipart_with_attachments_is_stored_by_content_and_listed_on_the_ticket(intake: Intake) -> None:
    files = [
        ("attachments", ("照片.png", PNG, "image/png")),
        ("attachments", ("voice.amr", AMR, "application/octet-stream")),  # the client's type is ignored
        ("attachments", ("../../../etc/passwd.jpg", JPEG, "image/jpeg")),
        ("attachments", ("..\\..\\windows\\evil.jpg", JPEG, "image/jpeg")),
    ]
    data = {"type": "suggestion", "content": "App 里希望能上传更长的语音", "contact": "a@example.com"}
    answer = post(intake, "ios", data=data, files=files)
    assert answer.status_code == 201, answer.text
    ticket = intake.ticket(answer.json()["code"])
    assert ticket["channel"] == "app"
    got = [(a["name"], a["media_type"], a["size"]) for a in ticket["attachments"]]
    assert got == [
        ("照片.png", "image/png", len(PNG)),
        ("voice.amr", "audio/amr", len(AMR)),
        ("passwd.jpg", "image/jpeg", len(JPEG)),
        ("evil.jpg", "image/jpeg", len(JPEG)),
    ]
    stored = sorted(p for p in (intake.state / "attachments").rglob("*") if p.is_file())
    assert len(stored) == 3  # the two JPEGs are one file
    assert {p.read_bytes() for p in stored} == {PNG, AMR, JPEG}
    assert not any(Path("/etc").glob("passwd.jpg")) and not list(intake.state.parent.glob("evil*"))


def test_staff_download_attachments_as_stored_with_the_type_of_their_content(intake: Intake, tmp_path: Path) -> None:
    files = [
        ("attachments", ("收据.jpg", PNG, "image/jpeg")),  # named .jpg, but the bytes are a PNG
        ("attachments", ("../../voice", AMR, "application/octet-stream")),
    ]
    data = {"type": "complaint", "content": "收据照片和语音在附件里", "contact": "b@example.com"}
    code = post(intake, "download", data=data, files=files).json()["code"]
    out = tmp_path / "out"
    written = intake.cli("tickets", "attachment", code, "--out", str(out), "--json")
    assert [(w["number"], Path(w["path"]).name, w["media_type"]) for w in written] == [
        (1, "1-收据.png", "image/png"), (2, "2-voice.amr", "audio/amr")
    ]
    assert (out / "1-收据.png").read_bytes() == PNG and (out / "2-voice.amr").read_bytes() == AMR
    assert sorted(p.name for p in out.iterdir()) == ["1-收据.png", "2-voice.amr"]

    again = yuqing("--config", str(intake.config), "tickets", "attachment", code, "2", "--out", str(out))
    assert again.returncode == 1 and "exists" in again.stderr  # never written over
    assert (out / "2-voice.amr").read_bytes() == AMR
    missing = yuqing("--config", str(intake.config), "tickets", "attachment", code, "3", "--out", str(out))
    assert missing.returncode == 3 and "no number 3" in missing.stderr

    # a stored file changed on disk (HTML where the PNG was) is not handed out
    stored = intake.state / "attachments" / hashlib.sha256(PNG).hexdigest()[:2] / hashlib.sha256(PNG).hexdigest()
    original = stored.read_bytes()
    stored.write_bytes(HTML)
    try:
        tampered = yuqing("--config", str(intake.config), "tickets", "attachment", code, "1", "--out", str(tmp_path / "t"))
        assert tampered.returncode == 1 and "does not match its hash" in tampered.stderr
        assert not list((tmp_path / "t").iterdir())
    finally:
        stored.write_bytes(original)


def test_json_attachments_and_anonymous_feedback_keep_no_personal_data(intake: Intake) -> None:
    body = {
        "type": "inquiry",
        "content": "门店营业时间是几点？",
        "anonymous": True,
        "name": "不该保存",
        "contact": "13911112222",
        "attachments": [{"name": "a.png", "data": base64.b64encode(PNG).decode()}],
    }
    answer = post(intake, "website", body)
    assert answer.status_code == 201, answer.text
    receipt = answer.json()
    assert "匿名" in receipt["notice"] and "Anonymous" in receipt["notice"]
    ticket = intake.ticket(receipt["code"])
    assert ticket["customer"] is None and ticket["customer_contact"] is None
    assert "13911112222" not in json.dumps(ticket, ensure_ascii=False)
    assert [a["name"] for a in ticket["attachments"]] == ["a.png"]
    # anonymous feedback is found by its token only
    assert status(intake, receipt["code"], **{"X-Contact": "13911112222"}).status_code == 404
    assert status(intake, receipt["code"], **{"X-Status-Token": receipt["token"]}).status_code == 200


def test_a_retry_with_the_same_idempotency_key_returns_the_same_ticket_once(intake: Intake) -> None:
    body = {**COMPLAINT, "content": "重复提交测试：退款还没到账"}
    headers = {"Idempotency-Key": "order-8812-try"}
    first = post(intake, "retry", body, headers=headers)
    again = post(intake, "retry", body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["code"] == first.json()["code"] and again.json()["token"] == first.json()["token"]
    assert again.json()["replayed"] is True
    listed = intake.cli("tickets", "list", "--json", "--all")
    assert sum(1 for t in listed if t["title"].endswith("退款还没到账")) == 1
    assert len(intake.ticket(first.json()["code"])["messages"]) == 1
    changed = post(intake, "retry", {**body, "content": "别的内容"}, headers=headers)
    assert changed.status_code == 422 and "Idempotency-Key" in changed.json()["detail"]


def test_concurrent_retries_with_one_idempotency_key_make_one_ticket(intake: Intake) -> None:
    from concurrent.futures import ThreadPoolExecutor

    body = {**COMPLAINT, "content": "并发重试：同一个请求发了六次"}
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: post(intake, "race", body, headers={"Idempotency-Key": "race-1"}), range(6)))
    assert all(a.status_code in (200, 201) for a in answers)
    assert [a.status_code for a in answers].count(201) == 1, [a.text for a in answers]
    assert len({a.json()["code"] for a in answers}) == 1 and len({a.json()["token"] for a in answers}) == 1
    listed = intake.cli("tickets", "list", "--json", "--all")
    assert sum(1 for t in listed if t["title"].endswith("同一个请求发了六次")) == 1


@pytest.mark.parametrize(
    ("key", "status_code", "text"),
    [(None, 401, "缺少 API 密钥"), ("yqk_not-a-key", 401, "API 密钥无效")],
    ids=["missing", "wrong"],
)
def test_missing_and_wrong_keys_are_refused(intake: Intake, key: str | None, status_code: int, text: str) -> None:
    answer = post(intake, key, COMPLAINT)
    assert answer.status_code == status_code and text in answer.json()["detail"]


def test_a_revoked_key_is_refused_and_a_rotated_key_only_works_with_its_new_secret(intake: Intake) -> None:
    old = intake.keys["old"]
    assert post(intake, "old", COMPLAINT).status_code == 201
    new = intake.cli("intake", "keys", "rotate", "old").strip()
    assert post(intake, old, COMPLAINT).status_code == 401
    assert post(intake, new, COMPLAINT).status_code == 201
    intake.cli("intake", "keys", "revoke", "old")
    answer = post(intake, new, COMPLAINT)
    assert answer.status_code == 403 and "已吊销" in answer.json()["detail"]
    listed = {k["name"]: k for k in intake.cli("intake", "keys", "list", "--json")}
    assert listed["old"]["revoked_at"] and new not in json.dumps(listed) and old not in json.dumps(listed)


def test_a_key_past_its_rate_limit_gets_429_with_retry_after(intake: Intake) -> None:
    codes = [post(intake, "burst", {**COMPLAINT, "content": f"限流测试 {i}"}).status_code for i in range(10)]
    assert codes[:8] == [201] * 8 and codes[8:] == [429, 429]
    last = post(intake, "burst", COMPLAINT)
    assert last.status_code == 429 and int(last.headers["Retry-After"]) >= 1
    assert post(intake, "website", {**COMPLAINT, "content": "另一个密钥不受影响"}).status_code == 201


@pytest.mark.parametrize(
    ("kwargs", "status_code", "text"),
    [
        ({"data": b"x" * (3 * 1024 * 1024), "headers": {"Content-Type": "application/json"}}, 413, ""),
        ({"files": [("attachments", ("big.png", PNG + b"\x00" * 1_100_000, "image/png"))]}, 413, "1 MB"),
        ({"data": "type=complaint&content=hi", "headers": {"Content-Type": "text/plain"}}, 415, "multipart"),
        ({"files": [("attachments", ("photo.jpg", HTML, "image/jpeg"))]}, 415, "只接受图片"),
        ({"files": [("attachments", ("page.html", HTML, "text/html"))]}, 415, "只接受图片"),
        ({"json": {"type": "praise", "content": "x", "contact": "1"}}, 422, "type"),
        ({"json": {"type": "complaint", "content": "   "}}, 422, "content"),
        ({"json": {"type": "complaint", "content": "no contact"}}, 422, "联系方式"),
        ({"json": {"type": "complaint", "content": "x", "contact": "1", "extra": 1}}, 422, "extra"),
        ({"data": "{not json", "headers": {"Content-Type": "application/json"}}, 400, "JSON"),
        ({"data": {"type": "complaint", "content": "x", "contact": "1", "attachments": "-2270667"},
          "files": [("unused", ("", b"", "application/octet-stream"))]}, 422, "attachments"),
        # schemathesis found these accepted as "no files" (the schema says array)
        ({"json": {"type": "complaint", "content": "x", "contact": "1", "attachments": False}}, 422, "数组"),
        ({"json": {"type": "complaint", "content": "x", "contact": "1", "attachments": None}}, 422, "数组"),
    ],
    ids=["oversized-body", "oversized-file", "wrong-content-type", "html-named-jpg", "html", "bad-type",
         "blank-content", "no-contact", "unknown-field", "broken-json", "text-as-attachment",
         "attachments-false", "attachments-null"],
)
def test_invalid_requests_get_a_precise_4xx(
    intake: Intake, kwargs: dict[str, Any], status_code: int, text: str
) -> None:
    if "files" in kwargs and "data" not in kwargs:
        kwargs["data"] = {"type": "complaint", "content": "带附件", "contact": "13800000000"}
    key = "files" if status_code in (413, 415) else "fields"  # each key stays under its rate limit
    answer = post(intake, key, **kwargs)
    assert answer.status_code == status_code, answer.text
    assert text in answer.json()["detail"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"data": b"x" * (3 * 1024 * 1024), "headers": {"Content-Type": "application/json"}},
        {"data": "type=complaint&content=hi", "headers": {"Content-Type": "text/plain"}},
        {"data": "{not json", "headers": {"Content-Type": "application/json"}},
        {"json": {"type": "praise", "content": "x", "contact": "1"}},
        {"files": [("attachments", ("refused.jpg", HTML, "image/jpeg"))], "data": {"type": "complaint", "content": "x"}},
    ],
    ids=["oversized-body", "wrong-content-type", "broken-json", "bad-type", "html-named-jpg"],
)
def test_a_refused_key_is_answered_before_anything_wrong_with_the_body(intake: Intake, kwargs: dict[str, Any]) -> None:
    """The body is read before the key is checked (one thread hand-over per request), but a client
    with a bad key learns that first, and its files are neither checked nor quarantined."""
    answer = post(intake, "yqk_not-a-key", **kwargs)
    assert answer.status_code == 401, answer.text
    assert "API 密钥无效" in answer.json()["detail"]
    assert not any("refused.jpg" in q["reason"] for q in intake.cli("quarantine", "list", "--json", "--all"))


def test_a_disguised_file_is_quarantined_and_nothing_is_half_written(intake: Intake) -> None:
    before = len(intake.cli("tickets", "list", "--json", "--all"))
    files = [("attachments", ("ok.png", PNG, "image/png")), ("attachments", ("invoice.jpg", HTML, "image/jpeg"))]
    answer = post(intake, "files", data={"type": "complaint", "content": "伪装文件", "contact": "1"}, files=files)
    assert answer.status_code == 415
    quarantined = intake.cli("quarantine", "list", "--json", "--all")
    assert any("invoice.jpg" in q["reason"] for q in quarantined)
    shown = intake.cli("quarantine", "show", str(next(q["id"] for q in quarantined if "invoice.jpg" in q["reason"])), "--raw")
    assert "<script>" in shown
    assert len(intake.cli("tickets", "list", "--json", "--all")) == before
