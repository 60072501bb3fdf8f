"""Operating points: the table and bands (contract/operating.py), the model directory's file
(models/operating.py), the committed starter's table, and `dfdetect evaluate
--save-operating-points` on a real tiny ensemble and real clips."""

from __future__ import annotations

import json
import shutil
import tomllib
from fnmatch import fnmatch
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from cli.main import main
from contract.calibration import Calibration
from contract.errors import ModelError
from contract.operating import (
    OPERATING_POINTS_FILE,
    OperatingPoint,
    OperatingPoints,
    operating_points,
    verdict,
)
from models.manifest import MANIFEST_FILE, Manifest, load_manifest, save_manifest
from models.operating import load_operating_points, save_operating_points
from models.packaged import STARTER_DIR
from models.postprocess import PostprocessSpec
from tests.conftest import REPO_ROOT
from tests.deploy_files import dockerignored
from tests.labelled_set import dfdetect, labelled_set
from training.operating import table, table_from_report_videos
from training.starter_card import operating_section

if TYPE_CHECKING:
    from workers.pipeline import DetectionPipeline

FAKES = [0.9, 0.8, 0.6, 0.3]
REALS = [0.7, 0.4, 0.2, 0.1]
"""By hand: FAKE from 0.8 (no real scored that high), REAL below 0.3 (every fake scored that
high), UNCERTAIN between."""
HAND_TABLE = [
    # threshold, share of reals >= it, share of fakes >= it
    (0.0, 1.0, 1.0),
    (0.1, 1.0, 1.0),
    (0.2, 0.75, 1.0),
    (0.3, 0.5, 1.0),
    (0.4, 0.5, 0.75),
    (0.6, 0.25, 0.75),
    (0.7, 0.25, 0.5),
    (0.8, 0.0, 0.5),
    (0.9, 0.0, 0.25),
    (1.0, 0.0, 0.0),
]


@pytest.fixture
def hand() -> OperatingPoints:
    return operating_points([1] * 4 + [0] * 4, FAKES + REALS, "8 hand-made scores")


def test_the_table_has_a_point_at_every_score_with_its_rates(hand: OperatingPoints) -> None:
    got = [(p.threshold, p.false_positive_rate, p.true_positive_rate) for p in hand.points]
    assert got == HAND_TABLE
    assert (hand.videos, hand.fakes, hand.reals) == (8, 4, 4)
    assert (hand.fake_threshold, hand.real_threshold) == (0.8, 0.3)
    assert hand.dataset == "8 hand-made scores"


def test_a_score_rounded_up_keeps_its_own_point() -> None:
    # 0.0702915 to 6 decimals is 0.070292, above the score: its real would miss its own row.
    points = operating_points([0, 1], [0.0702915, 0.9], "two").points
    own = next(p for p in points if p.threshold <= 0.0702915 and p.threshold > 0.07)
    assert (own.threshold, own.false_positive_rate) == (0.070291, 1.0)


def test_bands_that_cross_leave_no_uncertain_band() -> None:
    separated = operating_points([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1], "separated")
    assert separated.fake_threshold == separated.real_threshold == 0.8


def test_one_label_has_no_table() -> None:
    with pytest.raises(ValueError, match="both fake and real"):
        operating_points([1, 1], [0.2, 0.9], "fakes only")
    assert table([("FAKE", 0.2), ("FAKE", 0.9)], what="clips", where="x", recipe="r") is None


@pytest.mark.parametrize(
    ("score", "label", "rate"),
    [
        (0.85, "FAKE", 0.0),
        (0.8, "FAKE", 0.0),  # at the threshold: FAKE
        (0.5, "UNCERTAIN", 0.5),
        (0.3, "UNCERTAIN", 0.5),  # REAL is strictly below
        (0.2, "REAL", 0.75),
        (0.05, "REAL", 1.0),
    ],
)
def test_the_verdict_reads_the_bands(
    hand: OperatingPoints, score: float, label: str, rate: float
) -> None:
    result = verdict(score, hand, unsure=False)
    assert result.label == label
    assert result.expected_false_positive_rate == pytest.approx(rate)
    assert (result.fake_threshold, result.real_threshold) == (0.8, 0.3)
    assert result.dataset == "8 hand-made scores"
    assert result.note.startswith(f"{label}: on 8 hand-made scores, {rate:.0%} of real videos")


def test_unsure_or_no_score_is_uncertain_whatever_the_score(hand: OperatingPoints) -> None:
    for result in (verdict(0.99, hand, unsure=True), verdict(None, hand, unsure=False)):
        assert result.label == "UNCERTAIN" and result.expected_false_positive_rate is None
        assert result.fake_threshold == 0.8


def test_no_table_no_label_and_the_note_says_why() -> None:
    result = verdict(0.99, None, unsure=False)
    assert result.label is None and result.fake_threshold is None
    assert "no operating-points table" in result.note
    assert "--save-operating-points" in result.note


def test_report_videos_leave_out_failures_and_describe_the_set() -> None:
    videos = [
        {"file": "a.mp4", "label": "FAKE", "fake_probability": 0.9, "error": None},
        {"file": "b.mp4", "label": "FAKE", "fake_probability": 0.4, "error": None},
        {"file": "c.mp4", "label": "REAL", "fake_probability": 0.2, "error": None},
        {"file": "d.mp4", "label": "REAL", "fake_probability": 0.5, "error": "invalid_video: x"},
    ]
    got = table_from_report_videos(videos, data="../shared/data/videos", recipe="dfdc-15th")
    assert got is not None and (got.videos, got.fakes, got.reals) == (3, 2, 1)
    assert got.dataset == (
        "3 labelled DFDC dev clips of shared/data/videos (2 fake, 1 real), recipe dfdc-15th"
    )
    assert [p.threshold for p in got.points] == [0.0, 0.2, 0.4, 0.9, 1.0]
    assert table_from_report_videos(videos[:2], data="v", recipe="dfdc-15th") is None


# --- The file ---


def test_save_and_load_round_trip(
    hand: OperatingPoints, tiny_model_dir: Path, tmp_path: Path
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    assert load_operating_points(model) is None
    path = save_operating_points(model, hand)
    assert path == model / OPERATING_POINTS_FILE
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.startswith('{\n  "dataset"')
    assert path.stat().st_mode & 0o777 == 0o644
    members = load_manifest(model).members
    stamps = {
        "checkpoints": [member.sha256 for member in members],
        "postprocess": [member.postprocess.model_dump(mode="json") for member in members],
    }
    assert load_operating_points(model) == hand.model_copy(update=stamps)
    assert not list(model.glob("*.partial"))


def test_a_table_of_other_weights_is_not_used(
    hand: OperatingPoints, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Retrained (or re-scaffolded) since it was measured: its bands would not hold."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    stale = hand.model_copy(update={"checkpoints": ["0" * 64] * 3})
    (model / OPERATING_POINTS_FILE).write_text(stale.model_dump_json(), encoding="utf-8")
    assert load_operating_points(model) is None


def _measured(hand: OperatingPoints, tiny_model_dir: Path, tmp_path: Path) -> tuple[Path, Manifest]:
    """A copy of the tiny model with `hand` saved as measured on it, in use."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    save_operating_points(model, hand)
    assert load_operating_points(model) is not None
    return model, load_manifest(model)


def test_a_table_measured_under_another_calibration_is_not_used(
    hand: OperatingPoints, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Calibrated since it was measured: the same videos now score elsewhere on the scale."""
    model, manifest = _measured(hand, tiny_model_dir, tmp_path)
    calibration = Calibration(temperature=2.0, fitted_on="test", videos=4)
    save_manifest(model, manifest.model_copy(update={"calibration": calibration}))
    assert load_operating_points(model) is None
    save_operating_points(model, hand)  # measured again under it: used
    loaded = load_operating_points(model)
    assert loaded is not None and loaded.temperature == 2.0


def test_a_table_measured_under_other_post_processing_is_not_used(
    hand: OperatingPoints, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Refitted since (fit-postprocess): the same videos now get other scores."""
    model, manifest = _measured(hand, tiny_model_dir, tmp_path)
    first = manifest.members[0]
    refitted = first.model_copy(update={"postprocess": PostprocessSpec(strategy="mean")})
    assert refitted.postprocess != first.postprocess
    save_manifest(model, manifest.model_copy(update={"members": [refitted, *manifest.members[1:]]}))
    assert load_operating_points(model) is None
    # A table written before tables recorded post-processing is still read.
    legacy = hand.model_copy(update={"checkpoints": [m.sha256 for m in manifest.members]})
    (model / OPERATING_POINTS_FILE).write_text(legacy.model_dump_json(), encoding="utf-8")
    assert load_operating_points(model) is not None


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "json_invalid|Invalid JSON"),
        ('{"dataset": "x", "videos": 0}', "videos"),
        ("[]", "valid dictionary|object"),
    ],
)
def test_a_corrupt_table_is_a_model_error_naming_the_file(
    tmp_path: Path, content: str, problem: str
) -> None:
    (tmp_path / OPERATING_POINTS_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(ModelError, match=problem) as caught:
        load_operating_points(tmp_path)
    message = caught.value.message
    assert str(tmp_path / OPERATING_POINTS_FILE) in message
    assert "is not a valid operating-points table" in message


# --- The committed starter ---


def _starter_table() -> OperatingPoints | None:
    report = json.loads((STARTER_DIR / "evaluation.json").read_text(encoding="utf-8"))
    recipe = load_manifest(STARTER_DIR).recipe
    return table_from_report_videos(report["videos"], data=report["data"], recipe=recipe)


def test_the_starters_table_is_the_one_its_evaluation_gives() -> None:
    committed = load_operating_points(STARTER_DIR)
    computed = _starter_table()
    assert computed is not None and committed is not None
    stamps = {
        "checkpoints": committed.checkpoints,
        "temperature": committed.temperature,
        "postprocess": committed.postprocess,
    }
    assert committed == computed.model_copy(update=stamps)
    manifest = load_manifest(STARTER_DIR)
    assert committed.checkpoints == [m.sha256 for m in manifest.members]
    assert manifest.calibration is not None
    assert committed.temperature == manifest.calibration.temperature  # measured as it answers
    assert committed.postprocess == [
        m.postprocess.model_dump(mode="json") for m in manifest.members
    ]
    assert (committed.videos, committed.fakes, committed.reals) == (38, 28, 10)
    assert committed.dataset.startswith("38 labelled DFDC dev clips of shared/data/videos")


def test_the_starters_card_shows_its_operating_points() -> None:
    card = (STARTER_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")
    assert card.endswith("\n\n" + operating_section(_starter_table()))


def test_a_card_without_a_table_says_so() -> None:
    assert "one label only" in operating_section(None)


def test_the_table_travels_where_the_manifest_does() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = project["tool"]["setuptools"]["package-data"]["models"]

    def packaged(name: str) -> bool:
        return any(fnmatch(f"starter/{name}", pattern) for pattern in globs)

    assert packaged(MANIFEST_FILE) and packaged(OPERATING_POINTS_FILE)
    assert not dockerignored(f"models/starter/{MANIFEST_FILE}")
    assert not dockerignored(f"models/starter/{OPERATING_POINTS_FILE}")


# --- dfdetect evaluate --save-operating-points, end to end ---

REAL, FAKE = 2, 2
SAMPLING = ["--sequences", "2", "--sequence-length", "3", "--device", "cpu"]


def test_evaluate_saves_the_table_into_the_model_dir(
    tiny_model_dir: Path, tmp_path: Path, one_thread: None
) -> None:
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)  # the session's scaffold stays without a table
    data = labelled_set(tmp_path / "data", real=REAL, fake=FAKE, n_frames=8)
    report = tmp_path / "report"
    argv = ["evaluate", str(data), "--model-dir", str(model), "--out", str(report), *SAMPLING]
    printed = dfdetect(*argv, "--save-operating-points")
    saved = load_operating_points(model)
    assert saved is not None
    assert (saved.videos, saved.fakes, saved.reals) == (REAL + FAKE, FAKE, REAL)
    assert saved.dataset == f"4 labelled clips of {data} (2 fake, 2 real), recipe dfdc-15th"
    assert saved.points[0] == OperatingPoint(
        threshold=0.0, false_positive_rate=1.0, true_positive_rate=1.0
    )
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    assert OperatingPoints.model_validate(summary["operating_points"]) == saved
    assert summary["files"]["operating_points"] == str(model / OPERATING_POINTS_FILE)
    assert f"saved operating points to {model / OPERATING_POINTS_FILE}" in printed
    load_manifest(model)  # the manifest and its checksums are untouched


def test_evaluate_refuses_to_save_a_table_from_one_label(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    data = labelled_set(tmp_path / "data", real=1, fake=0, n_frames=4)
    argv = ["evaluate", str(data), "--model-dir", str(tiny_model_dir), "--out", str(tmp_path)]
    with pytest.raises(SystemExit, match="needs both FAKE and REAL"):
        main([*argv, "--save-operating-points"])
    assert not (tiny_model_dir / OPERATING_POINTS_FILE).exists()


def test_a_one_label_summary_has_a_null_table_and_saves_nothing(
    tiny_pipeline: DetectionPipeline, tmp_path: Path, one_thread: None
) -> None:
    from training.dfdc import read_dfdc
    from training.evaluate import evaluate

    data = labelled_set(tmp_path / "data", real=1, fake=0, n_frames=6)
    summary = evaluate(
        tiny_pipeline, read_dfdc(data), [], tmp_path / "out", progress=False,
        operating_points_dir=tmp_path / "model",
    )  # fmt: skip
    assert summary["operating_points"] is None and "operating_points" not in summary["files"]
    saved = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert "operating_points" in saved and saved["operating_points"] is None
    assert not (tmp_path / "model").exists()
