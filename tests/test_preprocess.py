"""`dfdetect preprocess`: the pipeline's crops cached once, resumable, failures with reasons."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from contract.errors import DatasetError
from contract.pipeline import PipelineConfig
from tests.labelled_set import labelled_set
from training.cache import INDEX_FILE, read_index, video_key
from training.dfdc import read_dfdc
from training.preprocess import preprocess

CONFIG = PipelineConfig(device="cpu", sequences=2, sequence_length=3)


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two spinning threads on two shared cores are slower than one
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """One REAL and one FAKE clip, a file that is not a video, and a listed file that is absent."""
    folder = labelled_set(tmp_path / "data", real=1, fake=1, n_frames=8)
    (folder / "broken.mp4").write_bytes(b"not a video at all" * 100)
    metadata = json.loads((folder / "metadata.json").read_text())
    metadata["broken.mp4"] = metadata["absent.mp4"] = {"label": "FAKE"}
    (folder / "metadata.json").write_text(json.dumps(metadata))
    return folder


def test_summary_counts_faces_and_names_each_failure_with_its_reason(
    data: Path, tmp_path: Path
) -> None:
    summary = preprocess(read_dfdc(data), tmp_path / "cache", CONFIG, crop_size=32, progress=False)
    assert (summary.videos, summary.ok, summary.no_face) == (4, 2, 0)
    assert (summary.faces, summary.sequences) == (12, 4)
    reasons = {Path(video).name: reason for video, reason in summary.failures.items()}
    assert set(reasons) == {"broken.mp4", "absent.mp4"}
    assert all(reason.startswith("invalid_video: ") for reason in reasons.values())


def test_a_second_run_skips_cached_videos_and_retries_failures(data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    videos = read_dfdc(data)
    preprocess(videos, cache, CONFIG, crop_size=32, progress=False)
    again = preprocess(videos, cache, CONFIG, crop_size=32, progress=False)
    assert (again.skipped, again.ok, len(again.failures)) == (2, 2, 2)
    lines = (cache / INDEX_FILE).read_text().splitlines()
    assert len(lines) == 2 + 2 + 2  # first run: 4 lines; second: the 2 failures again
    assert len(read_index(cache)) == 4


def test_crops_of_a_killed_run_are_replaced(data: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    video = next(v for v in read_dfdc(data) if v.path.name == "real_0.mp4")
    stale = cache / "crops" / video_key(video.path)
    stale.mkdir(parents=True)
    (stale / "f999999_0.png").write_bytes(b"half written")
    preprocess([video], cache, CONFIG, crop_size=32, progress=False)
    assert not (stale / "f999999_0.png").exists()
    assert len(list(stale.glob("f*.png"))) == 6


def test_resuming_with_other_settings_is_refused(data: Path, tmp_path: Path) -> None:
    videos = read_dfdc(data)[:1]
    preprocess(videos, tmp_path / "cache", CONFIG, crop_size=32, progress=False)
    with pytest.raises(DatasetError, match="resume with the same options"):
        preprocess(videos, tmp_path / "cache", CONFIG, crop_size=48, progress=False)


@pytest.mark.slow
def test_a_pool_of_processes_caches_what_one_process_does(data: Path, tmp_path: Path) -> None:
    videos = read_dfdc(data)
    alone = preprocess(videos, tmp_path / "one", CONFIG, crop_size=32, progress=False)
    pooled = preprocess(videos, tmp_path / "two", CONFIG, crop_size=32, workers=2, progress=False)
    assert (pooled.ok, pooled.faces, pooled.sequences) == (alone.ok, alone.faces, alone.sequences)
    assert set(pooled.failures) == set(alone.failures)
