"""`dfdetect models ...`: manage ensemble directories. Torch is imported inside handlers."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli.models_import import register_import
from contract.pipeline import DEFAULT_BACKBONE


def register(subparsers: Any) -> None:
    models = subparsers.add_parser("models", help="Manage ensemble directories.")
    msub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    p = msub.add_parser(
        "scaffold",
        help="Write the 15th-place three-member ensemble with random weights (trained: false).",
    )
    p.add_argument("--out", type=Path, required=True, help="Directory to create.")
    p.add_argument(
        "--backbone",
        default=DEFAULT_BACKBONE,
        help=f"timm backbone (default {DEFAULT_BACKBONE}).",
    )
    p.add_argument("--image-size", type=int, default=224, help="Crop size (default 224).")
    p.set_defaults(handler=scaffold)
    register_import(msub)


def scaffold(args: argparse.Namespace) -> int:
    from models.scaffold import scaffold_ensemble

    manifest = scaffold_ensemble(args.out, backbone=args.backbone, image_size=args.image_size)
    names = ", ".join(m.name for m in manifest.members)
    print(f"wrote {args.out}: {names} (random weights, trained: false)")
    return 0
