"""Binary metrics of video verdicts: the DFDC log loss, ROC AUC, accuracy, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypedDict

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

LOG_LOSS_EPS = 1e-15
"""Predictions are clipped to [eps, 1 - eps] before the log loss, as DFDC's scorer did (the
Kaggle log-loss metric clips at 1e-15, also scikit-learn's historical default), so one
confident mistake costs about 34.5 rather than infinity."""
DECISION_THRESHOLD = 0.5
"""A video is called FAKE at or above this probability (as `DetectionResult.label`)."""
BOOTSTRAP_RESAMPLES = 4000
"""Resamples behind each 95% interval: its ends move by under 0.01 between seeds (38 clips)."""


def video_log_losses(targets: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Each prediction's clipped binary cross-entropy against its 0/1 (or soft) target."""
    p = np.clip(probs, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
    result: np.ndarray = -(targets * np.log(p) + (1.0 - targets) * np.log(1.0 - p))
    return result


def log_loss(targets: Sequence[float] | np.ndarray, probs: Sequence[float] | np.ndarray) -> float:
    """Mean binary cross-entropy of probabilities against 0/1 (or soft) targets, clipped."""
    y = np.asarray(targets, dtype=np.float64)
    if y.size == 0:
        raise ValueError("log loss of no predictions")
    return float(np.mean(video_log_losses(y, np.asarray(probs, dtype=np.float64))))


def log_losses(targets: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Log loss of many prediction vectors at once: probs (K, V) against targets (V,) -> (K,)."""
    result: np.ndarray = video_log_losses(targets[None, :], probs).mean(axis=1)
    return result


def roc_auc(
    targets: Sequence[float] | np.ndarray, probs: Sequence[float] | np.ndarray
) -> float | None:
    """Area under the ROC curve; None when the videos are all of one label (AUC undefined)."""
    y = np.asarray(targets)
    if len(set(y.tolist())) < 2:
        return None
    return float(roc_auc_score(y, np.asarray(probs)))


def roc_points(
    targets: Sequence[float] | np.ndarray, probs: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """(false positive rates, true positive rates) of the ROC curve; None with one label."""
    y = np.asarray(targets)
    if len(set(y.tolist())) < 2:
        return None
    fpr, tpr, _ = roc_curve(y, np.asarray(probs))
    return fpr, tpr


class Intervals(TypedDict):
    """95% intervals as [low, high]; AUC's is None when the videos are all of one label."""

    auc: list[float] | None
    log_loss: list[float]


def bootstrap_intervals(
    targets: Sequence[float] | np.ndarray,
    probs: Sequence[float] | np.ndarray,
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> Intervals:
    """95% percentile-bootstrap intervals of ROC AUC and log loss over the videos.

    Fakes and reals are resampled separately (stratified), so every resample keeps the set's
    label counts and AUC stays defined. A resample is a count per video (multinomial), so AUC is
    counts_fake @ wins @ counts_real over the pairs (ties count half) and needs no re-sort: the
    4,000 resamples of 38 clips take milliseconds. On a few dozen clips these intervals are wide,
    which is the point of reporting them: 38 dev clips cannot tell an AUC of 0.70 from 0.80.
    """
    y = np.asarray(targets, dtype=np.float64) >= 0.5
    p = np.asarray(probs, dtype=np.float64)
    rng = np.random.default_rng(seed)
    losses = video_log_losses(y.astype(np.float64), p)
    fake, real = p[y], p[~y]

    def counts(n: int) -> np.ndarray:
        return rng.multinomial(n, np.full(n, 1.0 / n), size=resamples).astype(np.float64)

    if fake.size == 0 or real.size == 0:
        drawn = counts(p.size)
        loss = drawn @ losses / p.size
        return {"auc": None, "log_loss": percentile_interval(loss)}
    fake_counts, real_counts = counts(fake.size), counts(real.size)
    loss = (fake_counts @ losses[y] + real_counts @ losses[~y]) / p.size
    wins = (fake[:, None] > real[None, :]) + 0.5 * (fake[:, None] == real[None, :])
    auc = np.einsum("bi,ij,bj->b", fake_counts, wins, real_counts) / (fake.size * real.size)
    return {"auc": percentile_interval(auc), "log_loss": percentile_interval(loss)}


def percentile_interval(values: np.ndarray) -> list[float]:
    """The 95% percentile interval of bootstrap values, [2.5th, 97.5th]."""
    low, high = np.percentile(values, [2.5, 97.5])
    return [float(low), float(high)]


def format_auc(auc: float | None, digits: int = 3) -> str:
    """An AUC for tables; "n/a" where it is undefined (one label, or no pairs to compare)."""
    return "n/a" if auc is None else f"{auc:.{digits}f}"


def format_interval(interval: list[float] | None, digits: int = 2) -> str:
    """An interval as "low-high" for tables; "n/a" where it is undefined (AUC of one label)."""
    return "n/a" if interval is None else f"{interval[0]:.{digits}f}-{interval[1]:.{digits}f}"


def binary_report(
    targets: Sequence[float] | np.ndarray, probs: Sequence[float] | np.ndarray
) -> dict[str, Any]:
    """Log loss, ROC AUC, accuracy at 0.5, the confusion matrix (FAKE is positive) and the 95%
    bootstrap intervals of log loss and AUC."""
    y = np.asarray(targets, dtype=np.float64)
    p = np.asarray(probs, dtype=np.float64)
    predicted = p >= DECISION_THRESHOLD
    fake = y >= 0.5
    confusion = {
        "true_fake": int(np.sum(predicted & fake)),
        "false_fake": int(np.sum(predicted & ~fake)),
        "true_real": int(np.sum(~predicted & ~fake)),
        "false_real": int(np.sum(~predicted & fake)),
    }
    return {
        "videos": int(y.size),
        "fake": int(fake.sum()),
        "real": int((~fake).sum()),
        "log_loss": log_loss(y, p),
        "auc": roc_auc(y, p),
        "accuracy": float(np.mean(predicted == fake)),
        "confusion": confusion,
        "interval_95": bootstrap_intervals(y, p),
    }
