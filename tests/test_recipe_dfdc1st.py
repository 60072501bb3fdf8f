"""The `dfdc-1st` recipe does what the winner's kernel does, step by step, on the shared clips.

The reference is tests/kernel_dfdc1st.py: the kernel's functions, with its OpenCV frame reads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from facenet_pytorch import MTCNN

from contract.pipeline import PipelineConfig
from contract.recipes import RECIPES
from models.batching import isotropic_pad
from models.import_dfdc1st import import_dfdc1st
from tests import kernel_dfdc1st as kernel
from tests.dfdc_sources import CPU, lively_first
from workers.faces import FaceDetector
from workers.pipeline import DetectionPipeline
from workers.recipe_dfdc1st import linspace_indices
from workers.recipes import RecipeSteps, detector_config, resolve_recipe
from workers.sampling import sample_frames

RECIPE = RECIPES["dfdc-1st"]
CLIPS = ["hamilton_stage_360p.mp4", "crop_0_aaqaifqrwn_0_0.mp4"]
"""Two people on a stage (0 to 4 faces a frame) and a DFDC face crop (one face)."""


@pytest.fixture(scope="module")
def kernel_mtcnn() -> MTCNN:
    """The kernel's detector: `MTCNN(margin=0, thresholds=[0.7, 0.8, 0.8])`."""
    return MTCNN(margin=0, thresholds=[0.7, 0.8, 0.8], device="cpu")


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(detector_config(PipelineConfig(device="cpu"), RECIPE), CPU)


STEPS = RecipeSteps(RECIPE, PipelineConfig(device="cpu"))


@pytest.mark.parametrize("frame_count", [300, 275, 33, 32, 31, 5, 1])
def test_frame_indices_are_the_kernels_linspace(frame_count: int) -> None:
    spread = np.linspace(0, frame_count - 1, 32, endpoint=True, dtype=int)
    assert linspace_indices(frame_count, 32) == sorted(set(spread.tolist()))


@pytest.mark.parametrize(
    "shape", [(100, 60), (60, 100), (380, 200), (500, 900), (379, 379), (7, 1)]
)
def test_isotropic_pad_is_the_kernels_resize_and_centring(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    crop = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    expected = kernel.put_to_center(kernel.isotropically_resize(crop, 380), 380)
    np.testing.assert_array_equal(isotropic_pad(crop, 380), expected)


@pytest.mark.parametrize("clip", CLIPS)
def test_frames_boxes_and_crops_are_the_kernels(
    videos_dir: Path, clip: str, kernel_mtcnn: MTCNN, detector: FaceDetector
) -> None:
    path = videos_dir / clip
    frames, indices = kernel.read_frames(path)
    video = sample_frames(path, 10, 5, spans_for=STEPS.spans_for())
    assert [frame.index for frame in video.frames] == indices
    for theirs, ours in zip(frames, video.frames, strict=True):
        np.testing.assert_array_equal(ours.image, theirs)  # PyAV decodes what OpenCV does
    expected = kernel.faces_of(kernel_mtcnn, frames)
    found = STEPS.faces(detector, [frame.image for frame in video.frames])
    assert sum(map(len, found)) > 0
    for frame, theirs, ours in zip(video.frames, expected, found, strict=True):
        assert [tuple(int(v) for v in d.box) for d in ours] == [box for box, _ in theirs]
        for detection, (_, crop) in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(STEPS.crop(frame.image, detection.box), crop)


@pytest.fixture(scope="module")
def one_face_clip(videos_dir: Path) -> Path:
    return videos_dir / CLIPS[1]


def test_the_pipeline_scores_a_clip_as_the_kernel_does(
    one_face_clip: Path, kernel_mtcnn: MTCNN, tmp_path_factory: pytest.TempPathFactory
) -> None:
    frames, indices = kernel.read_frames(one_face_clip)
    crops = [crop for faces in kernel.faces_of(kernel_mtcnn, frames) for _, crop in faces]
    fitted = [kernel.put_to_center(kernel.isotropically_resize(c, 380), 380) for c in crops]
    batch = torch.tensor(np.stack(fitted)).float().permute(0, 3, 1, 2) / 255.0
    mean, std = (
        torch.tensor(kernel.MEAN).view(1, 3, 1, 1),
        torch.tensor(kernel.STD).view(1, 3, 1, 1),
    )
    net = lively_first("tf_efficientnet_b0", (batch - mean) / std, seed=3)
    folder = tmp_path_factory.mktemp("kernel")
    checkpoint = folder / "final_999_DeepFakeClassifier_tf_efficientnet_b0_ns_0_23"
    torch.save({"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}, checkpoint)
    import_dfdc1st(folder / "model", [checkpoint])

    expected, (per_face,) = kernel.predict_on_video(crops, [net])
    result = DetectionPipeline.load(folder / "model", PipelineConfig(device="cpu")).detect(
        one_face_clip
    )

    assert per_face.std() > 0.15, "face scores must spread for the comparison to mean much"
    assert result.recipe == "dfdc-1st" and [f.index for f in result.frames] == indices
    scores = [face.member_scores[checkpoint.name] for f in result.frames for face in f.faces]
    # BatchNorm folded into the convolutions and channels_last move the last digits.
    np.testing.assert_allclose(scores, per_face, atol=1e-4)
    assert [m.postprocess for m in result.models] == ["confident"]
    assert abs(result.fake_probability - expected) < 1e-4
    assert result.sequences == []


def test_the_config_recipe_overrides_the_model_directorys() -> None:
    config = PipelineConfig(device="cpu", recipe="dfdc-15th")
    assert resolve_recipe(config, "dfdc-1st").name == "dfdc-15th"
    assert resolve_recipe(PipelineConfig(), "dfdc-1st").name == "dfdc-1st"
    assert detector_config(PipelineConfig(), RECIPE).thresholds == (0.7, 0.8, 0.8)
    own = PipelineConfig(thresholds=(0.5, 0.5, 0.5))
    assert detector_config(own, RECIPE).thresholds == (0.5, 0.5, 0.5)
