"""`dfdetect bench` runs and reports; the fast path scores what the reference scores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from bench.report import STAGES
from bench.runner import FAST, REFERENCE
from contract.pipeline import PipelineConfig
from contract.result import DetectionResult
from tests.conftest import REPO_ROOT, TEST_BACKBONE, TEST_IMAGE_SIZE
from workers.faces import Detection, FaceDetector
from workers.h264 import h264_nal_length_size, is_unreferenced_h264
from workers.pipeline import DetectionPipeline
from workers.sampling import sample_frames

SCORE_TOLERANCE = 0.01
"""Issue 6: an optimisation may move a score by at most this much."""


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict]:
    """`dfdetect bench --quick` as a user runs it (a subprocess: it re-executes under jemalloc)."""
    out = tmp_path_factory.mktemp("bench")
    command = [sys.executable, "-m", "cli.main", "bench", "--quick", "--warmup", "0"]
    command += ["--backbone", TEST_BACKBONE, "--image-size", str(TEST_IMAGE_SIZE)]
    command += ["--cache-dir", str(out / "cache"), "--json", str(out / "report.json")]
    command += ["--data-dir", str(out / "no-shared-data"), "--device", "cpu"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    done = subprocess.run(
        command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, json.loads((out / "report.json").read_text())


def test_quick_bench_prints_a_row_per_configuration_and_the_speed_up(
    quick_report: tuple[str, dict],
) -> None:
    table, _ = quick_report
    rows = [line.split() for line in table.splitlines()]
    assert ["astronaut_360p_2s", "reference"] in [row[:2] for row in rows]
    assert ["astronaut_360p_2s", "fast"] in [row[:2] for row in rows]
    assert "speed-up (reference / fast) on astronaut_360p_2s: x" in table


def test_quick_bench_json_has_stage_medians_machine_and_agreement(
    quick_report: tuple[str, dict],
) -> None:
    _, report = quick_report
    assert report["machine"]["allocator"] in {"jemalloc", "glibc"}
    assert report["workload"]["members"] == ["b0_frame", "b0_frame_cutmix", "b0_lstm"]
    rows = {row["config"]: row for row in report["summary"]}
    assert set(rows) == {"reference", "fast"}
    for row in rows.values():
        assert set(row["stages_ms"]) == set(STAGES)
        assert row["stages_ms"]["total"] >= row["stages_ms"]["decode"] > 0
        assert row["videos_per_minute"] > 0 and row["peak_rss_mb"] > 0
    # The fast path runs the shared backbone once for two members: its time is theirs.
    assert set(rows["fast"]["members_ms"]) == {"b0_frame", "b0_frame_cutmix+b0_lstm"}
    assert set(rows["reference"]["members_ms"]) == {"b0_frame", "b0_frame_cutmix", "b0_lstm"}
    assert report["speedup"]["astronaut_360p_2s"] > 0
    # Scoring is part of the fast path's total, so the ceiling bounds the speed-up.
    ceiling = report["speedup_ceiling"]["astronaut_360p_2s"]
    assert ceiling >= report["speedup"]["astronaut_360p_2s"]
    [faces] = report["face_agreement"]
    assert faces["faces_reference"] > 0 and faces["matched"] > 0


def _pipeline(model_dir: Path, overrides: dict) -> DetectionPipeline:
    config = PipelineConfig(device="cpu", sequences=2, sequence_length=3, **overrides)
    return DetectionPipeline.load(model_dir, config)


@pytest.fixture(scope="module")
def reference(request: pytest.FixtureRequest) -> DetectionPipeline:
    """Untrained networks score every crop about the same, which would hide differences: the
    lively ensemble's scores spread over (0, 1) as a trained one's do (test_ensemble.py)."""
    return _pipeline(request.getfixturevalue("lively_model_dir"), REFERENCE)


@pytest.fixture(scope="module")
def fast_full_size(request: pytest.FixtureRequest) -> DetectionPipeline:
    """Every fast-path optimisation except downscaled detection (reported by the bench)."""
    return _pipeline(request.getfixturevalue("lively_model_dir"), {**FAST, "detect_scale": 1.0})


def _face_scores(result: DetectionResult) -> dict[str, list[float]]:
    scores: dict[str, list[float]] = {}
    for frame in result.frames:
        for face in frame.faces:
            for name, value in face.member_scores.items():
                scores.setdefault(name, []).append(value)
    for sequence in result.sequences:
        for name, value in sequence.member_scores.items():
            scores.setdefault(name, []).append(value)
    return scores


@pytest.mark.clips
@pytest.mark.parametrize("clip", ["abqwwspghj.mp4", "facenet_street_1080p.mp4"])
def test_the_fast_path_moves_no_score_by_more_than_0_01(
    videos_dir: Path,
    reference: DetectionPipeline,
    fast_full_size: DetectionPipeline,
    clip: str,
) -> None:
    slow = reference.detect(videos_dir / clip)
    fast = fast_full_size.detect(videos_dir / clip)
    assert [f.index for f in fast.frames] == [f.index for f in slow.frames]
    boxes = [(face.box, len(f.faces)) for f in slow.frames for face in f.faces]
    fast_boxes = [(face.box, len(f.faces)) for f in fast.frames for face in f.faces]
    assert len(boxes) == len(fast_boxes) > 0
    for (a, _), (b, _) in zip(boxes, fast_boxes, strict=True):
        assert (a.x1, a.y1, a.x2, a.y2) == pytest.approx((b.x1, b.y1, b.x2, b.y2), abs=0.01)
    slow_scores, fast_scores = _face_scores(slow), _face_scores(fast)
    assert np.std(slow_scores["b0_frame"]) > 0.02  # scores that can differ, not all 0.5
    for name, values in slow_scores.items():
        np.testing.assert_allclose(fast_scores[name], values, atol=SCORE_TOLERANCE)
    for slow_member, fast_member in zip(slow.models, fast.models, strict=True):
        assert slow_member.score is not None and fast_member.score is not None
        assert abs(slow_member.score - fast_member.score) <= SCORE_TOLERANCE


def _box(detection: Detection) -> tuple[float, ...]:
    return detection.box


@pytest.mark.clips
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_vectorised_mtcnn_finds_facenet_pytorchs_boxes(videos_dir: Path, scale: float) -> None:
    images = [f.image for f in sample_frames(videos_dir / "facenet_street_1080p.mp4", 1, 4).frames]
    cpu = torch.device("cpu")
    found = {
        vectorised: FaceDetector(
            PipelineConfig(detect_scale=scale, vectorised_mtcnn=vectorised), cpu
        ).detect(images)
        for vectorised in (False, True)
    }
    for theirs, ours in zip(found[False], found[True], strict=True):
        assert len(ours) == len(theirs) >= 5  # a street scene: several faces a frame
        pairs = zip(sorted(theirs, key=_box), sorted(ours, key=_box), strict=True)
        for a, b in pairs:
            assert a.box == pytest.approx(b.box, abs=0.01)
            assert a.prob == pytest.approx(b.prob, abs=1e-5)


@pytest.mark.clips
def test_about_half_of_a_dfdc_clips_frames_are_unreferenced(videos_dir: Path) -> None:
    """What seek decoding leaves undecoded when unwanted (identical frames: test_sampling)."""
    with av.open(str(videos_dir / "abqwwspghj.mp4")) as container:
        stream = container.streams.video[0]
        size = h264_nal_length_size(stream)
        assert size == 4
        flags = [is_unreferenced_h264(bytes(p), size) for p in container.demux(stream) if p.size]
    assert len(flags) == 300
    assert 100 <= sum(flags) <= 200
    assert not flags[0]  # the first keyframe is referenced
