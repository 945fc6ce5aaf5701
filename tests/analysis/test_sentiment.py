"""Sentiment: lexicon rules (negation, degree, contrast, user lexicon), shipped model, training."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from monitor.analysis.engine import Engine
from monitor.analysis.normalize import CJK_CLASS, Normalizer
from monitor.analysis.schema import SentimentSettings
from monitor.analysis.segment import Segmenter
from monitor.analysis.sentiment import SHIPPED_LEXICON, SHIPPED_MODEL, build_sentiment, cjk_share, load_model
from monitor.analysis.sentiment.features import features
from monitor.analysis.sentiment.lexicon import Lexicon, LexiconScorer, load_lexicon
from monitor.analysis.sentiment.linear import LinearModel, TrainConfig
from monitor.analysis.sentiment.training import TrainingDataError, read_labelled_csv, train_texts
from tests.analysis.conftest import message

LEXICON = load_lexicon(SHIPPED_LEXICON)
segment = Segmenter(w for w in LEXICON.words if not w.isascii())
SCORER = LexiconScorer(LEXICON)
NORMALIZER = Normalizer()


def lexicon_score(text: str) -> float:
    value = NORMALIZER(text).value
    return SCORER.score(value, segment(value).words)


LEXICON_SIGNS = [
    ("positive", "质量很好", 1),
    ("positive-traditional", "質量很好", 1),
    ("negative", "质量很差", -1),
    ("negated-positive", "一点也不好", -1),
    ("negated-negative", "不难吃", 1),
    ("double-negation", "不是不好", 1),
    ("neutral", "今天下午三点到", 0),
]


@pytest.mark.parametrize(("text", "sign"), [c[1:] for c in LEXICON_SIGNS], ids=[c[0] for c in LEXICON_SIGNS])
def test_lexicon_polarity(text: str, sign: int) -> None:
    score = lexicon_score(text)
    assert (score > 0) - (score < 0) == sign, score


def test_degree_adverbs_strengthen_and_weaken() -> None:
    assert lexicon_score("非常差") < lexicon_score("差") < lexicon_score("有点差") < 0


def test_negated_degree_softens_instead_of_flipping() -> None:
    assert lexicon_score("很好") > 0 > lexicon_score("不太好") > lexicon_score("不好")


def test_clause_after_contrast_dominates() -> None:
    assert lexicon_score("包装很好，但是味道太差") < 0
    assert lexicon_score("味道一般，但是服务很好很热情") > 0


def test_user_lexicon_extends_and_overrides(tmp_path: Path) -> None:
    user = tmp_path / "domain.yaml"
    user.write_text("positive:\n  2.0: [秒回]\nnegative:\n  2.0: [好评返现]\n", encoding="utf-8")
    merged = LEXICON.merged(load_lexicon(user))
    segment = Segmenter(["秒回", "好评返现"])
    scorer = LexiconScorer(merged)
    assert SCORER.score("秒回", segment("秒回").words) == 0
    assert scorer.score("秒回", segment("秒回").words) > 0
    assert scorer.score("好评返现", segment("好评返现").words) < 0


MODEL_CASES = [
    ("praise", "东西很好，物流也快，非常满意", "positive"),
    ("praise-traditional", "東西很好，物流也快，非常滿意", "positive"),
    ("complaint", "质量太差了，用了两天就坏了，退货", "negative"),
    ("complaint-traditional", "質量太差了，用了兩天就壞了", "negative"),
    ("negated", "不好用，很失望", "negative"),
]


@pytest.mark.parametrize(("text", "label"), [c[1:] for c in MODEL_CASES], ids=[c[0] for c in MODEL_CASES])
def test_shipped_model_labels(default_engine: Engine, text: str, label: str) -> None:
    sentiment = default_engine(message(text)).sentiment
    assert sentiment is not None and sentiment.label == label and -1 <= sentiment.score <= 1


def test_lexicon_method_is_selectable(tmp_path: Path) -> None:
    stage = build_sentiment(SentimentSettings(method="lexicon"))
    assert stage.method == "lexicon" and stage("很好", ["很", "好"]).label == "positive"


ROWS = [
    (t, 1) for t in ["很好", "非常满意", "好吃", "推荐", "很棒的服务", "物流很快", "喜欢", "质量不错"] * 3
] + [(t, 0) for t in ["很差", "失望", "难吃", "垃圾", "太慢了", "坏了", "退货", "态度恶劣"] * 3]


def test_training_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    config = TrainConfig(epochs=3, min_df=1)
    first = train_texts(ROWS, config)
    second = train_texts(ROWS, config)
    assert first.weights == second.weights and first.bias == second.bias
    path = tmp_path / "m.json"
    first.save(path)
    loaded = LinearModel.load(path)
    assert loaded.score("很好", ["很", "好"]) > 0 > loaded.score("很差", ["很", "差"])


def reference_margin(model: LinearModel, text: str, tokens: list[str]) -> float:
    """``bias + w·x`` straight from :func:`features`: each kind's weights summed in feature order."""
    names = features(text, tokens, sorted(model.ngrams))
    total = 0.0
    for kind in ("w", *map(str, sorted(model.ngrams))):
        total += sum(model.weights.get(n, 0.0) for n in names if n.partition(":")[0] == kind)
    return model.bias + (total / len(names) ** 0.5 if names else 0.0)


MARGIN_TEXTS = [
    ("mail", "快递三天没到，客服态度很差，我要投诉！\n 谢谢  您的回复。质量还不错"),
    ("one-char", "差"),
    ("empty", ""),
    ("whitespace", " \n\t "),
    ("ascii", "the battery is great, 5 stars :)"),
    ("emoji-astral", "好😂差𠀀好"),
    ("lone-surrogate", "很好\udcff很差"),
    # longer than grams.SHORT: the characters' weights come from the array tables, not the dicts
    ("long", "快递三天没到，客服态度很差，我要投诉！\n 谢谢  您的回复。质量还不错好😂差𠀀好很好\udcff很差 ok" * 9),
]
TRIGRAM_MODEL = LinearModel(
    {
        "w:很": 0.5,
        "1:好": 0.25,
        "1:😂": -0.5,  # beyond the Basic Multilingual Plane: no dense table, the hash table for unigrams
        "1:差x": 9.0,
        "2:很好": 0.125,
        "2:😂差": -0.75,
        "2:好": 3.0,
        "3:很好\udcff": -0.3,
        "3:好😂差": 0.7,
        "3:很好": 5.0,
    },
    0.1,
    (3, 1, 2),
)


@pytest.mark.parametrize("model", [load_model(SHIPPED_MODEL), TRIGRAM_MODEL], ids=["shipped", "trigrams"])
@pytest.mark.parametrize("text", [t for _, t in MARGIN_TEXTS], ids=[i for i, _ in MARGIN_TEXTS])
def test_margin_is_the_sum_over_features(model: LinearModel, text: str) -> None:
    """The model's fast paths (code-point keys for characters; arrays for long texts) give exactly
    the features' float."""
    tokens = segment(text).words if text else ()
    assert model.margin(text, tokens) == reference_margin(model, text, list(tokens))


def _regex_share(text: str) -> float:
    """:func:`cjk_share` as its short path computes it: CJK characters and Latin words by regex."""
    cjk = len(re.findall(f"[{CJK_CLASS}]", text))
    latin = len(re.findall("[a-zA-Z]+", text))
    if not latin:
        return 1.0 if cjk else 0.0
    return min(1.0, 2.0 * cjk / (cjk + latin))


SHARE_TEXTS = [
    ("chinese", "快递三天没到，客服态度很差"),
    ("english", "the battery is great, 5 stars"),
    ("mixed", "USB端口少 ok, 质量还行 fine so so"),
    ("letters-at-both-ends", "ab 好 cd ef"),
    ("astral-and-surrogate", "𠀀很😂\udcffx y z好Z"),
    ("no-letters", "12345 !!! ?? ..."),
    ("compatibility-ideographs", "\uf900\ufaff\u3400\u4dbf\u4e00\u9fff a b c d e f g"),
]


@pytest.mark.parametrize("repeat", [1, 40], ids=["short", "long"])
@pytest.mark.parametrize("text", [t for _, t in SHARE_TEXTS], ids=[i for i, _ in SHARE_TEXTS])
def test_cjk_share_counts_characters_and_words(text: str, repeat: int) -> None:
    """Short texts are counted by regex, long ones by table lookups: the same counts."""
    share = cjk_share(text * repeat)
    assert share == _regex_share(text * repeat)


def _reference_total(scorer: LexiconScorer, tokens: list[str], sarcasm: bool) -> float:
    """:meth:`LexiconScorer.total` as its documentation defines it: prepare token by token, then
    one pass over every word (no kinds cache, no visit list, no shortcut past ``_modified``)."""
    lex = scorer.lexicon
    words: list[str] = []
    for token in tokens:
        if token[:1] in ",.!?;:~。、…\n":
            if words and words[-1] != "\n":
                words.append("\n")
        elif token == "t" and len(words) >= 2 and words[-1] in "'’":
            words.pop()
            words[-1] = "not"
        elif not token.isspace():  # glued prefixes are split off Chinese words only
            words.extend(scorer.expand(token) if not token[:1].isascii() else (token,))
    total = clause = 0.0
    weight, start = 1.0, 0
    for i, word in enumerate(words):
        if word == "\n":
            total += clause * weight
            clause, start = 0.0, i + 1
        elif word in lex.contrast:
            total = total * 0.5 + clause * weight * 0.5
            clause, weight, start = 0.0, 1.5, i + 1
        elif word in lex.polarity and not (word in lex.degree and i + 1 < len(words) and words[i + 1] in lex.polarity):
            value = scorer._modified(lex.polarity[word], words[max(start, i - 3) : i])
            clause += value * 0.3 if sarcasm and value > 0 else value
    return total + clause * weight


ODD_LEXICON = Lexicon(
    {"t": 1.0, "not": -0.5, "'": 0.3, "don": 2.0, "好": 1.0, "差": -1.0, "不好": -1.2, "很棒": 1.4},
    {"很": 1.5, "好": 1.2, "don": 1.1},
    frozenset({"不", "not", "don"}),
    frozenset({"但是", "t"}),
)
"""Words in several tables at once (``t`` contrast and sentiment, ``don`` negation, degree and
sentiment): every branch of :meth:`LexiconScorer.total`'s bookkeeping."""


@pytest.mark.parametrize("lexicon", [LEXICON, ODD_LEXICON], ids=["shipped", "odd"])
def test_lexicon_total_is_one_pass_over_the_prepared_words(lexicon: Lexicon) -> None:
    scorer = LexiconScorer(lexicon)
    vocab = ["t", "not", "'", "’", "don", "isn", "好", "差", "不好", "很好", "不很好", "不太好", "很", "不", "太",
             "但是", "but", "very", "good", "bad", "notgood", " ", "\n", ",", "。", "x", "不差", "没有", "满意", "很棒"]
    rng = random.Random(7)
    for trial in range(3000):
        tokens = [rng.choice(vocab) for _ in range(rng.randint(0, 24))]
        sarcasm = trial % 2 == 0
        assert scorer.total(tokens, sarcasm=sarcasm) == _reference_total(scorer, tokens, sarcasm), tokens


def test_training_needs_both_classes() -> None:
    with pytest.raises(TrainingDataError):
        train_texts([("很好", 1), ("不错", 1)])


CSV_CASES = [
    ("numeric", "label,review\n1,很好\n0,很差\n", [("很好", 1), ("很差", 0)]),
    ("words", "text,label\n很好,positive\n很差,neg\n", [("很好", 1), ("很差", 0)]),
    ("chinese", "标签,文本\n正面,很好\n负面,很差\n", [("很好", 1), ("很差", 0)]),
]


@pytest.mark.parametrize(("content", "rows"), [c[1:] for c in CSV_CASES], ids=[c[0] for c in CSV_CASES])
def test_read_labelled_csv(tmp_path: Path, content: str, rows: list[tuple[str, int]]) -> None:
    path = tmp_path / "l.csv"
    path.write_text(content, encoding="utf-8")
    assert read_labelled_csv(path) == rows


def test_read_labelled_csv_reports_line_of_bad_label(tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text("label,text\n1,好\nmaybe,嗯\n", encoding="utf-8")
    with pytest.raises(TrainingDataError, match=r"l.csv:3"):
        read_labelled_csv(path)


def test_user_model_is_loaded_from_rule_config(tmp_path: Path, engine_from: Callable[[str], Engine]) -> None:
    model = train_texts([(t, 1 - y) for t, y in ROWS], TrainConfig(epochs=3, min_df=1))  # inverted labels
    model.save(tmp_path / "inverted.json")
    engine = engine_from(
        "sentiment: {method: model, model: inverted.json}\nrules:\n  - id: a\n    keywords: {any: [x]}\n"
    )
    sentiment = engine(message("很好")).sentiment
    assert sentiment is not None and sentiment.score < 0
