"""`dfdetect calibrate`: the temperature of a model's answers (contract/calibration.py), fitted
for the lowest log loss on labelled videos, with a leave-one-out estimate of what it gives on
videos it was not fitted on.

With one parameter the fit is a logistic regression on the logit without an intercept: convex
in beta = 1 / temperature, its derivative rises with beta, so bisection finds it. Fit on videos
not used for training, with the sampling you serve with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contract.calibration import Calibration, calibrate, logit, scale
from contract.operating import OperatingPoint, OperatingPoints
from models.manifest import Manifest, load_manifest, save_manifest
from models.operating import load_operating_points, save_operating_points
from training.metrics import log_loss

BETA_RANGE = (1e-3, 1e3)
"""Inverse temperatures searched: 1000 (scores all but 0.5) down to 0.001 (a hundredfold
sharpening). A model whose scores rank the videos backwards gets the top of the range."""
BISECTIONS = 200
"""Halvings of log(beta)'s interval: far below float precision."""


def _logits(probabilities: Sequence[float]) -> np.ndarray:
    return np.array([logit(float(p)) for p in probabilities], dtype=np.float64)


def _gradient(beta: float, z: np.ndarray, y: np.ndarray) -> float:
    """d/d(beta) of the mean log loss of sigmoid(beta * z)."""
    p = 1.0 / (1.0 + np.exp(-np.clip(beta * z, -700.0, 700.0)))
    return float(np.mean((p - y) * z))


def fit_temperature(probabilities: Sequence[float], targets: Sequence[float]) -> float:
    """The temperature that minimises the log loss of the calibrated probabilities."""
    z, y = _logits(probabilities), np.asarray(targets, dtype=np.float64)
    low, high = (math.log(b) for b in BETA_RANGE)
    if _gradient(math.exp(low), z, y) >= 0.0:
        return 1.0 / BETA_RANGE[0]
    if _gradient(math.exp(high), z, y) <= 0.0:
        return 1.0 / BETA_RANGE[1]
    for _ in range(BISECTIONS):
        middle = (low + high) / 2.0
        if _gradient(math.exp(middle), z, y) < 0.0:
            low = middle
        else:
            high = middle
    return 1.0 / math.exp((low + high) / 2.0)


def leave_one_out(probabilities: Sequence[float], targets: Sequence[float]) -> list[float]:
    """Each video calibrated by the temperature fitted on all the others."""
    out = []
    for i, probability in enumerate(probabilities):
        rest = [p for j, p in enumerate(probabilities) if j != i]
        rest_targets = [t for j, t in enumerate(targets) if j != i]
        out.append(scale(probability, fit_temperature(rest, rest_targets)))
    return out


@dataclass(frozen=True)
class CalibrationFit:
    """A fitted calibration and the log losses that judge it."""

    calibration: Calibration
    log_loss_after: float
    """On the videos it was fitted on: optimistic; the leave-one-out figure is the honest one."""


def fit_calibration(
    probabilities: Sequence[float], targets: Sequence[float], fitted_on: str
) -> CalibrationFit:
    """Fit on uncalibrated video scores (0/1 targets, 1 fake)."""
    if len(probabilities) < 2 or len(set(targets)) < 2:
        raise ValueError("calibration needs at least one FAKE and one REAL video")
    temperature = fit_temperature(probabilities, targets)
    calibration = Calibration(
        temperature=temperature,
        fitted_on=fitted_on,
        videos=len(probabilities),
        log_loss_before=log_loss(targets, probabilities),
        log_loss_cross_validated=log_loss(targets, leave_one_out(probabilities, targets)),
    )
    after = log_loss(targets, [scale(p, temperature) for p in probabilities])
    return CalibrationFit(calibration, after)


def uncalibrated(probability: float, calibration: Calibration | None) -> float:
    """The score before `calibration` (its inverse): what a calibrated model's answer was."""
    return probability if calibration is None else scale(probability, 1.0 / calibration.temperature)


def recalibrated_table(
    table: OperatingPoints, old: Calibration | None, new: Calibration
) -> OperatingPoints:
    """An operating-points table measured under `old` moved onto `new`'s scale: the map is
    monotonic, so every video stays on the same side of every threshold."""

    def move(threshold: float) -> float:
        if threshold in (0.0, 1.0):
            return threshold  # the table's ends: every video, none
        moved = calibrate(uncalibrated(threshold, old), new)
        return math.floor(moved * 1e6) / 1e6  # rounded down, as the table's thresholds are

    points: list[OperatingPoint] = []
    for point in table.points:
        threshold = move(point.threshold)
        if points and points[-1].threshold == threshold:
            continue  # merged at the table's 6 decimals: the lowest one's rates hold there
        rates = point.model_dump(exclude={"threshold"})
        points.append(OperatingPoint(threshold=threshold, **rates))
    return table.model_copy(
        update={
            "points": points,
            "fake_threshold": move(table.fake_threshold),
            "real_threshold": move(table.real_threshold),
            "temperature": new.temperature,
        }
    )


def apply_calibration(model_dir: Path, calibration: Calibration) -> Manifest:
    """Write `calibration` into the manifest (checkpoints untouched, so checksums stay valid)
    and move the directory's operating-points table, if it holds a current one, onto it."""
    manifest = load_manifest(model_dir)
    table = load_operating_points(model_dir, manifest)
    calibrated = manifest.model_copy(update={"calibration": calibration})
    save_manifest(model_dir, calibrated)
    if table is not None:
        save_operating_points(
            model_dir, recalibrated_table(table, manifest.calibration, calibration)
        )
    return calibrated


def format_fit(fit: CalibrationFit, previous: Calibration | None, auc: float | None) -> str:
    """What `dfdetect calibrate` prints."""
    c = fit.calibration
    was = f"{previous.temperature:.4g}" if previous else "none"
    rank = f"{auc:.3f}" if auc is not None else "undefined"
    return "\n".join(
        [
            f"calibration on {c.fitted_on}",
            f"temperature {c.temperature:.4g} (was {was})",
            f"log loss {c.log_loss_before:.4f} uncalibrated, {fit.log_loss_after:.4f} calibrated "
            f"on these videos, {c.log_loss_cross_validated:.4f} leave-one-out (what to expect "
            "on others)",
            f"ROC AUC {rank} either way: a temperature keeps the order",
        ]
    )
