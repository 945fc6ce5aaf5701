"""Chat-export import throughput and memory: WhatsApp text and Telegram JSON.

Generates the inputs into a temporary directory (never committed): a WhatsApp export of
1,000,000 lines and Telegram Desktop ``result.json`` files of 50 and 200 MB. Each stage runs in
its own child process so its peak RSS is its own. The parse stage is the connector's ``fetch``
(bytes -> Message objects in batches, checkpoints included, no database). Baselines measured in
the same run: a raw line split + UTF-8 decode for WhatsApp, ``json.load`` of the whole file for
Telegram (the fastest possible parse, but its memory grows with the file).

    .venv/bin/python bench/chat_import.py [--lines 1000000] [--telegram-mb 200] [--keep]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PHRASES = [
    "你好，我昨天买的耳机到了，但是左耳没有声音 😡", "订单号 20240315-8848，包装破了", "物流太慢了，一个星期还没到",
    "請問退款甚麼時候會到帳？", "產品品質很差，要求賠償！👎", "好的", "谢谢 🙏", "The app crashes every time I log in",
    "客服态度很好，点赞 👍", "已经第三次投诉了，再不处理就找消费者协会", "Where is my refund?", "收到，已轉交主管處理。",
]
NAMES = ["王小明", "客服小美", "李娜", "陳大文", "黃美玲", "John Doe", "+86 138 0000 0000", "赵六"]


def make_whatsapp(path: Path, lines: int) -> None:
    rng = random.Random(6)
    at = datetime(2023, 1, 1, 8, 0)
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write("01/01/23, 08:00 - Messages and calls are end-to-end encrypted.\n")
        written += 1
        while written < lines:
            at += timedelta(seconds=rng.randint(5, 90))
            out.write(f"{at:%d/%m/%y, %H:%M} - {rng.choice(NAMES)}: {rng.choice(PHRASES)}\n")
            written += 1
            if rng.random() < 0.1 and written < lines:  # a multi-line message
                out.write(f"{rng.choice(PHRASES)}\n")
                written += 1


def make_telegram(path: Path, megabytes: int) -> None:
    rng = random.Random(7)
    target = megabytes * 1_000_000
    at = datetime(2020, 1, 1, tzinfo=UTC)
    with open(path, "w", encoding="utf-8") as out:
        out.write('{\n "name": "售后服务群",\n "type": "private_supergroup",\n "id": 4242,\n "messages": [')
        index, size = 0, 0
        while size < target:
            at += timedelta(seconds=rng.randint(1, 60))
            name = rng.choice(NAMES)
            text = rng.choice(PHRASES)
            body = (
                f'{"," if index else ""}\n  {{\n   "id": {index + 1},\n   "type": "message",\n'
                f'   "date": "{at:%Y-%m-%dT%H:%M:%S}",\n   "date_unixtime": "{int(at.timestamp())}",\n'
                f'   "from": {json.dumps(name, ensure_ascii=False)},\n   "from_id": "user{zlib.crc32(name.encode()) % 10**6}",\n'
                f'   "text": {json.dumps(text, ensure_ascii=False)},\n   "text_entities": [\n    {{\n'
                f'     "type": "plain",\n     "text": {json.dumps(text, ensure_ascii=False)}\n    }}\n   ]\n  }}'
            )
            out.write(body)
            size += len(body.encode("utf-8"))
            index += 1
        out.write("\n ]\n}\n")


# -- child stages -------------------------------------------------------------------------
def stage_lines(path: Path) -> int:
    count = 0
    with open(path, "rb") as stream:
        for raw in stream:
            raw.decode("utf-8").rstrip("\r\n")
            count += 1
    return count


def stage_json_load(path: Path) -> int:
    with open(path, "rb") as stream:
        return len(json.load(stream)["messages"])


def stage_connector(path: Path) -> int:
    from connectors.chat_export import ChatExportConfig, ChatExportConnector

    connector = ChatExportConnector("bench", ChatExportConfig(path=path))
    count = 0
    for batch in connector.fetch(None, batch_size=500):
        count += len(batch.messages)
        if batch.quarantined:
            raise SystemExit(f"unexpected quarantine: {batch.quarantined[0].reason}")
    return count


STAGES = {"lines": stage_lines, "json_load": stage_json_load, "connector": stage_connector}


def child(stage: str, path: str) -> None:
    if stage == "connector":
        import connectors.chat_export  # noqa: F401 - import time is not parse time
    started = time.perf_counter()
    items = STAGES[stage](Path(path))
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"items": items, "seconds": seconds, "rss_mb": peak_kib / 1024}))


def measure(stage: str, path: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", stage, str(path)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--telegram-mb", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the generated inputs")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    work = Path(tempfile.mkdtemp(prefix="yuqing-bench-chat-"))
    try:
        run(work, args.lines, args.telegram_mb)
    finally:
        if args.keep:
            print(f"inputs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(work: Path, lines: int, telegram_mb: int) -> None:
    wa = work / "whatsapp" / "WhatsApp Chat with 售后群.txt"
    wa.parent.mkdir()
    make_whatsapp(wa, lines)
    sizes = sorted({max(1, telegram_mb // 4), telegram_mb})
    telegram: dict[int, Path] = {}
    for mb in sizes:
        telegram[mb] = work / f"telegram-{mb}" / "result.json"
        telegram[mb].parent.mkdir()
        make_telegram(telegram[mb], mb)

    rows: list[tuple[str, str, dict[str, float], dict[str, float] | None]] = []
    base = measure("lines", wa)
    rows.append(("whatsapp", "baseline: line split + decode", base, None))
    rows.append(("whatsapp", "connector fetch (parse)", measure("connector", wa.parent), base))
    for mb, path in telegram.items():
        base = measure("json_load", path)
        rows.append((f"telegram {mb} MB", "baseline: json.load whole file", base, None))
        rows.append((f"telegram {mb} MB", "connector fetch (stream parse)", measure("connector", path.parent), base))

    print(f"\ninputs: WhatsApp {wa.stat().st_size / 1e6:.0f} MB / {lines:,} lines; "
          + ", ".join(f"Telegram {p.stat().st_size / 1e6:.0f} MB" for p in telegram.values()))
    header = (f"{'input':<16} {'stage':<32} {'messages':>10} {'seconds':>8} {'msgs/s':>10} {'peak RSS MB':>12}"
              f" {'speed vs base':>14} {'RSS vs base':>12}")
    print(header)
    print("-" * len(header))
    for name, stage, result, baseline in rows:
        rate = result["items"] / result["seconds"]
        speed = memory = ""
        if baseline is not None:
            speed = f"{rate / (baseline['items'] / baseline['seconds']):.3f}x"
            memory = f"{result['rss_mb'] / baseline['rss_mb']:.2f}x"
        print(f"{name:<16} {stage:<32} {result['items']:>10,.0f} {result['seconds']:>8.2f} {rate:>10,.0f} "
              f"{result['rss_mb']:>12.0f} {speed:>14} {memory:>12}")
    print("(baseline rows count lines for WhatsApp, messages for Telegram)")
    print("\ntargets: WhatsApp >= 50,000 messages/s; Telegram stream RSS flat in file size, < 300 MB at 200 MB")


if __name__ == "__main__":
    main()
