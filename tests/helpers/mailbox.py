"""A deterministic mailbox of long Chinese complaint mails, for benchmarks and load tests.

Like a real support mailbox (issue 16): ~1,900 characters of text per mail after parsing, a
quoted earlier message and a signature under the new text, UTF-8 / GBK / GB2312-labelled GBK /
Big5 bodies, an HTML alternative on every fourth and a small attachment on every fifth. The
texts come from the shopping-review corpus in ``/work/shared/data`` (test data only: read at run
time, never copied into the tree). One seed, one mailbox.
"""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import opencc

_DATA = Path(os.environ.get("YUQING_DATA", "/work/shared/data"))
CORPUS = _DATA / "sentiment" / "online_shopping_10_cats.no_hotel.csv"
# phrases a complaint mail carries; several are default-rule keywords, most are ordinary words
COMPLAINTS = (
    "我要投诉你们的售后服务",
    "请尽快给我退款",
    "已经打了十几次客服电话都没人处理",
    "再不解决我就去消费者协会投诉",
    "产品质量太差了",
    "快递员态度恶劣",
    "希望你们认真对待这个问题",
    "收到的商品有破损",
    "订单一直显示未发货",
    "我准备找律师咨询一下",
    "这已经是第三次出现同样的问题",
    "发票到现在也没有开",
)
# (header charset label, codec): GB2312-labelled mail that really holds GBK is common
_T2S = opencc.OpenCC("s2t")
CHARSETS = (("utf-8", "utf-8"), ("gbk", "gbk"), ("gb2312", "gbk"), ("big5", "big5"))


def _reviews(limit: int = 30_000) -> list[str]:
    with open(CORPUS, encoding="utf-8", newline="") as handle:
        rows = (row["review"].strip() for row in csv.DictReader(handle))
        return [r for r in rows if len(r) > 20][:limit]


def _paragraphs(rng: random.Random, reviews: list[str], chars: int) -> str:
    out: list[str] = []
    size = 0
    while size < chars:
        part = rng.choice(reviews) if rng.random() > 0.15 else rng.choice(COMPLAINTS) + "。"
        out.append(part)
        size += len(part)
    return "\n\n".join("".join(out[i : i + 3]) for i in range(0, len(out), 3))


def _fit(text: str, codec: str) -> str:
    """The text as a sender using ``codec`` writes it: traditional script for Big5."""
    if codec == "big5":
        text = str(_T2S.convert(text))
    return text.encode(codec, "replace").decode(codec)


def complaint_mail(number: int, rng: random.Random, reviews: list[str]) -> bytes:
    """One mail: new text (~1,800 chars), a signature, a quoted earlier mail (~300 chars)."""
    label, codec = CHARSETS[number % len(CHARSETS)]
    new = _fit(_paragraphs(rng, reviews, 1_800), codec)
    quoted = "\n".join("> " + line for line in _paragraphs(rng, reviews, 300).splitlines())
    text = _fit(
        f"您好，\n\n{new}\n\n--\n客户{number} 手机 138{number:08d}\n\n在 2024年5月1日 写道：\n{quoted}\n",
        codec,
    )
    cte = "base64" if codec == "utf-8" else "8bit"
    msg = EmailMessage(policy=SMTP)
    msg["From"] = f"客户{number} <c{number}@example.com>"
    msg["To"] = "support@example.com"
    msg["Subject"] = f"投诉 订单{number:06d} {rng.choice(COMPLAINTS)[:8]}"
    msg["Message-ID"] = f"<mailbox{number}@example.com>"
    msg["Date"] = f"Wed, 01 May 2024 {8 + number % 10:02d}:{number % 60:02d}:00 +0800"
    msg.set_content(text.encode(codec), maintype="text", subtype="plain", cte=cte)
    msg.replace_header("Content-Type", f"text/plain; charset={label}")
    if number % 4 == 1:
        html = "<html><body>" + "".join(f"<p>{p}</p>" for p in new.split("\n\n")) + "</body></html>"
        msg.add_alternative(html.encode(codec), maintype="text", subtype="html", cte="base64")
        msg.get_payload()[1].replace_header("Content-Type", f"text/html; charset={label}")  # type: ignore[index]
    if number % 5 == 0:
        if not msg.is_multipart() or msg.get_content_subtype() == "alternative":
            msg.make_mixed()
        msg.add_attachment(
            rng.randbytes(1_000),
            maintype="application",
            subtype="octet-stream",
            filename=f"receipt{number}.bin",
        )
    return msg.as_bytes()


def mails(count: int, *, seed: int = 16) -> Iterator[bytes]:
    rng = random.Random(seed)
    reviews = _reviews()
    for number in range(count):
        yield complaint_mail(number, rng, reviews)


def write_maildir(folder: Path, count: int, *, seed: int = 16) -> int:
    """A Maildir of ``count`` mails under ``folder`` (new/ cur/ tmp/); returns the bytes written."""
    for sub in ("new", "cur", "tmp"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    total = 0
    for number, data in enumerate(mails(count, seed=seed)):
        (folder / "new" / f"{number:08d}.bench:2,").write_bytes(data)
        total += len(data)
    return total
