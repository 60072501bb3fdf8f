"""`dfdetect models import SOLUTION ...`: a DFDC solution's published checkpoints as a model dir.

Torch is imported inside the handlers. Checkpoints are read with `torch.load(weights_only=True)`
only: a file whose pickle names code is refused, never run.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from contract.pipeline import DEFAULT_IMAGE_SIZE, DEFAULT_SEQUENCE_LENGTH


def register_import(msub: Any) -> None:
    """Add `models import dfdc-1st` and `models import dfdc-15th`."""
    p = msub.add_parser(
        "import",
        help="Turn a DFDC solution's checkpoints into a model directory (trained: true).",
    )
    isub = p.add_subparsers(dest="import_solution", required=True, metavar="SOLUTION")
    first = isub.add_parser(
        "dfdc-1st",
        help="selimsef/dfdc_deepfake_challenge's DeepFakeClassifier checkpoints (release 0.0.1: "
        "seven EfficientNet-B7s), recipe dfdc-1st.",
    )
    first.add_argument("--out", type=Path, required=True, help="Directory to create.")
    first.add_argument("checkpoints", nargs="+", type=Path, metavar="CHECKPOINT")
    first.set_defaults(handler=import_first)
    fifteenth = isub.add_parser(
        "dfdc-15th",
        help="Checkpoints trained with ryanwongsa/DeepFakeDetectionChallenge's code (two Net "
        "frame models and one SequenceModelEfficientNet), recipe dfdc-15th.",
    )
    fifteenth.add_argument("--out", type=Path, required=True, help="Directory to create.")
    fifteenth.add_argument("--frame", type=Path, required=True, help="The frame Net checkpoint.")
    fifteenth.add_argument(
        "--frame-cutmix", type=Path, required=True, help="The CutMix-trained frame Net checkpoint."
    )
    fifteenth.add_argument(
        "--sequence", type=Path, required=True, help="The SequenceModelEfficientNet checkpoint."
    )
    fifteenth.add_argument(
        "--image-size",
        type=int,
        default=DEFAULT_IMAGE_SIZE,
        help=f"Crop size the members were trained on (default {DEFAULT_IMAGE_SIZE}).",
    )
    fifteenth.add_argument(
        "--sequence-length",
        type=int,
        default=DEFAULT_SEQUENCE_LENGTH,
        help=f"Frames per sequence (default {DEFAULT_SEQUENCE_LENGTH}).",
    )
    fifteenth.set_defaults(handler=import_fifteenth)


def _report(out: Path, manifest: Any) -> int:
    for member in manifest.members:
        source = member.provenance.source_file if member.provenance else "?"
        print(f"  {member.name}: {member.kind} {member.backbone} <- {source}")
    print(f"wrote {out} (recipe {manifest.recipe}, trained: true)")
    return 0


def import_first(args: argparse.Namespace) -> int:
    """`dfdetect models import dfdc-1st`."""
    from contract.errors import ModelError
    from models.import_dfdc1st import import_dfdc1st

    try:
        manifest = import_dfdc1st(args.out, args.checkpoints)
    except ModelError as exc:
        raise SystemExit(f"dfdetect models import dfdc-1st: {exc.message}") from exc
    return _report(args.out, manifest)


def import_fifteenth(args: argparse.Namespace) -> int:
    """`dfdetect models import dfdc-15th`."""
    from contract.errors import ModelError
    from models.import_dfdc15th import import_dfdc15th

    try:
        manifest = import_dfdc15th(
            args.out,
            args.frame,
            args.frame_cutmix,
            args.sequence,
            image_size=args.image_size,
            sequence_length=args.sequence_length,
        )
    except ModelError as exc:
        raise SystemExit(f"dfdetect models import dfdc-15th: {exc.message}") from exc
    return _report(args.out, manifest)
