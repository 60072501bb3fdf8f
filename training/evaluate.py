"""`dfdetect evaluate`: the ensemble's log loss (the DFDC metric), ROC AUC, accuracy and
confusion matrix on labelled videos, as they are and degraded (JPEG, half size, half frame
rate), with a per-video CSV, a JSON summary and a ROC curve PNG, and the operating-points table
of the original clips (saved into the model directory when asked)."""

from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tqdm import tqdm

from contract.errors import DfdetectError
from contract.result import NO_FACE_PROBABILITY
from models.operating import save_operating_points, stamp
from training.dfdc import LabelledVideo
from training.metrics import DECISION_THRESHOLD, LOG_LOSS_EPS, binary_report, roc_points
from training.operating import table_from_scored
from training.reencode import reencode
from training.scoring import ScoredVideo, score_videos
from training.strata import clip_report, frame_size
from workers.pipeline import DetectionPipeline

ORIGINAL = "original"
"""The condition name of the clips as they are."""
POOLED = "all"
"""The condition name of every condition's videos together."""
CSV_FILE = "videos.csv"
SUMMARY_FILE = "summary.json"
ROC_FILE = "roc.png"


def condition_report(scored: list[ScoredVideo]) -> dict[str, Any]:
    """Metrics of the ensemble and of each member on one condition's videos; each AUC also over
    same-frame-size pairs only (a set whose fakes and reals differ in format rewards telling
    formats apart: `training.strata`)."""
    report = clip_report(scored, [v.fake_probability for v in scored])
    report["failures"] = sum(v.result is None for v in scored)
    report["no_face"] = sum(bool(v.result and v.result.fallback) for v in scored)
    names = [m.name for v in scored if v.result for m in v.result.models]
    report["members"] = {
        name: {
            key: value
            for key, value in clip_report(scored, [_member(v, name) for v in scored]).items()
            if key in ("log_loss", "auc", "auc_same_frame_size", "accuracy")
        }
        for name in dict.fromkeys(names)
    }
    return report


def _member(video: ScoredVideo, name: str) -> float:
    """A member's post-processed verdict; 0.5 where it had nothing to score."""
    for member in video.result.models if video.result else []:
        if member.name == name and member.score is not None:
            return member.score
    return NO_FACE_PROBABILITY


def degraded(
    videos: list[LabelledVideo], augmentation: str, folder: Path, progress: bool
) -> tuple[list[LabelledVideo], dict[Path, str]]:
    """Degraded copies in `folder`, and the errors of videos that could not be re-encoded."""
    copies, errors = [], {}
    for number, video in enumerate(
        tqdm(videos, desc=f"{augmentation} copies", disable=not progress)
    ):
        target = folder / f"{number:05d}_{video.path.stem}.mp4"
        try:
            copies.append(LabelledVideo(reencode(video.path, target, augmentation), video.label))
        except DfdetectError as exc:
            errors[target] = f"{exc.code}: {exc.message}"
            copies.append(LabelledVideo(target, video.label))
    return copies, errors


def evaluate(
    pipeline: DetectionPipeline,
    videos: list[LabelledVideo],
    augmentations: list[str],
    out: Path,
    *,
    progress: bool = True,
    facts: dict[str, Any] | None = None,
    operating_points_dir: Path | None = None,
) -> dict[str, Any]:
    """Score every condition; write the CSV, the JSON summary (with `facts` added) and the ROC
    PNG into `out`; returns the summary. The operating-points table of the original clips is in
    the summary (null with one label only) and, given `operating_points_dir` (the model
    directory), saved there."""
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[ScoredVideo]] = {}
    results[ORIGINAL] = score_videos(pipeline, videos, desc=ORIGINAL, progress=progress)
    for augmentation in augmentations:
        with tempfile.TemporaryDirectory(prefix=f"dfdetect-{augmentation}-") as tmp:
            copies, errors = degraded(videos, augmentation, Path(tmp), progress)
            usable = [c for c in copies if c.path not in errors]
            scored = {
                s.video.path: s
                for s in score_videos(pipeline, usable, desc=augmentation, progress=progress)
            }
            results[augmentation] = [
                scored.get(c.path) or ScoredVideo(c, None, errors[c.path]) for c in copies
            ]
    conditions = {name: condition_report(scored) for name, scored in results.items()}
    if augmentations:
        conditions[POOLED] = condition_report([v for s in results.values() for v in s])
    _write_csv(out / CSV_FILE, videos, results)
    _write_roc(out / ROC_FILE, results)
    original = conditions[ORIGINAL]
    table = table_from_scored(results[ORIGINAL], pipeline.steps.recipe.name)
    if table is not None:  # what it holds for, as save_operating_points stamps it
        table = stamp(table, pipeline.ensemble.manifest)
    files = {"csv": str(out / CSV_FILE), "roc": str(out / ROC_FILE)}
    if table is not None and operating_points_dir is not None:
        files["operating_points"] = str(save_operating_points(operating_points_dir, table))
    summary = {
        **(facts or {}),
        "log_loss_eps": LOG_LOSS_EPS,
        "decision_threshold": DECISION_THRESHOLD,
        **{key: original[key] for key in ("videos", "log_loss", "auc", "accuracy", "confusion")},
        "conditions": conditions,
        "operating_points": table.model_dump(mode="json") if table else None,
        "files": files,
    }
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


def _write_csv(
    path: Path, videos: list[LabelledVideo], results: dict[str, list[ScoredVideo]]
) -> None:
    names = list(
        dict.fromkeys(
            m.name for s in results.values() for v in s if v.result for m in v.result.models
        )
    )
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        columns = ["condition", "video", "label", "frame_size", "fake_probability"]
        writer.writerow([*columns, "predicted", "correct", "fallback", "error", *names])
        for condition, scored in results.items():
            for source, video in zip(videos, scored, strict=True):
                p = video.fake_probability
                predicted = "FAKE" if p >= DECISION_THRESHOLD else "REAL"
                fallback = video.result.fallback if video.result else "error"
                writer.writerow(
                    [condition, str(source.path), source.label, frame_size(video), f"{p:.6f}"]
                    + [predicted, predicted == source.label, fallback or "", video.error or ""]
                    + [f"{_member(video, name):.6f}" for name in names]
                )


def _write_roc(path: Path, results: dict[str, list[ScoredVideo]]) -> None:
    """One ROC curve per condition; Agg canvas, so no display and no global backend switch."""
    figure = Figure(figsize=(5, 5), dpi=100)
    axes = figure.add_subplot()
    axes.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    for condition, scored in results.items():
        targets = [v.video.target for v in scored]
        points = roc_points(targets, [v.fake_probability for v in scored])
        if points is None:
            axes.text(0.05, 0.9, "one label only: no ROC curve", transform=axes.transAxes)
            continue
        report = binary_report(targets, [v.fake_probability for v in scored])
        axes.plot(*points, label=f"{condition} (AUC {report['auc']:.3f})")
    axes.set_xlabel("false positive rate (REAL called FAKE)")
    axes.set_ylabel("true positive rate (FAKE called FAKE)")
    axes.set_title("dfdetect evaluate: ROC")
    if axes.get_legend_handles_labels()[0]:
        axes.legend(loc="lower right")
    FigureCanvasAgg(figure).print_png(str(path))
