"""Realistic short posts and CPU accounting for ``bench/alert_latency.py``.

Posts are real customer reviews (``shared/data/sentiment``: online shopping and food delivery,
20-300 characters; median ~45) when that folder is present, else the labelled Weibo-style,
Cantonese and English sentences of ``tests/fixtures/sentiment`` joined 2-8 at a time. About 10 %
are reposts of a recent post (``转发微博//@用户N: ...``), 10 % carry a hashtag and a short link, so
clustering sees near-duplicates as a real feed has them. Every text is used once: nothing the
pipeline caches per text is hit by the generator.

Urgent posts are real reviews prefixed by one of a few sentences the DEFAULT rules
(``rules/escalation.yaml``) rate L1 with an alert (safety, urgency), each a story of its own.
"""

from __future__ import annotations

import csv
import os
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = next(
    (p / "shared/data/sentiment" for p in ROOT.parents if (p / "shared/data/sentiment").is_dir()), None
)
URGENT = (
    "紧急！充电器插上没几分钟就冒烟了，差点起火，",
    "很急，孩子用了你们的取暖器，插头烧焦了还打火花，",
    "救命，热水器漏电，家里老人被电到了，",
    "十万火急：电动车电池在楼道里自燃了，",
)


def reviews() -> list[str]:
    """Real reviews of 20-300 characters, or fixture sentences joined (see module docstring)."""
    out: list[str] = []
    if DATA is not None:
        for name in ("online_shopping_10_cats.no_hotel.csv", "waimai_10k.csv"):
            path = DATA / name
            if path.exists():
                with open(path, encoding="utf-8-sig") as handle:
                    out += [
                        t
                        for row in csv.DictReader(handle)
                        if 20 <= len(t := (row.get("review") or "").strip()) <= 300
                    ]
    if out:
        return out
    sentences: list[str] = []
    for name in ("weibo.tsv", "cantonese.tsv", "english.tsv"):
        with open(ROOT / "tests/fixtures/sentiment" / name, encoding="utf-8") as handle:
            sentences += [row["text"] for row in csv.DictReader(handle, delimiter="\t")]
    rng = random.Random(11)
    return ["，".join(rng.sample(sentences, rng.randint(2, 8))) for _ in range(60_000)]


def _pool(seed: int) -> list[str]:
    rng = random.Random(seed)
    pool = reviews()
    rng.shuffle(pool)
    return pool


def posts(count: int, seed: int = 3) -> list[str]:
    """``count`` distinct posts (see module docstring), from the front of the shuffled reviews."""
    rng = random.Random(seed)
    pool = _pool(seed)
    out: list[str] = []
    for i in range(count):
        draw = rng.random()
        if draw < 0.1 and out:
            text = f"转发微博//@用户{rng.randint(1, 10**6)}: {out[max(0, len(out) - rng.randint(1, 200))]}"
        else:
            text = pool[i % len(pool)]
            if draw < 0.2:
                text += f" #话题{rng.randint(1, 500)}# http://t.cn/A{rng.randint(10**5, 10**6)}"
        if i >= len(pool):  # more posts than reviews: still distinct texts
            text += f" ({i // len(pool)})"
        out.append(text)
    return out


def urgent_posts(count: int, seed: int = 3) -> list[str]:
    """``count`` urgent posts: an L1 sentence and a review of at least 40 characters from the back
    of the pool :func:`posts` draws from the front of, so each is a story of its own."""
    long = [text for text in reversed(_pool(seed)) if len(text) >= 40]
    return [URGENT[n % len(URGENT)] + long[n % len(long)] for n in range(count)]


_TICK = os.sysconf("SC_CLK_TCK")


def cpu_of(pids: list[int]) -> float:
    """User + system CPU seconds of other processes (analysis workers, PostgreSQL backends)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / _TICK
