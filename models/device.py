"""Which torch device a setting names: `auto` is CUDA when present."""

from __future__ import annotations

from typing import Literal

import torch

from contract.errors import ModelError


def resolve_device(device: Literal["auto", "cpu", "cuda"]) -> torch.device:
    """`auto` is CUDA when present, else CPU; asking for CUDA without it is a ModelError."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError(
            "device 'cuda' was asked for but CUDA is not available (no GPU visible or a "
            "CPU-only torch build); use --device cpu or --device auto"
        )
    return torch.device(device)
