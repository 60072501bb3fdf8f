"""Face crops with the 15th-place margin, resized and normalised for the classifiers."""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np
import torch

from workers.config import CROP_MARGIN_RATIO

IMAGENET_MEAN = (0.485, 0.456, 0.406)
"""ImageNet channel means (RGB), the normalisation the timm EfficientNets were trained with."""
IMAGENET_STD = (0.229, 0.224, 0.225)
"""ImageNet channel standard deviations (RGB)."""


def margin_box(
    box: tuple[float, float, float, float], width: int, height: int
) -> tuple[int, int, int, int]:
    """The face box grown by the 15th-place margin, clipped to the frame, in whole pixels.

    margin = h / 0.75 - h for a box of height h, so the face fills 75% of the crop's height;
    half of it goes on each side of both axes (the width grows by the height's margin too).
    """
    x1, y1, x2, y2 = box
    h = y2 - y1
    half = (h / CROP_MARGIN_RATIO - h) / 2
    # Outward rounding: the crop never cuts into the margin.
    left = min(max(math.floor(x1 - half), 0), width - 1)
    top = min(max(math.floor(y1 - half), 0), height - 1)
    right = max(min(math.ceil(x2 + half), width), left + 1)
    bottom = max(min(math.ceil(y2 + half), height), top + 1)
    return left, top, right, bottom


def crop_with_margin(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The face with its margin, cut from the full-size frame (at least 1x1 px, not resized)."""
    left, top, right, bottom = margin_box(box, image.shape[1], image.shape[0])
    return image[top:bottom, left:right]


def resize_crop(crop: np.ndarray, size: int) -> np.ndarray:
    """A size x size copy of a crop, area interpolation as the 15th-place kernel used."""
    resized: np.ndarray = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return resized


def to_batch(crops: Sequence[np.ndarray], size: int) -> torch.Tensor:
    """Crops as one float32 NCHW tensor: resized, scaled to [0, 1], ImageNet-normalised."""
    if not crops:
        return torch.empty((0, 3, size, size), dtype=torch.float32)
    stacked = np.stack([resize_crop(crop, size) for crop in crops])
    batch = torch.from_numpy(stacked).permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return batch.sub_(mean).div_(std).contiguous()
