"""Fingerprints: the bulk feature hashes are the per-feature definition, the same in every process,
and the estimate and the LSH keys keep their accuracy on real near-duplicates."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from functools import cache

import opencc
import pytest

from monitor.tickets import fingerprint as fp_module
from monitor.tickets import shingles
from monitor.tickets.fingerprint import features, fingerprint, jaccard
from tests.shared_data import SHARED_DATA

EDGES = [
    "",
    "   ",
    "hello world, Hello WORLD again",
    "中",
    "中 文",
    "ＡＢＣ１２３，全角标点！？（测试）",
    "省略号…和……还有‥以及　全角空格",
    "温度３８℃，①号楼，㈱公司，ﬁle，™",
    "café cafe\u0301 straße İstanbul ǅ",
    "兼容汉字\uf900\uf901和康熙部首⼀⼆",
    "扩展B区𠀀𠀁字和emoji😀😀",
    "轉發微博//@張三: 這個產品質量太差了 #投訴# https://t.cn/abc www.Example.com",
    "RT @bob: late again https://t.co/x #fail @客服小美",
    "it's a well-known issue_id x-ray --flag 'quoted'",
    "中" * 2500 + " extra words here",
    "字" * 1990 + "".join(f" w{i}" for i in range(50)),
    "\u0301开头的组合符号",
]


@cache
def _reviews(name: str, column: str, count: int) -> list[str]:
    with open(SHARED_DATA / "sentiment" / name, encoding="utf-8", newline="") as handle:
        texts = dict.fromkeys(row[column].strip() for row in csv.DictReader(handle))
    return [t for t in texts if len(t) >= 8][:count]


def _real() -> list[str]:
    return _reviews("waimai_10k.csv", "review", 400) + _reviews("online_shopping_10_cats.no_hotel.csv", "review", 400)


@pytest.mark.parametrize("text", EDGES, ids=[f"edge-{i}" for i in range(len(EDGES))])
def test_bulk_hashes_are_the_hashes_of_the_features(text: str) -> None:
    expected = sorted({shingles.feature_hash(feature) for feature in features(text)})
    assert shingles.feature_hashes(text).tolist() == expected


def test_bulk_hashes_match_on_real_posts_reviews_and_reposts() -> None:
    t2s = opencc.OpenCC("s2t")
    texts = _real()
    texts += [t2s.convert(t) for t in texts[:100]] + [f"转发微博//@甲: {t} #吐槽# http://t.cn/1" for t in texts[:100]]
    texts.append("\n\n".join(texts[400:420]))  # a long mail's worth
    for text in texts:
        expected = sorted({shingles.feature_hash(feature) for feature in features(text)})
        assert shingles.feature_hashes(text).tolist() == expected, text


def test_the_feature_hash_is_splitmix64() -> None:
    # splitmix64's first output from state 0 is 0xE220A8397B1DCDAF (Vigna's reference code);
    # the top bit is cleared so a hash fits a signed BIGINT
    assert shingles._mix(0) == 0xE220A8397B1DCDAF & shingles.MASK63
    assert shingles.feature_hash("中文") == shingles._mix(ord("中") << 21 | ord("文"))


def test_fingerprints_are_the_same_in_every_process() -> None:
    texts = ["快递三天了还没到，我要投诉", "late again, support never answered", "好"]
    script = (
        "import json, sys\n"
        "from monitor.tickets.fingerprint import fingerprint\n"
        "print(json.dumps([[list(f.sketch), list(f.keys)] for f in map(fingerprint, json.loads(sys.argv[1]))]))\n"
    )
    here = [[list(f.sketch), list(f.keys)] for f in map(fingerprint, texts)]
    for seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", script, json.dumps(texts)], env=env, check=True,
                             capture_output=True, text=True).stdout
        assert json.loads(out) == here


@pytest.mark.parametrize("count", [1, 2, 5, 30, 3000], ids=lambda n: f"{n}-hashes")
def test_every_bin_gets_a_minimum_of_the_set(count: int) -> None:
    rng = random.Random(count)
    hashes = sorted({rng.getrandbits(63) for _ in range(count)})
    import numpy as np

    minima = fp_module.bin_minima(np.array(hashes, dtype=np.uint64))
    assert len(minima) == fp_module.BINS and set(minima) <= set(hashes)
    for b, value in enumerate(minima):
        own = [h for h in hashes if h >> 60 == b]
        assert value == (min(own) if own else value)  # a non-empty bin keeps its own minimum
    if count == 1:
        assert set(minima) == set(hashes)


def _pairs() -> list[tuple[str, str]]:
    rng = random.Random(16)
    out = []
    for text in _real():
        chars = list(text)
        for at in rng.sample(range(len(chars)), max(1, len(chars) // 10)):
            chars[at] = rng.choice(text)
        out += [(text, f"转发微博//@用户: {text}"), (text, "".join(chars)), (text, text[: int(len(text) * 0.8)])]
    return out


def test_the_estimate_stays_close_to_the_exact_similarity() -> None:
    errors = []
    for a, b in _pairs():
        exact = jaccard(features(a), features(b))
        estimate = fingerprint(a).similarity(fingerprint(b).sketch)
        if len(features(a) | features(b)) <= fp_module.SKETCH:
            assert estimate == pytest.approx(exact), (a, b)  # short posts compare exactly
        errors.append(abs(estimate - exact))
    errors.sort()
    # bottom-24: the standard error at J = 0.5 is ~0.1; measured mean 0.022, p95 0.11 on these
    # 2,400 pairs (bench/fingerprint.py: the old BLAKE2b hashes err as much)
    assert sum(errors) / len(errors) < 0.035
    assert errors[int(0.95 * len(errors))] < 0.15


def test_near_duplicates_share_a_band_key() -> None:
    similar = [(a, b) for a, b in _pairs() if jaccard(features(a), features(b)) >= 0.6]
    found = sum(bool(set(fingerprint(a).keys) & set(fingerprint(b).keys)) for a, b in similar)
    # 1-(1-J^2)^4 is >= 0.78 at J = 0.6 and most pairs are far above: measured 0.98
    assert len(similar) > 1000 and found / len(similar) > 0.95
