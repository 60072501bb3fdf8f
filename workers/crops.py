"""Face crops with the 15th-place margin, cut from the full frame and resized.

Normalisation is the member's: models/batching.py `crops_to_batch`.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from contract.pipeline import CROP_MARGIN_RATIO


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
