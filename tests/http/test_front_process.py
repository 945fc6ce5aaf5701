"""The HTTP front process (``http.front_process: on``): the daemon's application served by a child
process, with the intake's writes, health and metrics still the daemon's."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from tests.helpers.daemon import DaemonProcess, scalar, wait_for, yuqing
from tests.http.intake_daemon import Intake, intake_config


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (exited, not yet reaped) counts as gone
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def front_pids(daemon: DaemonProcess) -> list[int]:
    return [int(e["pid"]) for e in daemon.events() if e.get("event") == "http_front"]


@contextmanager
def front_daemon(tmp_path: Path) -> Iterator[Intake]:
    config = intake_config(tmp_path, key_rate_per_minute=1000)
    data: dict[str, Any] = yaml.safe_load(config.read_text(encoding="utf-8"))
    data["http"]["front_process"] = "on"
    data["rules"]["watch_seconds"] = 0.5
    config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert yuqing("--config", str(config), "db", "upgrade").returncode == 0
    key = yuqing("--config", str(config), "intake", "keys", "add", "shop", "--channel", "web").stdout.strip()
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    try:
        event = wait_for(lambda: next((e for e in daemon.events() if e.get("event") == "http_server"), None), what="http")
        assert event["front_process"] is True
        yield Intake(f"http://127.0.0.1:{event['port']}", config, tmp_path / "state", {"shop": key}, daemon)
    finally:
        pids = front_pids(daemon)
        if daemon.proc.poll() is None:
            code, _ = daemon.stop()
            assert code == 0, daemon.output()[-3000:]
        daemon.kill()
        wait_for(lambda: not any(alive(pid) for pid in pids), timeout=15, what="no front process after the stop")


@pytest.fixture()
def front(tmp_path: Path) -> Iterator[Intake]:
    """A daemon of its own: for the tests that kill, reload or count on it."""
    with front_daemon(tmp_path) as intake:
        yield intake


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Intake]:
    """One daemon for the tests that only submit and read (each daemon start costs ~9 s of CI)."""
    with front_daemon(tmp_path_factory.mktemp("front")) as intake:
        yield intake


def submit(intake: Intake, text: str, key: str | None = None, **headers: str) -> requests.Response:
    body = {"type": "complaint", "content": text, "contact": "13800000000"}
    return requests.post(
        f"{intake.base}/api/v1/feedback",
        json=body,
        headers={"X-API-Key": key if key is not None else intake.keys["shop"], **headers},
        timeout=30,
    )


def test_submissions_through_the_front_process_store_one_ticket_per_idempotency_key(shared: Intake) -> None:
    front = shared
    first = submit(front, "App 下单后一直显示处理中", **{"Idempotency-Key": "k-1"})
    again = submit(front, "App 下单后一直显示处理中", **{"Idempotency-Key": "k-1"})
    other = submit(front, "换一段内容", **{"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 422)
    assert again.json()["code"] == first.json()["code"] and again.json()["replayed"] is True
    assert "Idempotency-Key" in other.json()["detail"]
    db = front.state / "yuqing.db"
    assert scalar(db, "SELECT COUNT(*) FROM intake_submissions WHERE idempotency_key = 'k-1'") == 1
    code = first.json()["code"]
    assert scalar(db, f"SELECT COUNT(*) FROM messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.code = '{code}'") == 1
    ticket = front.ticket(first.json()["code"])
    assert ticket["channel"] == "web"
    # answered by the daemon's application, through the child: the status of that ticket
    found = requests.get(
        f"{front.base}/api/v1/feedback/{first.json()['code']}", headers={"X-Status-Token": first.json()["token"]},
        timeout=10,
    )
    assert found.status_code == 200 and found.json()["code"] == first.json()["code"]


@pytest.mark.parametrize(
    ("key", "status_code", "text"),
    [("", 401, "缺少 API 密钥"), ("wrong", 401, "API 密钥无效")],
    ids=["missing", "unknown"],
)
def test_key_errors_are_answered_by_the_front_process_as_in_process(
    shared: Intake, key: str, status_code: int, text: str
) -> None:
    answer = submit(shared, "内容", key=key)
    assert answer.status_code == status_code and text in answer.json()["detail"]


def test_health_readiness_and_metrics_are_the_daemons(shared: Intake) -> None:
    front = shared
    healthz = requests.get(f"{front.base}/healthz", timeout=10)
    assert healthz.status_code == 200 and healthz.json()["status"] == "ok"
    readyz = requests.get(f"{front.base}/readyz", timeout=10)
    assert readyz.status_code == 200, readyz.text
    checks = {c["check"] for c in readyz.json()["checks"]}
    assert any("database" in c or "schema" in c for c in checks), checks
    submit(front, "一条反馈")
    metrics = requests.get(f"{front.base}/metrics", timeout=10)
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert "yuqing_" in metrics.text  # the daemon's registry, not an empty one of the child
    assert requests.get(f"{front.base}/api/v1/openapi.json", timeout=10).json()["info"]["title"]


def test_a_killed_front_process_is_restarted_and_serves_again(front: Intake) -> None:
    [first] = front_pids(front.daemon)
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: any(e.get("event") == "http_front_exited" for e in front.daemon.events()), what="exit logged")
    second = wait_for(lambda: [p for p in front_pids(front.daemon) if p != first], what="a new front process")[0]
    assert alive(second) and not alive(first)
    answer = wait_for(lambda: _ok(submit(front, "重启后的反馈")), timeout=30, what="a submission after the restart")
    assert answer.status_code == 201


def _ok(answer: requests.Response) -> requests.Response | None:
    return answer if answer.status_code == 201 else None


def test_a_killed_daemon_leaves_no_front_process(front: Intake) -> None:
    [child] = front_pids(front.daemon)
    front.daemon.proc.kill()
    front.daemon.proc.wait()
    wait_for(lambda: not alive(child), timeout=15, what="the front process to leave with the daemon")


def test_a_rule_reload_reaches_the_front_process_analysis(front: Intake) -> None:
    daemon = front.daemon
    wait_for(lambda: any(e.get("event") == "front_rules_loaded" for e in daemon.events()), what="rules in the child")
    before = submit(front, "你们的客服态度太差，我要曝光")
    assert before.status_code == 201 and front.ticket(before.json()["code"])["priority"] != "L1"
    rules = Path(yaml.safe_load(front.config.read_text(encoding="utf-8"))["rules"]["paths"][0])
    (rules / "new.yaml").write_text("rules:\n  - id: t.expose\n    keywords: {any: [曝光]}\n    priority: L1\n", encoding="utf-8")
    wait_for(lambda: any(e.get("event") == "rules_reloaded" for e in daemon.events()), what="the daemon's reload")
    after = submit(front, "物流太慢了，我要曝光")  # analysed here by the daemon, or by the child's new rules
    assert after.status_code == 201 and front.ticket(after.json()["code"])["priority"] == "L1"
    wait_for(lambda: sum(e.get("event") == "front_rules_loaded" for e in daemon.events()) >= 2, what="child reload")
    time.sleep(0.2)
    later = submit(front, "包装破损，我要曝光")
    assert later.status_code == 201 and front.ticket(later.json()["code"])["priority"] == "L1"
    assert not any(e.get("level") == "error" for e in daemon.events()), daemon.output()[-3000:]


def test_a_reloaded_intake_setting_reaches_the_front_process(front: Intake) -> None:
    assert [submit(front, f"第 {n} 条").status_code for n in range(3)] == [201, 201, 201]
    data: dict[str, Any] = yaml.safe_load(front.config.read_text(encoding="utf-8"))
    data["intake"]["key_rate_per_minute"] = 4  # the key has used 3 of them this minute
    front.config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    front.daemon.signal(signal.SIGHUP)
    wait_for(lambda: any(e.get("event") == "reloaded" for e in front.daemon.events()), what="the reload")
    time.sleep(0.5)  # the notice was sent before "reloaded" was logged; the child's reader takes it at once
    answers = [submit(front, f"重载后第 {n} 条") for n in range(2)]
    assert [a.status_code for a in answers] == [201, 429]
    assert answers[1].headers["Retry-After"]


def test_the_form_and_the_api_share_one_address_budget(front: Intake) -> None:
    """The API is limited in the child, the hosted form (forwarded) in the daemon: the daemon asks
    the child's limiter, so one address has one submission budget, as in-process."""
    data: dict[str, Any] = yaml.safe_load(front.config.read_text(encoding="utf-8"))
    data["intake"]["address_rate_per_minute"] = 3
    front.config.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    front.daemon.signal(signal.SIGHUP)
    wait_for(lambda: any(e.get("event") == "reloaded" for e in front.daemon.events()), what="the reload")
    time.sleep(0.5)
    assert [submit(front, f"接口第 {n} 条").status_code for n in range(2)] == [201, 201]
    session = requests.Session()
    page = session.get(f"{front.base}/feedback", timeout=30)
    token = page.text.split('name="_csrf_token" value="', 1)[1].split('"', 1)[0]
    started = page.text.split('name="started" value="', 1)[1].split('"', 1)[0]

    def post_form(text: str) -> requests.Response:
        fields = {"_csrf_token": token, "started": started, "type": "complaint", "content": text, "contact": "13800000000"}
        multipart = {name: (None, value) for name, value in fields.items()}  # as the page posts it
        return session.post(f"{front.base}/feedback", files=multipart, timeout=30)

    time.sleep(3.2)  # the form's minimum fill time
    assert post_form("表单第 1 条").status_code == 200  # the address's third submission
    refused = post_form("表单第 2 条")
    assert refused.status_code == 429 and "请求过于频繁" in refused.text
    assert submit(front, "接口第 3 条").status_code == 429  # and the API sees the form's post too
