"""The fused dictionary cut gives exactly jieba's ``lcut(HMM=False)`` tokens, with the default
rules' words added, on the shared review corpora and on generated long complaint mail."""

from __future__ import annotations

import csv
import random

import pytest

from monitor.analysis.dictcut import DictCut
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
    return DictCut(made[0].FREQ, made[0].total), made[1]


@pytest.mark.parametrize(
    "text",
    ["", "a", "投诉", "abc123 def", "usb接口坏了3次", "报警器报警", "12315-0883", "不 太 好\r\n很好\t!", "𠮷野家很好吃"],
    ids=["empty", "letter", "word", "latin", "mixed", "compound", "number", "whitespace", "astral"],
)
def test_edge_cases_match_jieba(text: str, pair: tuple[DictCut, jieba.Tokenizer]) -> None:
    cut, ref = pair
    assert cut(text) == ref.lcut(text, HMM=False)
