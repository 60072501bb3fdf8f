"""Torch datasets over a crop cache: face crops for frame members, sequences for the LSTM."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import albumentations as A
import numpy as np
import torch
from torch.utils.data import Dataset, WeightedRandomSampler

from contract.errors import DatasetError
from contract.pipeline import IMAGENET_MEAN, IMAGENET_STD, Rgb
from models.batching import crops_to_batch
from training.augment import augment_frames, frame_window
from training.cache import CROPS_DIR, CachedVideo, open_cache, read_png, split_strip

Sample = tuple[np.ndarray, float, int]
"""(uint8 crops (L, H, W, 3), target, video number) as a dataset yields it."""


@dataclass(frozen=True)
class _Item:
    path: Path
    target: float
    video: int


def _videos(caches: Sequence[Path]) -> list[tuple[Path, CachedVideo]]:
    found = []
    for cache in caches:
        _, videos = open_cache(cache)
        found += [(Path(cache) / CROPS_DIR, video) for video in videos]
    if not found:
        raise DatasetError(f"no video with faces in {[str(c) for c in caches]}")
    return found


class CropDataset(Dataset[Sample]):
    """Face crops (frame members) or sequence strips (sequence members) of one or more caches.

    Every item is (frames, target, video number): one frame for face crops, `length` frames
    for sequences. With a transform, one draw is applied to all frames of an item.
    """

    def __init__(
        self,
        caches: Sequence[Path],
        *,
        sequence_length: int | None = None,
        transform: A.Compose | None = None,
        half_fps_prob: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.sequence_length = sequence_length
        self.transform = transform
        self.half_fps_prob = half_fps_prob
        self.rng = np.random.default_rng(seed)
        self.video_names: list[str] = []
        self.items: list[_Item] = []
        for number, (crops, video) in enumerate(_videos(caches)):
            self.video_names.append(video.video)
            files = (
                [s.file for s in video.sequences]
                if sequence_length
                else [f.file for f in video.faces]
            )
            self.items += [_Item(crops / file, video.target, number) for file in files]
        if not self.items:
            raise DatasetError(f"the caches {[str(c) for c in caches]} hold no sequences")

    def reseed(self, seed: int) -> None:
        """New random streams (frame windows, augmentation): a DataLoader worker calls this,
        or every worker would repeat the same draws."""
        self.rng = np.random.default_rng(seed)
        if self.transform is not None:
            self.transform.set_random_seed(seed)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def targets(self) -> list[float]:
        """The target of every item, in order."""
        return [item.target for item in self.items]

    def __getitem__(self, index: int) -> Sample:
        item = self.items[index]
        image = read_png(item.path)
        if self.sequence_length is None:
            frames = image[None]
        else:
            strip = split_strip(image)
            if self.transform is None:  # evaluation: the first L frames, as served
                chosen = list(range(min(self.sequence_length, len(strip))))
            else:
                chosen = frame_window(
                    len(strip), self.sequence_length, self.rng, half_fps_prob=self.half_fps_prob
                )
            frames = strip[chosen]
        if self.transform is not None:
            frames = augment_frames(self.transform, frames)
        return frames, item.target, item.video


def seed_worker(worker: int) -> None:
    """DataLoader worker_init_fn: give each worker's copy of the dataset its own seed."""
    info = torch.utils.data.get_worker_info()
    if info is not None and hasattr(info.dataset, "reseed"):
        info.dataset.reseed(info.seed % 2**32)


def balanced_sampler(
    targets: Sequence[float], num_samples: int, seed: int
) -> WeightedRandomSampler:
    """Draw REAL and FAKE items equally often (with replacement), whatever their counts."""
    counts = Counter(targets)
    if len(counts) < 2:
        raise DatasetError(
            f"the training cache holds only {'FAKE' if 1.0 in counts else 'REAL'} videos; "
            "a detector needs both labels"
        )
    weights = [1.0 / counts[target] for target in targets]
    generator = torch.Generator().manual_seed(seed)
    return WeightedRandomSampler(weights, num_samples, replacement=True, generator=generator)


@dataclass
class Batch:
    """Model input (N, 3, S, S) or (B, L, 3, S, S), float targets (B,), video numbers (B,)."""

    images: torch.Tensor
    targets: torch.Tensor
    videos: torch.Tensor


class Collate:
    """Stack samples into a Batch: resized and normalised by inference's own crops_to_batch."""

    def __init__(
        self,
        image_size: int,
        *,
        sequences: bool,
        mean: Rgb = IMAGENET_MEAN,
        std: Rgb = IMAGENET_STD,
    ) -> None:
        self.image_size = image_size
        self.sequences = sequences
        self.mean, self.std = mean, std

    def __call__(self, items: Sequence[Sample | list[Sample]]) -> Batch:
        # SBI items are [real, fake] pairs: flattened, a pair stays side by side in the batch.
        samples: list[Sample] = []
        for item in items:
            samples.extend(item if isinstance(item, list) else [item])
        crops = [frame for frames, _, _ in samples for frame in frames]
        images = crops_to_batch(
            crops, self.image_size, torch.device("cpu"), mean=self.mean, std=self.std
        )
        if self.sequences:
            images = images.view(len(samples), -1, *images.shape[1:])
        targets = torch.tensor([target for _, target, _ in samples], dtype=torch.float32)
        videos = torch.tensor([video for _, _, video in samples], dtype=torch.long)
        return Batch(images, targets, videos)
