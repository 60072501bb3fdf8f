"""`dfdetect train frame`: a 15th-place frame classifier (timm backbone + linear head) on cached
face crops, with or without CutMix (the ensemble has one of each)."""

from __future__ import annotations

import logging

import torch

from models.manifest import MemberSpec
from models.naming import member_prefix
from models.networks import build_classifier
from models.postprocess import PostprocessSpec
from models.pretrained import pretrained_config
from training.augment import training_augmentation
from training.cache import CACHE_CROP, open_cache
from training.datasets import CropDataset
from training.sbi_dataset import SbiDataset, sbi_datasets
from training.schedule import TrainOptions, TrainState
from training.trainer import Trainer

log = logging.getLogger("dfdetect.train")


def frame_member_name(backbone: str, cutmix: bool) -> str:
    """The scaffold's names: `b6_frame`, and `b6_frame_cutmix` for the CutMix model."""
    return f"{member_prefix(backbone)}_frame" + ("_cutmix" if cutmix else "")


def warn_upsampling(options: TrainOptions) -> None:
    """Say so when the member's input is larger than the cached crops (they get upsampled)."""
    for cache in options.caches:
        settings, _ = open_cache(cache)
        if settings.crop_size < options.image_size:
            log.warning(
                "%s holds %d px crops, upsampled to --image-size %d; preprocess with "
                "--crop-size %d to train on full detail",
                cache,
                settings.crop_size,
                options.image_size,
                options.image_size,
            )


def train_frame(options: TrainOptions, backbone: str, *, pretrained: bool = False) -> TrainState:
    """Train (or resume) a frame member into `options.out`; returns the epochs' figures."""
    options.member = {"backbone": backbone, "pretrained": pretrained}
    options.mean, options.std = pretrained_config(backbone)[:2]
    train: CropDataset | SbiDataset
    val: CropDataset | SbiDataset | None
    if options.sbi:
        train, val = sbi_datasets(options, None)
    else:
        warn_upsampling(options)
        transform = training_augmentation(options.seed) if options.augment else None
        train = CropDataset(options.caches, transform=transform, seed=options.seed)
        val = CropDataset(options.val) if options.val else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        # pretrained: packaged ImageNet weights offline, else timm's hub (models/networks.py).
        module = build_classifier("frame", backbone, pretrained=pretrained)

    def make_spec(sha256: str, info: dict[str, object]) -> MemberSpec:
        """The manifest member for a saved checkpoint."""
        return MemberSpec(
            name=options.name,
            kind="frame",
            backbone=backbone,
            # Its crops were cut by the cache's rule: it keeps that rule under any recipe.
            crop=CACHE_CROP,
            image_size=options.image_size,
            mean=options.mean,
            std=options.std,
            checkpoint=f"{options.name}.safetensors",
            sha256=sha256,
            trained=True,
            postprocess=PostprocessSpec(),
            training=info,
        )

    return Trainer(module, module.parameters(), train, val, options, make_spec).run()
