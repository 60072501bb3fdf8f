"""The 15th-place networks: a frame classifier and a frozen-encoder LSTM sequence classifier.

Both hold their timm backbone as `encoder`, so a sequence member's encoder can be loaded from,
compared with and shared with a frame member's backbone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import ClassVar, Literal, cast

import numpy as np
import timm
import torch
from torch import nn

from contract.errors import ModelError
from models.pretrained import PACKAGED_WEIGHTS, packaged_state_dict

HEAD_DROPOUT = 0.5
"""Dropout before the linear head and before the LSTM (15th-place code)."""
LSTM_HIDDEN = 512
"""LSTM hidden size (15th place: 512)."""
LSTM_LAYERS = 2
"""Stacked LSTM layers, unidirectional (15th place: 2)."""


def create_backbone(name: str, *, pretrained: bool = False) -> nn.Module:
    """A timm backbone without classifier, global average pooled: images -> (N, F) features.

    `pretrained`: ImageNet weights from an installed package when one ships them (offline,
    models/pretrained.py), else from timm's hub; a ModelError when neither can.
    """
    backbone = timm.create_model(name, pretrained=False, num_classes=0, global_pool="avg")
    if not pretrained:
        return backbone
    packaged = packaged_state_dict(name, backbone.state_dict())
    if packaged is not None:
        backbone.load_state_dict(packaged, strict=True)
        return backbone
    try:
        return timm.create_model(name, pretrained=True, num_classes=0, global_pool="avg")
    except Exception as exc:  # timm raises whatever its hub client raised offline
        raise ModelError(
            f"no ImageNet weights for {name!r}: no installed package ships them "
            f"(packaged: {sorted(PACKAGED_WEIGHTS)}) and timm's hub failed ({exc}); "
            "train without --pretrained or pick a packaged backbone"
        ) from exc


def feature_width(backbone: nn.Module) -> int:
    """F, the width of a timm backbone's pooled features."""
    return int(cast(int, backbone.num_features))


InputKind = Literal["frame", "sequence"]
"""What a classifier reads: one face crop ("frame") or L crops of one face ("sequence")."""


class Classifier(nn.Module):
    """A member network: a timm backbone as `encoder`, then a head on its pooled features.

    The ensemble only calls `encoder` and `head`, so a registered kind scores through the same
    path as the built-in ones.
    """

    input_kind: ClassVar[InputKind]
    encoder: nn.Module

    def head(self, features: torch.Tensor, lengths: Sequence[int]) -> torch.Tensor:
        """Logits from the encoder's features of the crops in order: (sum of lengths, F) -> (N,).

        `lengths` gives the crops per input: all 1 for frame classifiers.
        """
        raise NotImplementedError


class FrameClassifier(Classifier):
    """Backbone -> global pool -> dropout 0.5 -> linear(1): one fake logit per face crop."""

    input_kind = "frame"

    def __init__(self, backbone: str, *, pretrained: bool = False) -> None:
        super().__init__()
        self.encoder = create_backbone(backbone, pretrained=pretrained)
        self.dropout = nn.Dropout(HEAD_DROPOUT)
        self.fc = nn.Linear(feature_width(self.encoder), 1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled backbone features, (N, 3, H, W) -> (N, F)."""
        out: torch.Tensor = self.encoder(x)
        return out

    def classify(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from pooled features, (N, F) -> (N,)."""
        out: torch.Tensor = self.fc(self.dropout(features))
        return out.squeeze(1)

    def head(self, features: torch.Tensor, lengths: Sequence[int]) -> torch.Tensor:
        """One logit per crop: the lengths are all 1."""
        return self.classify(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Fake logits, (N, 3, H, W) -> (N,)."""
        return self.classify(self.features(x))


class SequenceClassifier(Classifier):
    """Frozen backbone -> dropout 0.5 -> LSTM(F, 512, 2 layers) -> linear(1) on the last step.

    15th place: the encoder is the CutMix frame model's backbone, frozen while the LSTM trains,
    so it has no gradients and stays in eval mode (BatchNorm statistics fixed) even in train().
    """

    input_kind = "sequence"

    def __init__(self, backbone: str, *, pretrained: bool = False) -> None:
        super().__init__()
        self.encoder = create_backbone(backbone, pretrained=pretrained)
        self.encoder.requires_grad_(False)
        self.encoder.eval()
        self.dropout = nn.Dropout(HEAD_DROPOUT)
        self.lstm = nn.LSTM(
            feature_width(self.encoder),
            LSTM_HIDDEN,
            num_layers=LSTM_LAYERS,
            dropout=HEAD_DROPOUT,
            batch_first=True,
        )
        self.fc = nn.Linear(LSTM_HIDDEN, 1)

    def train(self, mode: bool = True) -> SequenceClassifier:
        """Set the head's mode; the frozen encoder always stays in eval mode."""
        super().train(mode)
        self.encoder.eval()
        return self

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Per-frame encoder features, (B, L, 3, H, W) -> (B, L, F)."""
        batch, length = x.shape[:2]
        out: torch.Tensor = self.encoder(x.flatten(0, 1))
        return out.view(batch, length, -1)

    def classify_features(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from per-frame features computed anywhere, (B, L, F) -> (B,)."""
        steps, _ = self.lstm(self.dropout(features))
        out: torch.Tensor = self.fc(steps[:, -1])
        return out.squeeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Fake logits per sequence, (B, L, 3, H, W) -> (B,)."""
        return self.classify_features(self.features(x))

    def head(self, features: torch.Tensor, lengths: Sequence[int]) -> torch.Tensor:
        """Sequence logits (S,) from flat per-crop features (sum of lengths, F).

        Sequences of equal length go through the LSTM together; a clip shorter than L frames
        can give shorter sequences, and each length is its own batch.
        """
        logits = torch.empty(len(lengths), device=features.device)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        for length in sorted(set(lengths)):
            chosen = [index for index, value in enumerate(lengths) if value == length]
            rows = [int(offsets[index]) + step for index in chosen for step in range(length)]
            batch = features[torch.tensor(rows, device=features.device)]
            scores = self.classify_features(batch.view(len(chosen), length, -1))
            logits[torch.tensor(chosen, device=features.device)] = scores.float()
        return logits


ClassifierFactory = Callable[[str, bool], Classifier]
"""`(backbone, pretrained) -> network`; the class it builds says what the member reads."""

_REGISTRY: dict[str, tuple[type[Classifier], ClassifierFactory]] = {}


def register_classifier(
    kind: str, cls: type[Classifier]
) -> Callable[[ClassifierFactory], ClassifierFactory]:
    """Register a factory of `cls` networks for a manifest member kind."""

    def decorate(factory: ClassifierFactory) -> ClassifierFactory:
        _REGISTRY[kind] = (cls, factory)
        return factory

    return decorate


@register_classifier("frame", FrameClassifier)
def _frame(backbone: str, pretrained: bool) -> Classifier:
    return FrameClassifier(backbone, pretrained=pretrained)


@register_classifier("sequence", SequenceClassifier)
def _sequence(backbone: str, pretrained: bool) -> Classifier:
    return SequenceClassifier(backbone, pretrained=pretrained)


def classifier_kinds() -> list[str]:
    """The member kinds the registry can build."""
    return sorted(_REGISTRY)


def classifier_input(kind: str) -> InputKind:
    """What a registered kind reads: face crops ("frame") or sequences ("sequence")."""
    if kind not in _REGISTRY:
        raise KeyError(f"unknown classifier kind {kind!r}; known: {classifier_kinds()}")
    return _REGISTRY[kind][0].input_kind


def build_classifier(kind: str, backbone: str, *, pretrained: bool = False) -> Classifier:
    """Build a classifier of a registered kind around a timm backbone (weights random)."""
    if kind not in _REGISTRY:
        raise KeyError(f"unknown classifier kind {kind!r}; known: {classifier_kinds()}")
    return _REGISTRY[kind][1](backbone, pretrained)
