"""Parts of training: the 15th-place schedule, CutMix, sequence-wide augmentation, frame
windows, balanced sampling, the post-processing grid search and the DFDC folder reader."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import albumentations as A
import cv2
import numpy as np
import pytest
import torch
from skimage import data as skdata

from contract.errors import DatasetError
from models.manifest import MemberSpec
from models.postprocess import PostprocessSpec, cascade_postprocess
from training.augment import (
    augment_frames,
    cutmix,
    frame_window,
    pair_augmentation,
    training_augmentation,
)
from training.cache import CacheSettings, write_settings
from training.datasets import balanced_sampler
from training.dfdc import read_dfdc
from training.fit_postprocess import _Table, cascades, count_grid, fit_member
from training.schedule import TrainOptions, lr_factor
from training.train_sequence import check_length

STEPS = 10  # optimiser steps an epoch


def test_learning_rate_warms_up_to_ten_times_over_the_first_epoch() -> None:
    factors = [lr_factor(step, STEPS, 10.0, 4) for step in range(STEPS + 1)]
    assert factors[0] == 1.0
    assert factors[STEPS] == pytest.approx(10.0)
    assert all(a < b for a, b in itertools.pairwise(factors))


def test_learning_rate_then_follows_cosine_cycles_of_four_epochs() -> None:
    cycle = 4 * STEPS
    start = STEPS
    assert lr_factor(start + cycle // 2, STEPS, 10.0, 4) == pytest.approx(5.0)
    assert lr_factor(start + cycle - 1, STEPS, 10.0, 4) < 0.02
    assert lr_factor(start + cycle, STEPS, 10.0, 4) == pytest.approx(10.0)  # restart


def test_cutmix_pastes_one_box_into_every_frame_of_a_sequence() -> None:
    ones, zeros = torch.ones(1, 5, 3, 32, 32), torch.zeros(1, 5, 3, 32, 32)
    images, targets = torch.cat([ones, zeros]), torch.tensor([1.0, 0.0])
    for seed in range(20):
        mixed, mixed_targets = cutmix(images, targets, np.random.default_rng(seed))
        frames = mixed[0]
        assert all(torch.equal(frames[0], frame) for frame in frames)  # same box in all frames
        pasted = float((frames[0, 0] == 0).float().mean())  # the box came from the zero clip
        assert mixed_targets[0] == pytest.approx(1.0 - pasted)
        assert mixed_targets[1] == pytest.approx(float((mixed[1, 0, 0] == 1).float().mean()))


def test_augmentation_draws_once_for_all_frames_of_a_sequence() -> None:
    crop = cv2.resize(skdata.astronaut(), (64, 64), interpolation=cv2.INTER_AREA)
    transform = training_augmentation(seed=0)
    changed = 0
    for _ in range(20):
        out = augment_frames(transform, np.stack([crop] * 4))
        assert all(np.array_equal(out[0], frame) for frame in out[1:])
        changed += not np.array_equal(out[0], crop)
    assert changed >= 8  # about 2 in 3 samples are augmented (15th place: p=2/3)


@pytest.mark.parametrize("make", [lambda: training_augmentation(seed=0), pair_augmentation])
def test_noise_is_the_15th_places_few_grey_levels(make) -> None:  # type: ignore[no-untyped-def]
    # The 15th place's albumentations 0.4 GaussNoise: variance 10-50, a std of 3.2-7.1 grey
    # levels. Albumentations 2's default (51-112 levels) would bury the face.
    noise = [t for t in make().transforms if isinstance(t, A.GaussNoise)]
    assert len(noise) == 1
    alone = A.Compose([noise[0]])
    alone.transforms[0].p = 1.0
    grey = np.full((128, 128, 3), 128, dtype=np.uint8)
    for seed in range(5):
        alone.set_random_seed(seed)
        spread = float(alone(image=grey)["image"].astype(np.float64).std())
        assert 2.5 < spread < 8.0, spread


def test_half_frame_rate_windows_take_every_other_frame() -> None:
    rng = np.random.default_rng(0)
    window = frame_window(9, 5, rng, half_fps_prob=1.0)
    assert window == list(range(0, 9, 2))
    assert frame_window(5, 5, rng, half_fps_prob=1.0) == [0, 1, 2, 3, 4]  # no room: consecutive
    with pytest.raises(ValueError, match="at least"):
        frame_window(3, 5, rng, half_fps_prob=0.0)


def test_vectorised_cascade_answers_as_cascade_postprocess() -> None:
    rng = np.random.default_rng(1)
    scores = [rng.beta(2, 2, size=int(rng.integers(1, 40))) for _ in range(50)]
    table = _Table(scores)
    for cascade in list(cascades(count_grid(scores)))[::97]:
        expected = [cascade_postprocess(s, cascade) for s in scores]
        np.testing.assert_allclose(table.cascade(cascade), expected, rtol=1e-12)


def spec(postprocess: PostprocessSpec) -> MemberSpec:
    return MemberSpec(
        name="m", kind="frame", backbone="b", image_size=8, checkpoint="m.safetensors",
        sha256="0" * 64, trained=True, postprocess=postprocess,
    )  # fmt: skip


def test_grid_search_finds_a_cascade_that_beats_the_mean() -> None:
    # Fakes show a few confident frames among many ordinary ones: the mean hides them.
    rng = np.random.default_rng(2)
    real = [rng.uniform(0.2, 0.5, 50) for _ in range(10)]
    fake = [
        np.concatenate([rng.uniform(0.2, 0.5, 42), rng.uniform(0.9, 1.0, 8)]) for _ in range(10)
    ]
    fit = fit_member(
        spec(PostprocessSpec(strategy="mean")), real + fake, np.r_[[0.0] * 10, [1.0] * 10]
    )
    mean = next(c for c in fit.families if c.family == "mean")
    assert fit.winner.spec.strategy == "cascade"
    assert fit.winner.log_loss < mean.log_loss - 0.1


def test_grid_search_keeps_the_current_spec_on_a_tie() -> None:
    scores = [np.full(10, 0.3), np.full(10, 0.6)]
    current = spec(PostprocessSpec(strategy="mean"))
    fit = fit_member(current, scores, np.array([0.0, 1.0]))
    assert fit.winner is fit.current  # every candidate answers the mean here


def write_metadata(folder: Path, entries: object) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "metadata.json").write_text(json.dumps(entries))
    return folder


def test_dfdc_folder_gives_labelled_videos_in_name_order(tmp_path: Path) -> None:
    folder = write_metadata(
        tmp_path / "d", {"b.mp4": {"label": "REAL"}, "a.mp4": {"label": "FAKE"}}
    )
    videos = read_dfdc(folder)
    assert [(v.path.name, v.label, v.target) for v in videos] == [
        ("a.mp4", "FAKE", 1.0),
        ("b.mp4", "REAL", 0.0),
    ]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ({"a.mp4": {"label": "fake"}}, "use FAKE or REAL"),
        ({"../a.mp4": {"label": "FAKE"}}, "must be a file name"),
        ({}, "non-empty"),
    ],
)
def test_bad_metadata_says_what_to_fix(tmp_path: Path, entries: object, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        read_dfdc(write_metadata(tmp_path / "d", entries))


def test_folder_without_metadata_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match=r"metadata\.json"):
        read_dfdc(tmp_path)


def test_balanced_sampling_draws_each_label_about_equally() -> None:
    targets = [0.0] + [1.0] * 9
    draws = list(balanced_sampler(targets, 2000, seed=0))
    real = sum(targets[i] == 0.0 for i in draws) / len(draws)
    assert 0.45 < real < 0.55


def test_training_on_one_label_is_refused() -> None:
    with pytest.raises(DatasetError, match="only FAKE videos"):
        balanced_sampler([1.0, 1.0], 4, seed=0)


def test_sequences_longer_than_the_cached_ones_are_refused(tmp_path: Path) -> None:
    write_settings(
        tmp_path, CacheSettings(sequences=2, sequence_length=3, crop_size=32, detect_scale=1.0)
    )
    options = TrainOptions(
        caches=[tmp_path], val=[], out=tmp_path, name="x", image_size=32, epochs=1
    )
    with pytest.raises(DatasetError, match="--sequence-length 5 or more"):
        check_length(options, 5)
