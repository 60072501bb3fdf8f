"""`dfdetect bench`: registered here so `dfdetect --help` stays torch-free (imports in handlers)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from contract.pipeline import DEFAULT_BACKBONE


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "bench",
        help="Time the pipeline per stage, 15th-place reference against the fast path.",
        description="Runs the reference configuration (what the 15th-place kernel did) and the "
        "fast one on the shared 1080p clips and generated 10 s, 60 s and 5 min clips, with a "
        "scaffolded random-weight ensemble (timing only). Re-executes itself under jemalloc "
        "when it is installed, unless --allocator system.",
    )
    p.add_argument("--backbone", default=DEFAULT_BACKBONE, help="timm backbone (15th place: B6).")
    p.add_argument("--image-size", type=int, default=224, help="Crop size (15th place: 224).")
    p.add_argument("--repeats", type=int, default=1, help="Timed runs per clip and configuration.")
    p.add_argument("--warmup", type=int, default=1, help="Untimed runs per configuration first.")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument(
        "--precision", choices=["fp16", "fp32"], default="fp16", help="On CUDA (a CPU runs fp32)."
    )
    p.add_argument(
        "--quick", action="store_true", help="A small set (for tests): 2 clips, 2x3 frames."
    )
    p.add_argument("--clips", nargs="+", type=Path, default=(), help="Run these videos instead.")
    p.add_argument(
        "--configs",
        nargs="+",
        choices=["reference", "fast", "fast_full_size"],
        default=["reference", "fast"],
        help="Configurations to run (default reference fast; fast_full_size: the fast path "
        "detecting at full size).",
    )
    p.add_argument(
        "--lengths",
        nargs="+",
        type=int,
        default=None,
        help="Generated clip lengths, seconds (default 10 60 300).",
    )
    p.add_argument("--sequences", type=int, help="Sequences per video (default 10).")
    p.add_argument("--sequence-length", type=int, help="Frames per sequence (default 5).")
    p.add_argument("--threads", type=int, help="Torch threads (default: usable cores).")
    p.add_argument(
        "--allocator",
        choices=["auto", "system"],
        default="auto",
        help="auto: jemalloc (retaining) when installed, else glibc.",
    )
    p.add_argument("--data-dir", type=Path, default=None, help="Default DFDETECT_TEST_DATA.")
    p.add_argument("--cache-dir", type=Path, default=Path("var/bench"))
    p.add_argument(
        "--throughput-workers",
        type=int,
        default=0,
        help="Also measure videos/s of the fast path with this many decode threads ahead.",
    )
    p.add_argument("--throughput-videos", type=int, default=24, help="Videos in that run.")
    p.add_argument("--json", type=Path, help="Also write the full report here.")
    p.set_defaults(handler=bench)


def bench(args: argparse.Namespace) -> int:
    """Handler of `dfdetect bench`."""
    import os

    from bench.profiling import jemalloc_environment, reexec

    if args.allocator == "auto" and (env := jemalloc_environment()) is not None:
        reexec(env)
    import torch

    from bench.report import format_table
    from bench.runner import BenchOptions, run_bench
    from contract.paths import shared_data_dir

    torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
    options = BenchOptions(
        backbone=args.backbone,
        image_size=args.image_size,
        repeats=args.repeats,
        warmup=args.warmup,
        device=args.device,
        precision=args.precision,
        quick=args.quick,
        clips=tuple(args.clips),
        configs=tuple(args.configs),
        sequences=args.sequences,
        sequence_length=args.sequence_length,
        data_dir=args.data_dir or shared_data_dir(),
        throughput_workers=args.throughput_workers,
        throughput_videos=args.throughput_videos,
        cache_dir=args.cache_dir,
    )
    if args.lengths:
        options = dataclasses.replace(options, lengths=tuple(args.lengths))
    report = run_bench(options, log=lambda line: print(line, file=sys.stderr, flush=True))
    print(format_table(report))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0
