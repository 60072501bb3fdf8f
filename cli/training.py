"""Commands of the models room: preprocess, train {frame,sequence}, fit-postprocess, calibrate,
evaluate.

The parsers; the handlers live in models/handlers.py and import torch only when they run, so
`dfdetect --help` stays light.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cli import starter
from cli import train_handlers as handlers
from cli.common import add_method_options
from contract.pipeline import DEFAULT_BACKBONE
from training.schedule import CYCLE_EPOCHS, LEARNING_RATE, WARMUP_MULTIPLIER, WEIGHT_DECAY

DEFAULT_EVAL_DIR = Path("var/evaluation")
"""Where `dfdetect evaluate` writes its report without --out."""


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value}: must be 1 or more")
    return number


def _encoder(value: str) -> tuple[Path, str]:
    from training.train_sequence import parse_encoder

    try:
        return parse_encoder(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _augmentations(value: str) -> list[str]:
    from training.reencode import parse_augmentations

    try:
        return parse_augmentations(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _labelled_options(p: argparse.ArgumentParser, verb: str, printed: str) -> None:
    """What the commands that fit a model directory on labelled videos take."""
    p.add_argument(
        "--data",
        type=Path,
        nargs="+",
        required=True,
        metavar="DATA_DIR",
        help="DFDC-layout folders of labelled videos.",
    )
    p.add_argument("--model-dir", type=Path, required=True, help=f"Model directory to {verb}.")
    p.add_argument("--dry-run", action="store_true", help=f"Print {printed}; change nothing.")
    _sampling_options(p, "(use the serving setting)")


def _sampling_options(p: argparse.ArgumentParser, what: str, *, ensemble: bool = True) -> None:
    p.add_argument(
        "--sequences",
        type=_positive,
        help=f"Sequences sampled per video {what} (default DFDETECT_SEQUENCES, 10).",
    )
    default = "the ensemble's sequence members', else " if ensemble else ""
    p.add_argument(
        "--sequence-length",
        type=_positive,
        help=f"Consecutive frames per sequence (default: {default}DFDETECT_SEQUENCE_LENGTH, 5).",
    )
    p.add_argument(
        "--detect-scale",
        type=float,
        help="Detect faces on frames scaled by this, boxes mapped back (default 1.0: full size).",
    )
    p.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], help="Default DFDETECT_DEVICE (auto)."
    )
    if ensemble:
        add_method_options(
            p,
            video_score_help="all_faces (every face, the recipe's rule) or max_person (the most "
            "fake person); default DFDETECT_VIDEO_SCORE, else the recipe's.",
        )


def register(subparsers: Any) -> None:
    """Add preprocess, train {frame,sequence}, fit-postprocess, calibrate and evaluate."""
    p = subparsers.add_parser(
        "preprocess",
        help="Cache the face crops and sequences of labelled videos for training.",
        description="Runs the inference pipeline's sampling, MTCNN face selection and margin "
        "crops on DFDC-layout folders and caches the crops as PNG with an index. Resumable: "
        "run it again after an interruption and only unfinished (or failed) videos are done.",
    )
    p.add_argument(
        "data_dirs",
        nargs="+",
        type=Path,
        metavar="DATA_DIR",
        help="Folders of videos beside a metadata.json mapping file name -> "
        '{"label": "FAKE"|"REAL"} (the DFDC layout).',
    )
    p.add_argument("--out", type=Path, required=True, metavar="CACHE", help="Cache folder.")
    _sampling_options(p, "(more sequences give more training crops)", ensemble=False)
    p.add_argument(
        "--crop-size",
        type=_positive,
        default=224,
        help="Side of the cached crops in px (default 224, the 15th-place input size; "
        "members train at --image-size from these).",
    )
    p.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="Videos processed in parallel, one process and one MTCNN each (default 1).",
    )
    p.set_defaults(handler=handlers.preprocess)

    train = subparsers.add_parser("train", help="Train an ensemble member on a crop cache.")
    tsub = train.add_subparsers(dest="train_command", required=True, metavar="MEMBER")
    p = tsub.add_parser(
        "frame",
        help="Train a frame classifier (timm backbone + linear head) on cached face crops.",
        description="15th-place recipe: AdamW (lr 3e-4, weight decay 1e-3), warm-up to 10x lr "
        "over the first epoch then cosine cycles of 4 epochs, mixed precision on CUDA, "
        "balanced REAL/FAKE sampling, the 15th-place augmentations, optional CutMix. The best "
        "epoch (validation log loss) is written as MODEL_DIR/NAME.safetensors and a manifest "
        "member with trained: true.",
    )
    p.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="MODEL_DIR",
        help="Model directory "
        "(created, or an existing one whose member of the same name is replaced).",
    )
    p.add_argument(
        "--backbone",
        default=DEFAULT_BACKBONE,
        help="timm backbone (default tf_efficientnet_b6, the 15th-place choice).",
    )
    p.add_argument(
        "--image-size", type=_positive, default=224, help="Input side in px (default 224)."
    )
    p.add_argument(
        "--pretrained",
        action="store_true",
        help="Start from ImageNet weights: from an installed package where one ships them "
        "(tf_efficientnet_lite0/lite2, offline), else timm's hub (needs the internet).",
    )
    _train_options(p, "b6_frame, or b6_frame_cutmix with --cutmix (b6 from the backbone)")
    p.set_defaults(handler=handlers.train_frame)

    p = tsub.add_parser(
        "sequence",
        help="Train the LSTM member on the frozen backbone of a trained frame member.",
        description="15th place: EfficientNet encoder frozen (the CutMix frame model's), "
        "dropout, LSTM(512, 2 layers), linear head on the last step, over sequences of L "
        "cached crops. Written into the encoder's model directory, so it holds a loadable "
        "ensemble with the frame members.",
    )
    p.add_argument(
        "--encoder",
        type=_encoder,
        required=True,
        metavar="MODEL_DIR:MEMBER",
        help="The trained frame member whose backbone is frozen, e.g. models/mine:b6_frame_cutmix.",
    )
    p.add_argument(
        "--sequence-length",
        type=_positive,
        default=5,
        help="Frames per sequence, L (default 5, as the 15th place). With caches of "
        "2L-1 frames or more, half the training sequences take every other frame "
        "(the half-frame-rate augmentation).",
    )
    _train_options(p, "b6_lstm (b6 from the encoder's backbone)")
    p.set_defaults(handler=handlers.train_sequence)
    starter.register_train(tsub)

    p = subparsers.add_parser(
        "fit-postprocess",
        help="Grid-search each member's post-processing for the lowest log loss on labelled "
        "videos.",
        description="Scores the videos with the pipeline, tries cascades of 1-3 (threshold, "
        "minimum count) pairs, the DFDC winner's confident strategy and the plain mean per "
        "member, prints the table and writes the winners into the manifest (checksums stay "
        "valid: post-processing is not in the checkpoints). Fit with the sampling you serve "
        "with, on videos not used for training.",
    )
    _labelled_options(p, "fit", "the table")
    p.set_defaults(handler=handlers.fit_postprocess)

    p = subparsers.add_parser(
        "calibrate",
        help="Fit the temperature of the ensemble's answers for the lowest log loss on labelled "
        "videos.",
        description="Scores the videos with the pipeline, fits one temperature (the video "
        "score's logit is divided by it: ROC AUC and the verdict order stay as they are), prints "
        "the log loss before, after and leave-one-out (the figure to expect on other videos), "
        "and writes it into the manifest; an operating-points table in the directory is moved "
        "onto the new scale. Fit on videos not used for training, with the sampling you serve "
        "with.",
    )
    _labelled_options(p, "calibrate", "the fit")
    p.set_defaults(handler=handlers.calibrate)

    p = subparsers.add_parser(
        "evaluate",
        help="Log loss, ROC AUC, accuracy and confusion matrix of an ensemble on labelled videos.",
        description="Scores the videos with the pipeline as they are and, with --augment, "
        "degraded copies. Log loss clips predictions to [1e-15, 1 - 1e-15] as DFDC did. "
        "Writes videos.csv, summary.json and roc.png into --out.",
    )
    p.add_argument(
        "data_dirs",
        nargs="+",
        type=Path,
        metavar="DATA_DIR",
        help="DFDC-layout folders of labelled videos.",
    )
    p.add_argument("--model-dir", type=Path, required=True, help="Model directory to evaluate.")
    p.add_argument(
        "--augment",
        type=_augmentations,
        default=[],
        metavar="LIST",
        help="Also evaluate degraded copies, comma-separated: jpeg (quality 40), "
        "downscale (half size), halffps (every other frame).",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_EVAL_DIR,
        help=f"Report folder (default {DEFAULT_EVAL_DIR}).",
    )
    p.add_argument(
        "--save-operating-points",
        action="store_true",
        help="Save the original clips' operating points (threshold -> false/true-positive "
        "rate, the FAKE/REAL bands) as operating_points.json in --model-dir; the verdicts "
        "read them. summary.json has the table either way.",
    )
    _sampling_options(p, "(use the serving setting)")
    p.set_defaults(handler=handlers.evaluate)


def _train_options(p: argparse.ArgumentParser, default_name: str) -> None:
    p.add_argument(
        "--cache",
        type=Path,
        nargs="+",
        required=True,
        metavar="CACHE",
        help="Training crop caches (from dfdetect preprocess).",
    )
    p.add_argument(
        "--val",
        type=Path,
        nargs="*",
        default=[],
        metavar="CACHE",
        help="Validation caches: log loss each epoch, and the best epoch is kept "
        "(without: the last epoch is kept).",
    )
    p.add_argument("--epochs", type=_positive, default=1, help="Epochs (default 1).")
    p.add_argument("--batch-size", type=_positive, default=32, help="Samples a step (default 32).")
    p.add_argument(
        "--samples-per-epoch",
        type=_positive,
        help="Balanced draws an epoch (default: as many as the cache holds).",
    )
    p.add_argument(
        "--lr",
        type=float,
        default=LEARNING_RATE,
        help="Base learning rate (default 3e-4, 15th place).",
    )
    p.add_argument(
        "--weight-decay",
        type=float,
        default=WEIGHT_DECAY,
        help="AdamW weight decay (default 1e-3).",
    )
    p.add_argument(
        "--warmup-multiplier",
        type=float,
        default=WARMUP_MULTIPLIER,
        help="The rate climbs to this times --lr over the first epoch (default 10).",
    )
    p.add_argument(
        "--cycle-epochs",
        type=_positive,
        default=CYCLE_EPOCHS,
        help="Then cosine-anneals to 0 in cycles of this many epochs (default 4).",
    )
    p.add_argument(
        "--cutmix",
        action="store_true",
        help="CutMix every batch (alpha 1; one box for all frames of a sequence).",
    )
    p.add_argument(
        "--sbi",
        action="store_true",
        help="Self-blended images: --cache names real-face caches (dfdetect preprocess-real); "
        "each real crop is paired with a pseudo-fake blended from itself.",
    )
    p.add_argument(
        "--no-augment",
        action="store_true",
        help="Turn off the 15th-place augmentations (JPEG, downscale, flip, noise, ...).",
    )
    p.add_argument(
        "--no-amp", action="store_true", help="fp32 on CUDA too (mixed precision is CUDA only)."
    )
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="Training device (default auto: CUDA when present).",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="Seed of weights, sampling and augmentation."
    )
    p.add_argument(
        "--loader-workers",
        type=int,
        default=0,
        help="DataLoader worker processes reading and augmenting crops (default 0).",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="Continue from MODEL_DIR/.train/NAME/state.pt (same options; --epochs may grow).",
    )
    p.add_argument("--name", help=f"Member name (default {default_name}).")
