"""ROC AUC within strata: fakes compared with reals of the same format only.

A labelled set whose fakes and reals come in different formats rewards a detector for telling
the formats apart. The DFDC dev clips here are such a set: 26 of the 30 face crops (256 or
360 px squares) are fake, 2 of the 8 full frames are; a score that is 1 for a face crop and 0
for a full frame reaches ROC AUC 0.76 on them without looking at a face. Counting only the
(fake, real) pairs of one stratum (here: one frame size) takes the format out of the figure;
what is left is the detector's ranking among clips that format cannot tell apart (and here,
with the format, the footage: every crop is DFDC's, no full-frame real is). It is the
stratified AUC of epidemiology (pairs matched on the confounder), here pooled over the strata
by their pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from training.metrics import BOOTSTRAP_RESAMPLES, binary_report, percentile_interval
from training.scoring import ScoredVideo

UNKNOWN_STRATUM = "unknown"
"""The stratum of a video the pipeline could not read (its frame size is not known)."""


def frame_size(video: ScoredVideo) -> str:
    """A scored video's stratum: its frame size as decoded, "WIDTHxHEIGHT"."""
    if video.result is None:
        return UNKNOWN_STRATUM
    return f"{video.result.video.width}x{video.result.video.height}"


def _split(
    targets: Sequence[float] | np.ndarray,
    probs: Sequence[float] | np.ndarray,
    strata: Sequence[str],
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(stratum, fake scores, real scores) of each stratum, in first-seen order."""
    y = np.asarray(targets, dtype=np.float64) >= 0.5
    p = np.asarray(probs, dtype=np.float64)
    keys = np.asarray(strata, dtype=object)
    if not y.size == p.size == keys.size:
        raise ValueError(f"{y.size} targets, {p.size} scores, {keys.size} strata")
    return [(key, p[(keys == key) & y], p[(keys == key) & ~y]) for key in dict.fromkeys(strata)]


def _wins(fake: np.ndarray, real: np.ndarray) -> np.ndarray:
    """1 where a fake outscores a real, 0.5 on a tie: (fakes, reals)."""
    result: np.ndarray = (fake[:, None] > real[None, :]) + 0.5 * (fake[:, None] == real[None, :])
    return result


def stratified_auc(
    targets: Sequence[float] | np.ndarray,
    probs: Sequence[float] | np.ndarray,
    strata: Sequence[str],
) -> float | None:
    """The share of same-stratum (fake, real) pairs the fake wins (ties count half); None when
    no stratum holds both labels."""
    parts = _split(targets, probs, strata)
    pairs = sum(fake.size * real.size for _, fake, real in parts)
    if pairs == 0:
        return None
    return float(sum(_wins(fake, real).sum() for _, fake, real in parts) / pairs)


def stratified_auc_interval(
    targets: Sequence[float] | np.ndarray,
    probs: Sequence[float] | np.ndarray,
    strata: Sequence[str],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> list[float] | None:
    """95% percentile-bootstrap interval of `stratified_auc`: each stratum's fakes and reals
    are resampled separately, so every resample keeps each stratum's label counts."""
    rng = np.random.default_rng(seed)
    won = np.zeros(resamples)
    pairs = 0
    for _, fake, real in _split(targets, probs, strata):
        if fake.size == 0 or real.size == 0:
            continue
        fake_counts = rng.multinomial(fake.size, np.full(fake.size, 1 / fake.size), resamples)
        real_counts = rng.multinomial(real.size, np.full(real.size, 1 / real.size), resamples)
        won += np.einsum("bi,ij,bj->b", fake_counts, _wins(fake, real), real_counts)
        pairs += fake.size * real.size
    return None if pairs == 0 else percentile_interval(won / pairs)


def strata_report(
    targets: Sequence[float] | np.ndarray,
    probs: Sequence[float] | np.ndarray,
    strata: Sequence[str],
) -> dict[str, Any]:
    """The stratified AUC, its interval, how many pairs it rests on of how many, and each
    stratum's label counts."""
    parts = _split(targets, probs, strata)
    fakes = sum(fake.size for _, fake, _ in parts)
    reals = sum(real.size for _, _, real in parts)
    return {
        "auc": stratified_auc(targets, probs, strata),
        "interval_95": stratified_auc_interval(targets, probs, strata),
        "pairs": sum(fake.size * real.size for _, fake, real in parts),
        "all_pairs": fakes * reals,
        "strata": [
            {"stratum": key, "fake": int(fake.size), "real": int(real.size)}
            for key, fake, real in parts
        ],
    }


def clip_report(scored: Sequence[ScoredVideo], scores: Sequence[float]) -> dict[str, Any]:
    """`binary_report` of the clips' scores, with the AUC over same-frame-size pairs only
    (`auc_same_frame_size`, None where no frame size holds both labels) and its interval."""
    targets, sizes = [s.video.target for s in scored], [frame_size(s) for s in scored]
    report = binary_report(targets, scores)
    report["auc_same_frame_size"] = stratified_auc(targets, scores, sizes)
    report["interval_95"]["auc_same_frame_size"] = stratified_auc_interval(targets, scores, sizes)
    return report
