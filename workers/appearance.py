"""A face's appearance descriptor for linking tracks across sequences: a colour histogram.

No face-embedding network installs offline here (facenet-pytorch ships MTCNN's weights only),
and the gap between two sequences is about a second: hue and saturation of the face and its
hair and clothes margin tell people apart well enough (measured in tests/test_tracks.py's clips).
"""

from __future__ import annotations

import numpy as np

HUE_BINS = 12
SATURATION_BINS = 4
VALUE_BINS = 4


def colour_descriptor(crop: np.ndarray) -> np.ndarray:
    """L1-normalised joint hue x saturation x value histogram of an RGB uint8 crop."""
    if crop.size == 0:
        return np.full(HUE_BINS * SATURATION_BINS * VALUE_BINS, 1.0 / (HUE_BINS * 16))
    rgb = crop.reshape(-1, 3).astype(np.float32) / 255.0
    high = rgb.max(axis=1)
    low = rgb.min(axis=1)
    chroma = high - low
    saturation = np.where(high > 0, chroma / np.maximum(high, 1e-6), 0.0)
    r, g, b = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    safe = np.maximum(chroma, 1e-6)
    hue = (
        np.select(
            [high == r, high == g],
            [((g - b) / safe) % 6.0, (b - r) / safe + 2.0],
            (r - g) / safe + 4.0,
        )
        / 6.0
    )
    h = np.minimum((hue * HUE_BINS).astype(int), HUE_BINS - 1)
    s = np.minimum((saturation * SATURATION_BINS).astype(int), SATURATION_BINS - 1)
    v = np.minimum((high * VALUE_BINS).astype(int), VALUE_BINS - 1)
    bins = (h * SATURATION_BINS + s) * VALUE_BINS + v
    hist = np.bincount(bins, minlength=HUE_BINS * SATURATION_BINS * VALUE_BINS).astype(np.float64)
    return hist / hist.sum()


def appearance_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Hellinger distance of two normalised histograms: 0 identical, 1 disjoint."""
    return float(np.sqrt(max(0.0, 1.0 - float(np.sum(np.sqrt(a * b))))))
