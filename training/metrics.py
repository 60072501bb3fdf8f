"""Binary metrics of video verdicts: the DFDC log loss, ROC AUC, accuracy, confusion matrix."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

LOG_LOSS_EPS = 1e-15
"""Predictions are clipped to [eps, 1 - eps] before the log loss, as DFDC's scorer did (the
Kaggle log-loss metric clips at 1e-15, also scikit-learn's historical default), so one
confident mistake costs about 34.5 rather than infinity."""
DECISION_THRESHOLD = 0.5
"""A video is called FAKE at or above this probability (as `DetectionResult.label`)."""


def log_loss(targets: Sequence[float] | np.ndarray, probs: Sequence[float] | np.ndarray) -> float:
    """Mean binary cross-entropy of probabilities against 0/1 (or soft) targets, clipped."""
    y = np.asarray(targets, dtype=np.float64)
    p = np.clip(np.asarray(probs, dtype=np.float64), LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
    if y.size == 0:
        raise ValueError("log loss of no predictions")
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def log_losses(targets: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Log loss of many prediction vectors at once: probs (K, V) against targets (V,) -> (K,)."""
    p = np.clip(probs, LOG_LOSS_EPS, 1.0 - LOG_LOSS_EPS)
    y = targets[None, :]
    result: np.ndarray = -np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p), axis=1)
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


def binary_report(
    targets: Sequence[float] | np.ndarray, probs: Sequence[float] | np.ndarray
) -> dict[str, Any]:
    """Log loss, ROC AUC, accuracy at 0.5 and the confusion matrix (FAKE is positive)."""
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
    }
