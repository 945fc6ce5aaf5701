"""IMAP connector throughput and memory against a local Dovecot, next to baselines of the same run.

Starts a private Dovecot (``tests/connectors/imap/dovecot.py``), writes N long Chinese complaint
mails into its Maildir (``tests/helpers/mailbox.py``: ~1,900 chars of text, UTF-8 / GBK /
GB2312-labelled GBK / Big5, HTML alternatives, attachments), warms the index once, then runs each
stage in its own child process so its peak RSS is its own:

* ``raw``       imapclient ``UID FETCH BODY.PEEK[]`` in batches of 500, no parsing (the ceiling);
* ``stdlib``    the same fetch + ``email`` with ``policy.default`` and ``get_body().get_content()``;
* ``connector`` ``ImapConnector.fetch`` (size fetch, body fetch, full parse to Messages);
* ``pipeline``  ``monitor.pipeline.poll_source`` into SQLite with the DEFAULT rules (``rules/``):
  connector + analysis + storage + checkpoint + tickets + clusters in one transaction per batch,
  with ``--workers`` analysis processes (1 = in-process; the row is printed for 1 and for N);
* ``getmail6``  getmail6's SimpleIMAPRetriever into a Maildir (``read_all``, no delete);
* ``connector`` once more on a folder of N/5 mails: peak RSS should not depend on mailbox size.

    .venv/bin/python bench/imap_fetch.py [--messages 10000] [--batch-size 500] [--workers 2]

Each row also reports the CPU the stage used (the child process plus its waited-for children: the
analysis workers, getmail) per mail, and ``CPU-bound/s``: the mails per second the stage's CPU
allows on ``--cores`` otherwise idle cores (``mails / max(total CPU / cores, own CPU, workers' CPU /
workers)``). On a shared machine the wall-clock rates follow the load, which changes between the
stages of one run; the last column compares the CPU bounds (this row's over getmail6's): what the
two would do on the same idle cores, as far as their own CPU decides it. Dovecot's own CPU is in
no row.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FOLDER, SMALL_FOLDER = "bench", "bench-small"


def chinese_mails(count: int, start: int = 0) -> Iterator[bytes]:
    """The long complaint mails of ``tests/helpers/mailbox.py`` (deterministic)."""
    from tests.helpers.mailbox import mails

    for number, data in enumerate(mails(start + count)):
        if number >= start:
            yield data


# -- child stages ---------------------------------------------------------------------------------
def _client(info: dict[str, object]) -> object:
    from imapclient import IMAPClient

    client = IMAPClient(str(info["host"]), port=int(str(info["port"])), ssl=False, timeout=60)
    client.login(str(info["user"]), str(info["password"]))
    return client


def stage_raw(info: dict[str, object], folder: str, batch_size: int, parse: bool) -> int:
    import email
    import email.policy

    client = _client(info)
    client.select_folder(folder, readonly=True)  # type: ignore[attr-defined]
    uids = client.search(["ALL"])  # type: ignore[attr-defined]
    count = 0
    for start in range(0, len(uids), batch_size):
        answer = client.fetch(uids[start : start + batch_size], [b"BODY.PEEK[]"])  # type: ignore[attr-defined]
        for data in answer.values():
            raw = data[b"BODY[]"]
            if parse:
                msg = email.message_from_bytes(raw, policy=email.policy.default)
                body = msg.get_body(("plain", "html"))  # type: ignore[attr-defined]
                _ = (str(msg["Subject"]), str(msg["From"]), body.get_content() if body else "")
            count += 1
    return count


def _connector(info: dict[str, object], folder: str) -> object:
    from connectors.imap import ImapConnector
    from connectors.mail.imap_config import ImapConfig

    config = ImapConfig.model_validate(
        {"host": info["host"], "port": info["port"], "security": "plain", "username": info["user"],
         "password": info["password"], "folders": [folder]}
    )
    return ImapConnector("bench", config)


def stage_connector(info: dict[str, object], folder: str, batch_size: int) -> int:
    connector = _connector(info, folder)
    count = 0
    for batch in connector.fetch(None, batch_size=batch_size):  # type: ignore[attr-defined]
        count += len(batch.messages)
    return count


def stage_pipeline(info: dict[str, object], folder: str, batch_size: int, db_path: str, workers: int) -> int:
    from datetime import UTC, datetime

    from monitor.analysis.engine import load_analyzer
    from monitor.gcfreeze import settle
    from monitor.ingest.analyse import AnalysisPool
    from monitor.message import Message
    from monitor.pipeline import PipelineContext, poll_source
    from monitor.storage.db import Database
    from monitor.storage.models import utcnow
    from monitor.stories.settings import build_settings
    from monitor.tickets.incident_settings import IncidentsConfig
    from monitor.tickets.thread_settings import TicketsConfig

    db = Database(f"sqlite:///{db_path}")
    db.upgrade()
    analyzer = load_analyzer([ROOT / "rules"])
    pool = AnalysisPool(workers) if workers > 1 else None
    warm = Message("bench", "warm-up", "warm-up", "预热 投诉", datetime.now(UTC))
    analyzer(warm)  # jieba's dictionary and the sentiment model load before the clock starts
    settle()  # start-up's objects frozen out of the collector's reach, as the daemon does before polling
    if pool is not None:
        pool.analyse(analyzer, [warm])
    global STARTED
    STARTED = time.perf_counter()  # the schema migration and model loading are not measured
    stories = build_settings(None, [], IncidentsConfig(), None)
    context = PipelineContext(db, analyzer, stories, utcnow, True, TicketsConfig(), pool)
    stats = poll_source(lambda: context, "bench", _connector(info, folder), batch_size=batch_size)
    if pool is not None:
        pool.close()
    return stats.new


def stage_getmail(info: dict[str, object], folder: str, workdir: str) -> int:
    work = Path(workdir)
    out = work / "maildir"
    for sub in ("cur", "new", "tmp"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    run_as = ""
    if os.geteuid() == 0:  # getmail refuses to deliver as root; it switches to this user
        work.chmod(0o755)
        for path in [out, *out.iterdir()]:
            os.chown(path, 65534, 65534)
        run_as = "user = nobody\n"
    (work / "getmailrc").write_text(
        "[retriever]\ntype = SimpleIMAPRetriever\n"
        f"server = {info['host']}\nport = {info['port']}\nusername = {info['user']}\npassword = {info['password']}\n"
        f"mailboxes = (\"{folder}\",)\n\n[destination]\ntype = Maildir\npath = {out}/\n{run_as}\n"
        "[options]\nread_all = true\ndelete = false\nverbose = 0\nmessage_log_syslog = false\n",
        encoding="utf-8",
    )
    getmail = Path(sys.executable).parent / "getmail"
    subprocess.run([str(getmail), f"--getmaildir={work}", "--rcfile=getmailrc"], check=True)
    return len(list((out / "new").iterdir()))


STARTED = 0.0


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def child(args: argparse.Namespace) -> None:
    global STARTED
    info = json.loads(args.info)
    # Import what any stage needs before the clock starts: module import time is not throughput.
    import email.policy  # noqa: F401

    import imapclient  # noqa: F401

    if args.stage in ("connector", "pipeline"):
        __import__("monitor")  # first, as in the daemon: structlog without rich (monitor/__init__.py)
        import connectors.imap  # noqa: F401
        import monitor.pipeline
        import monitor.storage.db  # noqa: F401
    STARTED = time.perf_counter()
    own, children = _cpu(resource.RUSAGE_SELF), _cpu(resource.RUSAGE_CHILDREN)
    if args.stage in ("raw", "stdlib"):
        count = stage_raw(info, args.folder, args.batch_size, parse=args.stage == "stdlib")
    elif args.stage == "connector":
        count = stage_connector(info, args.folder, args.batch_size)
    elif args.stage == "pipeline":
        count = stage_pipeline(info, args.folder, args.batch_size, args.workdir + "/bench.db", args.workers)
    else:
        count = stage_getmail(info, args.folder, args.workdir)
    elapsed = time.perf_counter() - STARTED
    own, children = _cpu(resource.RUSAGE_SELF) - own, _cpu(resource.RUSAGE_CHILDREN) - children
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"count": count, "seconds": elapsed, "rss_kb": rss, "cpu_own": own, "cpu_children": children}))


# -- parent ---------------------------------------------------------------------------------------
def cpu_bound(result: dict[str, float], workers: int, cores: int) -> float:
    """Mails/s the stage's CPU allows on ``cores`` idle cores (see the module docstring)."""
    own, children = result.get("cpu_own", 0.0), result.get("cpu_children", 0.0)
    busiest = max((own + children) / cores, own, children / max(1, workers))
    return result["count"] / busiest if busiest > 0 else float("inf")


def run_stage(stage: str, info: dict[str, object], folder: str, batch_size: int, workers: int = 1) -> dict[str, float]:
    workdir = tempfile.mkdtemp(prefix=f"imap-bench-{stage}-")
    try:
        done = subprocess.run(
            [sys.executable, __file__, "--child", stage, "--info", json.dumps(info), "--folder", folder,
             "--batch-size", str(batch_size), "--workdir", workdir, "--workers", str(workers)],
            capture_output=True, text=True,
        )
        if done.returncode:
            raise SystemExit(f"stage {stage} failed:\n{done.stdout}\n{done.stderr}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2, help="analysis workers of the second pipeline row")
    parser.add_argument("--child")
    parser.add_argument("--info", default="{}")
    parser.add_argument("--folder", default=FOLDER)
    parser.add_argument("--workdir", default="")
    parser.add_argument("--cores", type=int, default=os.cpu_count() or 1, help="idle cores the CPU bound assumes")
    args = parser.parse_args()
    if args.child:
        args.stage = args.child
        child(args)
        return

    from tests.connectors.imap.dovecot import ASCII_PASSWORD, ASCII_USER, Dovecot

    server = Dovecot()
    server.start()
    try:
        info = {"host": server.host, "port": server.port, "user": ASCII_USER, "password": ASCII_PASSWORD}
        started = time.perf_counter()
        server.deliver(FOLDER, chinese_mails(args.messages), user=ASCII_USER)
        server.deliver(SMALL_FOLDER, chinese_mails(args.messages // 5), user=ASCII_USER)
        size = sum(p.stat().st_size for p in (server.maildir(FOLDER, ASCII_USER) / "new").iterdir())
        print(f"{args.messages} mails, {size / args.messages / 1024:.1f} KB average, written in "
              f"{time.perf_counter() - started:.1f} s; warming Dovecot's index ...", flush=True)
        run_stage("raw", info, FOLDER, args.batch_size)  # first pass builds the index: not measured
        run_stage("raw", info, SMALL_FOLDER, args.batch_size)
        load = [os.getloadavg()[0]]
        plan = [
            ("raw imapclient fetch (ceiling)", "raw", FOLDER, 1),
            ("imapclient + email policy.default", "stdlib", FOLDER, 1),
            ("ImapConnector.fetch (fetch + parse)", "connector", FOLDER, 1),
            ("poll_source, default rules, workers 1", "pipeline", FOLDER, 1),
            (f"poll_source, default rules, workers {args.workers}", "pipeline", FOLDER, args.workers),
            ("getmail6 SimpleIMAPRetriever -> Maildir", "getmail6", FOLDER, 1),
            (f"ImapConnector.fetch, {args.messages // 5} mails", "connector", SMALL_FOLDER, 1),
        ]
        rows = []
        for name, stage, folder, workers in plan:
            rows.append((name, run_stage(stage, info, folder, args.batch_size, workers), workers))
            load.append(os.getloadavg()[0])
            print(f"  {name}: done, load average {load[-1]:.1f}", flush=True)
    finally:
        server.cleanup()
    getmail_rate = rows[5][1]["count"] / rows[5][1]["seconds"]
    getmail_bound = cpu_bound(rows[5][1], 1, args.cores)
    raw_rate = rows[0][1]["count"] / rows[0][1]["seconds"]
    print(f"\nsame run, {os.cpu_count()} CPUs, load average {min(load):.1f}-{max(load):.1f};"
          f" CPU-bound/s assumes {args.cores} idle cores")
    print(f"\n{'stage':44} {'mails':>6} {'seconds':>8} {'mails/s':>8} {'peak RSS MB':>11} "
          f"{'vs raw':>7} {'vs getmail6':>11} {'CPU ms/mail':>11} {'CPU-bound/s':>11} {'bound vs getmail6 bound':>23}")
    for name, result, workers in rows:
        rate = result["count"] / result["seconds"]
        cpu = (result.get("cpu_own", 0.0) + result.get("cpu_children", 0.0)) / max(1, result["count"]) * 1000
        bound = cpu_bound(result, workers, args.cores)
        print(f"{name:44} {int(result['count']):>6} {result['seconds']:>8.2f} {rate:>8.0f} "
              f"{result['rss_kb'] / 1024:>11.1f} {rate / raw_rate:>6.2f}x {rate / getmail_rate:>10.1f}x"
              f" {cpu:>11.2f} {bound:>11.0f} {bound / getmail_bound:>22.2f}x")


if __name__ == "__main__":
    main()
