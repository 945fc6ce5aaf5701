"""Checks that need a loaded engine: keywords that segmentation makes unmatchable.

Whole-token matching needs the keyword to start and end on token boundaries. Every keyword is in
the user dictionary, but a longer dictionary word can still swallow it in running text. We place
each keyword in a few neutral contexts and warn when it would not match in any of them.
"""

from __future__ import annotations

from monitor.analysis.engine import Engine
from monitor.analysis.rules import KeywordTerm, NearTerm
from monitor.analysis.ruleset import LintIssue
from monitor.analysis.segment import Segmenter
from monitor.errors import ConfigIssue

CONTEXTS = ("{}", "我说{}了", "，{}。", "这个{}")


def _matchable(word: str, segment: Segmenter) -> bool:
    for context in CONTEXTS:
        text = context.format(word)
        start = text.index(word)
        tokens = segment(text)
        boundaries = tokens.boundaries
        end = start + len(word)
        inner = any(k in boundaries for k in range(start + 1, end))
        if end in boundaries and (start in boundaries or not inner):
            return True
    return False


def lint_segmentation(engine: Engine) -> list[LintIssue]:
    """Warnings for token-mode keywords that never come out as whole tokens."""
    issues: list[LintIssue] = []
    checked: dict[str, bool] = {}
    for rule in engine.rules:
        for group in (rule.any, rule.all, rule.none):
            for term in group:
                if term.mode != "token":
                    continue
                words = (term.word,) if isinstance(term, KeywordTerm) else term.words
                assert isinstance(term, KeywordTerm | NearTerm)
                for word in words:
                    if word.isascii():
                        continue
                    ok = checked.setdefault(word, _matchable(word, engine.segmenter))
                    if not ok:
                        cut = "/".join(engine.segmenter(word).words)
                        issues.append(
                            LintIssue(
                                "warning",
                                ConfigIssue(
                                    rule.file,
                                    rule.line,
                                    rule.id,
                                    f"分词把关键词 '{word}' 切成 {cut}，整词匹配可能永远不触发；"
                                    "可改用 match: substring / segmentation splits this keyword",
                                ),
                            )
                        )
    return issues
