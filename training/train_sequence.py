"""`dfdetect train sequence`: the 15th-place LSTM member, on the frozen backbone of a trained
frame member (15th place: the CutMix model's), over cached sequences of L face crops."""

from __future__ import annotations

from pathlib import Path

import torch

from contract.errors import DatasetError, ModelError
from models.manifest import MemberSpec, load_manifest, load_member
from models.naming import member_prefix
from models.networks import build_classifier
from models.postprocess import DEFAULT_CASCADE, PostprocessSpec, scale_cascade
from training.augment import HALF_FPS_PROB, training_augmentation
from training.cache import CACHE_CROP, open_cache
from training.datasets import CropDataset
from training.sbi_dataset import SbiDataset, sbi_datasets
from training.schedule import TrainOptions, TrainState
from training.trainer import Trainer


def parse_encoder(value: str) -> tuple[Path, str]:
    """`MODEL_DIR:MEMBER` -> (model dir, member name)."""
    model_dir, sep, member = value.rpartition(":")
    if not sep or not model_dir or not member:
        raise ValueError(
            f"--encoder takes MODEL_DIR:MEMBER (e.g. models/mine:b6_frame_cutmix), got {value!r}"
        )
    return Path(model_dir), member


def sequence_member_name(backbone: str) -> str:
    """The scaffold's name: `b6_lstm`."""
    return f"{member_prefix(backbone)}_lstm"


def frame_spec(model_dir: Path, name: str) -> MemberSpec:
    """The frame member `name` of a model directory (ModelError when absent or not a frame)."""
    for member in load_manifest(model_dir).members:
        if member.name == name:
            if member.kind != "frame":
                raise ModelError(
                    f"member {name!r} of {model_dir} is a {member.kind} member, not frame"
                )
            return member
    names = [member.name for member in load_manifest(model_dir).members]
    raise ModelError(f"{model_dir} has no member {name!r}; its members: {names}")


def check_length(options: TrainOptions, length: int) -> None:
    """Every cache must hold sequences of at least `length` frames."""
    for cache in [*options.caches, *options.val]:
        settings, _ = open_cache(cache)
        if settings.sequence_length < length:
            raise DatasetError(
                f"{cache} holds sequences of {settings.sequence_length} frames, fewer than "
                f"--sequence-length {length}; preprocess with --sequence-length {length} or more"
            )


def train_sequence(
    options: TrainOptions, encoder_dir: Path, encoder_name: str, sequence_length: int
) -> TrainState:
    """Train (or resume) the LSTM member into the encoder's model directory."""
    if not options.sbi:
        check_length(options, sequence_length)
    encoder = frame_spec(encoder_dir, encoder_name)
    frame = load_member(encoder_dir, encoder, torch.device("cpu"))  # checksum verified
    options.image_size = encoder.image_size  # the frozen encoder's input size
    options.mean, options.std = encoder.mean, encoder.std  # and its normalisation
    options.member = {
        "encoder": f"{encoder_dir}:{encoder_name}",
        "encoder_sha256": encoder.sha256,
        "backbone": encoder.backbone,
        "sequence_length": sequence_length,
    }
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(options.seed)
        module = build_classifier("sequence", encoder.backbone)
    module.encoder.load_state_dict(frame.encoder.state_dict())
    train: CropDataset | SbiDataset
    val: CropDataset | SbiDataset | None
    if options.sbi:
        train, val = sbi_datasets(options, sequence_length)
    else:
        transform = training_augmentation(options.seed) if options.augment else None
        train = CropDataset(
            options.caches,
            sequence_length=sequence_length,
            transform=transform,
            half_fps_prob=HALF_FPS_PROB if options.augment else 0.0,
            seed=options.seed,
        )
        val = CropDataset(options.val, sequence_length=sequence_length) if options.val else None
    # A sequence member scores L frames at once: L times fewer scores than a frame member.
    postprocess = PostprocessSpec(cascade=scale_cascade(DEFAULT_CASCADE, sequence_length))

    def make_spec(sha256: str, info: dict[str, object]) -> MemberSpec:
        """The manifest member for a saved checkpoint."""
        return MemberSpec(
            name=options.name,
            kind="sequence",
            backbone=encoder.backbone,
            # Its sequences were cut by the cache's rule: it keeps that rule under any recipe.
            crop=CACHE_CROP,
            image_size=encoder.image_size,
            mean=encoder.mean,
            std=encoder.std,
            checkpoint=f"{options.name}.safetensors",
            sha256=sha256,
            trained=True,
            postprocess=postprocess,
            sequence_length=sequence_length,
            encoder=encoder.name,
            head_only=True,
            training=info,
        )

    head = [p for p in module.parameters() if p.requires_grad]  # the frozen encoder is not
    return Trainer(module, head, train, val, options, make_spec, head_only=True).run()
