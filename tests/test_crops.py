"""Margin crops (15th place: margin = h / 0.75 - h) and the classifier input batch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from contract.pipeline import IMAGENET_MEAN, IMAGENET_STD
from models.batching import crops_to_batch
from workers.crops import (
    crop_with_margin,
    margin_box,
    resize_crop,
)


def test_the_margin_adds_a_third_of_the_height_split_over_both_sides_of_both_axes() -> None:
    # h = 120: margin = 120 / 0.75 - 120 = 40, so 20 px on every side (width uses h too).
    assert margin_box((100.0, 50.0, 180.0, 170.0), 640, 480) == (80, 30, 200, 190)


def test_fractional_boxes_round_outwards() -> None:
    # h = 60: margin 20, half 10 -> (90.5, 40.25, 150.5, 120.25) before rounding.
    assert margin_box((100.5, 50.25, 140.5, 110.25), 640, 480) == (90, 40, 151, 121)


def test_the_margin_is_clipped_at_the_frame_edges() -> None:
    assert margin_box((5.0, 10.0, 105.0, 130.0), 120, 140) == (0, 0, 120, 140)


def test_a_box_outside_the_frame_still_gives_one_pixel() -> None:
    assert margin_box((700.0, 500.0, 700.0, 500.0), 640, 480) == (639, 479, 640, 480)


def test_crop_with_margin_cuts_the_frame_without_resizing() -> None:
    image = np.arange(480 * 640 * 3, dtype=np.uint32).reshape(480, 640, 3).astype(np.uint8)
    crop = crop_with_margin(image, (100.0, 50.0, 180.0, 170.0))
    assert crop.shape == (160, 120, 3)
    assert np.array_equal(crop, image[30:190, 80:200])


def test_a_degenerate_box_gives_a_valid_crop() -> None:
    image = np.zeros((48, 64, 3), dtype=np.uint8)
    assert crop_with_margin(image, (64.0, 48.0, 64.0, 48.0)).shape == (1, 1, 3)


def test_resize_crop_gives_a_square_of_the_asked_size() -> None:
    crop = np.zeros((160, 120, 3), dtype=np.uint8)
    resized = resize_crop(crop, 224)
    assert (resized.shape, resized.dtype) == ((224, 224, 3), np.uint8)


CPU = torch.device("cpu")


def test_area_resizing_averages_pixels() -> None:
    crop = np.zeros((4, 4, 3), dtype=np.uint8)
    crop[:, ::2] = 200  # stripes one pixel wide average to 100 when halved
    assert np.all(resize_crop(crop, 2) == 100)


def test_a_batch_is_float32_nchw() -> None:
    crops = [np.zeros((30, 20, 3), np.uint8), np.zeros((1, 1, 3), np.uint8)]
    batch = crops_to_batch(crops, 64, CPU)
    assert (batch.shape, batch.dtype) == ((2, 3, 64, 64), torch.float32)


def test_a_grey_crop_is_normalised_with_imagenet_statistics() -> None:
    batch = crops_to_batch([np.full((10, 10, 3), 128, np.uint8)], 8, CPU)
    grey = 128 / 255
    expected = [(grey - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)]
    assert batch[0, :, 0, 0].tolist() == pytest.approx(expected, abs=1e-6)
    assert torch.equal(batch[0], batch[0, :, :1, :1].expand(3, 8, 8))


def test_channels_keep_rgb_order() -> None:
    red = np.zeros((4, 4, 3), np.uint8)
    red[..., 0] = 255
    batch = crops_to_batch([red], 4, CPU)
    assert batch[0, 0, 0, 0].item() == pytest.approx((1 - IMAGENET_MEAN[0]) / IMAGENET_STD[0])
    assert batch[0, 1, 0, 0].item() == pytest.approx(-IMAGENET_MEAN[1] / IMAGENET_STD[1])


def test_a_member_normalisation_is_applied() -> None:
    half = (0.5, 0.5, 0.5)
    batch = crops_to_batch([np.full((2, 2, 3), 255, np.uint8)], 2, CPU, mean=half, std=half)
    assert torch.all(batch == 1.0)


def test_no_crops_give_an_empty_batch() -> None:
    assert crops_to_batch([], 64, CPU).shape == (0, 3, 64, 64)
