"""Evaluation parts: DFDC's clipped log loss, the binary report, degraded copies of clips."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from tests.media import encode_clip, numbered_frames
from training.metrics import LOG_LOSS_EPS, binary_report, log_loss
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
