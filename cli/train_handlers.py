"""Handlers of the models room's commands (parsers in models/commands.py); heavy imports are
made inside each, when it runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from cli.common import load_settings


def _options(args: argparse.Namespace, out: Path, name: str, image_size: int) -> Any:
    from training.schedule import TrainOptions

    return TrainOptions(
        caches=args.cache,
        val=args.val,
        out=out,
        name=name,
        image_size=image_size,
        epochs=args.epochs,
        batch_size=args.batch_size,
        samples_per_epoch=args.samples_per_epoch,
        lr=args.lr,
        weight_decay=args.weight_decay,
        warmup_multiplier=args.warmup_multiplier,
        cycle_epochs=args.cycle_epochs,
        cutmix=args.cutmix,
        sbi=args.sbi,
        augment=not args.no_augment,
        device=args.device,
        amp=not args.no_amp,
        seed=args.seed,
        loader_workers=args.loader_workers,
        resume=args.resume,
    )


def _pipeline_config(args: argparse.Namespace, model_dir: Path | None) -> Any:
    from training.scoring import pipeline_config

    overrides = {
        "sequences": args.sequences,
        "sequence_length": args.sequence_length,
        "detect_scale": args.detect_scale,
        "device": args.device,
        "recipe": getattr(args, "recipe", None),
        "video_score": getattr(args, "video_score", None),
    }
    base = load_settings().pipeline()
    if model_dir is None:
        return base.with_overrides(**overrides)
    return pipeline_config(base, model_dir, **overrides)


def _fail(command: str, exc: Exception) -> SystemExit:
    return SystemExit(f"dfdetect {command}: {exc}")


def preprocess(args: argparse.Namespace) -> int:
    """`dfdetect preprocess`: cache crops, print the summary."""
    from contract.errors import DatasetError
    from training.dfdc import read_folders
    from training.preprocess import preprocess as run

    try:
        summary = run(
            read_folders(args.data_dirs),
            args.out,
            _pipeline_config(args, None),
            crop_size=args.crop_size,
            workers=args.workers,
        )
    except DatasetError as exc:
        raise _fail("preprocess", exc) from exc
    print("\n".join(summary.lines()))
    return 0


def _report_training(options: Any, state: Any) -> None:
    best = state.history[state.best_epoch - 1] if state.best_epoch else None
    loss = (
        f"{best.val_log_loss:.4f}" if best and best.val_log_loss is not None else "n/a (no --val)"
    )
    print(
        f"wrote {options.out / (options.name + '.safetensors')}: best epoch {state.best_epoch} "
        f"of {state.epoch}, validation log loss {loss}; manifest {options.out / 'manifest.json'}"
    )


def train_frame(args: argparse.Namespace) -> int:
    """`dfdetect train frame`."""
    from contract.errors import DatasetError, ModelError
    from training.train_frame import frame_member_name
    from training.train_frame import train_frame as run

    name = args.name or frame_member_name(args.backbone, args.cutmix)
    options = _options(args, args.out, name, args.image_size)
    try:
        state = run(options, args.backbone, pretrained=args.pretrained)
    except (DatasetError, ModelError) as exc:
        raise _fail("train frame", exc) from exc
    _report_training(options, state)
    return 0


def train_sequence(args: argparse.Namespace) -> int:
    """`dfdetect train sequence`."""
    from contract.errors import DatasetError, ModelError
    from training.train_sequence import frame_spec, sequence_member_name
    from training.train_sequence import train_sequence as run

    model_dir, member = args.encoder
    try:
        name = args.name or sequence_member_name(frame_spec(model_dir, member).backbone)
        options = _options(args, model_dir, name, 0)
        state = run(options, model_dir, member, args.sequence_length)
    except (DatasetError, ModelError) as exc:
        raise _fail("train sequence", exc) from exc
    _report_training(options, state)
    return 0


def _score_labelled(args: argparse.Namespace, desc: str) -> tuple[Any, Any, list[Any]]:
    """(config, pipeline, scored videos) of --data under --model-dir, as the command serves."""
    from training.dfdc import read_folders
    from training.scoring import score_videos
    from workers.pipeline import DetectionPipeline

    videos = read_folders(args.data)
    config = _pipeline_config(args, args.model_dir)
    pipeline = DetectionPipeline.load(args.model_dir, config)
    return config, pipeline, score_videos(pipeline, videos, desc=desc)


def fit_postprocess(args: argparse.Namespace) -> int:
    """`dfdetect fit-postprocess`: score, grid-search, print the table, write the winners."""
    from contract.errors import DatasetError, ModelError
    from contract.operating import OPERATING_POINTS_FILE
    from models.operating import load_operating_points
    from training.fit_postprocess import apply_fits, ensemble_log_loss, format_table
    from training.fit_postprocess import fit_postprocess as fit

    try:
        config, pipeline, scored = _score_labelled(args, "fit-postprocess")
        manifest = pipeline.ensemble.manifest
        fits = fit(manifest, scored)
        print(format_table(fits))
        before = ensemble_log_loss(manifest, scored)
        sampling = {
            "sequences": config.sequences,
            "sequence_length": config.sequence_length,
            "detect_scale": config.detect_scale,
        }
        if args.dry_run:
            print(f"ensemble log loss: {before:.4f} (dry run: manifest unchanged)")
            return 0
        fitted = apply_fits(args.model_dir, fits, [str(d) for d in args.data], sampling)
    except (DatasetError, ModelError) as exc:
        raise _fail("fit-postprocess", exc) from exc
    after = ensemble_log_loss(fitted, scored)
    failed = sum(v.result is None for v in scored)
    print(
        f"ensemble log loss on {len(scored)} videos ({failed} unreadable, scored 0.5): "
        f"{before:.4f} before, {after:.4f} after; wrote {args.model_dir / 'manifest.json'}"
    )
    table = args.model_dir / OPERATING_POINTS_FILE
    if table.is_file() and load_operating_points(args.model_dir) is None:
        print(
            f"{table} was measured under other post-processing and is not used until "
            "`dfdetect evaluate --save-operating-points` measures it again"
        )
    if fitted.calibration is not None:  # fitted on the scores the old post-processing gave
        print(
            f"the manifest's calibration (temperature {fitted.calibration.temperature:.4g}) was "
            "fitted before: run `dfdetect calibrate` again"
        )
    return 0


def calibrate(args: argparse.Namespace) -> int:
    """`dfdetect calibrate`: score, fit the temperature, print the fit, write it."""
    from contract.errors import DatasetError, ModelError
    from training.calibrate import apply_calibration, fit_calibration, format_fit, uncalibrated
    from training.metrics import roc_auc

    try:
        _, pipeline, scored = _score_labelled(args, "calibrate")
        previous = pipeline.ensemble.manifest.calibration
        raw = [uncalibrated(v.fake_probability, previous) for v in scored]
        targets = [v.video.target for v in scored]
        fakes, failed = int(sum(targets)), sum(v.result is None for v in scored)
        words = (
            f"{len(scored)} labelled videos ({fakes} FAKE, {len(scored) - fakes} REAL; "
            f"{failed} unreadable, scored 0.5) in {', '.join(str(d) for d in args.data)}"
        )
        try:
            fit = fit_calibration(raw, targets, words)
        except ValueError as exc:
            raise DatasetError(f"{exc}; {words}") from exc
        print(format_fit(fit, previous, roc_auc(targets, raw)))
        if args.dry_run:
            print("dry run: manifest unchanged")
            return 0
        apply_calibration(args.model_dir, fit.calibration)
    except (DatasetError, ModelError) as exc:
        raise _fail("calibrate", exc) from exc
    print(f"wrote {args.model_dir / 'manifest.json'}")
    return 0


def evaluate(args: argparse.Namespace) -> int:
    """`dfdetect evaluate`: write the report, print its table."""
    from contract.errors import DatasetError, ModelError
    from training.dfdc import read_folders
    from training.evaluate import evaluate as run
    from training.metrics import format_auc, format_interval
    from workers.pipeline import DetectionPipeline

    try:
        videos = read_folders(args.data_dirs)
        if args.save_operating_points and len({v.label for v in videos}) < 2:
            raise DatasetError(
                "--save-operating-points needs both FAKE and REAL videos; "
                f"{', '.join(map(str, args.data_dirs))} hold {videos[0].label} ones only"
            )
        config = _pipeline_config(args, args.model_dir)
        pipeline = DetectionPipeline.load(args.model_dir, config)
    except (DatasetError, ModelError) as exc:
        raise _fail("evaluate", exc) from exc
    facts = {
        "model_dir": str(args.model_dir),
        "data": [str(d) for d in args.data_dirs],
        "trained": pipeline.ensemble.trained,
        "members": pipeline.ensemble.describe(pipeline.steps.recipe.crop),
        "sampling": {
            "sequences": config.sequences,
            "sequence_length": config.sequence_length,
            "detect_scale": config.detect_scale,
        },
    }
    saving = args.model_dir if args.save_operating_points else None
    summary = run(
        pipeline, videos, args.augment, args.out, facts=facts, operating_points_dir=saving
    )
    print(
        f"{'condition':<10} {'videos':>6} {'log loss':>9} {'AUC':>6} {'AUC 95%':>11} "
        f"{'AUC same size':>13} {'accuracy':>8} {'no face':>7} {'failed':>6}"
    )
    for name, report in summary["conditions"].items():
        span = format_interval(report["interval_95"]["auc"])
        print(
            f"{name:<10} {report['videos']:>6} {report['log_loss']:>9.4f} "
            f"{format_auc(report['auc']):>6} {span:>11} "
            f"{format_auc(report['auc_same_frame_size']):>13} "
            f"{report['accuracy']:>8.3f} {report['no_face']:>7} {report['failures']:>6}"
        )
    print(
        "AUC same size: fake and real clips of one frame size compared only "
        "(a set whose fakes and reals differ in format rewards telling formats apart)"
    )
    print(f"confusion (original): {json.dumps(summary['confusion'])}")
    print(f"wrote {args.out / 'videos.csv'}, {args.out / 'summary.json'}, {args.out / 'roc.png'}")
    table = summary["operating_points"]
    if table is not None:
        print(
            f"operating points on {table['dataset']}: FAKE from {table['fake_threshold']:.3f}, "
            f"REAL below {table['real_threshold']:.3f}"
        )
    if "operating_points" in summary["files"]:
        print(f"saved operating points to {summary['files']['operating_points']}")
    elif args.save_operating_points:
        raise SystemExit(
            "dfdetect evaluate: no operating points saved: the clips the pipeline could score "
            "are all one label; the report is written"
        )
    return 0
