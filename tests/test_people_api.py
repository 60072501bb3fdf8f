"""Through the API and a real worker: still images, the `target` field, the verdict bands."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from rq import Queue

from contract.pipeline import PipelineConfig
from contract.settings import Settings
from models.manifest import load_manifest
from models.packaged import STARTER_DIR
from service.app import create_app
from workers.pipeline import DetectionPipeline
from workers.worker import DetectionWorker


@pytest.fixture(scope="module")
def starter() -> DetectionPipeline:
    return DetectionPipeline.load(STARTER_DIR, PipelineConfig(device="cpu", sequences=2))


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def run_worker(redis_conn: Redis, settings: Settings, pipeline: DetectionPipeline) -> None:
    queue = Queue(settings.queue_name, connection=redis_conn)
    worker = DetectionWorker([queue], connection=redis_conn, pipeline=pipeline, settings=settings)
    worker.work(burst=True)


def post(client: TestClient, path: Path, **fields: str) -> dict:
    with path.open("rb") as f:
        response = client.post("/detect", files={"file": (path.name, f)}, data=fields)
    assert response.status_code == 202, response.text
    return response.json()


def test_a_photo_gives_its_face_with_scores(
    client: TestClient,
    redis_conn: Redis,
    settings: Settings,
    starter: DetectionPipeline,
    data_dir: Path,
) -> None:
    accepted = post(client, data_dir / "images" / "obama.jpg")
    run_worker(redis_conn, settings, starter)
    job = client.get(accepted["status_url"]).json()
    assert job["status"] == "finished", job
    result = job["result"]
    assert result["media"] == "image" and result["video"]["frame_count"] == 1
    faces = [face for frame in result["frames"] for face in frame["faces"]]
    assert len(faces) == 1 and len(result["people"]) == 1
    frame_members = {m.name for m in load_manifest(STARTER_DIR).members if m.kind == "frame"}
    assert set(faces[0]["member_scores"]) == frame_members and len(frame_members) == 2
    lstm = next(m for m in result["models"] if m["kind"] == "sequence")
    assert lstm["applicable"] is False and lstm.get("score") is None  # nulls are left out
    assert result["sequences"] == [] and "fallback" not in result
    assert 0.0 < result["fake_probability"] < 1.0 and result["trained"] is True
    assert result["verdict"]["label"] in {"REAL", "UNCERTAIN", "FAKE"}
    assert result["quality"]["frames_sampled"] == 1
    assert client.get(faces[0]["image_url"]).status_code == 200


def test_the_target_field_reaches_the_worker(
    client: TestClient,
    redis_conn: Redis,
    settings: Settings,
    tiny_pipeline: DetectionPipeline,
    face_clip: Path,
) -> None:
    accepted = post(client, face_clip, target="largest")
    run_worker(redis_conn, settings, tiny_pipeline)
    result = client.get(accepted["status_url"]).json()["result"]
    assert result["target"]["requested"] == "largest"
    assert result["target"]["person"] == result["people"][0]["id"]
    assert result["fake_probability"] == result["people"][0]["fake_probability"]


def test_the_target_query_parameter_works_too(client: TestClient, face_clip: Path) -> None:
    with face_clip.open("rb") as f:
        response = client.post(
            "/detect?target=" + '{"t":0.5,"box":[10,10,200,200]}', files={"file": ("a.mp4", f)}
        )
    assert response.status_code == 202, response.text


def test_a_bad_target_is_refused_and_nothing_kept(
    client: TestClient, settings: Settings, face_clip: Path
) -> None:
    with face_clip.open("rb") as f:
        response = client.post(
            "/detect", files={"file": ("a.mp4", f)}, data={"target": '{"t": 1, "box": [1, 2]}'}
        )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_target"
    assert list(settings.upload_dir.iterdir()) == []


def test_models_show_the_operating_points_and_their_set(
    client: TestClient, redis_conn: Redis, settings: Settings, starter: DetectionPipeline
) -> None:
    queue = Queue(settings.queue_name, connection=redis_conn)
    worker = DetectionWorker([queue], connection=redis_conn, pipeline=starter, settings=settings)
    worker.register_birth()
    try:
        table = client.get("/models").json()["workers"][0]["operating_points"]
    finally:
        worker.register_death()
    assert "38 labelled DFDC dev clips" in table["dataset"]
    assert table["fakes"] == 28 and table["reals"] == 10
    assert table["fake_threshold"] >= table["real_threshold"]
    assert table["points"][0]["false_positive_rate"] == 1.0
