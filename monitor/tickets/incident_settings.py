"""Settings of incident detection (the ``incidents:`` section of the main configuration)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["L1", "L2", "L3"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SpikeRule(_Model):
    """Open an incident when a story has ``min_count`` posts in ``window_minutes`` and at least
    ``baseline_factor`` times its own average per window over the previous ``baseline_hours``."""

    window_minutes: float = Field(10.0, gt=0, le=1440)
    min_count: int = Field(20, ge=2)
    baseline_factor: float = Field(3.0, ge=1)
    baseline_hours: float = Field(24.0, gt=0, le=720)
    priority: Level = "L2"


def _default_thresholds() -> dict[Level, float]:
    return {"L1": 50_000.0, "L2": 10_000.0}


class HeatConfig(_Model):
    """Heat = Σ likes·w + reposts·w + replies·w + followers·w over a story's posts."""

    likes: float = Field(1.0, ge=0)
    reposts: float = Field(3.0, ge=0)
    replies: float = Field(2.0, ge=0)
    followers: float = Field(0.01, ge=0)
    thresholds: dict[Level, float] = Field(default_factory=_default_thresholds)


class IncidentsConfig(_Model):
    enabled: bool = True
    similarity: float = Field(0.6, ge=0.2, le=1.0)
    """Estimated Jaccard similarity (character bigrams) for a post to join a story."""
    cluster_ttl_hours: float = Field(72.0, gt=0)
    """Stories quiet for longer are not matched any more (a new cluster starts)."""
    require_finding: bool = True
    """Only stories where a rule fired (a complaint, a risk keyword) become incidents."""
    spikes: list[SpikeRule] = Field(
        default_factory=lambda: [SpikeRule(), SpikeRule(min_count=100, priority="L1")]
    )
    heat: HeatConfig = HeatConfig()
    quiet_minutes: float = Field(120.0, gt=0)
    """Auto-resolve an incident when no new post joined it for this long."""
    top_messages: int = Field(3, ge=1, le=20)
