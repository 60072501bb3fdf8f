"""The HTTP API against real Redis, with a real DetectionWorker in burst mode."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from rq import Queue

from contract.settings import Settings
from service.app import create_app
from workers.pipeline import DetectionPipeline
from workers.worker import DetectionWorker


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def make_worker(
    redis_conn: Redis, settings: Settings, tiny_pipeline: DetectionPipeline
) -> Callable[[], DetectionWorker]:
    def make() -> DetectionWorker:
        queue = Queue(settings.queue_name, connection=redis_conn)
        return DetectionWorker(
            [queue], connection=redis_conn, pipeline=tiny_pipeline, settings=settings
        )

    return make


def upload(client: TestClient, path: Path, name: str | None = None) -> dict:
    with path.open("rb") as f:
        response = client.post("/detect", files={"file": (name or path.name, f, "video/mp4")})
    assert response.status_code == 202, response.text
    return response.json()


def test_upload_is_queued_with_location(client: TestClient, face_clip: Path) -> None:
    with face_clip.open("rb") as f:
        response = client.post("/detect", files={"file": ("a.mp4", f, "video/mp4")})
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert response.headers["location"] == body["status_url"] == f"/jobs/{body['job_id']}"
    job = client.get(body["status_url"]).json()
    assert job["status"] == "queued"
    assert job["queue_position"] == 0
    assert job["filename"] == "a.mp4"


def test_burst_worker_finishes_job_with_result(
    client: TestClient,
    settings: Settings,
    face_clip: Path,
    make_worker: Callable[[], DetectionWorker],
) -> None:
    accepted = upload(client, face_clip)
    make_worker().work(burst=True)
    job = client.get(accepted["status_url"]).json()
    assert job["status"] == "finished", job
    result = job["result"]
    assert 0.0 < result["fake_probability"] < 1.0
    assert result["trained"] is False
    assert any(w.startswith("untrained_weights") for w in result["warnings"])
    assert sum(len(f["faces"]) for f in result["frames"]) >= 1
    assert [m["kind"] for m in result["models"]] == ["frame", "frame", "sequence"]
    assert list(settings.upload_dir.iterdir()) == []  # the worker deleted the upload


def test_failed_job_reports_error_code(
    client: TestClient,
    settings: Settings,
    noise_clip: Path,
    make_worker: Callable[[], DetectionWorker],
) -> None:
    accepted = upload(client, noise_clip)
    make_worker().work(burst=True)
    job = client.get(accepted["status_url"]).json()
    # A clip without faces is not an error: 0.5 with the no_face fallback.
    assert job["status"] == "finished"
    assert job["result"]["fake_probability"] == 0.5
    assert job["result"]["fallback"] == "no_face"


def test_text_file_is_refused_and_not_kept(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    with text.open("rb") as f:
        response = client.post("/detect", files={"file": ("notes.mp4", f, "video/mp4")})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_video"
    assert list(settings.upload_dir.iterdir()) == []


def test_unknown_job_is_404(client: TestClient) -> None:
    response = client.get("/jobs/does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "job_not_found"


def test_cancel_queued_job(client: TestClient, settings: Settings, face_clip: Path) -> None:
    accepted = upload(client, face_clip)
    response = client.delete(accepted["status_url"])
    assert response.status_code == 200
    assert response.json()["status"] == "canceled"
    assert client.get(accepted["status_url"]).json()["status"] == "canceled"
    assert list(settings.upload_dir.iterdir()) == []


def test_readyz_follows_worker_registration(
    client: TestClient, make_worker: Callable[[], DetectionWorker]
) -> None:
    assert client.get("/readyz").status_code == 503
    assert "No worker" in client.get("/readyz").json()["reason"]
    worker = make_worker()
    worker.register_birth()
    try:
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["workers"] == 1
        models = client.get("/models").json()
        assert models["workers"][0]["trained"] is False
        # Each member's preprocessing: the scaffold names no crop rule, so it reads the recipe's.
        member = models["workers"][0]["members"][0]
        assert (member["crop"], member["resize"]) == ("margin", "square_area")
        assert models["warnings"] and models["warnings"][0].startswith("untrained_weights")
    finally:
        worker.register_death()
    assert client.get("/readyz").status_code == 503


def test_metrics_expose_queue_depth_and_requests(client: TestClient, face_clip: Path) -> None:
    upload(client, face_clip)
    text = client.get("/metrics").text
    assert "dfdetect_queue_depth 1.0" in text
    assert 'dfdetect_http_requests_total{method="POST",route="/detect",status="202"} 1.0' in text


def test_redis_down_gives_503_queue_unavailable(tmp_path: Path, face_clip: Path) -> None:
    settings = Settings(
        redis_url="redis://127.0.0.1:1/0",
        upload_dir=tmp_path / "up",
        _env_file=None,  # type: ignore[call-arg]
    )
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").status_code == 200
        assert client.get("/readyz").status_code == 503
        with face_clip.open("rb") as f:
            response = client.post("/detect", files={"file": ("a.mp4", f, "video/mp4")})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "queue_unavailable"
        assert client.get("/jobs/x").json()["error"]["code"] == "queue_unavailable"
    assert not any((tmp_path / "up").iterdir())


def test_service_and_the_contract_never_import_torch() -> None:
    code = (
        "import sys\n"
        "from cli.main import build_parser\n"
        "from service.app import create_app\n"
        "from contract.settings import Settings\n"
        "import contract.digest, contract.errors, contract.paths, contract.pipeline\n"
        "import contract.queue, contract.result\n"
        "build_parser()\n"
        "create_app(Settings(redis_url='redis://127.0.0.1:1/0')).openapi()\n"
        "bad = [m for m in ('torch', 'timm', 'facenet_pytorch') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cancel_of_a_running_job_is_honoured_between_stages(
    client: TestClient,
    redis_conn: Redis,
    face_clip: Path,
    make_worker: Callable[[], DetectionWorker],
) -> None:
    from rq.job import Job, JobStatus

    from contract.queue import CANCEL_KEY

    accepted = upload(client, face_clip)
    job = Job.fetch(accepted["job_id"], connection=redis_conn)
    job.set_status(JobStatus.STARTED)  # as a worker would, so DELETE takes the running path
    response = client.delete(accepted["status_url"])
    assert response.status_code == 200
    assert redis_conn.exists(CANCEL_KEY.format(job_id=job.id))
    job.set_status(JobStatus.QUEUED)  # let the real worker take it; the cancel key stays set
    make_worker().work(burst=True)
    body = client.get(accepted["status_url"]).json()
    assert body["status"] == "canceled", body
    assert not redis_conn.exists(CANCEL_KEY.format(job_id=job.id))
