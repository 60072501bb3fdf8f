"""Training augmentations of the 15th-place solution, identical across the frames of a sequence.

The 15th-place `more_transform` (ryanwongsa/DeepFakeDetectionChallenge,
augmentations/augment.py): one of JPEG quality 20-70, downscale by 0.25-0.5 and back, or a
resize to 1/2-1/4; horizontal flip; noise; brightness/contrast; gamma; CLAHE; channel shuffle;
hue/saturation; the whole chain on 2 of 3 samples. Albumentations samples the parameters once
per call and applies them to every image of its `images` target, which is how a sequence gets
the same augmentation on all its frames. CutMix (Yun et al. 2019) works on the last two axes
of a batch, so a sequence shares one box too.
"""

from __future__ import annotations

import albumentations as A
import cv2
import numpy as np
import torch

AUGMENT_PROB = 2 / 3
"""15th place: the augmentation chain is applied to 2 of 3 samples (Compose p=2/3)."""
JPEG_QUALITY = (20, 70)
"""15th place: JPEG quality range."""
DOWNSCALE_RANGE = (0.25, 0.5)
"""15th place: Downscale scale_min 0.25, scale_max 0.5 (down and back up)."""
RESIZE_RANGE = (0.25, 0.5)
"""15th place: resize to height // s, s in 2..4: the crop is smaller, upsampled at batching."""
CUTMIX_ALPHA = 1.0
"""CutMix box area ~ Beta(alpha, alpha); alpha 1 (uniform) as in the 15th place and the paper."""
NOISE_STD = (0.012, 0.028)
"""Gaussian noise's standard deviation, a fraction of 255: the 15th place ran albumentations
0.4, whose GaussNoise default (variance 10-50) is a std of 3.2-7.1 grey levels. Albumentations 2's
own default (0.2-0.44, i.e. 51-112 grey levels) buries the face, so the range is spelled out."""
HALF_FPS_PROB = 0.5
"""Share of training sequences read at half the frame rate (every other frame)."""


def training_augmentation(seed: int | None = None) -> A.Compose:
    """The 15th-place training augmentation; call it with `images=(L, H, W, 3)` uint8."""
    low, high = RESIZE_RANGE
    return A.Compose(
        [
            A.OneOf(
                [
                    A.ImageCompression(quality_range=JPEG_QUALITY, p=0.5),
                    A.Downscale(
                        scale_range=DOWNSCALE_RANGE,
                        interpolation_pair={
                            "downscale": cv2.INTER_AREA,
                            "upscale": cv2.INTER_LINEAR,
                        },
                        p=0.5,
                    ),
                    A.RandomScale(scale_limit=(low - 1.0, high - 1.0), p=1.0),
                ],
                p=1.0,
            ),
            A.HorizontalFlip(p=0.5),
            A.GaussNoise(std_range=NOISE_STD, p=0.2),
            A.RandomBrightnessContrast(p=0.2),
            A.RandomGamma(p=0.2),
            A.CLAHE(p=0.2),
            A.ChannelShuffle(p=0.2),
            A.HueSaturationValue(hue_shift_limit=10, sat_shift_limit=10, val_shift_limit=10, p=0.2),
        ],
        p=AUGMENT_PROB,
        seed=seed,
    )


PAIR_SCALE = (0.85, 1.15)
"""Zoom of an SBI pair about the crop's centre: the paper crops with a random margin, and a face
near the frame's edge reaches the pipeline black-padded (the DFDC face-crop clips mostly do)."""
PAIR_SHIFT = (-0.05, 0.05)
"""Shift of an SBI pair, a fraction of the crop's side; the uncovered border is black."""


def pair_augmentation() -> A.Compose:
    """What an SBI pair gets after blending, one draw for the real and its fake (SBI, Sec. 4.1).

    Framing (zoom, shift, black border) and the appearance of low-light, noisy DFDC footage
    (noise, gamma, brightness/contrast, hue): starter v2 had none of these, and scored real
    but dim, grainy or black-padded DFDC faces as fake. The same draw on both halves, so none of
    it can tell the label apart. Seeded per item with `set_random_seed`.
    """
    return A.Compose(
        [
            A.Affine(
                scale=PAIR_SCALE,
                translate_percent=PAIR_SHIFT,
                border_mode=cv2.BORDER_CONSTANT,
                fill=0,
                p=0.5,
            ),
            A.GaussNoise(std_range=NOISE_STD, p=0.2),
            A.RandomBrightnessContrast(p=0.2),
            A.RandomGamma(p=0.2),
            A.HueSaturationValue(hue_shift_limit=10, sat_shift_limit=10, val_shift_limit=10, p=0.2),
        ]
    )


def augment_frames(transform: A.Compose, frames: np.ndarray) -> np.ndarray:
    """Apply one draw of `transform` to every frame of (L, H, W, 3) uint8 frames."""
    out: np.ndarray = transform(images=frames)["images"]
    return out


def frame_window(
    available: int, length: int, rng: np.random.Generator, *, half_fps_prob: float
) -> list[int]:
    """Which of `available` cached frames form a training sequence of `length`.

    With room for it (2L - 1 frames or more), a share of sequences take every other frame:
    the 15th place's half-frame-rate augmentation. Otherwise L consecutive frames from a
    random start.
    """
    if length > available:
        raise ValueError(f"sequences of {length} frames need at least that many, have {available}")
    stride = 2 if 2 * length - 1 <= available and rng.random() < half_fps_prob else 1
    span = stride * (length - 1) + 1
    start = int(rng.integers(0, available - span + 1))
    return list(range(start, start + span, stride))


def cutmix(
    images: torch.Tensor, targets: torch.Tensor, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """CutMix a batch: a box from a shuffled partner, targets mixed by the box's area.

    `images` is (B, ..., H, W): for sequences (B, L, C, H, W) every frame gets the same box
    from the same partner sequence.
    """
    height, width = images.shape[-2:]
    lam = rng.beta(CUTMIX_ALPHA, CUTMIX_ALPHA)
    perm = torch.from_numpy(rng.permutation(images.shape[0])).to(images.device)
    cut = (1.0 - lam) ** 0.5
    box_h, box_w = int(height * cut), int(width * cut)
    cy, cx = int(rng.integers(height)), int(rng.integers(width))
    top, bottom = max(cy - box_h // 2, 0), min(cy + box_h // 2, height)
    left, right = max(cx - box_w // 2, 0), min(cx + box_w // 2, width)
    mixed = images.clone()
    mixed[..., top:bottom, left:right] = images[perm][..., top:bottom, left:right]
    kept = 1.0 - (bottom - top) * (right - left) / (height * width)
    return mixed, kept * targets + (1.0 - kept) * targets[perm]
