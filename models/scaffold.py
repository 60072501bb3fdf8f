"""Scaffold the 15th-place three-member ensemble with random weights, for tests and benchmarks."""

from __future__ import annotations

from pathlib import Path

import torch

from contract.pipeline import DEFAULT_BACKBONE, DEFAULT_IMAGE_SIZE, DEFAULT_SEQUENCE_LENGTH
from models.manifest import Manifest, MemberSpec, save_checkpoint, save_manifest
from models.naming import member_prefix
from models.networks import build_classifier
from models.postprocess import DEFAULT_CASCADE, PostprocessSpec, scale_cascade


def scaffold_ensemble(
    out: Path,
    backbone: str = DEFAULT_BACKBONE,
    image_size: int = DEFAULT_IMAGE_SIZE,
    sequence_length: int = DEFAULT_SEQUENCE_LENGTH,
    seed: int = 0,
) -> Manifest:
    """Write the 15th-place ensemble with random weights and `trained: false` to `out`.

    Members: `<p>_frame` and `<p>_frame_cutmix` (frame classifiers) and `<p>_lstm` (sequence
    classifier), `<p>` from `member_prefix`. As in the 15th place, the LSTM's frozen encoder
    is the CutMix model's backbone: its weights are copied, so they are identical. The same
    seed gives byte-identical checkpoints. The members name no crop rule: random weights were
    trained on no crop, so they read the crops of whichever recipe runs them.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    prefix = member_prefix(backbone)
    # fork_rng: the caller's global torch RNG is left as it was.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        frame = build_classifier("frame", backbone)
        cutmix = build_classifier("frame", backbone)
        lstm = build_classifier("sequence", backbone)
    lstm.encoder.load_state_dict(cutmix.encoder.state_dict())

    frame_post = PostprocessSpec(cascade=DEFAULT_CASCADE)
    # A sequence member scores L frames at once, so it has L times fewer scores per video.
    sequence_post = PostprocessSpec(cascade=scale_cascade(DEFAULT_CASCADE, sequence_length))
    members = []
    for name, module, kind in (
        (f"{prefix}_frame", frame, "frame"),
        (f"{prefix}_frame_cutmix", cutmix, "frame"),
        (f"{prefix}_lstm", lstm, "sequence"),
    ):
        checkpoint = f"{name}.safetensors"
        sha256 = save_checkpoint(module, out / checkpoint)
        is_sequence = kind == "sequence"
        members.append(
            MemberSpec(
                name=name,
                kind="sequence" if is_sequence else "frame",
                backbone=backbone,
                image_size=image_size,
                checkpoint=checkpoint,
                sha256=sha256,
                trained=False,
                postprocess=sequence_post if is_sequence else frame_post,
                sequence_length=sequence_length if is_sequence else None,
                encoder=f"{prefix}_frame_cutmix" if is_sequence else None,
            )
        )
    manifest = Manifest(members=members)
    save_manifest(out, manifest)
    return manifest
