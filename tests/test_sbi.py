"""Self-Blended Images on a real photo with real MTCNN landmarks (training/sbi.py)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from contract.paths import shared_data_dir
from contract.pipeline import CROP_MARGIN_RATIO
from training.augment import augment_frames, pair_augmentation
from training.sbi import (
    FLICKER_BRIGHTNESS,
    FLICKER_RATIO,
    NO_JITTER,
    draw_blend,
    face_mask,
    flicker,
    post_augment,
    sbi_pair,
    self_blend,
    target_image,
)

REPO_ROOT = Path(__file__).resolve().parent.parent
CROP_SIZE = 224
SEEDS = range(40)

Face = tuple[np.ndarray, np.ndarray, np.ndarray]
"""A 224 px crop (uint8 RGB), its five landmarks and the MTCNN box, both in crop pixels."""


def _photo() -> Path:
    photo = shared_data_dir(REPO_ROOT) / "images" / "obama.jpg"
    if not photo.is_file():
        reason = f"test photo not found at {photo} (set DFDETECT_TEST_DATA)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; in CI it must be present")
        pytest.skip(reason)
    return photo


@pytest.fixture(scope="module")
def face() -> Face:
    """obama.jpg cut with the pipeline's margin around MTCNN's box, resized to 224 px."""
    photo = _photo()  # skip (or fail in CI) before the slow torch import
    from facenet_pytorch import MTCNN

    image = cv2.cvtColor(cv2.imread(str(photo)), cv2.COLOR_BGR2RGB)
    boxes, _, points = MTCNN(keep_all=False, device="cpu").detect(image, landmarks=True)
    assert boxes is not None, "MTCNN found no face in obama.jpg"
    # detect() may return object arrays; the largest face comes first (select_largest default).
    x1, y1, x2, y2 = np.asarray(boxes[0], dtype=np.float64)
    half = ((y2 - y1) / CROP_MARGIN_RATIO - (y2 - y1)) / 2
    left, top = max(int(x1 - half), 0), max(int(y1 - half), 0)
    right = min(int(np.ceil(x2 + half)), image.shape[1])
    bottom = min(int(np.ceil(y2 + half)), image.shape[0])
    crop = image[top:bottom, left:right]
    scale = np.array([CROP_SIZE / crop.shape[1], CROP_SIZE / crop.shape[0]])
    crop = cv2.resize(crop, (CROP_SIZE, CROP_SIZE), interpolation=cv2.INTER_AREA)
    landmarks = (np.asarray(points[0], dtype=np.float64) - [left, top]) * scale
    box = (np.array([[x1, y1], [x2, y2]]) - [left, top]) * scale
    return crop, landmarks, box


def _support_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask > 0)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def test_blended_region_lies_inside_the_face(face: Face) -> None:
    crop, landmarks, box = face
    grow = 0.15 * (box[1] - box[0])  # the face box, 15% larger: a plausible face region
    for seed in SEEDS:
        params = draw_blend(np.random.default_rng(seed))
        fake, mask = self_blend(crop, landmarks, params)
        changed = np.any(fake != target_image(crop, params), axis=-1)
        assert not np.any(changed & (mask == 0)), f"seed {seed}: pixels changed outside the mask"
        x0, y0, x1, y1 = _support_box(mask)
        assert x0 > 0 and y0 > 0 and x1 < CROP_SIZE - 1 and y1 < CROP_SIZE - 1, seed
        assert np.all(landmarks >= [x0, y0]) and np.all(landmarks <= [x1, y1]), seed
        assert np.all([x0, y0] >= box[0] - grow) and np.all([x1, y1] <= box[1] + grow), seed
        # The eyes, nose and mouth are blended, not just the skin around them.
        cols, rows = np.round(landmarks).astype(int).T
        assert np.all(mask[rows, cols] > 0), seed


def test_fake_is_aligned_with_its_source(face: Face) -> None:
    crop, landmarks, _ = face
    for seed in SEEDS:
        params = draw_blend(np.random.default_rng(seed))
        plain = dataclasses.replace(params, target_color=NO_JITTER)
        fake, mask = self_blend(crop, landmarks, plain)
        outside = mask == 0
        assert np.array_equal(fake[outside], crop[outside]), seed
        support = float(np.mean(mask > 0))
        assert 0.15 <= support <= 0.7, f"seed {seed}: mask covers {support:.0%} of the crop"
        assert np.all(mask <= params.ratio + 1e-6) and mask.max() == pytest.approx(params.ratio)
        # Inside the mask the source really is different: a visible blend, not a copy.
        changed = np.any(fake != crop, axis=-1)
        assert changed.mean() > 0.05, f"seed {seed}: only {changed.mean():.1%} changed"


def test_deterministic_given_the_seed(face: Face) -> None:
    crop, landmarks, _ = face
    first = sbi_pair(crop, landmarks, np.random.default_rng(7))
    second = sbi_pair(crop, landmarks, np.random.default_rng(7))
    other = sbi_pair(crop, landmarks, np.random.default_rng(8))
    for a, b in zip(first, second, strict=True):
        assert np.array_equal(a, b)
    assert not np.array_equal(first[1], other[1])
    params = draw_blend(np.random.default_rng(3))
    assert params == draw_blend(np.random.default_rng(3))
    a, _ = self_blend(crop, landmarks, params, np.random.default_rng(1))
    b, _ = self_blend(crop, landmarks, params, np.random.default_rng(1))
    assert np.array_equal(a, b)


def test_same_params_follow_each_frames_landmarks(face: Face) -> None:
    crop, landmarks, _ = face
    dx, dy = 9, -6
    offset = np.array([dx, dy], dtype=np.float64)
    # A second "frame": the face moved by (dx, dy), its landmarks with it.
    moved = np.roll(crop, (dy, dx), axis=(0, 1))
    for seed in range(10):
        # Sharpening, not downscaling: a resampling grid is not shift-equivariant, so only
        # with sharpening must the moved frame give exactly the moved fake.
        params = dataclasses.replace(draw_blend(np.random.default_rng(seed)), frequency="sharpen")
        mask = face_mask(crop.shape[:2], landmarks, params)
        shifted = face_mask(crop.shape[:2], landmarks + offset, params)
        expected = np.roll(mask, (dy, dx), axis=(0, 1))
        np.testing.assert_allclose(shifted, expected, atol=1e-5, err_msg=f"seed {seed}")
        # The whole blend moves too, away from the borders the roll wrapped around.
        fake, _ = self_blend(crop, landmarks, params)
        fake_moved, _ = self_blend(moved, landmarks + offset, params)
        inner = (slice(30, -30), slice(30, -30))
        diff = np.abs(fake_moved.astype(int) - np.roll(fake, (dy, dx), axis=(0, 1)).astype(int))
        assert diff[inner].max() <= 1, seed


def test_flicker_varies_each_frame_inside_the_face_only(face: Face) -> None:
    crop, landmarks, _ = face
    rng = np.random.default_rng(3)
    for seed in range(10):
        params = draw_blend(np.random.default_rng(seed))
        frames = [flicker(params, rng) for _ in range(5)]
        for frame in frames:  # the mask and the geometry stay the sequence's own
            kept = (frame.mask, frame.scale, frame.shift)
            assert kept == (params.mask, params.scale, params.shift)
            assert params.ratio * (1 - FLICKER_RATIO) <= frame.ratio <= params.ratio
            change = frame.source_color.brightness - params.source_color.brightness
            assert abs(change) <= FLICKER_BRIGHTNESS
        assert len({frame.ratio for frame in frames}) == 5, seed
        fakes = [self_blend(crop, landmarks, frame, rng) for frame in frames]
        support = fakes[0][1] > 0
        outside = ~np.logical_or.reduce([mask > 0 for _, mask in fakes])
        target = target_image(crop, params)
        for fake, _ in fakes:  # outside every frame's mask: the real face, untouched
            assert np.array_equal(fake[outside], target[outside]), seed
        # Inside the face the frames of one sequence differ: a swap made frame by frame flickers.
        moved = np.abs(fakes[0][0].astype(int) - fakes[1][0].astype(int))[support]
        assert moved.max() > 0, seed


def test_post_augment_is_the_same_on_every_image(face: Face) -> None:
    crop, _, _ = face
    changed = 0
    for seed in SEEDS:
        a, b, c = post_augment([crop, crop, crop], np.random.default_rng(seed))
        assert np.array_equal(a, b) and np.array_equal(b, c), seed
        assert a.shape == crop.shape and a.dtype == np.uint8
        changed += not np.array_equal(a, crop)
    assert 0 < changed < len(SEEDS)  # sometimes on, sometimes off


def test_pair_augmentation_is_one_draw_for_both_halves(face: Face) -> None:
    crop, _, _ = face
    transform = pair_augmentation()
    changed = padded = 0
    for seed in SEEDS:
        transform.set_random_seed(seed)
        real, fake = augment_frames(transform, np.stack([crop, crop]))
        assert np.array_equal(real, fake), seed  # the same draw: nothing tells the label apart
        changed += not np.array_equal(real, crop)
        padded += bool((real.max(axis=-1) == 0).any())  # a zoomed-out or shifted frame
    assert 0 < changed < len(SEEDS) and padded > 0


def test_sbi_pair_batch_is_label_balanced(face: Face) -> None:
    crop, landmarks, _ = face
    rng = np.random.default_rng(0)
    images, labels = [], []
    for _ in range(8):
        real, fake, mask = sbi_pair(crop, landmarks, rng)
        assert real.shape == fake.shape == crop.shape and mask.shape == crop.shape[:2]
        assert mask.dtype == np.float32 and 0 < mask.max() <= 1
        images += [real, fake]
        labels += [0, 1]
    batch = np.stack(images)
    assert batch.shape == (16, CROP_SIZE, CROP_SIZE, 3)
    assert labels.count(0) == labels.count(1) == 8
    for real, fake in zip(batch[0::2], batch[1::2], strict=True):
        assert not np.array_equal(real, fake)
