"""The dictionary cut (jieba-rs) gives exactly jieba's ``lcut(HMM=False)`` tokens, with the default
rules' words added, on the shared review corpora, on generated long complaint mail and around every
Unicode code point."""

from __future__ import annotations

import csv
import random
import subprocess
import sys

import pytest

from monitor.analysis.dictcut import DictCut, table
from monitor.analysis.engine import Engine, load_engine
from monitor.analysis.jieba_import import jieba
from tests.analysis.conftest import RULES
from tests.helpers.mailbox import _paragraphs, _reviews
from tests.shared_data import SHARED_DATA


@pytest.fixture(scope="module")
def engine() -> Engine:
    return load_engine([RULES])


@pytest.fixture(scope="module")
def reference(engine: Engine) -> jieba.Tokenizer:
    """jieba itself, with the words the engine's segmenter adds (same frequencies)."""
    tok = jieba.Tokenizer()
    tok.initialize()
    words = (w for w in engine.rule_set.words | engine.sentiment.words if not w.isascii() and w.strip())
    for word in sorted(set(words)):
        tok.add_word(word, freq=tok.suggest_freq(word, tune=False))
    return tok


def _column(name: str, column: str, step: int) -> list[str]:
    with (SHARED_DATA / "sentiment" / name).open(encoding="utf-8", newline="") as fh:
        return [row[column] for i, row in enumerate(csv.DictReader(fh)) if i % step == 0 and row[column]]


CORPORA = {
    "waimai": lambda: _column("waimai_10k.csv", "review", 2),
    "shopping": lambda: _column("online_shopping_10_cats.no_hotel.csv", "review", 8),
    "long-mail": lambda: [_paragraphs(random.Random(i), _reviews(3_000), 1_900) for i in range(60)],
}


@pytest.mark.parametrize("corpus", list(CORPORA), ids=list(CORPORA))
def test_same_tokens_as_jieba(corpus: str, engine: Engine, reference: jieba.Tokenizer) -> None:
    texts = CORPORA[corpus]()
    assert len(texts) > 50
    normalized = [engine.normalizer(t).value for t in texts]
    differ = [t for t in texts + normalized if list(engine.segmenter(t).words) != reference.lcut(t, HMM=False)]
    assert differ == []


@pytest.fixture(scope="module")
def pair() -> tuple[DictCut, jieba.Tokenizer]:
    """A cutter and jieba, both with ``报警`` added (so ``报警器`` tests the tie to longer words)."""
    made = []
    for _ in range(2):
        tok = jieba.Tokenizer()
        tok.initialize()
        tok.add_word("报警", freq=tok.suggest_freq("报警", tune=False))
        made.append(tok)
    return DictCut(table(made[0].FREQ, made[0].total)), made[1]


@pytest.mark.parametrize(
    "text",
    ["", "a", "投诉", "abc123 def", "usb接口坏了3次", "报警器报警", "12315-0883", "不 太 好\r\n很好\t!", "𠮷野家很好吃",
     "坏了\udcff\udc80投诉a\udcffb", "\x00报警\x00"],
    ids=["empty", "letter", "word", "latin", "mixed", "compound", "number", "whitespace", "astral", "surrogates",
         "sentinel"],
)
def test_edge_cases_match_jieba(text: str, pair: tuple[DictCut, jieba.Tokenizer]) -> None:
    cut, ref = pair
    assert cut(text) == ref.lcut(text, HMM=False)


TEMPLATES = ("测试{c}文本a{c}1", "{c}{c}ab", "1.{c}-x", "中国{c}\r\n{c} b", "报警{c}器")


def test_every_code_point_cuts_as_jieba(pair: tuple[DictCut, jieba.Tokenizer]) -> None:
    """Block and whitespace patterns agree for every character: each code point (surrogates too)
    placed inside, between and after words gives jieba's tokens."""
    cut, ref = pair
    points = [*range(0x3_0000), *range(0xE_0000, 0xE_0200), 0x10_FFFF]
    texts = (t.format(c=chr(cp)) for cp in points for t in TEMPLATES)
    differ = [text for text in texts if cut(text) != ref.lcut(text, HMM=False)]
    assert differ == []


def test_total_includes_re_added_words() -> None:
    """jieba counts a re-added word's frequency into ``total`` again; the sentinel carries that
    difference, so the log-probabilities (and with them close routes) match."""
    made = []
    for _ in range(2):
        tok = jieba.Tokenizer()
        tok.initialize()
        for word in ("报警", "报警", "故障", "系统故障"):
            tok.add_word(word, freq=tok.suggest_freq(word, tune=False) * 50)
        made.append(tok)
    assert made[0].total > sum(made[0].FREQ.values())  # the case the sentinel exists for
    cut, ref = DictCut(table(made[0].FREQ, made[0].total)), made[1]
    texts = [_paragraphs(random.Random(i), _reviews(300), 600) for i in range(20)]
    assert [cut(t) for t in texts] == [ref.lcut(t, HMM=False) for t in texts]


def test_rjieba_default_instance_is_never_built() -> None:
    """The cutter loads rjieba's extension without the package ``__init__`` (whose default instance
    holds jieba-rs's own dictionary, ~33 MB); a later ``import rjieba`` reuses the loaded module."""
    code = (
        "import sys\n"
        "from monitor.analysis.dictcut import DictCut, table\n"
        "cut = DictCut(table({'报警': 5, '报': 0}, 10))\n"
        "assert cut('报警器报警') == ['报警', '器', '报警'], cut('报警器报警')\n"
        "assert 'rjieba' not in sys.modules and 'rjieba.rjieba' in sys.modules\n"
        "loaded = sys.modules['rjieba.rjieba']\n"
        "import rjieba\n"
        "assert rjieba.Jieba is loaded.Jieba\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
