"""`dfdetect train starter` and `dfdetect preprocess-real`: the starter ensemble from real faces."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from contract.paths import shared_data_dir
from training.starter_options import StarterOptions


def register_train(tsub: Any) -> None:
    """Add `train starter` under `dfdetect train`."""
    p = tsub.add_parser(
        "starter",
        help="Rebuild the starter ensemble (SBI on a pretrained EfficientNet-Lite); resumable.",
        description="Caches the real faces of DATA/train_real and DATA/images with MTCNN "
        "landmarks, trains a frame member, a CutMix frame member and an LSTM head on the frozen "
        "CutMix encoder on self-blended images, evaluates on DATA/videos (never trained on), "
        "writes the model card and copies the ensemble to --out. Run it again after an "
        "interruption: finished steps and epochs are skipped.",
    )
    p.add_argument(
        "--data", type=Path, default=None, help="Shared data (default DFDETECT_TEST_DATA)."
    )
    default = StarterOptions(data_dir=Path())  # one set of defaults: the committed recipe's
    p.add_argument("--work", type=Path, default=default.work, help="Caches and checkpoints.")
    p.add_argument("--out", type=Path, default=default.out, help="Where it is published.")
    p.add_argument("--backbone", default=default.backbone, help="A packaged-pretrained Lite.")
    p.add_argument(
        "--image-size",
        type=int,
        default=default.image_size,
        help=f"Member input side, px (default {default.image_size}).",
    )
    p.add_argument("--frame-epochs", type=int, default=default.frame_epochs)
    p.add_argument(
        "--frame-samples", type=int, default=default.frame_samples, help="Pairs a frame epoch."
    )
    p.add_argument("--sequence-epochs", type=int, default=default.sequence_epochs)
    p.add_argument(
        "--sequence-samples",
        type=int,
        default=default.sequence_samples,
        help="Sequence pairs an LSTM epoch.",
    )
    p.add_argument(
        "--lr",
        type=float,
        default=default.lr,
        help=f"AdamW base learning rate; the warm-up climbs to 10x (default {default.lr:g}).",
    )
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="No progress bars (logs only).")
    p.set_defaults(handler=train_starter)


def register(subparsers: Any) -> None:
    """Add `preprocess-real`."""
    p = subparsers.add_parser(
        "preprocess-real",
        help="Cache face strips and MTCNN landmarks of real clips and photos (for --sbi).",
    )
    p.add_argument("roots", nargs="+", type=Path, metavar="DIR", help="Folders of clips/photos.")
    p.add_argument("--out", type=Path, required=True, metavar="CACHE")
    p.add_argument("--sequences", type=int, default=4, help="Sequences per clip (default 4).")
    p.add_argument("--sequence-length", type=int, default=5)
    p.add_argument("--crop-size", type=int, default=224)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.set_defaults(handler=preprocess_real)


def preprocess_real(args: argparse.Namespace) -> int:
    import torch

    from contract.errors import DatasetError
    from training.real_faces import RealSettings
    from training.real_faces import preprocess_real as run

    settings = RealSettings(
        sequences=args.sequences, sequence_length=args.sequence_length, crop_size=args.crop_size
    )
    try:
        counts = run(args.roots, args.out, settings, device=torch.device(args.device))
    except DatasetError as exc:
        raise SystemExit(f"dfdetect preprocess-real: {exc}") from exc
    print(json.dumps(counts))
    return 0


def train_starter(args: argparse.Namespace) -> int:
    from contract.errors import DatasetError, ModelError
    from training.starter import build_starter

    options = StarterOptions(
        data_dir=args.data or shared_data_dir(),
        work=args.work,
        out=args.out,
        backbone=args.backbone,
        image_size=args.image_size,
        frame_epochs=args.frame_epochs,
        frame_samples=args.frame_samples,
        sequence_epochs=args.sequence_epochs,
        sequence_samples=args.sequence_samples,
        lr=args.lr,
        device=args.device,
        seed=args.seed,
        progress=not args.no_progress,
    )
    try:
        report = build_starter(options)
    except (DatasetError, ModelError) as exc:
        raise SystemExit(f"dfdetect train starter: {exc}") from exc
    print((Path(options.out) / "MODEL_CARD.md").read_text(encoding="utf-8"))
    print(json.dumps({k: report[k] for k in ("ensemble", "full_frame", "face_crops")}, indent=2))
    return 0
