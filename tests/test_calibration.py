"""Temperature scaling (contract/calibration.py, training/calibrate.py): pure arithmetic, checked
against what it claims: the fitted temperature minimises the log loss, recovers a known
overconfidence, keeps the order and 0.5, and moves an operating-points table exactly."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from contract.calibration import Calibration, calibrate
from contract.operating import operating_points
from training.calibrate import (
    BETA_RANGE,
    fit_calibration,
    fit_temperature,
    leave_one_out,
    recalibrated_table,
    uncalibrated,
)
from training.metrics import log_loss, roc_auc


def _at(temperature: float) -> Calibration:
    return Calibration(temperature=temperature, fitted_on="test", videos=2)


def _overconfident(count: int, seed: int = 0) -> tuple[list[float], list[float]]:
    """Labels drawn from sigmoid(z / 2), scores sigmoid(z): twice as sure as they should be."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0.0, 3.0, count)
    targets = (rng.random(count) < 1.0 / (1.0 + np.exp(-z / 2.0))).astype(float)
    return (1.0 / (1.0 + np.exp(-z))).tolist(), targets.tolist()


def test_calibration_keeps_one_half_and_the_order_and_pulls_towards_one_half() -> None:
    scores = [1e-9, 0.01, 0.2, 0.5, 0.7, 0.99, 1.0]
    soft = [calibrate(p, _at(2.5)) for p in scores]
    assert soft[3] == 0.5
    assert soft == sorted(soft) and len(set(soft)) == len(soft)
    assert all(abs(s - 0.5) < abs(p - 0.5) for s, p in zip(soft, scores, strict=True) if p != 0.5)
    assert all(0.0 < s < 1.0 for s in soft)  # 0 and 1 stay finite


def test_no_calibration_and_a_temperature_of_one_change_nothing() -> None:
    for p in (0.01, 0.3, 0.5, 0.93):
        assert calibrate(p, None) == p
        assert calibrate(p, _at(1.0)) == pytest.approx(p, abs=1e-12)


def test_uncalibrated_undoes_calibrate() -> None:
    for p in (1e-5, 0.04, 0.5, 0.61, 0.9999):
        assert uncalibrated(calibrate(p, _at(3.7)), _at(3.7)) == pytest.approx(p, rel=1e-9)


def test_a_calibration_must_have_a_positive_temperature() -> None:
    with pytest.raises(ValidationError):
        Calibration(temperature=0.0, fitted_on="test", videos=3)


def test_the_fit_recovers_a_known_overconfidence() -> None:
    scores, targets = _overconfident(20_000)
    assert fit_temperature(scores, targets) == pytest.approx(2.0, rel=0.05)


def test_the_fitted_temperature_beats_every_other_on_its_videos() -> None:
    scores, targets = _overconfident(60, seed=3)
    best = fit_temperature(scores, targets)
    fitted = log_loss(targets, [calibrate(p, _at(best)) for p in scores])
    for temperature in np.geomspace(0.2, 20.0, 200):
        other = log_loss(targets, [calibrate(p, _at(float(temperature))) for p in scores])
        assert fitted <= other + 1e-12


def test_scores_that_rank_backwards_are_flattened_to_one_half() -> None:
    temperature = fit_temperature([0.9, 0.8, 0.2, 0.1], [0.0, 0.0, 1.0, 1.0])
    assert temperature == pytest.approx(1.0 / BETA_RANGE[0])
    assert calibrate(0.9, _at(temperature)) == pytest.approx(0.5, abs=1e-3)


def test_leave_one_out_calibrates_each_video_without_it() -> None:
    scores, targets = _overconfident(12, seed=5)
    held_out = leave_one_out(scores, targets)
    alone = fit_temperature(scores[1:], targets[1:])
    assert held_out[0] == pytest.approx(calibrate(scores[0], _at(alone)))


def test_fit_calibration_reports_before_after_and_leave_one_out() -> None:
    scores, targets = _overconfident(40, seed=7)
    fit = fit_calibration(scores, targets, "40 test videos")
    c = fit.calibration
    assert c.videos == 40 and c.fitted_on == "40 test videos"
    assert c.log_loss_before == pytest.approx(log_loss(targets, scores))
    assert c.log_loss_cross_validated is not None and c.log_loss_before is not None
    # In-sample it can only help; held out it is a fair guess, worse than in-sample.
    assert fit.log_loss_after <= c.log_loss_before
    assert fit.log_loss_after <= c.log_loss_cross_validated
    calibrated = [calibrate(p, c) for p in scores]
    assert roc_auc(targets, calibrated) == pytest.approx(roc_auc(targets, scores))


def test_fit_calibration_needs_both_labels() -> None:
    with pytest.raises(ValueError, match="FAKE and one REAL"):
        fit_calibration([0.2, 0.9, 0.4], [1.0, 1.0, 1.0], "fakes only")


@pytest.mark.parametrize("temperature", [0.7, 2.9, 900.0])
def test_a_moved_table_has_the_rates_measured_on_the_calibrated_scores(temperature: float) -> None:
    """900: a model no better than chance squeezes every score to within 1e-6 of 0.5, where
    the table's thresholds (6 decimals) merge as a fresh measurement's do."""
    scores, targets = _overconfident(30, seed=11)
    labels = [int(t) for t in targets]
    old, new = _at(1.6), _at(temperature)
    served = [calibrate(p, old) for p in scores]  # what a model calibrated by `old` answered
    moved = recalibrated_table(operating_points(labels, served, "test"), old, new)
    fresh = operating_points(labels, [calibrate(p, new) for p in scores], "test")
    assert moved.temperature == new.temperature
    assert [(p.false_positive_rate, p.true_positive_rate) for p in moved.points] == [
        (p.false_positive_rate, p.true_positive_rate) for p in fresh.points
    ]
    for a, b in zip(moved.points, fresh.points, strict=True):
        assert math.isclose(a.threshold, b.threshold, abs_tol=5e-6)
    assert math.isclose(moved.fake_threshold, fresh.fake_threshold, abs_tol=5e-6)
    assert math.isclose(moved.real_threshold, fresh.real_threshold, abs_tol=5e-6)
