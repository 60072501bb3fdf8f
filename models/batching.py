"""Helpers of batched scoring: crops to device tensors, distinct crops and weights, LSTM groups."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np
import torch
from torch import nn

from contract.pipeline import IMAGENET_MEAN, IMAGENET_STD, Rgb

Crop = np.ndarray
"""A face crop: uint8 RGB, (H, W, 3); resized by the member's rule when not its image size."""
Resize = Literal["square_area", "isotropic_pad"]
"""How a member fits a crop to its input size (MemberSpec.resize)."""


def tensors_digest(module: nn.Module) -> str:
    """SHA-256 over a module's state dict (names, dtypes, shapes, bytes), order-independent."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}".encode())
        flat = tensor.detach().cpu().contiguous().reshape(-1)
        digest.update(flat.view(torch.uint8).numpy())
    return digest.hexdigest()


def check_crop(crop: Crop) -> None:
    """Refuse anything but a uint8 (H, W, 3) array, with a message saying what came."""
    if crop.dtype != np.uint8 or crop.ndim != 3 or crop.shape[2] != 3:
        raise ValueError(f"a crop must be uint8 (H, W, 3) RGB, got {crop.dtype} {crop.shape}")


def unique_crops(crops: Sequence[Crop]) -> tuple[list[Crop], list[int]]:
    """Distinct crops (by pixels) and, for each input crop, its index among them.

    CRC-32 buckets the crops (cheaper than a cryptographic hash: about 0.1 ms for 224x224x3)
    and `np.array_equal` confirms, so a collision can never merge two different crops.
    """
    unique: list[Crop] = []
    buckets: dict[tuple[tuple[int, ...], int], list[int]] = {}
    inverse = []
    for crop in crops:
        contiguous = np.ascontiguousarray(crop)
        bucket = buckets.setdefault((crop.shape, zlib.crc32(contiguous.data)), [])
        match = next((i for i in bucket if np.array_equal(unique[i], contiguous)), None)
        if match is None:
            match = len(unique)
            unique.append(contiguous)
            bucket.append(match)
        inverse.append(match)
    return unique, inverse


def crops_to_batch(
    crops: Sequence[Crop],
    size: int,
    device: torch.device,
    *,
    channels_last: bool = False,
    mean: Rgb = IMAGENET_MEAN,
    std: Rgb = IMAGENET_STD,
    resize: Resize = "square_area",
) -> torch.Tensor:
    """uint8 HWC crops -> resized (`resize`), normalised float NCHW on `device`.

    The one normalisation of the project: training batches and inference batches both come
    from here, with the mean/std the member keeps in its manifest entry (as timm keeps a
    pretrained config with its model). The crops cross to the device as uint8 (a quarter of
    the bytes of float32) and are normalised there.
    """
    if not crops:
        return torch.empty((0, 3, size, size), dtype=torch.float32, device=device)
    fit = isotropic_pad if resize == "isotropic_pad" else _square_area
    fitted = [crop if crop.shape[:2] == (size, size) else fit(crop, size) for crop in crops]
    pixels = torch.from_numpy(np.stack(fitted)).to(device)
    mean_t = torch.tensor(mean, device=device).view(1, 3, 1, 1)
    std_t = torch.tensor(std, device=device).view(1, 3, 1, 1)
    # NHWC permuted to NCHW is already channels_last in memory: that layout costs no copy.
    batch = (pixels.permute(0, 3, 1, 2).float() / 255.0 - mean_t) / std_t
    if channels_last:
        return batch.contiguous(memory_format=torch.channels_last)
    return batch.contiguous()


def _square_area(crop: Crop, size: int) -> Crop:
    resized: Crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
    return resized


def isotropic_pad(crop: Crop, size: int) -> Crop:
    """1st place (kernel_utils.py `isotropically_resize_image`, then `put_to_center`): the
    longer side scaled to `size` (area down, cubic up; the other side truncated to an integer),
    then zero-padded to a square with the crop in the middle (the odd pixel after)."""
    height, width = crop.shape[:2]
    if max(height, width) != size:
        scale = size / max(height, width)
        if width > height:  # max(1, ...): a sliver that would vanish keeps one pixel
            width, height = size, max(1, int(height * scale))
        else:
            width, height = max(1, int(width * scale)), size
        crop = cv2.resize(
            crop,
            (width, height),
            interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA,
        )
    crop = crop[:size, :size]
    square = np.zeros((size, size, 3), dtype=np.uint8)
    top, left = (size - crop.shape[0]) // 2, (size - crop.shape[1]) // 2
    square[top : top + crop.shape[0], left : left + crop.shape[1]] = crop
    return square


def pad_batch(batch: torch.Tensor, size: int) -> torch.Tensor:
    """The batch followed by zero images up to `size`, in the batch's memory format."""
    if batch.shape[0] >= size:
        return batch
    padded = batch.new_zeros((size, *batch.shape[1:]))
    if batch.is_contiguous(memory_format=torch.channels_last):
        padded = padded.contiguous(memory_format=torch.channels_last)
    padded[: batch.shape[0]] = batch
    return padded


def probabilities(logits: torch.Tensor | None) -> np.ndarray:
    """Sigmoid of logits as float32 numpy; an empty array for None (a member without crops)."""
    if logits is None:
        return np.empty(0, dtype=np.float32)
    return torch.sigmoid(logits.float()).cpu().numpy().astype(np.float32)
