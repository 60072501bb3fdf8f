"""Evaluation parts: DFDC's clipped log loss, the binary report, degraded copies of clips."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tests.media import encode_clip, numbered_frames
from training.metrics import LOG_LOSS_EPS, binary_report, bootstrap_intervals, log_loss
from training.reencode import parse_augmentations, reencode
from workers.sampling import sample_frames


def test_log_loss_clips_a_confident_mistake_as_dfdc_did() -> None:
    assert log_loss([1.0], [0.0]) == pytest.approx(-math.log(LOG_LOSS_EPS))  # about 34.5
    assert log_loss([0.0, 1.0], [0.5, 0.5]) == pytest.approx(math.log(2))


def test_binary_report_counts_the_confusion_matrix_with_fake_as_positive() -> None:
    report = binary_report([1, 1, 0, 0, 0], [0.9, 0.4, 0.6, 0.1, 0.2])
    assert report["confusion"] == {"true_fake": 1, "false_fake": 1, "true_real": 2, "false_real": 1}
    assert report["accuracy"] == pytest.approx(0.6)
    assert report["auc"] == pytest.approx(5 / 6)


def test_auc_is_absent_when_every_video_has_one_label() -> None:
    assert binary_report([1, 1], [0.2, 0.9])["auc"] is None
    assert binary_report([1, 1], [0.2, 0.9])["interval_95"]["auc"] is None


def test_bootstrap_intervals_agree_with_resampling_the_videos_one_by_one() -> None:
    rng = np.random.default_rng(7)
    targets = np.array([1] * 28 + [0] * 10)
    probs = np.clip(0.5 + 0.15 * (targets - 0.5) + rng.normal(0, 0.2, 38), 0.01, 0.99)
    probs[[3, 30]] = 0.5  # a tie across the labels counts half
    fast = bootstrap_intervals(targets, probs, seed=1)
    # The plain way: draw fakes and reals with replacement, score each resample from scratch.
    fakes, reals = np.flatnonzero(targets == 1), np.flatnonzero(targets == 0)
    aucs, losses = [], []
    for _ in range(2000):
        pick = np.concatenate([rng.choice(fakes, fakes.size), rng.choice(reals, reals.size)])
        aucs.append(roc_auc_score(targets[pick], probs[pick]))
        losses.append(log_loss(targets[pick], probs[pick]))
    assert fast["auc"] == pytest.approx(np.percentile(aucs, [2.5, 97.5]), abs=0.03)
    assert fast["log_loss"] == pytest.approx(np.percentile(losses, [2.5, 97.5]), abs=0.03)
    assert fast["auc"] is not None
    low, high = fast["auc"]
    assert low < roc_auc_score(targets, probs) < high and high - low > 0.1  # 38 clips: loose


def test_bootstrap_intervals_are_exact_where_every_resample_agrees() -> None:
    intervals = bootstrap_intervals([1, 1, 1, 0, 0], [0.9, 0.8, 0.7, 0.2, 0.1])
    assert intervals["auc"] == [1.0, 1.0]
    assert bootstrap_intervals([1, 1, 0, 0], [0.5] * 4)["auc"] == [0.5, 0.5]  # ties count half
    assert intervals["log_loss"][0] <= log_loss([1, 1, 1, 0, 0], [0.9, 0.8, 0.7, 0.2, 0.1])
    assert bootstrap_intervals([1, 0], [0.9, 0.1], seed=3) == bootstrap_intervals(
        [1, 0], [0.9, 0.1], seed=3
    )


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "numbered.mp4"
    return encode_clip(path, numbered_frames(24, width=160, height=96), fps=24)


def test_halffps_copy_keeps_every_other_frame(clip: Path, tmp_path: Path) -> None:
    copy = sample_frames(reencode(clip, tmp_path / "h.mp4", "halffps"), 1, 12).info
    assert (copy.frame_count, copy.fps) == (12, pytest.approx(12.0))


def test_downscale_copy_has_half_the_size(clip: Path, tmp_path: Path) -> None:
    copy = sample_frames(reencode(clip, tmp_path / "d.mp4", "downscale"), 1, 24).info
    assert (copy.width, copy.height, copy.frame_count) == (80, 48, 24)


def test_jpeg_copy_keeps_size_and_frames_but_not_pixels(clip: Path, tmp_path: Path) -> None:
    original = sample_frames(clip, 1, 24)
    copy = sample_frames(reencode(clip, tmp_path / "j.mp4", "jpeg"), 1, 24)
    assert (copy.info.width, copy.info.height, copy.info.frame_count) == (160, 96, 24)
    difference = np.abs(copy.frames[0].image.astype(int) - original.frames[0].image.astype(int))
    assert 0 < difference.mean() < 20


def test_unknown_augmentations_are_refused() -> None:
    assert parse_augmentations("jpeg, halffps,jpeg") == ["jpeg", "halffps"]
    with pytest.raises(ValueError, match="blur"):
        parse_augmentations("jpeg,blur")
