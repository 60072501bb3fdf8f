"""A scaffolded ensemble whose scores depend on the input, as a trained model's do.

Untrained EfficientNets answer nearly the same for every input (their BatchNorm statistics are
the initial 0 and 1, so activations fade layer by layer: spread about 1e-6), so equality tests
within 1e-5 would prove nothing. `make_lively` re-estimates BatchNorm statistics on real
face-photo crops and scales the heads so that logits spread (probabilities 0.1-0.9).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from skimage import data as skdata
from torch import nn

from models.manifest import load_manifest, load_member, save_checkpoint, save_manifest
from models.networks import FrameClassifier, SequenceClassifier
from tests.conftest import TEST_IMAGE_SIZE

CPU = torch.device("cpu")
SIZE = TEST_IMAGE_SIZE
LENGTH = 5


def photo_crops(count: int, size: int = SIZE, seed: int = 0) -> list[np.ndarray]:
    """Square crops of a real photo (scikit-image's astronaut), area-resized to `size`."""
    image = skdata.astronaut()
    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(count):
        side = int(rng.integers(64, 320))
        y, x = (int(v) for v in rng.integers(0, 512 - side, size=2))
        crop = image[y : y + side, x : x + side]
        crops.append(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))
    return crops


def normalise(crops: list[np.ndarray]) -> torch.Tensor:
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    array = ((np.stack(crops) / 255.0 - mean) / std).transpose(0, 3, 1, 2)
    return torch.tensor(array, dtype=torch.float32)


def recalibrate_batchnorm(encoder: nn.Module, images: torch.Tensor) -> None:
    for module in encoder.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a plain average over the batch
    encoder.train()
    with torch.no_grad():
        encoder(images)
    encoder.eval()


def standardise_head(fc: nn.Linear, logits: torch.Tensor) -> None:
    with torch.no_grad():
        scale = logits.std()
        fc.bias.sub_(logits.mean()).div_(scale)
        fc.weight.div_(scale)


def make_lively(tiny_model_dir: Path, out: Path) -> Path:
    """Write a recalibrated copy of the tiny scaffold to `out`."""
    manifest = load_manifest(tiny_model_dir)
    images = normalise(photo_crops(32, seed=1))
    modules = {spec.name: load_member(tiny_model_dir, spec, CPU) for spec in manifest.members}
    frame, cutmix, lstm = modules.values()
    assert isinstance(frame, FrameClassifier) and isinstance(cutmix, FrameClassifier)
    assert isinstance(lstm, SequenceClassifier)
    with torch.no_grad():
        for net in (frame, cutmix):
            recalibrate_batchnorm(net.encoder, images)
            standardise_head(net.fc, net(images))
        lstm.encoder.load_state_dict(cutmix.encoder.state_dict())
        windows = lstm.encoder(images).unfold(0, LENGTH, 1).permute(0, 2, 1)
        standardise_head(lstm.fc, lstm.classify_features(windows))
    members = []
    for spec in manifest.members:
        sha256 = save_checkpoint(modules[spec.name], out / spec.checkpoint)
        members.append(spec.model_copy(update={"sha256": sha256}))
    save_manifest(out, manifest.model_copy(update={"members": members}))
    return out
