"""The benchmark's records: a clip of the set, one timed run, and the arithmetic on them."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

ConfigName = Literal["reference", "fast", "fast_full_size"]


@dataclass(frozen=True)
class BenchClip:
    """One video of the benchmark set."""

    name: str
    path: Path
    source: Literal["shared", "generated", "given"]
    width: int
    height: int
    seconds: float
    frames: int


@dataclass
class BenchRun:
    """One timed `detect` of one clip in one configuration."""

    clip: str
    config: ConfigName
    repeat: int
    timings_ms: dict[str, float]
    members_ms: dict[str, float]
    cpu_s: float
    peak_rss_mb: float
    peak_gpu_mb: float | None
    fake_probability: float
    member_scores: dict[str, float | None]
    result: Any = field(default=None, repr=False)  # DetectionResult, kept for agreement checks


def ratio(numerator: float, denominator: float) -> float | None:
    """numerator / denominator rounded to 2 places, None when undefined."""
    return round(numerator / denominator, 2) if denominator > 0 else None


def median(values: Sequence[float]) -> float:
    """The median, 0 for nothing."""
    return float(statistics.median(values)) if values else 0.0
