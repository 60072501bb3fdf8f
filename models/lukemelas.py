"""Map EfficientNet weights in lukemelas' layout (`efficientnet_pytorch`) onto timm's `tf_` models.

lukemelas' EfficientNet keeps its blocks in one flat list (`_blocks.N`); timm nests them by stage
(`blocks.S.J`). Both build the same TensorFlow network, so block N of the one is the N-th block
of the other, and inside a block each module has one role (expand, depthwise, squeeze-excite,
project), each with its BatchNorm.

The BatchNorms cannot be paired by name: lukemelas numbers them by the conv they follow
(`_bn0` after the expand conv, `_bn1` after the depthwise conv, `_bn2` after the projection),
while timm numbers them in order from 1 and its first block has no expand conv (an inverted
residual's `bn1` is lukemelas' `_bn0`, a depthwise-separable block's `bn1` is lukemelas' `_bn1`).
Nor is the serialised order a contract of either library. So each timm module is paired with the
lukemelas module of the same role, the pairs are walked in timm's order, and every shape is
checked: a mapping that does not fit fails loudly instead of loading half a network.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

STEM_AND_HEAD = {
    "conv_stem": "_conv_stem",
    "bn1": "_bn0",
    "conv_head": "_conv_head",
    "bn2": "_bn1",
    "classifier": "_fc",
}
"""timm's modules outside the blocks -> lukemelas' (the classifier is lukemelas' `_fc`)."""

INVERTED_RESIDUAL = {
    "conv_pw": "_expand_conv",
    "bn1": "_bn0",
    "conv_dw": "_depthwise_conv",
    "bn2": "_bn1",
    "se.conv_reduce": "_se_reduce",
    "se.conv_expand": "_se_expand",
    "conv_pwl": "_project_conv",
    "bn3": "_bn2",
}
"""A timm inverted-residual block's modules -> lukemelas' (expand, depthwise, SE, project)."""

DEPTHWISE_SEPARABLE = {
    "conv_dw": "_depthwise_conv",
    "bn1": "_bn1",
    "se.conv_reduce": "_se_reduce",
    "se.conv_expand": "_se_expand",
    "conv_pw": "_project_conv",
    "bn2": "_bn2",
}
"""A timm depthwise-separable block (no expand conv, expansion ratio 1) -> lukemelas' block."""

BATCHES_TRACKED = "num_batches_tracked"
"""A BatchNorm counter that only training uses; one side may lack it."""

_BLOCK_KEY = re.compile(r"blocks\.(\d+)\.(\d+)\.(.+)")


def lukemelas_to_timm(
    source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """`source` (lukemelas keys, no prefix) as a state dict with `target`'s keys and shapes.

    Raises ValueError naming the first key that does not fit: a lukemelas key the target needs
    but `source` lacks, a shape that differs, or a `source` key that maps onto nothing.
    """
    names = _source_names(target)
    mapped: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for key, wanted in target.items():
        name = names[key]
        if name not in source:
            if key.endswith(BATCHES_TRACKED):
                mapped[key] = wanted
                continue
            raise ValueError(f"source lacks {name!r} (for timm {key!r})")
        tensor = source[name]
        if tensor.shape != wanted.shape:
            raise ValueError(
                f"shape mismatch at {name!r}: source {tuple(tensor.shape)}, "
                f"timm {key!r} {tuple(wanted.shape)}"
            )
        mapped[key] = tensor
        used.add(name)
    _check_all_used(source, used, has_classifier="classifier.weight" in target)
    return mapped


def _source_names(target: Mapping[str, torch.Tensor]) -> dict[str, str]:
    """Each timm key -> the lukemelas key that holds the same tensor."""
    blocks = _block_order(target)
    names: dict[str, str] = {}
    for key in target:
        match = _BLOCK_KEY.fullmatch(key)
        if match is None:
            module, _, tensor = key.rpartition(".")
            names[key] = f"{_role(STEM_AND_HEAD, module, key)}.{tensor}"
            continue
        stage, index, rest = match.groups()
        module, _, tensor = rest.rpartition(".")
        flat, table = blocks[(stage, index)]
        names[key] = f"_blocks.{flat}.{_role(table, module, key)}.{tensor}"
    return names


def _block_order(
    target: Mapping[str, torch.Tensor],
) -> dict[tuple[str, str], tuple[int, Mapping[str, str]]]:
    """timm's (stage, index) -> (lukemelas' flat block number, the block's role table)."""
    blocks: dict[tuple[str, str], tuple[int, Mapping[str, str]]] = {}
    for key in target:
        match = _BLOCK_KEY.fullmatch(key)
        if match is None:
            continue
        stage, index, _ = match.groups()
        if (stage, index) not in blocks:
            prefix = f"blocks.{stage}.{index}."
            # Only an inverted residual projects with `conv_pwl`; a block without one is
            # depthwise-separable, whose `conv_pw` is the projection.
            inverted = any(k.startswith(prefix + "conv_pwl.") for k in target)
            table = INVERTED_RESIDUAL if inverted else DEPTHWISE_SEPARABLE
            blocks[(stage, index)] = (len(blocks), table)
    return blocks


def _role(table: Mapping[str, str], module: str, key: str) -> str:
    """The lukemelas module for timm `module`; ValueError when lukemelas has no such module."""
    if module not in table:
        raise ValueError(f"timm {key!r} has no counterpart in a lukemelas EfficientNet")
    return table[module]


def _check_all_used(
    source: Mapping[str, torch.Tensor], used: set[str], has_classifier: bool
) -> None:
    """ValueError naming the first `source` key that no timm tensor took."""
    for name in source:
        if name in used or name.endswith(BATCHES_TRACKED):
            continue
        # A headless target (num_classes=0) has no classifier: the ImageNet head is dropped.
        if not has_classifier and name.startswith("_fc."):
            continue
        raise ValueError(f"unexpected source key {name!r}: no timm tensor maps onto it")
