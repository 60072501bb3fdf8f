"""BatchNorm folding: the folded encoder computes the same features with no norm layers left."""

from __future__ import annotations

import timm
import torch
from torch import nn

from models.fold import fold_batchnorm

SIZE = 64


def with_random_statistics(model: nn.Module) -> nn.Module:
    """Running statistics and affine terms away from their initial 0/1, so folding must work."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.BatchNorm2d):
                shape = module.running_mean.shape
                module.running_mean.copy_(torch.rand(shape, generator=generator) - 0.5)
                module.running_var.copy_(torch.rand(shape, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(shape, generator=generator) + 0.5)
                module.bias.copy_(torch.rand(shape, generator=generator) * 0.4 - 0.2)
    return model.eval()


def norms(model: nn.Module) -> int:
    return sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / a.norm())


def features(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        out: torch.Tensor = model(images)
    return out


def test_efficientnet_folds_every_norm_and_keeps_its_features() -> None:
    encoder = with_random_statistics(timm.create_model("efficientnet_b0", num_classes=0))
    images = torch.randn(3, 3, SIZE, SIZE)
    before = features(encoder, images)
    folded = fold_batchnorm(encoder, SIZE)
    assert norms(encoder) > 40 and norms(folded) == 0
    assert relative_difference(before, features(folded, images)) < 1e-5
    # The original is a copy's source, not changed: shared or training code may still hold it.
    assert torch.equal(features(encoder, images), before)


def test_resnet_plain_batchnorm_folds_too() -> None:
    encoder = with_random_statistics(timm.create_model("resnet18", num_classes=0))
    images = torch.randn(2, 3, SIZE, SIZE)
    folded = fold_batchnorm(encoder, SIZE)
    assert norms(folded) == 0
    assert relative_difference(features(encoder, images), features(folded, images)) < 1e-5


class NormBeforeConv(nn.Module):
    """Registered conv-then-norm but run norm-then-conv: registration order is not data flow."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.norm = nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.conv(self.norm(x))
        return out


def test_a_fold_that_would_change_features_is_refused() -> None:
    encoder = with_random_statistics(NormBeforeConv())
    assert fold_batchnorm(encoder, SIZE) is encoder


def test_a_network_without_norms_is_returned_as_is() -> None:
    encoder = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()).eval()
    assert fold_batchnorm(encoder, SIZE) is encoder
