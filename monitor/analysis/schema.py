"""The rule file format as pydantic models: unknown keys are errors, every field is typed.

This is the schema the rules guide (``docs/rules.zh.md``) documents. It is a superset of the
minimal format (``id``, ``description``, ``enabled``, ``keywords.any``, ``priority``, ``alert``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MatchMode = Literal["token", "substring"]
NegatedPolicy = Literal["exclude", "include"]
IntentName = Literal["question"]
FeedbackType = Literal["complaint", "suggestion", "praise", "inquiry"]
Category = Literal["product", "service", "process", "environment"]


class _Strict(BaseModel):
    # YAML reads ``315`` as an int; a keyword is always text.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


class KeywordSpec(_Strict):
    """A keyword with its own match mode: ``{word: 退款, match: substring}``."""

    word: str = Field(min_length=1)
    match: MatchMode = "token"
    negated: NegatedPolicy | None = None  # overrides the rule's ``negated`` for this keyword


KeywordEntry = str | KeywordSpec


class KeywordGroups(_Strict):
    """``any``: at least one must match; ``all``: every one must; ``none``: none may;
    ``all_of``: every group (a list of entries) needs at least one match.

    An entry is a keyword, ``A NEAR/n B`` (proximity in tokens, ``|`` for alternatives on either
    side), or a mapping with its own match mode / negation policy.
    """

    any: list[KeywordEntry] = Field(default_factory=list)
    all: list[KeywordEntry] = Field(default_factory=list)
    none: list[KeywordEntry] = Field(default_factory=list)
    all_of: list[list[KeywordEntry]] = Field(default_factory=list)


class Thresholds(_Strict):
    """Numeric conditions, all of which must hold when given."""

    sentiment_max: float | None = Field(default=None, ge=-1.0, le=1.0)
    followers_min: int | None = Field(default=None, ge=0)
    engagement_min: int | None = Field(default=None, ge=0)


class RuleModel(_Strict):
    """One rule as written in YAML."""

    id: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$", max_length=100)
    description: str = ""
    enabled: bool = True
    sources: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    match: MatchMode = "token"
    negated: NegatedPolicy = "exclude"  # include: negated mentions ("没有退款") count too
    unless_intent: list[IntentName] = Field(default_factory=list)  # ignore matches in such sentences
    compounds: list[str] = Field(default_factory=list)  # longer words that do not count as a keyword
    keywords: KeywordGroups = Field(default_factory=KeywordGroups)
    regex: list[str] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    priority: Literal["L1", "L2", "L3"] | None = None
    alert: bool = False
    type: FeedbackType | None = None
    category: Category | None = None
    department: str | None = None
    tags: list[str] = Field(default_factory=list)
    review: bool = False

    @field_validator("unless_intent", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class SentimentSettings(_Strict):
    """Which sentiment method to use and where user files are (paths relative to the rule file)."""

    method: Literal["hybrid", "model", "lexicon"] = "hybrid"
    lexicon_weight: float = Field(default=1.5, ge=0.0, le=10.0)
    model: str | None = None
    lexicon: str | None = None
    negative_below: float = Field(default=-0.2, ge=-1.0, le=1.0)
    positive_above: float = Field(default=0.2, ge=-1.0, le=1.0)


class RuleFileModel(_Strict):
    """A whole rule file. Rules are validated one by one (see :class:`RuleModel`) so that one bad
    rule does not hide the errors of the others."""

    rules: list[dict[str, Any]] = Field(default_factory=list)
    dictionaries: list[str] = Field(default_factory=list)
    compounds: list[str] = Field(default_factory=list)  # for every rule of the set
    sentiment: SentimentSettings | None = None
