"""Member names: pure string rules, no torch, so the command line and the API can use them."""

from __future__ import annotations

import re


def member_prefix(backbone: str) -> str:
    """Short name members are named after: `tf_efficientnet_b6` -> `b6`, `resnet18` -> `resnet18`.

    EfficientNets (v1) are named by their scale (`b0` to `b8`, `l2`, `lite0` to `lite4`),
    anything else by its timm name without the pretrained tag, so the 15th-place default gives
    `b6_frame`, `b6_frame_cutmix` and `b6_lstm`.
    """
    architecture = backbone.split(".", 1)[0]
    match = re.search(r"(?<![a-z0-9])efficientnet_(b\d|l2|lite\d)$", architecture)
    return match.group(1) if match else re.sub(r"[^A-Za-z0-9]+", "_", architecture)
