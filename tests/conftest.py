"""Shared fixtures: the real clips folder, synthetic clips, a tiny scaffolded ensemble."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests import media

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_BACKBONE = "efficientnet_b0"
"""Small timm backbone for tests; the product default is tf_efficientnet_b6."""
TEST_IMAGE_SIZE = 64
"""Small crop size so a forward pass takes milliseconds on a CPU."""


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real clips and photos; skipped when absent, a failure in CI."""
    path = Path(os.environ.get("DFDETECT_TEST_DATA", REPO_ROOT.parent / "shared" / "data"))
    if not (path / "videos" / "metadata.json").is_file():
        reason = f"shared test data not found at {path} (set DFDETECT_TEST_DATA)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; in CI it must be present")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def videos_dir(data_dir: Path) -> Path:
    return data_dir / "videos"


@pytest.fixture(scope="session")
def clips_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def face_clip(clips_tmp: Path) -> Path:
    """A 30-frame 640x512 H.264 clip of a real face (the astronaut photo)."""
    return media.face_clip(clips_tmp / "astronaut.mp4")


@pytest.fixture(scope="session")
def noise_clip(clips_tmp: Path) -> Path:
    """A 30-frame clip with no face."""
    return media.noise_clip(clips_tmp / "noise.mp4")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 15th-place three-member ensemble with a small backbone and random weights."""
    from models.scaffold import scaffold_ensemble

    out = tmp_path_factory.mktemp("models") / "tiny"
    scaffold_ensemble(out, backbone=TEST_BACKBONE, image_size=TEST_IMAGE_SIZE)
    return out
