"""Face images (`GET /jobs/{id}/faces/{n}.jpg`): stored by a real burst worker in real Redis,
owned by the job's key, kept as long as the result, deleted with the job."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from redis import Redis
from rq.job import Job

from contract.operating import verdict
from contract.quality import InputQuality
from contract.queue import FACES_KEY, MAX_FACE_IMAGE_BYTES, MAX_FACE_IMAGES
from contract.result import Box, DetectionResult, FaceScore, FrameResult, VideoInfo
from contract.settings import Settings
from service.app import create_app
from tests import test_api
from tests.fault_helpers import assert_error
from workers.face_images import FACE_IMAGE_SIZE, encode_face, store_face_images
from workers.worker import DetectionWorker

make_worker = test_api.make_worker
"""A real DetectionWorker with the tiny pipeline (test_api's fixture, reused)."""
KEY_A = "faces-key-a-0123456789"
KEY_B = "faces-key-b-9876543210"
A = {"Authorization": f"Bearer {KEY_A}"}
B = {"X-API-Key": KEY_B}


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    keyed = settings.model_copy(update={"api_keys": [KEY_A, KEY_B]})
    with TestClient(create_app(keyed)) as c:
        yield c


def finished_job(
    client: TestClient, clip: Path, make_worker: Callable[[], DetectionWorker]
) -> dict:
    with clip.open("rb") as f:
        accepted = client.post("/detect", files={"file": ("a.mp4", f, "video/mp4")}, headers=A)
    assert accepted.status_code == 202, accepted.text
    make_worker().work(burst=True)
    job = client.get(accepted.json()["status_url"], headers=A).json()
    assert job["status"] == "finished", job
    return job


def test_every_scored_face_has_an_image_only_its_owner_reads(
    client: TestClient,
    redis_conn: Redis,
    settings: Settings,
    face_clip: Path,
    make_worker: Callable[[], DetectionWorker],
) -> None:
    job = finished_job(client, face_clip, make_worker)
    job_id = job["job_id"]
    faces = [face for frame in job["result"]["frames"] for face in frame["faces"]]
    assert faces, "the astronaut clip has a face in every frame"
    for n, face in enumerate(faces):
        assert face["image_url"] == f"/jobs/{job_id}/faces/{n}.jpg"
        response = client.get(face["image_url"], headers=A)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/jpeg"
        assert len(response.content) <= MAX_FACE_IMAGE_BYTES
        image = cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_COLOR)
        assert image is not None and image.shape == (FACE_IMAGE_SIZE, FACE_IMAGE_SIZE, 3)
    assert redis_conn.hlen(FACES_KEY.format(job_id=job_id)) == len(faces)

    # Another key, an unknown job: job_not_found; an unknown face of the owner's job: its own code.
    assert_error(client.get(faces[0]["image_url"], headers=B), 404, "job_not_found")
    assert_error(client.get("/jobs/no-such-job/faces/0.jpg", headers=A), 404, "job_not_found")
    for n in (len(faces), 10_000):
        assert_error(client.get(f"/jobs/{job_id}/faces/{n}.jpg", headers=A), 404, "face_not_found")
    assert_error(client.get(f"/jobs/{job_id}/faces/x.jpg", headers=A), 422, "invalid_request")
    assert_error(client.get(faces[0]["image_url"]), 401, "unauthorized")

    # Kept exactly as long as the result.
    faces_ttl = redis_conn.ttl(FACES_KEY.format(job_id=job_id))
    result_ttl = redis_conn.ttl(Job.fetch(job_id, connection=redis_conn).key)
    assert 0 < result_ttl <= settings.result_ttl_s
    assert abs(faces_ttl - result_ttl) <= 2, (faces_ttl, result_ttl)

    # Another key cannot delete; the owner's DELETE removes the job, its result and its images.
    assert_error(client.delete(f"/jobs/{job_id}", headers=B), 404, "job_not_found")
    deleted = client.delete(f"/jobs/{job_id}", headers=A)
    assert deleted.status_code == 200 and deleted.json()["status"] == "finished"
    assert not redis_conn.exists(FACES_KEY.format(job_id=job_id))
    assert_error(client.get(f"/jobs/{job_id}", headers=A), 404, "job_not_found")
    assert_error(client.get(faces[0]["image_url"], headers=A), 404, "job_not_found")
    assert_error(client.delete(f"/jobs/{job_id}", headers=A), 404, "job_not_found")


def _result(faces: int) -> DetectionResult:
    face = FaceScore(
        box=Box(x1=0, y1=0, x2=10, y2=10),
        detection_score=1.0,
        member_scores={},
        fake_probability=0.5,
    )
    video = VideoInfo(
        duration_s=1, fps=1, width=64, height=64, frame_count=1, codec="h264", sha256=""
    )
    return DetectionResult(
        fake_probability=0.5,
        label="REAL",
        trained=False,
        video=video,
        verdict=verdict(0.5, None, unsure=False),
        quality=InputQuality(
            width=64,
            height=64,
            frames_sampled=1,
            frames_with_face=1,
            frames_with_face_share=1.0,
            face_px_median=10.0,
        ),
        people=[],
        frames=[
            FrameResult(index=0, timestamp_s=0, faces=[face.model_copy() for _ in range(faces)])
        ],
        sequences=[],
        models=[],
        warnings=[],
        timings_ms={},
    )


def test_at_most_128_faces_each_under_the_cap(redis_conn: Redis) -> None:
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (300, 240, 3), dtype=np.uint8)  # the worst case for JPEG
    encoded = encode_face(noise)
    assert encoded is not None and len(encoded) <= MAX_FACE_IMAGE_BYTES
    assert encode_face(noise, max_bytes=100) is None

    result = _result(MAX_FACE_IMAGES + 2)
    crops = [np.full((40, 30, 3), n, np.uint8) for n in range(MAX_FACE_IMAGES + 2)]
    assert store_face_images(redis_conn, "j1", result, crops, 60) == MAX_FACE_IMAGES
    urls = [face.image_url for face in result.frames[0].faces]
    assert urls[:MAX_FACE_IMAGES] == [f"/jobs/j1/faces/{n}.jpg" for n in range(MAX_FACE_IMAGES)]
    assert urls[MAX_FACE_IMAGES:] == [None, None]
    assert redis_conn.hlen(FACES_KEY.format(job_id="j1")) == MAX_FACE_IMAGES
    assert 58 <= redis_conn.ttl(FACES_KEY.format(job_id="j1")) <= 60

    # result_ttl 0 (RQ keeps no result): no images either.
    assert store_face_images(redis_conn, "j2", _result(1), crops[:1], 0) == 0
    assert not redis_conn.exists(FACES_KEY.format(job_id="j2"))


def test_a_failed_job_keeps_no_face_images(
    redis_conn: Redis,
    settings: Settings,
    tmp_path: Path,
    make_worker: Callable[[], DetectionWorker],
) -> None:
    from rq import Queue

    from contract.queue import JOB_FUNCTION

    queue = Queue(settings.queue_name, connection=redis_conn)
    job = queue.enqueue(
        JOB_FUNCTION, kwargs={"upload_path": str(tmp_path / "gone.mp4"), "sha256": ""}
    )
    key = FACES_KEY.format(job_id=job.id)
    redis_conn.hset(key, "0", b"left over")  # as if written before the job failed
    make_worker().work(burst=True)
    assert job.get_status(refresh=True) == "failed"
    assert not redis_conn.exists(key)
