"""Networks in the DFDC solutions' own layouts, made lively, and real face crops to score.

The layouts are rebuilt here from those repositories' module structure (attribute names and
forward passes), so their state dicts have the keys the solutions' checkpoints have:
- 1st place (selimsef, training/zoo/classifiers.py `DeepFakeClassifier`): a full timm model as
  `encoder` (its ImageNet classifier included), `forward_features`, average pool, dropout, `fc`.
- 15th place (ryanwongsa, models/efficientnet/net.py `Net` and efficientnet_lstm/model.py
  `SequenceModelEfficientNet`): lukemelas' EfficientNet from the `efficientnet_pytorch` package.

Untrained networks answer about the same for every input; BatchNorm affine parameters are drawn
at random, the statistics re-estimated on face crops and the heads scaled so logits spread.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import timm
import torch
from efficientnet_pytorch import EfficientNet
from efficientnet_pytorch.utils import Conv2dDynamicSamePadding
from PIL import Image
from torch import nn
from torch.nn import functional as F

from contract.pipeline import IMAGENET_MEAN, IMAGENET_STD, PipelineConfig
from models.networks import feature_width
from workers.crops import crop_with_margin
from workers.faces import FaceDetector

CPU = torch.device("cpu")


def face_crops(data_dir: Path, count: int, size: int, seed: int = 0) -> list[np.ndarray]:
    """`count` crops of the face in obama.jpg (MTCNN's box, jittered in scale and place), with
    the 15th-place margin, area-resized to size x size."""
    image = np.asarray(Image.open(data_dir / "images" / "obama.jpg").convert("RGB"))
    detector = FaceDetector(PipelineConfig(device="cpu"), CPU)
    x1, y1, x2, y2 = max(detector.detect([image])[0], key=lambda d: d.prob).box
    rng = np.random.default_rng(seed)
    crops = []
    for _ in range(count):
        scale = rng.uniform(0.7, 1.4)
        cx, cy = (x1 + x2) / 2 + rng.normal(0, 15), (y1 + y2) / 2 + rng.normal(0, 15)
        hw, hh = (x2 - x1) * scale / 2, (y2 - y1) * scale / 2
        crop = crop_with_margin(image, (cx - hw, cy - hh, cx + hw, cy + hh))
        crops.append(cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA))
    return crops


def to_batch(crops: list[np.ndarray]) -> torch.Tensor:
    """uint8 HWC crops as an ImageNet-normalised float NCHW batch (the kernels' Normalize)."""
    mean, std = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)
    array = ((np.stack(crops) / 255.0 - mean) / std).transpose(0, 3, 1, 2)
    return torch.tensor(array, dtype=torch.float32)


def enliven_batchnorms(network: nn.Module, images: torch.Tensor, seed: int) -> None:
    """Random BatchNorm affine parameters, statistics re-estimated on `images` (eval after)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0.0, 0.2, generator=generator)
                module.reset_running_stats()
                module.momentum = None  # a plain average over the batch
        network.train()
        network(images)
    network.eval()


def standardise(fc: nn.Linear, logits: torch.Tensor, spread: float = 2.0) -> None:
    """Shift and scale a 1-output head so its logits on these inputs have mean 0, std `spread`."""
    with torch.no_grad():
        scale = logits.std() / spread
        fc.bias.sub_(logits.mean()).div_(scale)
        fc.weight.div_(scale)


class DeepFakeClassifierLayout(nn.Module):
    """1st place's DeepFakeClassifier: the module names and forward of classifiers.py."""

    def __init__(self, encoder: str) -> None:
        super().__init__()
        self.encoder: Any = timm.create_model(encoder, pretrained=False)  # 1000-class head kept
        self.avg_pool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(0.0)
        self.fc = nn.Linear(feature_width(self.encoder), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.avg_pool(self.encoder.forward_features(x)).flatten(1)
        out: torch.Tensor = self.fc(self.dropout(x))
        return out.squeeze(1)


def lively_first(encoder: str, images: torch.Tensor, seed: int) -> DeepFakeClassifierLayout:
    torch.manual_seed(seed)
    net = DeepFakeClassifierLayout(encoder)
    enliven_batchnorms(net.encoder, images, seed)
    with torch.no_grad():
        standardise(net.fc, net(images))
    return net.eval()


def vendored_padding(network: nn.Module, nominal: int) -> nn.Module:
    """Pad every convolution as the 15th place's vendored copy did: statically, for the
    network's nominal image size (B6: 528) at every depth, whatever size arrives there."""
    for conv in network.modules():
        if isinstance(conv, Conv2dDynamicSamePadding):
            pads = []
            for k, s in zip(conv.weight.shape[-2:], conv.stride, strict=True):
                total = max((math.ceil(nominal / s) - 1) * s + k - nominal, 0)
                pads.append((total // 2, total - total // 2))
            (top, bottom), (left, right) = pads

            def forward(
                x: torch.Tensor,
                conv: nn.Conv2d = conv,
                pad: tuple[int, ...] = (left, right, top, bottom),
            ) -> torch.Tensor:
                return F.conv2d(
                    F.pad(x, pad),
                    conv.weight,
                    conv.bias,
                    conv.stride,
                    0,
                    conv.dilation,
                    conv.groups,
                )

            conv.forward = forward
    return network


class NetLayout(nn.Module):
    """15th place's frame model `Net`: `efficient_net`, pool, dropout, `_fc`, sigmoid."""

    def __init__(self, model_name: str, image_size: int | None = None) -> None:
        super().__init__()
        self.efficient_net = EfficientNet.from_name(model_name, image_size=image_size)
        self._avg_pooling = nn.AdaptiveAvgPool2d(1)
        self._dropout = nn.Dropout(0.2)
        self._fc: nn.Module = nn.Linear(self.efficient_net._fc.in_features, 1)
        self.out_act: nn.Module = nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._avg_pooling(self.efficient_net.extract_features(x)).flatten(1)
        out: torch.Tensor = self.out_act(self._fc(self._dropout(x)))
        return out

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """The output before `out_act`: what our frame kind returns."""
        x = self._avg_pooling(self.efficient_net.extract_features(x)).flatten(1)
        out: torch.Tensor = self._fc(self._dropout(x))
        return out.squeeze(1)


class _Holder(nn.Module):
    """Holds modules under names (ResCNNEncoder.net, EfficientFeatures.model)."""

    def __init__(self, **children: nn.Module) -> None:
        super().__init__()
        for name, child in children.items():
            self.add_module(name, child)


class _Decoder(nn.Module):
    def __init__(self, features: int, bidirectional: bool) -> None:
        super().__init__()
        self.LSTM = nn.LSTM(
            features, 512, num_layers=2, batch_first=True, bidirectional=bidirectional
        )
        self.fc1 = nn.Linear(512 * (2 if bidirectional else 1), 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps, _ = self.LSTM(x, None)
        out: torch.Tensor = self.fc1(steps)
        return out[:, -1, :]


class SequenceModelLayout(nn.Module):
    """15th place's SequenceModelEfficientNet: `encoder_model.net.model` is a Net whose `_fc`
    is an identity (its sigmoid stays), `decoder_model` the LSTM and `fc1`."""

    def __init__(self, net: NetLayout, bidirectional: bool) -> None:
        super().__init__()
        net._fc = nn.Identity()
        self.encoder_model = _Holder(net=_Holder(model=net))
        self.decoder_model = _Decoder(net.efficient_net._fc.in_features, bidirectional)

    @property
    def frame_net(self) -> NetLayout:
        net = self.encoder_model.get_submodule("net.model")
        assert isinstance(net, NetLayout)
        return net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits per sequence, (B, L, 3, H, W) -> (B,)."""
        batch, steps = x.shape[:2]
        features = self.frame_net(x.flatten(0, 1)).view(batch, steps, -1)
        out: torch.Tensor = self.decoder_model(features)
        return out.squeeze(1)
