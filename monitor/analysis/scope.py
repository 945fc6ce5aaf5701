"""Negation scope over the token stream: is a keyword occurrence said, or denied?

"这不是投诉" and "没有故障" mention a keyword to deny it; "没有收到退款，我要投诉" denies something
else and then complains. The scope of a negator (``不是``, ``没有``, ``未``, Cantonese ``唔``/``冇``,
English ``not``/``n't``/``never``...) is therefore kept short and explicit:

* it never crosses a clause boundary: punctuation, or a conjunction that starts a new clause
  (``但是``, ``不过``, ``可是``, ``却``, ``然而``, ``but``, ``however``...);
* it ends where a new predicate starts: a personal pronoun (a new subject, or ``我的投诉``), a
  handling verb (``没有处理投诉``: the complaint exists, its handling is denied), a
  consequence marker (``不处理就投诉``: ``就``/``才``/``的话``), a continuation adverb
  (``没修好又故障``: ``又``/``还``/``再``), a modal of resolve (``只能``/``必须``), or an ordinal
  that the negation is really about (``不是第一次投诉``);
* it reaches at most :data:`WINDOW` content tokens to the right of the negator.

Inside that scope an even number of negators cancels out (``不是没有故障``), and a rhetorical
question (``难道不是投诉吗``) asserts rather than denies. Words that *contain* a negator but are
complaint words themselves (``不满``, ``不行``, ``无法``, ``没法``) are single jieba tokens that are
not negators, so they never negate what follows. A negator glued to the front of a keyword in one
token (``没有故障``, ``无故障``) negates it.

Everything works on the token stream and normalized text the engine already has (no extra
segmentation): the scan walks left from the keyword's token over at most a handful of tokens.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Container
from typing import Final

from monitor.analysis.normalize import CJK_CLASS
from monitor.analysis.segment import Tokens

WINDOW: Final = 4
"""Content tokens a negator's scope may span before the keyword."""

NEGATORS: Final = frozenset(
    {
        # Mandarin (text is normalized to simplified, so 沒有/無/並非 arrive as 没有/无/并非)
        "不", "不是", "不算", "不算是", "没有", "没", "无", "未", "并非", "并不是", "并没有", "并未",
        "不用", "不想", "别", "不会", "不要", "从未", "从没", "从来没", "从来没有", "毫无", "绝非",
        "非", "未曾", "没什么", "不必", "无需", "无须", "不需要", "未有", "并无", "不曾", "不就是",
        # 排除 cancels what it governs: 故障已排除 is calm, 不排除起诉 is a threat (double negation)
        "排除",
        # non-assertive: hypothetical and prevention (如有紧急情况请…, 防止起火) assert nothing either
        "如有", "若有", "如遇", "如遇到", "如发生", "如出现", "若出现", "万一", "一旦", "以防", "防止", "避免",
        "预防",
        # Cantonese
        "唔", "冇", "唔系", "唔使",
        # English (folded to lower case)
        "not", "no", "never", "without", "nothing", "none", "nor", "cannot", "dont", "doesnt", "didnt",
        "isnt", "wasnt", "arent", "werent", "wont", "cant", "couldnt", "havent", "hasnt", "hadnt",
    }
)
"""Whole tokens that negate (or make hypothetical) what follows.

Not negators: 不满, 不行, 无法, 没法, 不得不 - complaint words that jieba keeps as one token.
"""

_PREFIX_NEGATORS: Final = ("没有", "没", "无", "不", "未", "冇", "唔", "非", "不是", "并非")
"""A negator glued to the front of a keyword inside one token: 没有故障, 无故障, 冇故障."""

CLAUSE_PUNCTUATION: Final = frozenset(",.!?;:。…\n\r\t\"'“”‘’()[]【】「」『』《》<>~—-|/")
"""Punctuation that ends a clause (not ``、``: an enumeration stays in the negator's scope)."""

CONJUNCTIONS: Final = frozenset(
    {
        "但是", "不过", "可是", "但", "却", "然而", "而是", "只是", "而", "可", "虽然", "虽说", "尽管",
        "因为", "所以", "但却", "结果", "然后", "于是", "否则", "不然", "要不然", "而且", "并且", "况且",
        "but", "however", "though", "although", "yet", "so", "because", "and", "then", "instead",
    }
)
"""Tokens that start a new clause and so end any negation scope."""

SCOPE_ENDS: Final = frozenset(
    {
        # a new subject or a possessor: 没有收到退款我要投诉, 还不处理我的投诉
        "我", "我们", "你", "你们", "他", "她", "他们", "她们", "它", "它们", "咱们", "本人", "老子",
        "i", "we", "you", "they", "he", "she", "my", "your",
        # consequence / continuation / resolve: 不处理就投诉, 没修好又故障, 没办法只能投诉
        "就", "才", "的话", "那", "那么", "又", "还", "再", "也", "只能", "只好", "只得", "必须", "一定",
        # the negation is about the ordinal, not the act: 不是第一次投诉
        "第一次", "头一次", "第一回", "头一回", "唯一",
        # handling verbs: the negation is about the handling, the problem itself is presupposed
        # (没有处理投诉, 未修复故障); existence/perception verbs (出现, 发生, 发现) stay in scope
        "处理", "解决", "修复", "修好", "修", "受理", "回复", "回应", "答复", "理会", "理睬", "跟进", "重视",
        "处置", "搭理", "管",
        # a new time frame: 之前没有故障今天宕机了
        "今天", "昨天", "现在", "刚才", "刚刚", "突然", "后来", "最近", "目前", "今早", "今晚", "这次",
    }
)

_ADVERBS: Final = frozenset({"再", "还", "也", "又", "都"})
"""Scope ends, except right after a negator, where they belong to it: 不用再投诉, 没再故障."""

RHETORICAL: Final = frozenset({"难道", "岂", "莫非", "何尝"})
"""A negation inside a rhetorical question asserts: 难道不是投诉吗."""

_COPULA_NEGATORS: Final = frozenset({"不是", "不就是", "唔系"})
"""``这不是诈骗吗`` (with 吗 closing the clause) asks rhetorically: it asserts."""


_CJK_CHAR: Final = re.compile(f"[{CJK_CLASS}]")


def _visible(word: str) -> bool:
    return not word.isspace()


_PUNCTUATION_ONLY: Final = re.compile("[" + re.escape("".join(sorted(CLAUSE_PUNCTUATION))) + r"\s]+")


def _ends_clause(word: str) -> bool:
    """A conjunction, or a token of punctuation only (the caller skips whitespace tokens); a token
    whose first character is neither is not matched against the pattern at all."""
    if word in CONJUNCTIONS:
        return True
    first = word[:1]
    return (first in CLAUSE_PUNCTUATION or first.isspace()) and _PUNCTUATION_ONLY.fullmatch(word) is not None


_IF: Final = frozenset({"如", "若", "如若", "假如", "倘若"})
_IF_VERBS: Final = frozenset({"有", "遇", "遇到", "发生", "出现"})
"""jieba cuts 如有/如遇 apart: 如 + 有 is the hypothetical 如有."""


def _is_negator(tokens: Tokens, i: int) -> bool:
    word = tokens.words[i]
    if word in NEGATORS:
        return True
    if word in _IF_VERBS:
        return i >= 1 and tokens.words[i - 1] in _IF
    # English "isn't" is cut as isn / ' / t
    return word == "t" and i >= 2 and tokens.words[i - 1] == "'" and tokens.words[i - 2].endswith("n")


def token_index(tokens: Tokens, pos: int) -> int:
    """Index of the token that contains normalized offset ``pos``."""
    return max(0, bisect.bisect_right(tokens.starts, pos) - 1)


def negators_before(tokens: Tokens, start: int, gaps: Container[int] = frozenset()) -> int:
    """How many negators have the keyword starting at ``start`` in their scope (0 = plain).

    ``gaps``: normalized offsets where the original had whitespace between Chinese characters
    (normalization removes it to catch ``投 诉``); at a token boundary it separates clauses the way
    a comma does (``东西没坏 退款``), and so does a space next to Chinese text (``没坏 refund``). A rhetorical question (``难道``, ``不是…吗``) cancels the negation.
    """
    i = token_index(tokens, start)
    words = tokens.words
    count = 0
    copula = False
    prefix = words[i][: start - tokens.starts[i]] if i < len(words) else ""
    if prefix and prefix.endswith(_PREFIX_NEGATORS):
        count += 1
    content = 0
    starts = tokens.starts
    j = i - 1
    while j >= 0:
        word = words[j]
        j -= 1
        if word.isspace():  # not _visible
            if not _space_next_to_chinese(words, j + 1):
                continue
            j = -1  # Chinese needs no spaces: one next to a Chinese word is punctuation
            break
        if _ends_clause(word) or (gaps and starts[j + 2] in gaps):
            j = -1  # nothing beyond the clause counts, rhetorical markers neither
            break
        if word in RHETORICAL:
            return 0
        if (word in NEGATORS or word in _IF_VERBS or word == "t") and _is_negator(tokens, j + 1):
            count += 1
            copula = copula or word in _COPULA_NEGATORS
            content = WINDOW  # a second negator counts only right next to this one (不是没有)
            continue
        if word in SCOPE_ENDS and not (word in _ADVERBS and _negator_left(tokens, j)):
            break
        content += 1
        if content > WINDOW:
            break
    if count and (_rhetorical_before(tokens, j) or (copula and _question_after(tokens, i))):
        return 0
    return count


def _space_next_to_chinese(words: tuple[str, ...], k: int) -> bool:
    """The whitespace token ``k`` touches a Chinese character (``没坏 explosion``)."""
    left = words[k - 1][-1:] if k > 0 else ""
    right = words[k + 1][:1] if k + 1 < len(words) else ""
    return bool(_CJK_CHAR.match(left) or _CJK_CHAR.match(right))


def _negator_left(tokens: Tokens, j: int) -> bool:
    """The visible token at or left of index ``j`` is a negator (不再, 没再, 别再)."""
    while j >= 0 and not _visible(tokens.words[j]):
        j -= 1
    return j >= 0 and _is_negator(tokens, j)


def _question_after(tokens: Tokens, i: int) -> bool:
    """The clause of token ``i`` ends in the question particle 吗."""
    for word in tokens.words[i + 1 :]:
        if word == "吗":
            return True
        if _visible(word) and _ends_clause(word):
            return False
    return False


def _rhetorical_before(tokens: Tokens, j: int) -> bool:
    """A rhetorical marker earlier in the same clause (beyond the scanned window)."""
    while j >= 0:
        word = tokens.words[j]
        if _visible(word) and _ends_clause(word):
            return False
        if word in RHETORICAL:
            return True
        j -= 1
    return False


def is_negated(tokens: Tokens, start: int, gaps: Container[int] = frozenset()) -> bool:
    """True when an odd number of negators scope over the keyword at ``start``."""
    return negators_before(tokens, start, gaps) % 2 == 1
