"""What `dfdetect train starter` is asked to do, and the starter's name and version.

Torch-free, so the command line reads its defaults without loading the training stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from models.naming import member_prefix
from models.postprocess import Strategy

STARTER_NAME = "dfdetect-starter-sbi"
"""Prefix of the starter's name; the backbone's short name follows (dfdetect-starter-sbi-lite0)."""
STARTER_VERSION = "4"
"""Bumped whenever the recipe below changes the weights."""


@dataclass
class StarterOptions:
    """What `dfdetect train starter` was asked to do; the defaults (the command line's too) are
    the committed starter's recipe, about 45 minutes on a 2-core CPU (version 3: 43 min)."""

    data_dir: Path
    work: Path = Path("var/starter")
    out: Path = Path("models/starter")
    backbone: str = "tf_efficientnet_lite0"
    image_size: int = 224
    frame_epochs: int = 3
    frame_samples: int = 4096
    sequence_epochs: int = 3
    sequence_samples: int = 768
    sequence_length: int = 5
    sequences_per_clip: int = 4
    batch_size: int = 32
    lr: float = 5e-5
    device: str = "auto"
    seed: int = 0
    postprocess: Strategy = "mean"
    """Every member's video score. The mean of all faces, not the 15th place's cascade: the
    cascade answers with the mean of the scores above 0.8 when 8 faces pass it, which trusts
    single-face confidence, and a starter whose per-face scores are weak evidence should not be
    trusted that way (it turned v1's errors into near-certain ones)."""
    progress: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{STARTER_NAME}-{member_prefix(self.backbone)}"
