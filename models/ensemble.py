"""The loaded ensemble: batched scoring of face crops and sequences, with backbone reuse.

`Ensemble.score(crops)` is the one call that scores everything for a video. Frame members read
the face crops, sequence members the sequences (L crops cut with the middle frame's box), each
cut by the member's crop rule (models/crop_rules.py). Members whose backbones have identical
weights (the 15th-place LSTM froze the CutMix model's backbone) share one encoder module, and
within one `score` call every distinct crop goes through a shared encoder once when the members
also read the same crop rule: a sequence's middle crop is the face crop of that frame, so the
CutMix member's features for it are reused by the LSTM. `score_faces` and `score_sequences`
are the same thing for one kind only (no reuse across kinds), the crops alike for every rule.
`share_backbones=False` turns all reuse off so a benchmark can compare; `fold_norms=False`
keeps BatchNorm as its own layer instead of folded into the convolutions (models/fold.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np
import torch

from contract.recipes import CropRule
from contract.result import ModelIdentity
from models.batching import (
    Crop,
    crops_to_batch,
    pad_batch,
    probabilities,
    tensors_digest,
    unique_crops,
)
from models.crop_rules import CropsByRule, member_rule
from models.fold import fold_batchnorm
from models.manifest import Manifest, MemberSpec, load_manifest, load_member
from models.networks import Classifier, classifier_input

DEFAULT_BATCH_SIZE = 64
"""Crops per forward pass (PipelineConfig.score_batch_size)."""


@dataclass
class LoadedMember:
    """A manifest member with its network loaded on the ensemble's device, in eval mode."""

    spec: MemberSpec
    module: Classifier
    encoder_digest: str
    """SHA-256 over the encoder's tensors: equal digests mean identical backbone weights."""


@dataclass(frozen=True)
class _Request:
    """One member's crops for one `score` call: `counts` crops per score (1 for a face)."""

    member: LoadedMember
    rule: CropRule
    crops: list[Crop]
    counts: list[int]


class EnsembleOptions(TypedDict, total=False):
    """`Ensemble`'s keyword options, which `Ensemble.load` passes through."""

    half: bool
    channels_last: bool
    batch_size: int
    share_backbones: bool
    fold_norms: bool
    pad_batches: bool | None


@dataclass
class EnsembleScores:
    """Fake probabilities per member: frame members per face crop, sequence members per sequence."""

    faces: dict[str, np.ndarray]
    sequences: dict[str, np.ndarray]


class Ensemble:
    """The members of a model directory, loaded once, scoring crops in batches."""

    def __init__(
        self,
        manifest: Manifest,
        members: list[LoadedMember],
        device: torch.device,
        *,
        half: bool = False,
        channels_last: bool = True,
        batch_size: int = DEFAULT_BATCH_SIZE,
        share_backbones: bool = True,
        fold_norms: bool = True,
        pad_batches: bool | None = None,
    ) -> None:
        self.manifest = manifest
        self.members = members
        self.device = device
        # fp16 on CUDA only; it moved test scores by up to 0.016 (tests/test_ensemble.py), so
        # it is the caller's choice, off by default.
        self.half = half and device.type == "cuda"
        self.channels_last = channels_last
        self.batch_size = batch_size
        self.share_backbones = share_backbones
        # cuDNN 9 builds kernels for each new batch shape on first sight: 2-3 s a shape for B6
        # on an H100 (measured), so CUDA pads chunks to a few sizes that warm_up visits. A CPU
        # is compute-bound and pads nothing.
        self.pad_batches = device.type == "cuda" if pad_batches is None else pad_batches
        if share_backbones:
            first: dict[str, LoadedMember] = {}
            for member in members:
                owner = first.setdefault(member.encoder_digest, member)
                if owner is not member:
                    member.module.encoder = owner.module.encoder  # one copy on the device
        if fold_norms:
            _fold_encoders(members)
        memory_format = torch.channels_last if channels_last else torch.contiguous_format
        for member in members:
            member.module.to(device).to(memory_format=memory_format).eval()

    @classmethod
    def load(
        cls, model_dir: Path, device: torch.device, **options: Unpack[EnsembleOptions]
    ) -> Ensemble:
        """Load a model directory: manifest, checksum-verified weights, eval mode (no warm-up)."""
        manifest = load_manifest(model_dir)
        members = []
        for spec in manifest.members:
            module = load_member(model_dir, spec, torch.device("cpu"))
            members.append(LoadedMember(spec, module, tensors_digest(module.encoder)))
        return cls(manifest, members, device, **options)

    @property
    def trained(self) -> bool:
        """True when every member has trained weights."""
        return all(member.spec.trained for member in self.members)

    @property
    def frame_members(self) -> list[LoadedMember]:
        return [m for m in self.members if classifier_input(m.spec.kind) == "frame"]

    @property
    def sequence_members(self) -> list[LoadedMember]:
        return [m for m in self.members if classifier_input(m.spec.kind) == "sequence"]

    @property
    def crop_size(self) -> int:
        """The largest member image size: crop at this and smaller members get an area resize."""
        return max(member.spec.image_size for member in self.members)

    @property
    def sequence_length(self) -> int | None:
        """Frames per sequence the sequence members were trained on; None without them."""
        lengths = [member.spec.sequence_length for member in self.sequence_members]
        return lengths[0] if lengths else None

    def identity(self) -> ModelIdentity:
        """The manifest's name, version, note and calibration, as results and /models carry them."""
        m = self.manifest
        return ModelIdentity(name=m.name, version=m.version, note=m.note, calibration=m.calibration)

    def crop_rules(self, recipe_crop: CropRule) -> list[CropRule]:
        """The distinct crop rules the members read under a recipe cutting by `recipe_crop`."""
        return list(dict.fromkeys(member_rule(m.spec, recipe_crop) for m in self.members))

    def describe(self, recipe_crop: CropRule) -> list[dict[str, Any]]:
        """Members as `/models` lists them, with the preprocessing each runs (its crop rule as
        read under a recipe cutting by `recipe_crop`)."""
        return [
            {
                "name": member.spec.name,
                "kind": member.spec.kind,
                "backbone": member.spec.backbone,
                "image_size": member.spec.image_size,
                "crop": member_rule(member.spec, recipe_crop),
                "resize": member.spec.resize,
                "mean": list(member.spec.mean),
                "std": list(member.spec.std),
                "sha256": member.spec.sha256,
                "trained": member.spec.trained,
                "postprocess": member.spec.postprocess.strategy,
                "provenance": (
                    member.spec.provenance.model_dump(mode="json")
                    if member.spec.provenance
                    else None
                ),
            }
            for member in self.members
        ]

    def warm_up(self) -> None:
        """A forward per member and batch size, so the first jobs do not pay for initialisation.

        One crop on a CPU; every padded batch size on CUDA (distinct crops, so none is merged).
        """
        size, length = self.crop_size, self.sequence_length or 1
        for count in self.batch_sizes() if self.pad_batches else [1]:
            crops = [np.full((size, size, 3), index % 256, np.uint8) for index in range(count)]
            self.score(CropsByRule.alike(crops, [crops[:length]]))
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def batch_sizes(self) -> list[int]:
        """Sizes chunks are padded to when `pad_batches`: powers of two, then `batch_size`."""
        sizes = [
            1 << power
            for power in range(self.batch_size.bit_length())
            if 1 << power < self.batch_size
        ]
        return [*sizes, self.batch_size]

    def score_faces(self, crops: Sequence[Crop]) -> dict[str, np.ndarray]:
        """Frame members: name -> fake probability per crop, shape (N,), whatever their rule."""
        return self.score(CropsByRule.alike(crops)).faces

    def score_sequences(self, sequences: Sequence[Sequence[Crop]]) -> dict[str, np.ndarray]:
        """Sequence members: name -> fake probability per sequence, shape (S,), whatever their
        rule."""
        return self.score(CropsByRule.alike((), sequences)).sequences

    @torch.inference_mode()
    def score(self, crops: CropsByRule) -> EnsembleScores:
        """Score the face crops with the frame members and the sequences with the sequence
        members, each member the crops cut by its own rule.

        One call so that crops several members see go through a shared backbone once.
        """
        requests = []
        for member in [*self.frame_members, *self.sequence_members]:
            rule = crops.rule_of(member.spec)
            if member.module.input_kind == "frame":
                faces = list(crops.faces_for(member.spec))
                requests.append(_Request(member, rule, faces, [1] * len(faces)))
            else:
                sequences = crops.sequences_for(member.spec)
                flat = [crop for sequence in sequences for crop in sequence]
                requests.append(_Request(member, rule, flat, [len(s) for s in sequences]))
        features = self._encode(requests)
        faces_out: dict[str, np.ndarray] = {}
        sequences_out: dict[str, np.ndarray] = {}
        with self._precision():
            for request, feats in zip(requests, features, strict=True):
                # One dispatch for every registered kind: what it reads picks where it goes.
                module = request.member.module
                logits = None if feats is None else module.head(feats, request.counts)
                out = faces_out if module.input_kind == "frame" else sequences_out
                out[request.member.spec.name] = probabilities(logits)
        return EnsembleScores(faces=faces_out, sequences=sequences_out)

    @contextmanager
    def _precision(self) -> Iterator[None]:
        """fp16 autocast when `half`; else true fp32, with cuDNN's TF32 (PyTorch's default) off.

        TF32 moved CUDA scores 0.008 from the CPU's (H100, tests/test_ensemble.py); without
        it they agree within 1e-4, so CPU and GPU workers give the same answer.
        """
        previous = torch.backends.cudnn.allow_tf32
        torch.backends.cudnn.allow_tf32 = self.half
        try:
            with torch.autocast(self.device.type, dtype=torch.float16, enabled=self.half):
                yield
        finally:
            torch.backends.cudnn.allow_tf32 = previous

    def _encode(self, requests: list[_Request]) -> list[torch.Tensor | None]:
        """Backbone features for each request's crops; None where a request has no crops.

        With sharing, requests through the same encoder module at the same size, resize rule
        and crop rule form one group, and each distinct crop of a group is encoded once.
        """
        groups: dict[tuple[int, int, str, str], list[int]] = {}
        for index, request in enumerate(requests):
            spec = request.member.spec
            key = (id(request.member.module.encoder), spec.image_size, spec.resize, request.rule)
            groups.setdefault(key if self.share_backbones else (index, 0, "", ""), []).append(index)
        features: list[torch.Tensor | None] = [None] * len(requests)
        for indices in groups.values():
            member = requests[indices[0]].member
            crops = [crop for index in indices for crop in requests[index].crops]
            if not crops:
                continue
            if self.share_backbones:
                unique, inverse = unique_crops(crops)
            else:
                unique, inverse = crops, list(range(len(crops)))
            encoded = self._encoder_features(member, unique)
            gathered = encoded[torch.tensor(inverse, device=encoded.device)]
            start = 0
            for index in indices:
                count = len(requests[index].crops)
                features[index] = gathered[start : start + count] if count else None
                start += count
        return features

    def _encoder_features(self, member: LoadedMember, crops: list[Crop]) -> torch.Tensor:
        """Pooled encoder features of crops, in chunks of `batch_size`: (N, F)."""
        chunks = []
        with self._precision():
            for start in range(0, len(crops), self.batch_size):
                chunk = crops[start : start + self.batch_size]
                spec = member.spec
                batch = crops_to_batch(
                    chunk,
                    spec.image_size,
                    self.device,
                    channels_last=self.channels_last,
                    mean=spec.mean,
                    std=spec.std,
                    resize=spec.resize,
                )
                if self.pad_batches:
                    size = next(size for size in self.batch_sizes() if size >= len(chunk))
                    batch = pad_batch(batch, size)
                # Eval-mode BatchNorm mixes nothing across the batch: padding cannot leak.
                chunks.append(member.module.encoder(batch)[: len(chunk)])
        return torch.cat(chunks)


def _fold_encoders(members: list[LoadedMember]) -> None:
    """Fold BatchNorm into each distinct encoder once; members that shared one still do."""
    folded: dict[int, torch.nn.Module] = {}
    for member in members:
        encoder = member.module.encoder
        if id(encoder) not in folded:
            folded[id(encoder)] = fold_batchnorm(encoder, member.spec.image_size)
        member.module.encoder = folded[id(encoder)]
