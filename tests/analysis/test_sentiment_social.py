"""Sentiment on social text: emoticons, repost chains, Cantonese, English, polite service replies."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from monitor.analysis.normalize import Normalizer
from monitor.analysis.schema import SentimentSettings
from monitor.analysis.segment import Segmenter
from monitor.analysis.sentiment import SHIPPED_LEXICON, SentimentStage, build_sentiment
from monitor.analysis.sentiment.lexicon import LexiconScorer, load_lexicon
from monitor.analysis.sentiment.social import clip_tokens, split_post

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures/sentiment"
STAGE = build_sentiment()
LEXICON_STAGE = build_sentiment(SentimentSettings(method="lexicon"))
SEGMENT = Segmenter(w for w in STAGE.words if not w.isascii())
NORMALIZER = Normalizer()


def score(text: str, stage: SentimentStage = STAGE) -> float:
    value = NORMALIZER(text).value
    return stage(value, SEGMENT(value).words).score


def label(text: str, stage: SentimentStage = STAGE) -> str:
    value = NORMALIZER(text).value
    return stage(value, SEGMENT(value).words).label


def sign(value: float) -> int:
    return (value > 0.2) - (value < -0.2)


def read_tsv(name: str) -> list[tuple[str, str]]:
    with (FIXTURES / name).open(encoding="utf-8", newline="") as fh:
        return [(r["text"], r["label"]) for r in csv.DictReader(fh, delimiter="\t")]


# --- emoticons and emoji ---------------------------------------------------------------------

EMOTICONS = [
    ("weibo-laugh", "[哈哈]", 1),
    ("weibo-angry", "[怒][怒]", -1),
    ("weibo-tears-traditional", "[淚]", -1),
    ("weibo-heart-after-words", "今天去了海边[心]", 1),
    ("weibo-crazy-after-neutral-words", "手机又更新了[抓狂]", -1),
    ("emoji-thumbs-up", "👍👍", 1),
    ("emoji-rage", "😡", -1),
    ("emoji-heart-with-selector", "❤️", 1),
    ("text-emoticon-sad", "等了一天 T_T", -1),
    ("doge-alone-is-neutral", "[doge]", 0),
    ("unknown-bracket-is-neutral", "[图片]", 0),
    ("letters-inside-words-are-not-emoticons", "status orzo", 0),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in EMOTICONS], ids=[c[0] for c in EMOTICONS])
def test_emoticons_carry_polarity(text: str, expected: int) -> None:
    assert sign(score(text)) == expected, score(text)


SARCASM = [("doge", "服务真好[doge]"), ("smile", "服务真好[微笑]"), ("slight-smile-emoji", "服务真好🙂")]


@pytest.mark.parametrize("text", [c[1] for c in SARCASM], ids=[c[0] for c in SARCASM])
def test_sarcasm_prone_emoticons_damp_praise(text: str) -> None:
    assert score(text) < score("服务真好") / 2
    assert label(text) != "positive"


def test_emoticon_outweighs_mild_words() -> None:
    assert score("又下雨了[哈哈][哈哈]") > 0.2
    assert score("又下雨了[泪][泪]") < -0.2


# --- repost chains, replies, URLs, mentions, hashtags ------------------------------------------

SPLITS = [
    ("plain", "质量很好", ["质量很好"], 1.0),
    ("own-words-before-chain", "说得对//@a:垃圾公司//@b:投诉", ["说得对"], 1.0),
    ("reply-prefix", "回复@小王:谢谢你", ["谢谢你"], 1.0),
    ("bare-repost-falls-back-to-chain", "转发微博//@a:太失望了//@b:真的", ["太失望了", "真的"], 0.5),
    ("empty-repost-falls-back-to-chain", "//@a:太失望了", ["太失望了"], 0.5),
    ("url-and-mention-cut", "@小王 看这个 http://t.cn/abc 不错", [" 看这个 ", " 不错"], 1.0),
    ("hashtag-cut-when-words-remain", "#垃圾分类# 今天学会了", [" 今天学会了"], 1.0),
    ("hashtag-only-post-is-scored-at-half", "#垃圾客服#", ["垃圾客服"], 0.5),
    ("emoticons-only-own-words", "[怒]//@a:好开心", [], 1.0),
    ("weibo-link-text-cut", "太好了o网页链接", ["太好了"], 1.0),
    ("share-picture-is-a-bare-repost", "分享图片//@a:好开心", ["好开心"], 0.5),
]


@pytest.mark.parametrize(("text", "parts", "weight"), [c[1:] for c in SPLITS], ids=[c[0] for c in SPLITS])
def test_split_post_keeps_the_authors_words(text: str, parts: list[str], weight: float) -> None:
    post = split_post(text)
    assert [text[a:b] for a, b in post.spans] == parts
    assert post.weight == weight


CLIPS = [
    ("whole", ["质量", "很", "好"], [(0, 4)], ["质量", "很", "好"]),
    ("drop-middle", ["好", "//", "@", "a", ":", "差"], [(0, 1), (6, 7)], ["好", "\n", "差"]),
    ("cut-token", ["质量很好"], [(2, 4)], ["很好"]),
    ("nothing", ["好"], [], []),
]


@pytest.mark.parametrize(("tokens", "spans", "expected"), [c[1:] for c in CLIPS], ids=[c[0] for c in CLIPS])
def test_clip_tokens(tokens: list[str], spans: list[tuple[int, int]], expected: list[str]) -> None:
    assert clip_tokens(tokens, spans) == expected


REPOSTS = [
    ("praise-over-quoted-complaint", "支持，说得太好了[赞]//@维权群:这家公司太垃圾了[怒]", 1),
    ("complaint-over-quoted-praise", "笑死，根本不是这样，骗人的//@官方:我们的服务最好[心]", -1),
    ("reply-complaint", "回复@客服:你们每次都这么说，到现在还没解决[怒]", -1),
    ("mention-name-does-not-score", "@垃圾分类小助手 今天学到很多，谢谢", 1),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in REPOSTS], ids=[c[0] for c in REPOSTS])
def test_the_authors_own_words_decide(text: str, expected: int) -> None:
    assert sign(score(text)) == expected, score(text)


def test_bare_repost_scores_quoted_text_weaker() -> None:
    quoted, own = score("转发微博//@a:太失望了，再也不买了"), score("太失望了，再也不买了")
    assert own < quoted < 0


# --- Cantonese ---------------------------------------------------------------------------------

CANTONESE = [
    ("good", "呢間嘢好正", 1),
    ("very-good", "真係勁正", 1),
    ("not-tasty", "啲嘢唔好食", -1),
    ("not-bad", "質素唔錯", 1),
    ("no-problem", "用咗半年都冇問題", 1),
    ("trap", "又中伏", -1),
    ("useless", "部機真係廢", -1),
    ("unbeatable", "啲甜品冇得頂", 1),
    ("cheat", "呢間舖呃人㗎", -1),
    ("so-so", "味道麻麻", -1),
    ("lazy", "做嘢好hea", -1),
    ("worth-it", "真係好抵食", 1),
    ("cannot-stand", "頂唔順", -1),
    ("not-worth", "唔值呢個價", -1),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CANTONESE], ids=[c[0] for c in CANTONESE])
def test_cantonese(text: str, expected: int) -> None:
    assert sign(score(text, LEXICON_STAGE)) == expected, score(text, LEXICON_STAGE)
    assert sign(score(text)) == expected, score(text)


def test_cantonese_hou_is_a_degree_adverb_before_a_sentiment_word() -> None:
    assert score("好差", LEXICON_STAGE) < score("差", LEXICON_STAGE) < 0
    assert score("好難食", LEXICON_STAGE) < score("難食", LEXICON_STAGE) < 0
    assert score("好", LEXICON_STAGE) > 0  # alone it is still "good"


def test_cantonese_negated_degree_softens() -> None:
    assert score("好靚", LEXICON_STAGE) > 0 > score("唔係好靚", LEXICON_STAGE) > score("唔靚", LEXICON_STAGE)


# --- English -----------------------------------------------------------------------------------

ENGLISH = [
    ("praise", "The support team was great, thanks", 1),
    ("not-good", "Not good", -1),
    ("not-bad", "Not bad at all", 1),
    ("contraction", "I don't like it", -1),
    ("curly-contraction", "It isn’t great", -1),
    ("crash", "The app keeps crashing", -1),
    ("never-again-but-good", "The food was bad but the staff were lovely", 1),
    ("no-problems", "No problems at all", 1),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in ENGLISH], ids=[c[0] for c in ENGLISH])
def test_english(text: str, expected: int) -> None:
    assert sign(score(text)) == expected, score(text)


def test_english_intensifiers() -> None:
    assert (
        score("very good", LEXICON_STAGE)
        > score("good", LEXICON_STAGE)
        > score("slightly good", LEXICON_STAGE)
    )
    assert 0 > score("not very good", LEXICON_STAGE) > score("not good", LEXICON_STAGE)


# --- polite service replies --------------------------------------------------------------------

AGENT = [
    ("expedited", "您好，已为您加急处理"),
    ("apology", "给您带来不便，我们深表歉意"),
    ("patience", "感谢您的耐心等待，我们会尽快为您核实"),
    ("cantonese", "對於您嘅情況我哋深表歉意，已經為您跟進"),
    ("english", "Sorry for the inconvenience, we are looking into it."),
]


@pytest.mark.parametrize("text", [c[1] for c in AGENT], ids=[c[0] for c in AGENT])
def test_polite_service_replies_are_neutral(text: str) -> None:
    assert label(text) == "neutral", score(text)


CUSTOMERS = [
    ("greeting-then-complaint", "您好，我的订单一个星期了还没发货，太慢了", -1),
    ("thanks-to-agent", "谢谢你们，问题解决了，很满意", 1),
]


@pytest.mark.parametrize(("text", "expected"), [c[1:] for c in CUSTOMERS], ids=[c[0] for c in CUSTOMERS])
def test_customers_greeting_politely_still_count(text: str, expected: int) -> None:
    assert sign(score(text)) == expected, score(text)


# --- the written sets as a regression floor (bench/analysis_accuracy.py prints the numbers) ------


@pytest.mark.parametrize(
    ("name", "floor"),
    [("weibo.tsv", 0.9), ("cantonese.tsv", 0.9), ("english.tsv", 0.85)],
    ids=["weibo", "cantonese", "english"],
)
def test_written_sets_balanced_accuracy(name: str, floor: float) -> None:
    rows = read_tsv(name)
    recalls = []
    for target in ("0", "1"):
        texts = [t for t, y in rows if y == target]
        hits = sum(1 for t in texts if (score(t) >= 0) == (target == "1"))
        recalls.append(hits / len(texts))
    assert sum(recalls) / 2 >= floor, recalls


def test_agent_replies_set_is_mostly_neutral() -> None:
    rows = read_tsv("agent_replies.tsv")
    neutral = [t for t, _ in rows if label(t) == "neutral"]
    assert len(rows) >= 40 and len(neutral) / len(rows) >= 0.9


def test_user_lexicon_adds_emoticons_and_service_phrases(tmp_path: Path) -> None:
    user = tmp_path / "domain.yaml"
    user.write_text('emoticons:\n  2.0: ["[打call]"]\nservice: [小助手为你]\n', encoding="utf-8")
    merged = load_lexicon(SHIPPED_LEXICON).merged(load_lexicon(user))
    scorer = LexiconScorer(merged)
    assert scorer.score("[打call]", ["[", "打", "call", "]"]) > 0
    reading = scorer.reader("小助手为你处理", ["小助手", "为", "你", "处理"])
    assert reading.agent


def _clip_reference(tokens: list[str], spans: list[tuple[int, int]]) -> list[str]:
    """The token-by-token definition ``clip_tokens`` must keep (it skips runs of whole tokens)."""
    out: list[str] = []
    si = pos = 0
    for token in tokens if spans else []:
        a, b = pos, pos + len(token)
        pos = b
        while si < len(spans) and spans[si][1] <= a:
            si += 1
            if si < len(spans):
                out.append("\n")
        j = si
        while j < len(spans) and spans[j][0] < b:
            s, e = spans[j]
            lo, hi = max(a, s), min(b, e)
            if lo < hi:
                out.append(token if (lo, hi) == (a, b) else token[lo - a : hi - a])
            if e > b:
                break
            j += 1
        if si >= len(spans):
            break
    return out


def test_clip_tokens_matches_the_token_by_token_definition() -> None:
    import random

    rng = random.Random(16)
    for _ in range(3000):
        tokens = ["x" * rng.choice((0, 1, 1, 2, 3, 5)) for _ in range(rng.randint(0, 30))]
        total = sum(map(len, tokens))
        cuts = sorted(rng.sample(range(total + 1), min(total + 1, 2 * rng.randint(0, 4))))
        spans = [(cuts[k], cuts[k + 1]) for k in range(0, len(cuts) - 1, 2)]
        assert clip_tokens(tokens, spans) == _clip_reference(tokens, spans), (tokens, spans)
