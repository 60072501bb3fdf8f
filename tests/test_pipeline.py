"""The whole pipeline (real PyAV, MTCNN and timm) on real clips and generated ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli.main import main
from contract.errors import InvalidVideo
from contract.pipeline import PipelineConfig
from contract.result import DetectionResult
from workers.pipeline import DetectionPipeline

pytestmark = pytest.mark.clips


@pytest.fixture(scope="module")
def sparse_pipeline(tiny_model_dir: Path) -> DetectionPipeline:
    """Two sequences of two frames: enough to exercise every stage on 38 clips quickly."""
    return DetectionPipeline.load(
        tiny_model_dir, PipelineConfig(device="cpu", sequences=2, sequence_length=2)
    )


def _check(result: DetectionResult) -> None:
    assert 0.0 <= result.fake_probability <= 1.0
    assert result.label == ("FAKE" if result.fake_probability >= 0.5 else "REAL")
    width, height = result.video.width, result.video.height
    for frame in result.frames:
        assert len(frame.faces) <= 2
        for face in frame.faces:
            assert 0 <= face.box.x1 < face.box.x2 <= width
            assert 0 <= face.box.y1 < face.box.y2 <= height
    assert not result.trained
    assert any(w.startswith("untrained_weights") for w in result.warnings)


def test_every_shared_clip_gives_a_result(
    sparse_pipeline: DetectionPipeline, videos_dir: Path
) -> None:
    labels = json.loads((videos_dir / "metadata.json").read_text())
    assert len(labels) >= 30
    for name in sorted(labels):
        result = sparse_pipeline.detect(videos_dir / name)
        _check(result)
        assert len(result.frames) == 4, name
    # The dark DFDC clip with a small face still finds it in some frame.
    dark = sparse_pipeline.detect(videos_dir / "abofeumbvv.mp4")
    assert dark.video.width == 1920


def test_portrait_clip_is_upright(sparse_pipeline: DetectionPipeline, videos_dir: Path) -> None:
    result = sparse_pipeline.detect(videos_dir / "talking_head_d13.mp4")
    assert (result.video.width, result.video.height) == (720, 1280)
    assert any(frame.faces for frame in result.frames)


def test_clip_without_faces_gives_half_with_fallback(
    sparse_pipeline: DetectionPipeline, noise_clip: Path
) -> None:
    result = sparse_pipeline.detect(noise_clip)
    assert result.fake_probability == 0.5
    assert result.fallback == "no_face"
    assert all(m.score is None for m in result.models)
    assert all(not frame.faces for frame in result.frames)


def test_text_file_is_invalid_video(sparse_pipeline: DetectionPipeline, tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video")
    with pytest.raises(InvalidVideo):
        sparse_pipeline.detect(fake)


def test_cli_detect_on_1080p_street_clip(
    tiny_model_dir: Path, videos_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's done-when: 50 sampled frames, <= 2 faces each, member scores, the warning."""
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"\x00" * 1000)
    code = main(
        [
            "detect",
            str(videos_dir / "facenet_street_1080p.mp4"),
            str(broken),
            "--model-dir",
            str(tiny_model_dir),
            "--device",
            "cpu",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 1  # one of the two files failed, and said so
    assert json.loads(err.strip())["error"]["code"] == "invalid_video"
    printed = json.loads(out)
    assert printed.pop("file").endswith("facenet_street_1080p.mp4")
    result = DetectionResult.model_validate(printed)
    assert len(result.frames) == 50
    assert sum(len(f.faces) for f in result.frames) >= 50  # several people: faces in every frame
    _check(result)
    assert {m.name: m.score is not None for m in result.models} == {
        m.name: True for m in result.models
    }
    assert 0.0 < result.fake_probability < 1.0
    assert len(result.sequences) >= 10


def test_sequence_length_other_than_trained_is_warned(
    tiny_model_dir: Path, face_clip: Path
) -> None:
    pipeline = DetectionPipeline.load(
        tiny_model_dir, PipelineConfig(device="cpu", sequences=1, sequence_length=3)
    )
    result = pipeline.detect(face_clip)
    assert any(w.startswith("sequence_length_mismatch") for w in result.warnings)
