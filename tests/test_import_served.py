"""Issue 12's first "Done when": seven checkpoints in the published format and names ->
`dfdetect models import dfdc-1st` -> a directory the API with a real RQ worker, and
`dfdetect detect`, serve.

The checkpoints are random lively networks in the 1st-place layout (tests/dfdc_sources.py),
saved as that repository's training script saves them, under the seven file names of release
0.0.1 of selimsef/dfdc_deepfake_challenge. Their tensors are tf_efficientnet_b0's, not B7's, to
stay fast: the importer recognises the encoder from the tensor shapes, never from the name.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from fastapi.testclient import TestClient
from redis import Redis
from rq import Queue

from cli.main import main
from contract.settings import Settings
from service.app import create_app
from tests.dfdc_sources import face_crops, lively_first, to_batch
from workers.pipeline import DetectionPipeline
from workers.worker import DetectionWorker

pytestmark = pytest.mark.clips

PUBLISHED = (
    "final_111_DeepFakeClassifier_tf_efficientnet_b7_ns_0_36",
    "final_555_DeepFakeClassifier_tf_efficientnet_b7_ns_0_19",
    "final_777_DeepFakeClassifier_tf_efficientnet_b7_ns_0_29",
    "final_777_DeepFakeClassifier_tf_efficientnet_b7_ns_0_31",
    "final_888_DeepFakeClassifier_tf_efficientnet_b7_ns_0_37",
    "final_888_DeepFakeClassifier_tf_efficientnet_b7_ns_0_40",
    "final_999_DeepFakeClassifier_tf_efficientnet_b7_ns_0_23",
)
"""The file names of release 0.0.1's seven B7 checkpoints (names only: B0 tensors inside)."""
CLIP = "crop_0_aaqaifqrwn_0_0.mp4"
"""A DFDC face crop: one face in every frame."""
LIVELY_SIZE = 380
"""The recipe's crop side: BatchNorm statistics re-estimated at the size the members see."""


@pytest.fixture(scope="module")
def published(
    data_dir: Path, one_thread: None, tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    """Seven `{"state_dict": {"module." + key: tensor}}` files under the published names."""
    folder = tmp_path_factory.mktemp("release-0.0.1")
    images = to_batch(face_crops(data_dir, 4, LIVELY_SIZE))
    paths = []
    for seed, name in enumerate(PUBLISHED):
        # B0-sized for speed; the encoder is told from the tensors' shapes, not the "b7" name.
        net = lively_first("tf_efficientnet_b0", images, seed)
        state = {f"module.{k}": v for k, v in net.state_dict().items()}
        torch.save({"state_dict": state}, folder / name)
        paths.append(folder / name)
    return paths


@pytest.fixture(scope="module")
def imported(published: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dfdetect models import dfdc-1st --out DIR` the seven files, as a user runs it."""
    out = tmp_path_factory.mktemp("models") / "dfdc-1st"
    assert main(["models", "import", "dfdc-1st", "--out", str(out), *map(str, published)]) == 0
    return out


@pytest.fixture(scope="module")
def served(
    imported: Path, videos_dir: Path, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """The clip through the API and a real RQ worker (burst) serving the imported directory:
    the finished job and GET /models while that worker is alive."""
    conn = Redis.from_url(redis_url)
    conn.flushdb()
    root = tmp_path_factory.mktemp("served")
    settings = Settings(
        redis_url=redis_url,
        upload_dir=root / "uploads",
        data_dir=root / "var",
        model_dir=imported,
        device="cpu",
        worker_heartbeat_s=1,
        _env_file=None,
    )
    assert settings.model_dir is not None
    # What `dfdetect worker` loads: the settings' model directory and pipeline.
    pipeline = DetectionPipeline.load(settings.model_dir, settings.pipeline())
    try:
        with TestClient(create_app(settings)) as client:
            clip = videos_dir / CLIP
            with clip.open("rb") as f:
                response = client.post("/detect", files={"file": (clip.name, f, "video/mp4")})
            assert response.status_code == 202, response.text
            queue = Queue(settings.queue_name, connection=conn)
            worker = DetectionWorker([queue], connection=conn, pipeline=pipeline, settings=settings)
            worker.work(burst=True)
            job = client.get(response.headers["location"]).json()
            worker.register_birth()  # alive again, so /models lists what it loaded
            try:
                models = client.get("/models").json()
            finally:
                worker.register_death()
        yield job, models
    finally:
        conn.flushdb()
        conn.close()


def test_the_api_and_a_worker_serve_the_seven_imported_members(
    served: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    job, _ = served
    assert job["status"] == "finished", job
    result = job["result"]
    assert result["recipe"] == "dfdc-1st" and result["trained"] is True
    assert len(result["frames"]) == 32  # the kernel's 32 frames, linearly spaced
    assert sum(len(frame["faces"]) for frame in result["frames"]) >= 1
    members = result["models"]
    assert [m["name"] for m in members] == list(PUBLISHED)
    scores = [m["score"] for m in members]
    assert all(isinstance(score, float) for score in scores), members
    assert len(set(scores)) == len(PUBLISHED), "seven different networks, seven scores"
    # The 1st place's kernel: each member's confident strategy over the faces, then the mean.
    assert result["fake_probability"] == pytest.approx(sum(scores) / len(scores), abs=1e-9)


def test_models_name_each_members_source_file_and_hash(
    served: tuple[dict[str, Any], dict[str, Any]], published: list[Path]
) -> None:
    _, models = served
    (worker,) = models["workers"]
    assert worker["recipe"] == "dfdc-1st" and worker["trained"] is True
    assert models["warnings"] == []
    assert [m["name"] for m in worker["members"]] == list(PUBLISHED)
    for member, path in zip(worker["members"], published, strict=True):
        assert (member["backbone"], member["trained"]) == ("tf_efficientnet_b0", True)
        provenance = member["provenance"]
        assert provenance["source_file"] == path.name
        assert provenance["source_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert provenance["solution"] == "dfdc-1st"


def test_dfdetect_detect_gives_the_apis_score(
    served: tuple[dict[str, Any], dict[str, Any]],
    imported: Path,
    videos_dir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    capsys.readouterr()
    code = main(["detect", str(videos_dir / CLIP), "--model-dir", str(imported), "--device", "cpu"])
    out, _ = capsys.readouterr()
    assert code == 0
    printed = json.loads(out)
    api = served[0]["result"]
    assert printed["recipe"] == "dfdc-1st" and printed["trained"] is True
    assert [m["name"] for m in printed["models"]] == list(PUBLISHED)
    assert abs(printed["fake_probability"] - api["fake_probability"]) < 1e-6
