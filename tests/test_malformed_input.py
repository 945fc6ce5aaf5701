"""Bad input never stops the daemon: each bad record becomes a quarantine row, the rest is stored.

One ``files`` source folder holds, in reading order: a JSONL file whose last record is cut off
mid-object (the writer died; the file has settled), a line of invalid UTF-8, a 50 MB single line,
a file of random bytes with NULs, a CSV file with a row of the wrong width - and then a good file.
``yuqing run --once`` (a subprocess, so its own peak RSS can be measured) must exit 0 - quarantined
input is not a failure; exit 1 means a source could not be polled (docs/reliability.md) - store
every good record, and leave one quarantine row per bad input with a reason that names the
problem and the file, the raw bytes (at most 1 MB) and the input's real size. Its peak RSS may
exceed that of a run with nothing to read by a few MB, not by the 50 MB of the line.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.workload import query, scalar, write_config, write_rules

REPO = Path(__file__).resolve().parents[1]
HUGE = 50 * 1024 * 1024
RAW_CAP = 1024 * 1024
GROWTH_LIMIT_MB = 25  # reading in 1 MiB chunks costs ~1 MB; holding the line once costs >= 50 MB


def record(n: int, thread: str = "t1", text: str | None = None) -> str:
    item = {"id": f"{thread}-{n}", "thread": thread, "text": text or f"第{n}条反馈 feedback {n}"}
    return json.dumps(item, ensure_ascii=False) + "\n"


def write_inputs(folder: Path) -> dict[str, str]:
    """The bad inputs and the good file; returns file name -> the reason its quarantine row gives."""
    folder.mkdir()
    (folder / "a-truncated.jsonl").write_text(
        record(1, "trunc") + record(2, "trunc") + record(3, "trunc")[:25], encoding="utf-8"
    )
    bad_utf8 = record(1, "utf8").encode() + b'{"id": "u2", "text": "\xe9\x80 broken \xff"}\n'
    (folder / "b-invalid-utf8.jsonl").write_bytes(bad_utf8)
    with (folder / "c-huge.jsonl").open("wb") as handle:
        head = b'{"id": "huge", "thread": "huge", "text": "'
        handle.write(head)
        chunk = "很长的一行 a very long line ".encode() * 4096
        remaining = HUGE - len(head) - len(b'"}\n')
        while remaining > 0:
            handle.write(chunk[:remaining])
            remaining -= len(chunk)
        handle.write(b'"}\n')
    junk = bytearray(random.Random(7).randbytes(64 * 1024))
    junk[100:110] = b"\x00" * 10
    (folder / "d-junk.dat").write_bytes(bytes(junk))
    (folder / "e-rows.csv").write_text(
        "id,thread,text\ncsv-1,csv,第一行 fine\ncsv-2,csv,too,many,fields\ncsv-3,csv,最后一行 fine\n",
        encoding="utf-8",
    )
    (folder / "f-good.jsonl").write_text("".join(record(n, "good") for n in range(1, 21)), encoding="utf-8")
    settled = time.time() - 3600  # every writer is long gone
    for path in folder.iterdir():
        os.utime(path, (settled, settled))
    return {
        "a-truncated.jsonl": r"^invalid JSON \(.+\) in a-truncated\.jsonl$",
        "b-invalid-utf8.jsonl": r"^invalid utf-8 at byte \d+ in b-invalid-utf8\.jsonl$",
        "c-huge.jsonl": rf"^record larger than {RAW_CAP} bytes in c-huge\.jsonl$",
        "d-junk.dat": r"^binary file \(NUL bytes\) in d-junk\.dat$",
        "e-rows.csv": r"^CSV row has 5 fields, header has 3 in e-rows\.csv$",
    }


# The peak RSS of the daemon process itself: VmHWM of its own address space, read at exit.
# (wait4/getrusage ru_maxrss would not do: Linux carries the parent's RSS at fork over exec, so
# a child of a big pytest process "peaks" at pytest's size.)
LAUNCHER = """
import atexit, sys
out = sys.argv.pop(1)
def peak():
    with open("/proc/self/status") as status, open(out, "w") as handle:
        handle.write(next(line.split()[1] for line in status if line.startswith("VmHWM:")))
atexit.register(peak)
from monitor.cli import main
sys.exit(main(sys.argv[1:]))
"""


def run_measured(args: list[str], log: Path) -> tuple[int, float]:
    """Run ``yuqing`` with ``args``; its exit code and its own peak RSS in MB."""
    peak = log.with_suffix(".peak")
    with log.open("wb") as out:
        code = subprocess.call(
            [sys.executable, "-c", LAUNCHER, str(peak), *args], cwd=REPO, stdout=out, stderr=subprocess.STDOUT
        )
    return code, int(peak.read_text()) / 1024  # kB


@pytest.mark.slow
def test_bad_input_is_quarantined_and_the_good_file_is_still_processed(tmp_path: Path) -> None:
    expected = write_inputs(tmp_path / "in")
    database = tmp_path / "state" / "yuqing.db"
    config = write_config(
        tmp_path / "yuqing.yaml",
        source=tmp_path / "in",
        rules=write_rules(tmp_path / "rules"),
        database=database,
        sink=tmp_path / "alerts.jsonl",
        settle_seconds=2,
    )

    code, peak_mb = run_measured(["-c", str(config), "run", "--once"], tmp_path / "run.log")
    log = (tmp_path / "run.log").read_text(encoding="utf-8", errors="replace")
    assert code == 0, log[-3000:]
    assert "Traceback" not in log

    stored = {r[0] for r in query(database, "SELECT external_id FROM messages")}
    good = {f"good-{n}" for n in range(1, 21)}
    assert good <= stored, "the good file after the bad ones is processed"
    assert stored == good | {"trunc-1", "trunc-2", "utf8-1", "csv-1", "csv-3"}

    rows = query(database, "SELECT reason, raw_ref, raw_size, length(raw), status FROM quarantine")
    by_file = {ref.split("@")[0]: (reason, size, kept, status) for reason, ref, size, kept, status in rows}
    assert len(rows) == len(expected) == len(by_file), rows
    for name, pattern in expected.items():
        reason, size, kept, status = by_file[name]
        assert re.fullmatch(pattern, reason), (name, reason)
        assert status == "pending"
        assert 0 < kept <= min(size, RAW_CAP)
    assert by_file["c-huge.jsonl"][1] == HUGE, "the real size of the 50 MB line is recorded"
    assert by_file["d-junk.dat"][1] == 64 * 1024

    listed = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "-c", str(config), "quarantine", "list", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    items = json.loads(listed.stdout)
    assert {i["raw_ref"].split("@")[0] for i in items} == set(expected)
    huge = next(i for i in items if i["raw_ref"].startswith("c-huge.jsonl"))
    assert (huge["raw_size"], huge["stored_bytes"] <= RAW_CAP) == (HUGE, True)
    assert all(i["source"] == "feedback" and i["reason"] for i in items)

    # the checkpoint moved past the bad input: a second run quarantines and stores nothing new
    again, idle_mb = run_measured(["-c", str(config), "run", "--once"], tmp_path / "run2.log")
    assert again == 0
    print(f"peak RSS: {peak_mb:.0f} MB with the 50 MB line, {idle_mb:.0f} MB with nothing to read")
    assert peak_mb - idle_mb < GROWTH_LIMIT_MB, "the 50 MB line must be skipped in chunks, not loaded"
    assert scalar(database, "SELECT count(*) FROM quarantine") == len(expected)
    assert scalar(database, "SELECT count(*) FROM messages") == len(stored)


MAIL_MB = 21
MAIL_GROWTH_LIMIT_MB = 90  # the whole mail through the MIME parser cost ~180 MB (bench/mail_attachments.py)


def big_mail() -> bytes:
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"] = "客户 <customer@example.com>", "support@example.com"
    msg["Subject"] = "发票和照片 退款"
    msg.set_content("您好，附件是发票和照片，请尽快退款。")
    each = MAIL_MB * 1024 * 1024 * 3 // 4 // 3
    for index in range(3):
        msg.add_attachment(random.Random(index).randbytes(each), maintype="application", subtype="pdf",
                           filename=f"scan-{index}.pdf")
    return msg.as_bytes()


@pytest.mark.slow
def test_a_21_mb_mail_is_stored_without_holding_its_attachments(tmp_path: Path) -> None:
    """A Maildir with one 21 MB mail (three base64 attachments): stored, and the daemon's own peak
    RSS grows by far less than the ~180 MB a full MIME parse of it cost."""
    maildir = tmp_path / "maildir"
    for sub in ("new", "cur", "tmp"):
        (maildir / sub).mkdir(parents=True)
    database = tmp_path / "state" / "yuqing.db"
    config = write_config(tmp_path / "yuqing.yaml", source=tmp_path / "unused", rules=write_rules(tmp_path / "rules"),
                          database=database)
    data = json.loads(config.read_text(encoding="utf-8"))
    data["sources"] = [{"name": "mail", "kind": "maildir", "maildir": {"path": str(maildir)}}]
    config.write_text(json.dumps(data), encoding="utf-8")

    idle_code, idle_mb = run_measured(["-c", str(config), "run", "--once"], tmp_path / "idle.log")
    (maildir / "new" / "1700000000.M1P1.big").write_bytes(big_mail())
    code, peak_mb = run_measured(["-c", str(config), "run", "--once"], tmp_path / "run.log")
    assert (idle_code, code) == (0, 0), (tmp_path / "run.log").read_text(encoding="utf-8")[-2000:]
    assert query(database, "SELECT title FROM messages") == [("发票和照片 退款",)]
    print(f"peak RSS: {peak_mb:.0f} MB with the {MAIL_MB} MB mail, {idle_mb:.0f} MB with nothing to read")
    assert peak_mb - idle_mb < MAIL_GROWTH_LIMIT_MB
