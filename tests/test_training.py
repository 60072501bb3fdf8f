"""Done-when test of issue 5: a tiny labelled set goes through preprocess -> train frame (plain
and CutMix) -> train sequence -> fit-postprocess -> evaluate -> detect, by the `dfdetect` CLI,
and the model directory it leaves is a trained, checksummed, servable ensemble."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from contract.calibration import calibrate
from contract.digest import file_sha256
from contract.pipeline import PipelineConfig
from contract.result import UNTRAINED_WARNING
from models.ensemble import Ensemble
from models.manifest import Manifest, load_manifest, save_manifest
from models.operating import load_operating_points
from tests.conftest import TEST_BACKBONE, TEST_IMAGE_SIZE
from tests.labelled_set import FRAME_SIZE, dfdetect, labelled_set
from training.cache import open_cache, read_png
from training.dfdc import read_dfdc
from training.metrics import roc_auc
from training.reencode import reencode
from training.starter_card import clips_report, format_section, model_note, score_clips
from training.strata import stratified_auc

REAL, FAKE = 3, 3
SAMPLING = ["--sequences", "2", "--device", "cpu"]
"""2 sequences of 3 frames a video: 6 face crops, so every step takes seconds."""
TRAIN = ["--epochs", "1", "--batch-size", "8", "--device", "cpu"]
NOTE = "a test chain's weights"


@dataclass
class Chain:
    data: Path
    cache: Path
    model: Path
    report: Path
    outputs: dict[str, str]


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory, one_thread: None) -> Chain:
    root = tmp_path_factory.mktemp("training")
    data = labelled_set(root / "data", real=REAL, fake=FAKE)
    cache, model, report = root / "cache", root / "model", root / "report"
    crops = ["--sequence-length", "3", "--crop-size", str(TEST_IMAGE_SIZE)]
    trained = ["--cache", str(cache), "--val", str(cache), *TRAIN]
    frame = ["--backbone", TEST_BACKBONE, "--image-size", str(TEST_IMAGE_SIZE), "--out", str(model)]
    encoder = f"{model}:b0_frame_cutmix"
    outputs = {
        "preprocess": dfdetect("preprocess", str(data), "--out", str(cache), *crops, *SAMPLING),
        "frame": dfdetect("train", "frame", *frame, *trained),
        "cutmix": dfdetect("train", "frame", *frame, "--cutmix", *trained),
        "sequence": dfdetect("train", "sequence", "--encoder", encoder, "--sequence-length", "3",
                             *trained),
    }  # fmt: skip
    named = load_manifest(model).model_copy(update={"name": "chain", "version": "7", "note": NOTE})
    save_manifest(model, named)  # a published model: fitting must keep what it says of itself
    labelled = ["--data", str(data), "--model-dir", str(model), *SAMPLING]
    outputs |= {
        "fit": dfdetect("fit-postprocess", *labelled),
        "uncalibrated": dfdetect("evaluate", str(data), "--model-dir", str(model), "--out",
                                 str(root / "uncalibrated"), "--save-operating-points", *SAMPLING),
        "calibrate": dfdetect("calibrate", *labelled),
        "again": dfdetect("calibrate", *labelled, "--dry-run"),
        "evaluate": dfdetect("evaluate", str(data), "--model-dir", str(model), "--out",
                             str(report), "--augment", "jpeg,downscale,halffps", *SAMPLING),
        "detect": dfdetect("detect", str(data / "fake_3.mp4"), "--model-dir", str(model),
                           "--sequence-length", "3", *SAMPLING),
        "refit": dfdetect("fit-postprocess", *labelled),
    }  # fmt: skip
    return Chain(data, cache, model, report, outputs)


def manifest(chain: Chain) -> Manifest:
    return load_manifest(chain.model)


def test_preprocess_caches_every_video_with_crops_and_sequences(chain: Chain) -> None:
    settings, videos = open_cache(chain.cache)
    assert (settings.sequences, settings.sequence_length, settings.crop_size) == (2, 3, 64)
    assert sorted(v.label for v in videos) == ["FAKE"] * FAKE + ["REAL"] * REAL
    assert all(len(v.faces) == 6 and len(v.sequences) == 2 for v in videos)
    strip = read_png(chain.cache / "crops" / videos[0].sequences[0].file)
    assert strip.shape == (64, 3 * 64, 3)
    assert "with faces: 6, no face: 0, failed: 0" in chain.outputs["preprocess"]


def test_training_writes_the_three_member_15th_place_ensemble(chain: Chain) -> None:
    members = {m.name: m for m in manifest(chain).members}
    assert list(members) == ["b0_frame", "b0_frame_cutmix", "b0_lstm"]
    assert all(m.trained for m in members.values())
    assert [m.kind for m in members.values()] == ["frame", "frame", "sequence"]
    lstm = members["b0_lstm"]
    assert (lstm.encoder, lstm.sequence_length, lstm.image_size) == ("b0_frame_cutmix", 3, 64)
    assert lstm.training is not None and lstm.training["encoder_sha256"] == (
        members["b0_frame_cutmix"].sha256
    )


def test_training_info_says_how_each_member_was_trained(chain: Chain) -> None:
    for member in manifest(chain).members:
        info = member.training
        assert info is not None
        assert info["epochs_run"] == info["epochs"] == 1 and info["finished"]
        assert info["caches"] == [str(chain.cache.resolve())]
        assert info["train_videos"] == info["val_videos"] == REAL + FAKE
        assert 0.0 < info["val_log_loss"] < 5.0
        assert (info["lr"], info["weight_decay"], info["optimizer"]) == (3e-4, 1e-3, "AdamW")
        assert info["history"][0]["val_log_loss"] == info["val_log_loss"]
    cutmix = {m.name: m.training for m in manifest(chain).members}
    assert cutmix["b0_frame_cutmix"]["cutmix"] and not cutmix["b0_frame"]["cutmix"]  # type: ignore[index]


def test_checksums_stay_valid_after_fit_postprocess_and_the_ensemble_loads(chain: Chain) -> None:
    for member in manifest(chain).members:
        assert file_sha256(chain.model / member.checkpoint) == member.sha256
    ensemble = Ensemble.load(chain.model, torch.device("cpu"))
    assert ensemble.trained and ensemble.sequence_length == 3


def test_fit_postprocess_prints_its_table_and_records_the_fit(chain: Chain) -> None:
    table = chain.outputs["fit"]
    for name in ("b0_frame", "b0_frame_cutmix", "b0_lstm"):
        assert f"{name} ({REAL + FAKE} videos with scores)" in table
    assert "cascade x3" in table and "confident" in table and "ensemble log loss" in table
    for member in manifest(chain).members:
        fit = member.training["postprocess_fit"]  # type: ignore[index]
        assert fit["videos"] == REAL + FAKE and fit["sampling"]["sequence_length"] == 3


def test_fit_postprocess_keeps_the_models_name_version_and_note(chain: Chain) -> None:
    fitted = manifest(chain)
    assert (fitted.name, fitted.version, fitted.note) == ("chain", "7", NOTE)


def _temperature(output: str) -> float:
    line = next(line for line in output.splitlines() if line.startswith("temperature "))
    return float(line.split()[1])


def test_calibrate_writes_the_temperature_and_evaluate_scores_with_it(chain: Chain) -> None:
    calibration = manifest(chain).calibration
    assert calibration is not None and calibration.videos == REAL + FAKE
    assert "leave-one-out" in chain.outputs["calibrate"]
    assert _temperature(chain.outputs["calibrate"]) == pytest.approx(
        calibration.temperature, rel=1e-3
    )
    before = json.loads((chain.report.parent / "uncalibrated" / "summary.json").read_text())
    after = json.loads((chain.report / "summary.json").read_text())
    assert calibration.log_loss_before == pytest.approx(before["log_loss"], abs=1e-9)
    # The temperature minimises the log loss on the videos it was fitted on; the order stays.
    assert after["log_loss"] <= before["log_loss"] + 1e-12
    assert after["auc"] == pytest.approx(before["auc"])
    raw = {
        r["video"]: float(r["fake_probability"])
        for r in _rows(chain.report.parent / "uncalibrated")
    }
    served = {r["video"]: float(r["fake_probability"]) for r in _rows(chain.report)}
    slack = 5e-6 / min(calibration.temperature, 1.0)  # the CSV's 6 decimals, scaled by 1/T
    for name, probability in raw.items():
        assert served[name] == pytest.approx(calibrate(probability, calibration), abs=slack)


def test_fitting_post_processing_after_calibrating_says_to_calibrate_again(chain: Chain) -> None:
    assert "run `dfdetect calibrate` again" in chain.outputs["refit"]
    assert "run `dfdetect calibrate` again" not in chain.outputs["fit"]


def test_calibrating_again_on_the_same_videos_finds_the_same_temperature(chain: Chain) -> None:
    calibration = manifest(chain).calibration
    assert calibration is not None
    again = chain.outputs["again"]
    assert f"(was {calibration.temperature:.4g})" in again and "manifest unchanged" in again
    assert _temperature(again) == pytest.approx(calibration.temperature, rel=1e-3)


def test_calibrate_moves_the_operating_points_onto_the_calibrated_scores(chain: Chain) -> None:
    table = load_operating_points(chain.model)
    calibration = manifest(chain).calibration
    assert table is not None and calibration is not None
    assert table.temperature == calibration.temperature
    # What evaluate measures afresh on the calibrated scores: the same rates at the moved
    # thresholds.
    fresh = json.loads((chain.report / "summary.json").read_text())["operating_points"]
    assert [p.false_positive_rate for p in table.points] == [
        p["false_positive_rate"] for p in fresh["points"]
    ]
    assert [p.true_positive_rate for p in table.points] == [
        p["true_positive_rate"] for p in fresh["points"]
    ]
    for moved, measured in zip(table.points, fresh["points"], strict=True):
        assert moved.threshold == pytest.approx(measured["threshold"], abs=5e-6)


def _rows(report: Path) -> list[dict[str, str]]:
    with open(report / "videos.csv", newline="") as handle:
        return [row for row in csv.DictReader(handle) if row["condition"] == "original"]


def test_evaluate_reports_log_loss_auc_accuracy_overall_and_per_augmentation(chain: Chain) -> None:
    summary = json.loads((chain.report / "summary.json").read_text())
    assert summary["videos"] == REAL + FAKE and summary["trained"]
    assert 0.0 < summary["log_loss"] < 5.0
    assert 0.0 <= summary["auc"] <= 1.0 and 0.0 <= summary["accuracy"] <= 1.0
    assert sum(summary["confusion"].values()) == REAL + FAKE
    conditions = summary["conditions"]
    assert list(conditions) == ["original", "jpeg", "downscale", "halffps", "all"]
    assert conditions["all"]["videos"] == 4 * (REAL + FAKE)
    assert all(c["failures"] == 0 for c in conditions.values())
    # Each condition's AUC comes with its bootstrap interval, in the file and in the table.
    low, high = conditions["original"]["interval_95"]["auc"]
    assert low <= conditions["original"]["auc"] <= high
    lines = chain.outputs["evaluate"].splitlines()
    assert f"{low:.2f}-{high:.2f}" in next(line for line in lines if line.startswith("original"))
    # And over same-frame-size pairs only: one frame size here, so the plain AUC exactly.
    original = conditions["original"]
    assert {row["frame_size"] for row in _rows(chain.report)} == {f"{FRAME_SIZE}x{FRAME_SIZE}"}
    assert original["auc_same_frame_size"] == pytest.approx(original["auc"], abs=1e-12)
    intervals = original["interval_95"]
    assert intervals["auc_same_frame_size"] == pytest.approx(intervals["auc"], abs=1e-12)
    same = f" {original['auc_same_frame_size']:.3f} "
    assert same in next(line for line in lines if line.startswith("original"))
    assert any(line.startswith("AUC same size: fake and real clips of one") for line in lines)
    assert set(conditions["jpeg"]["members"]) == {"b0_frame", "b0_frame_cutmix", "b0_lstm"}
    with open(chain.report / "videos.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4 * (REAL + FAKE)
    assert {row["condition"] for row in rows} == {"original", "jpeg", "downscale", "halffps"}
    half = FRAME_SIZE // 2  # the size each file decodes at: the downscaled copies' is half
    assert {row["frame_size"] for row in rows if row["condition"] == "downscale"} == {
        f"{half}x{half}"
    }
    assert (chain.report / "roc.png").read_bytes().startswith(b"\x89PNG")


def test_detect_serves_the_trained_ensemble_without_the_untrained_warning(chain: Chain) -> None:
    result = json.loads(chain.outputs["detect"])
    assert result["trained"] is True
    assert UNTRAINED_WARNING not in result["warnings"]
    assert [m["trained"] for m in result["models"]] == [True, True, True]
    assert all(m["score"] is not None for m in result["models"])
    # The answer is the members' mean, calibrated; the members' own scores are not.
    calibration = manifest(chain).calibration
    assert result["model"]["calibration"]["temperature"] == calibration.temperature  # type: ignore[union-attr]
    mean = sum(m["score"] for m in result["models"]) / len(result["models"])
    assert result["fake_probability"] == pytest.approx(calibrate(mean, calibration), abs=1e-9)
    for person in result["people"]:  # each person's score is calibrated as the video's is
        scores = [s for s in person["member_scores"].values() if s is not None]
        expected = calibrate(sum(scores) / len(scores), calibration)
        assert person["fake_probability"] == pytest.approx(expected, abs=1e-9)
    assert result["people"], "the fake clip shows a person"


def frame_args(chain: Chain, out: Path, epochs: int = 1) -> list[str]:
    return ["train", "frame", "--backbone", TEST_BACKBONE, "--image-size", "64", "--out",
            str(out), "--cache", str(chain.cache), "--no-augment", "--epochs", str(epochs),
            "--batch-size", "8", "--device", "cpu"]  # fmt: skip


def test_resume_continues_from_the_saved_epoch(chain: Chain, tmp_path: Path) -> None:
    dfdetect(*frame_args(chain, tmp_path, epochs=1))
    dfdetect(*frame_args(chain, tmp_path, epochs=2), "--resume")
    info = load_manifest(tmp_path).members[0].training
    assert info is not None and info["epochs_run"] == 2
    assert [e["epoch"] for e in info["history"]] == [1, 2]


def test_resume_refuses_changed_options(chain: Chain, tmp_path: Path) -> None:
    dfdetect(*frame_args(chain, tmp_path))
    with pytest.raises(SystemExit, match=r"other \['lr'\]"):
        dfdetect(*frame_args(chain, tmp_path), "--resume", "--lr", "1e-3")


def test_the_starter_report_compares_fakes_only_with_reals_of_their_frame_size(
    chain: Chain, tmp_path: Path
) -> None:
    """`clips_report` reads each clip's frame size from the decoded file and counts only
    same-size pairs; its note and card section say so. Two sizes: three clips re-encoded at
    half size and named as face crops."""
    data = tmp_path / "videos"
    data.mkdir()
    metadata = json.loads((chain.data / "metadata.json").read_text())
    half = {"real_1.mp4", "fake_4.mp4", "fake_5.mp4"}
    labels = {}
    for name, entry in metadata.items():
        target = data / (f"crop_{name}" if name in half else name)
        if name in half:
            reencode(chain.data / name, target, "downscale")
        else:
            shutil.copy2(chain.data / name, target)
        labels[target.name] = entry
    (data / "metadata.json").write_text(json.dumps(labels))
    config = PipelineConfig(device="cpu", sequences=2, sequence_length=3)
    scored, names = score_clips(chain.model, read_dfdc(data), config, progress=False)
    report = clips_report(scored, names)
    size, small = f"{FRAME_SIZE}x{FRAME_SIZE}", f"{FRAME_SIZE // 2}x{FRAME_SIZE // 2}"
    sizes = report["frame_sizes"]
    assert sorted(sizes["strata"], key=lambda s: s["stratum"]) == [
        {"stratum": small, "fake": 2, "real": 1},
        {"stratum": size, "fake": 1, "real": 2},
    ]
    assert (sizes["pairs"], sizes["all_pairs"]) == (4, 9)
    videos = report["videos"]
    assert {v["file"]: v["frame_size"] for v in videos} == {
        name: small if name.startswith("crop_") else size for name in labels
    }
    targets = [v["label"] == "FAKE" for v in videos]
    scores = [v["fake_probability"] for v in videos]
    same = stratified_auc(targets, scores, [v["frame_size"] for v in videos])
    assert report["ensemble"]["auc_same_frame_size"] == same == sizes["auc"]
    crops = [float(v["file"].startswith("crop_")) for v in videos]
    assert report["format_alone_auc"] == roc_auc(targets, crops)
    for member in names:  # every member's row has it too
        assert report["members"][member]["auc_same_frame_size"] is not None
    assert same is not None
    assert f"but {same:.2f} (" in model_note(3, report)
    section = format_section(report)
    assert f"{small} 2 / 1" in section and "only the 4 (fake, real) pairs" in section
