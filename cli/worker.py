"""Worker-room commands: worker, detect. Torch is imported inside handlers."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from cli.common import add_method_options, existing_file, load_settings

log = logging.getLogger("dfdetect.worker")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "worker",
        help="Run a GPU/CPU worker: load the ensemble once, then take jobs from Redis.",
    )
    p.add_argument("--burst", action="store_true", help="Exit when the queue is empty.")
    p.set_defaults(handler=worker)

    p = subparsers.add_parser(
        "detect",
        help="Score video files in-process and print one JSON result per video.",
    )
    p.add_argument(
        "videos",
        nargs="+",
        type=Path,
        metavar="FILE",
        help="Video or image (JPEG, PNG, WebP) files.",
    )
    p.add_argument(
        "--model-dir",
        type=existing_file,
        help="Ensemble directory (manifest.json); "
        "default DFDETECT_MODEL_DIR or a scaffolded random-weight ensemble.",
    )
    p.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], help="Default DFDETECT_DEVICE (auto)."
    )
    p.add_argument("--sequences", type=int, help="Sequences per video (default 10).")
    p.add_argument("--sequence-length", type=int, help="Frames per sequence (default 5).")
    p.add_argument(
        "--detect-scale", type=float, help="Detect faces on a frame scaled by this (default 1.0)."
    )
    p.add_argument(
        "--decode", choices=["seek", "sequential"], help="Frame decoding strategy (default seek)."
    )
    add_method_options(
        p,
        video_score_help="How the video score is formed (default DFDETECT_VIDEO_SCORE, else "
        "the recipe's).",
    )
    p.add_argument(
        "--target",
        default="all",
        help='Whose verdict: all, largest, or \'{"t": 3.2, "box": [x1, y1, x2, y2]}\'.',
    )
    p.add_argument("--indent", type=int, default=None, help="Pretty-print the JSON.")
    p.set_defaults(handler=detect)


def worker(args: argparse.Namespace) -> int:
    from redis import Redis
    from rq import Queue

    from workers.naming import worker_name
    from workers.pipeline import DetectionPipeline
    from workers.worker import DetectionWorker, describe_models, ensure_model_dir

    settings = load_settings()
    if not settings.redis_url:
        raise SystemExit("dfdetect worker: set DFDETECT_REDIS_URL (or use `dfdetect run`)")
    from contract.errors import ModelError

    try:
        pipeline = DetectionPipeline.load(ensure_model_dir(settings), settings.pipeline())
    except ModelError as exc:
        raise SystemExit(f"dfdetect worker: cannot load models: {exc.message}") from exc
    pipeline.warm_up()
    redis = Redis.from_url(settings.redis_url)
    w = DetectionWorker(
        [Queue(settings.queue_name, connection=redis)],
        connection=redis,
        name=worker_name(),
        pipeline=pipeline,
        settings=settings,
    )
    from workers.allocator import allocator

    log.info("loaded %s (allocator: %s)", describe_models(w), allocator())
    w.work(burst=args.burst, logging_level=logging.getLevelName(log.getEffectiveLevel()))
    return 0


def detect(args: argparse.Namespace) -> int:
    from contract.errors import DfdetectError
    from contract.people import parse_target
    from workers.pipeline import DetectionPipeline
    from workers.worker import ensure_model_dir

    settings = load_settings()
    config = settings.pipeline().with_overrides(
        device=args.device,
        sequences=args.sequences,
        sequence_length=args.sequence_length,
        detect_scale=args.detect_scale,
        decode=args.decode,
        recipe=args.recipe,
        video_score=args.video_score,
    )
    model_dir = args.model_dir or ensure_model_dir(settings)
    try:
        target = parse_target(args.target)
    except DfdetectError as exc:
        raise SystemExit(f"dfdetect detect: {exc.message}") from exc
    pipeline = DetectionPipeline.load(model_dir, config)
    failures = 0
    for video in args.videos:
        try:
            result = pipeline.detect(video, target=target)
        except DfdetectError as exc:
            failures += 1
            err = {"file": str(video), "error": {"code": exc.code, "message": exc.message}}
            print(json.dumps(err), file=sys.stderr)
            continue
        print(
            json.dumps({"file": str(video), **result.model_dump(mode="json")}, indent=args.indent)
        )
    return 1 if failures else 0
