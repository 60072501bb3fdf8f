"""Per-member post-processing of per-face scores into one video score, and the member average.

Pure Python and numpy (no torch): the manifest stores a `PostprocessSpec` per member, and the
fitting tools read and write it without loading a network.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

Cascade = tuple[tuple[float, int], ...]
Scores = Sequence[float] | np.ndarray
"""Per-face (or per-sequence) fake probabilities of one member: a list or a 1-D array."""

DEFAULT_CASCADE: Cascade = ((0.8, 8), (0.7, 15), (0.6, 25))
"""(threshold, minimum count) pairs for frame members: the project's own default.

The 15th-place write-up published the cascade rule but not its numbers. These counts are about
15%, 30% and 50% of the 50 frames sampled per video (one face each); they stand until
`dfdetect fit-postprocess` fits the cascade by grid search on labelled videos.
"""

CONFIDENT_THRESHOLD = 0.8
"""DFDC winner (selimsef, kernel_utils.confident_strategy): a score above this counts as fake."""
CONFIDENT_MIN_FAKES = 11
"""DFDC winner: more than this many confident fakes are needed (`fakes > 11`)."""
CONFIDENT_FAKE_DIVISOR = 2.5
"""DFDC winner: and more than `n // 2.5` of the n scores (`fakes > sz // 2.5`)."""
CONFIDENT_REAL_THRESHOLD = 0.2
"""DFDC winner: a score below this counts as confidently real."""
CONFIDENT_REAL_FRACTION = 0.9
"""DFDC winner: more than 0.9·n confident reals answer with their mean."""

Strategy = Literal["cascade", "mean", "confident"]


def scale_cascade(cascade: Cascade, divisor: int) -> Cascade:
    """Divide a cascade's counts, rounding up: a frame cascade for members that score sequences."""
    return tuple((threshold, max(1, math.ceil(count / divisor))) for threshold, count in cascade)


class PostprocessSpec(BaseModel):
    """How one member turns its per-face (or per-sequence) scores into a video score."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = "cascade"
    cascade: Cascade = DEFAULT_CASCADE
    confident_threshold: float = CONFIDENT_THRESHOLD

    @field_validator("cascade")
    @classmethod
    def _falling_thresholds_rising_counts(cls, cascade: Cascade) -> Cascade:
        for threshold, count in cascade:
            if not 0.0 <= threshold <= 1.0 or count < 1:
                raise ValueError(f"cascade pair {(threshold, count)}: need 0 <= t <= 1, count >= 1")
        for (t0, c0), (t1, c1) in itertools.pairwise(cascade):
            if t1 >= t0 or c1 < c0:
                raise ValueError(
                    "cascade thresholds must fall strictly and counts must not fall: "
                    f"{(t0, c0)} then {(t1, c1)}"
                )
        return cascade


def _as_array(scores: Scores) -> np.ndarray:
    array = np.asarray(scores, dtype=np.float64).reshape(-1)
    if array.size == 0:
        raise ValueError("no scores to post-process")
    return array


def cascade_postprocess(scores: Scores, cascade: Sequence[tuple[float, int]]) -> float:
    """15th-place cascade: the first (t, count) with at least `count` scores > t gives their mean.

    Otherwise the mean of all scores. "Exceed" is strict: a score equal to t does not count.
    """
    array = _as_array(scores)
    for threshold, count in cascade:
        above = array[array > threshold]
        if above.size >= count:
            return float(above.mean())
    return float(array.mean())


def confident_strategy(scores: Scores, t: float = CONFIDENT_THRESHOLD) -> float:
    """DFDC winner's rule (selimsef/dfdc_deepfake_challenge, kernel_utils.confident_strategy).

    With n scores and `fakes` of them > t: if fakes > 11 and fakes > n // 2.5 (floor division),
    the mean of those; elif more than 0.9·n scores are < 0.2, the mean of those; else the mean.
    """
    array = _as_array(scores)
    size = array.size
    fakes = array[array > t]
    if fakes.size > CONFIDENT_MIN_FAKES and fakes.size > size // CONFIDENT_FAKE_DIVISOR:
        return float(fakes.mean())
    reals = array[array < CONFIDENT_REAL_THRESHOLD]
    if reals.size > CONFIDENT_REAL_FRACTION * size:
        return float(reals.mean())
    return float(array.mean())


def mean_strategy(scores: Scores) -> float:
    """The plain mean of the scores."""
    return float(_as_array(scores).mean())


def postprocess(scores: Scores, spec: PostprocessSpec) -> float | None:
    """One member's video score by its spec; None when the member has no scores (no crops)."""
    if len(scores) == 0:
        return None
    if spec.strategy == "cascade":
        return cascade_postprocess(scores, spec.cascade)
    if spec.strategy == "confident":
        return confident_strategy(scores, spec.confident_threshold)
    return mean_strategy(scores)


def combine_members(member_scores: Sequence[float | None]) -> float | None:
    """Mean of the members that scored (None skipped, so an empty member cannot poison it)."""
    present = [score for score in member_scores if score is not None]
    if not present:
        return None
    return float(np.mean(present))
