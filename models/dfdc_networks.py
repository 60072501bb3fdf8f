"""The 15th-place sequence network exactly as its code built it, as registered classifier kinds.

ryanwongsa/DeepFakeDetectionChallenge, `models/efficientnet_lstm/model.py`: the encoder is the
frame model `Net` with its `_fc` replaced by an identity, so what reaches the LSTM is
`sigmoid(average pool(features))` (`Net.out_act` stays). Then a 2-layer LSTM with 512 hidden
units and `fc1` on its output at the last time step. That file exists in two versions:
unidirectional (dropout 0.0 between the LSTM layers, none before it) and bidirectional
(`F.dropout(p=0.4)` before the LSTM, 0.3 between its layers, `fc1` from 1024). A checkpoint
says which by its tensors, so each is a kind. Dropout only matters in training.

Our own `sequence` kind (models/networks.py) has no sigmoid: it is a different network, and
weights of the one do not score with the other.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from models.networks import (
    LSTM_HIDDEN,
    LSTM_LAYERS,
    Classifier,
    SequenceClassifier,
    create_backbone,
    feature_width,
    register_classifier,
)

LSTM_15TH = "dfdc15th_lstm"
"""Kind of the unidirectional 15th-place sequence model."""
BILSTM_15TH = "dfdc15th_bilstm"
"""Kind of the bidirectional 15th-place sequence model."""


class Dfdc15thSequenceClassifier(SequenceClassifier):
    """Frozen backbone -> sigmoid -> dropout -> LSTM(F, 512, 2 layers) -> linear(1), last step.

    A SequenceClassifier in everything but its head (frozen eval-mode encoder, `features`,
    `head` batching equal lengths), so the ensemble and the trainer treat it as one.
    """

    bidirectional: ClassVar[bool] = False
    input_dropout: ClassVar[float] = 0.0
    lstm_dropout: ClassVar[float] = 0.0

    def __init__(self, backbone: str, *, pretrained: bool = False) -> None:
        Classifier.__init__(self)  # not SequenceClassifier's: its LSTM is not this one
        self.encoder = create_backbone(backbone, pretrained=pretrained)
        self.encoder.requires_grad_(False)
        self.encoder.eval()
        self.dropout = nn.Dropout(self.input_dropout)
        self.lstm = nn.LSTM(
            feature_width(self.encoder),
            LSTM_HIDDEN,
            num_layers=LSTM_LAYERS,
            dropout=self.lstm_dropout,
            batch_first=True,
            bidirectional=self.bidirectional,
        )
        self.fc = nn.Linear(LSTM_HIDDEN * (2 if self.bidirectional else 1), 1)

    def classify_features(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from per-frame pooled features, (B, L, F) -> (B,): sigmoid first, as `Net`."""
        steps, _ = self.lstm(self.dropout(torch.sigmoid(features)))
        out: torch.Tensor = self.fc(steps[:, -1])
        return out.squeeze(1)


class Dfdc15thBiSequenceClassifier(Dfdc15thSequenceClassifier):
    """The bidirectional version: the last step's output is the forward pass over all L
    frames next to the backward pass over the last frame alone."""

    bidirectional = True
    input_dropout = 0.4
    lstm_dropout = 0.3


@register_classifier(LSTM_15TH, Dfdc15thSequenceClassifier)
def _lstm_15th(backbone: str, pretrained: bool) -> Classifier:
    return Dfdc15thSequenceClassifier(backbone, pretrained=pretrained)


@register_classifier(BILSTM_15TH, Dfdc15thBiSequenceClassifier)
def _bilstm_15th(backbone: str, pretrained: bool) -> Classifier:
    return Dfdc15thBiSequenceClassifier(backbone, pretrained=pretrained)
