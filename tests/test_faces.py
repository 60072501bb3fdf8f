"""Face selection (15th-place rule) and real MTCNN detection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from contract.pipeline import PipelineConfig
from tests import media
from workers.faces import Detection, FaceDetector, select_faces
from workers.sampling import sample_frames

CPU = torch.device("cpu")


def _face(prob: float, side: float) -> Detection:
    """A square face of the given side, so areas order as sides do."""
    return Detection((10.0, 10.0, 10.0 + side, 10.0 + side), prob)


def test_area_is_width_times_height() -> None:
    assert Detection((10.0, 20.0, 40.0, 60.0), 0.9).area == 1200.0


def test_confident_faces_are_kept_largest_first_over_a_larger_unsure_one() -> None:
    small, big, unsure = _face(0.995, 30), _face(0.999, 50), _face(0.98, 90)
    assert select_faces([small, unsure, big]) == [big, small]


def test_at_most_two_confident_faces_are_kept() -> None:
    faces = [_face(0.995, side) for side in (20, 60, 40, 50)]
    assert [f.area for f in select_faces(faces)] == [3600.0, 2500.0]


def test_without_a_confident_face_the_single_largest_probable_one_is_kept() -> None:
    faces = [_face(0.98, 30), _face(0.75, 45), _face(0.5, 80)]
    assert select_faces(faces) == [faces[1]]


def test_faces_below_the_fallback_probability_are_dropped() -> None:
    assert select_faces([_face(0.5, 80), _face(0.7, 40)]) == []


def test_the_thresholds_are_strict() -> None:
    exactly_confident = _face(0.99, 50)
    assert select_faces([exactly_confident, _face(0.995, 10)]) == [_face(0.995, 10)]


def test_no_detections_select_nothing() -> None:
    assert select_faces([]) == []


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(PipelineConfig(detect_batch_size=3), CPU)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return media.astronaut_frame(640, 512)


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.kron(
        rng.integers(0, 255, (32, 40, 3), dtype=np.uint8), np.ones((16, 16, 1), np.uint8)
    )


def test_mtcnn_finds_the_astronauts_face(detector: FaceDetector, astronaut: np.ndarray) -> None:
    [faces] = detector.detect([astronaut])
    assert len(faces) == 1
    x1, y1, x2, y2 = faces[0].box
    assert 0 <= x1 < x2 <= 640 and 0 <= y1 < y2 <= 512
    assert faces[0].prob > 0.99
    assert (x1, y1, x2, y2) == pytest.approx((244.5, 59.8, 332.6, 173.7), abs=2)


def test_a_downscaled_detection_maps_the_box_back_to_full_size(
    detector: FaceDetector, astronaut: np.ndarray
) -> None:
    half = FaceDetector(PipelineConfig(detect_scale=0.5), CPU)
    [[full]], [[scaled]] = detector.detect([astronaut]), half.detect([astronaut])
    assert scaled.box == pytest.approx(full.box, abs=4)


def test_a_frame_without_a_face_gives_no_detections(
    detector: FaceDetector, noise: np.ndarray
) -> None:
    assert detector.detect([noise]) == [[]]


def test_batched_detection_equals_one_frame_at_a_time(
    detector: FaceDetector, astronaut: np.ndarray, noise: np.ndarray
) -> None:
    # Four frames in batches of three: one batch has a faceless frame, the next a single frame.
    frames = [astronaut, noise, np.roll(astronaut, 40, axis=1), np.roll(astronaut, -30, axis=0)]
    batched = detector.detect(frames)
    one_by_one = [detector.detect([frame])[0] for frame in frames]
    assert [len(faces) for faces in batched] == [1, 0, 1, 1]
    for got, expected in zip(batched, one_by_one, strict=True):
        for a, b in zip(got, expected, strict=True):
            assert a.box == pytest.approx(b.box, abs=0.01)
            assert a.prob == pytest.approx(b.prob, abs=1e-4)


def test_frames_of_different_sizes_are_not_stacked_together(
    detector: FaceDetector, astronaut: np.ndarray
) -> None:
    smaller = media.astronaut_frame(560, 512)
    assert [len(faces) for faces in detector.detect([astronaut, smaller])] == [1, 1]


@pytest.mark.clips
def test_a_street_scene_keeps_the_two_largest_confident_faces(
    detector: FaceDetector, videos_dir: Path
) -> None:
    frame = sample_frames(videos_dir / "facenet_street_1080p.mp4", 1, 1, sha256="-").frames[0]
    [everyone] = detector.detect([frame.image])
    [kept] = detector.detect_and_select([frame.image])
    assert len(everyone) > 2 and len(kept) == 2
    assert kept[0].area >= kept[1].area and all(face.prob > 0.99 for face in kept)
    assert all(0 <= f.box[0] < f.box[2] <= 1920 and 0 <= f.box[1] < f.box[3] <= 1080 for f in kept)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_detection_on_cuda_matches_the_cpu(detector: FaceDetector, astronaut: np.ndarray) -> None:
    on_gpu = FaceDetector(PipelineConfig(), torch.device("cuda"))
    [[gpu]], [[cpu]] = on_gpu.detect([astronaut]), detector.detect([astronaut])
    assert gpu.box == pytest.approx(cpu.box, abs=0.1)
    assert gpu.prob == pytest.approx(cpu.prob, abs=1e-3)
