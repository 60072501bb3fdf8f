"""The 15th-place training recipe as data: its numbers, the learning-rate schedule, the
options of a run and the figures of its epochs."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from contract.pipeline import IMAGENET_MEAN, IMAGENET_STD, Rgb

LEARNING_RATE = 3e-4
"""15th place: AdamW base learning rate."""
WEIGHT_DECAY = 1e-3
"""15th place: AdamW weight decay."""
WARMUP_MULTIPLIER = 10.0
"""15th place: GradualWarmupScheduler(multiplier=10, total_epoch=steps of one epoch): the
rate climbs linearly from lr to 10x lr over the first epoch."""
CYCLE_EPOCHS = 4
"""Then cosine annealing from 10x lr towards 0, restarting every 4 epochs (issue 5)."""


def lr_factor(step: int, steps_per_epoch: int, warmup: float, cycle_epochs: int) -> float:
    """Multiplier of the base rate at an optimiser step: linear warm-up to `warmup` over the
    first epoch, then cosine cycles of `cycle_epochs` epochs from `warmup` down to 0."""
    if step < steps_per_epoch:
        return 1.0 + (warmup - 1.0) * step / steps_per_epoch
    cycle = cycle_epochs * steps_per_epoch
    position = ((step - steps_per_epoch) % cycle) / cycle
    return warmup * 0.5 * (1.0 + math.cos(math.pi * position))


@dataclass
class TrainOptions:
    """What every training run takes (the command line's options)."""

    caches: list[Path]
    val: list[Path]
    out: Path
    name: str
    image_size: int
    epochs: int
    batch_size: int = 32
    samples_per_epoch: int | None = None
    lr: float = LEARNING_RATE
    weight_decay: float = WEIGHT_DECAY
    warmup_multiplier: float = WARMUP_MULTIPLIER
    cycle_epochs: int = CYCLE_EPOCHS
    cutmix: bool = False
    sbi: bool = False
    """Caches are real-face caches; every item is a real crop and its self-blended fake."""
    augment: bool = True
    device: str = "auto"
    amp: bool = True
    seed: int = 0
    loader_workers: int = 0
    resume: bool = False
    progress: bool = True
    member: dict[str, Any] = field(default_factory=dict)
    """What only this kind of member records (backbone, encoder, sequence length)."""
    mean: Rgb = IMAGENET_MEAN
    """Input normalisation of the backbone (ImageNet's unless its pretrained config differs)."""
    std: Rgb = IMAGENET_STD

    def recipe(self) -> dict[str, Any]:
        """The options as recorded in the manifest's `training`."""
        values = asdict(self)
        for key in ("out", "resume", "progress", "loader_workers", "name", "member"):
            values.pop(key)
        values.update(self.member)
        values["caches"] = [str(Path(p).resolve()) for p in self.caches]
        values["val"] = [str(Path(p).resolve()) for p in self.val]
        return values


@dataclass
class Epoch:
    """One epoch's figures."""

    epoch: int
    train_loss: float
    lr: float
    val_log_loss: float | None = None
    val_crop_log_loss: float | None = None

    def line(self) -> str:
        """The epoch as logged."""
        text = f"train loss {self.train_loss:.4f}, lr {self.lr:.2e}"
        if self.val_log_loss is not None:
            text += (
                f", val log loss {self.val_log_loss:.4f} (per crop {self.val_crop_log_loss:.4f})"
            )
        return text


@dataclass
class TrainState:
    """What a resumed run needs besides the weights."""

    epoch: int = 0
    history: list[Epoch] = field(default_factory=list)
    best: float | None = None
    best_epoch: int | None = None
    sha256: str = ""
