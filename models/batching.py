"""Helpers of batched scoring: crops to device tensors, distinct crops and weights, LSTM groups."""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Sequence

import cv2
import numpy as np
import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from torch import nn

from models.networks import SequenceClassifier

Crop = np.ndarray
"""A face crop: uint8 RGB, (H, W, 3); area-resized when not the member's image size."""


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
    crops: Sequence[Crop], size: int, device: torch.device, *, channels_last: bool
) -> torch.Tensor:
    """uint8 HWC crops -> ImageNet-normalised float NCHW on `device`.

    The crops cross to the device as uint8 (a quarter of the bytes of float32) and are
    normalised there.
    """
    fitted = [
        crop
        if crop.shape[:2] == (size, size)
        else cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
        for crop in crops
    ]
    pixels = torch.from_numpy(np.stack(fitted)).to(device)
    mean = torch.tensor(IMAGENET_DEFAULT_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_DEFAULT_STD, device=device).view(1, 3, 1, 1)
    # NHWC permuted to NCHW is already channels_last in memory: that layout costs no copy.
    batch = (pixels.permute(0, 3, 1, 2).float() / 255.0 - mean) / std
    if channels_last:
        return batch.contiguous(memory_format=torch.channels_last)
    return batch.contiguous()


def pad_batch(batch: torch.Tensor, size: int) -> torch.Tensor:
    """The batch followed by zero images up to `size`, in the batch's memory format."""
    if batch.shape[0] >= size:
        return batch
    padded = batch.new_zeros((size, *batch.shape[1:]))
    if batch.is_contiguous(memory_format=torch.channels_last):
        padded = padded.contiguous(memory_format=torch.channels_last)
    padded[: batch.shape[0]] = batch
    return padded


def classify_sequences(
    module: SequenceClassifier, features: torch.Tensor, lengths: Sequence[int]
) -> torch.Tensor:
    """Sequence logits (S,) from flat per-crop features (sum of lengths, F).

    Sequences of equal length go through the LSTM together; a clip shorter than L frames can
    give shorter sequences, and each length is its own batch.
    """
    logits = torch.empty(len(lengths), device=features.device)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    for length in sorted(set(lengths)):
        chosen = [index for index, value in enumerate(lengths) if value == length]
        rows = [int(offsets[index]) + step for index in chosen for step in range(length)]
        batch = features[torch.tensor(rows, device=features.device)]
        scores = module.classify_features(batch.view(len(chosen), length, -1))
        logits[torch.tensor(chosen, device=features.device)] = scores.float()
    return logits


def probabilities(logits: torch.Tensor | None) -> np.ndarray:
    """Sigmoid of logits as float32 numpy; an empty array for None (a member without crops)."""
    if logits is None:
        return np.empty(0, dtype=np.float32)
    return torch.sigmoid(logits.float()).cpu().numpy().astype(np.float32)
