"""Faults with real processes: workers killed or stopped mid-job, Redis restarted under the API,
a job past its timeout. `dfdetect worker` runs as a subprocess with the tiny scaffold."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient
from rq import Queue
from rq.job import Job
from rq.job import JobStatus as RQStatus

from contract.pipeline import PipelineConfig
from contract.settings import Settings
from service.app import create_app
from tests import bad_media, media
from tests.fault_helpers import (
    WORKER_START_S,
    PrivateRedis,
    WorkerProcess,
    post_file,
    stop_process,
    stored_files,
    wait_for,
    worker_env,
)
from workers.pipeline import DetectionPipeline
from workers.worker import DetectionWorker

pytestmark = pytest.mark.slow

LOST_WITHIN_S = 15
"""Heartbeat 1 s, dead after 3 missed beats, the API's reaper runs every beat: 15 s is slack."""


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    """Worker processes a test starts; any still running at the end are stopped."""
    started: list[WorkerProcess] = []
    yield started
    for worker in started:
        stop_process(worker.proc)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def wait_started(client: TestClient, url: str, worker: WorkerProcess) -> None:
    def started() -> bool:
        assert worker.proc.poll() is None, f"worker exited:\n{worker.tail()}"
        state = client.get(url).json()["status"]
        assert state in ("queued", "started"), f"{state}: the job ended before the test acted"
        return state == "started"

    wait_for(started, WORKER_START_S, 0.05, "the job to start")


def test_sigkill_mid_job_fails_it_with_worker_lost(
    client: TestClient,
    settings: Settings,
    redis_conn: redis.Redis,
    redis_url: str,
    tiny_model_dir: Path,
    face_clip: Path,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    # 20 sequences of 5: every frame of the clip, a job of many seconds to kill in the middle.
    env = worker_env(
        redis_url, tiny_model_dir, DFDETECT_SEQUENCES="20", DFDETECT_SEQUENCE_LENGTH="5"
    )
    worker = WorkerProcess(env, tmp_path / "worker.log")
    workers.append(worker)
    accepted = post_file(client, face_clip).json()
    wait_started(client, accepted["status_url"], worker)
    worker.proc.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    worker.proc.wait(timeout=10)

    # Nobody polls the job: the API's background reaper must fail it on its own.
    job = Job.fetch(accepted["job_id"], connection=redis_conn)
    wait_for(lambda: job.get_status(refresh=True) == RQStatus.FAILED, LOST_WITHIN_S)
    assert time.monotonic() - killed_at < LOST_WITHIN_S
    body = client.get(accepted["status_url"]).json()
    assert body["status"] == "failed"
    assert body["error"]["code"] == "worker_lost"
    assert stored_files(settings.upload_dir) == []  # the dead worker's upload is cleaned up
    queue = Queue(settings.queue_name, connection=redis_conn)
    assert queue.started_job_registry.count == 0
    assert accepted["job_id"] in queue.failed_job_registry.get_job_ids()


def test_sigterm_mid_job_finishes_the_job_then_exits_0(
    client: TestClient,
    redis_conn: redis.Redis,
    redis_url: str,
    tiny_model_dir: Path,
    face_clip: Path,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    worker = WorkerProcess(worker_env(redis_url, tiny_model_dir), tmp_path / "worker.log")
    workers.append(worker)
    accepted = post_file(client, face_clip).json()
    wait_started(client, accepted["status_url"], worker)
    worker.proc.send_signal(signal.SIGTERM)
    signalled_at = datetime.now(UTC)

    assert worker.proc.wait(timeout=120) == 0, worker.tail()
    body = client.get(accepted["status_url"]).json()
    assert body["status"] == "finished", body
    assert body["result"]["frames"]
    ended_at = Job.fetch(accepted["job_id"], connection=redis_conn).ended_at
    assert ended_at is not None and ended_at.replace(tzinfo=UTC) > signalled_at  # mid-job
    assert client.get("/readyz").status_code == 503  # it deregistered on the way out


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    folder = tmp_path / "redis"
    folder.mkdir()
    server = PrivateRedis(folder)
    server.start()
    yield server
    if server.proc is not None:
        stop_process(server.proc)


def test_redis_restart_503s_while_down_then_recovers_without_losing_jobs(
    settings: Settings,
    private_redis: PrivateRedis,
    tiny_model_dir: Path,
    workers: list[WorkerProcess],
    tmp_path: Path,
) -> None:
    clip = media.face_clip(tmp_path / "small.mp4", n_frames=12, width=320, height=256)
    on_private = settings.model_copy(update={"redis_url": private_redis.url})
    with TestClient(create_app(on_private)) as client:
        queued = post_file(client, clip).json()
        private_redis.stop()

        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503 and "Redis" in ready.json()["reason"]
        down = post_file(client, clip)
        assert down.status_code == 503 and down.json()["error"]["code"] == "queue_unavailable"
        assert down.headers["retry-after"]
        assert client.get(queued["status_url"]).json()["error"]["code"] == "queue_unavailable"
        assert len(stored_files(settings.upload_dir)) == 1  # only the queued job's upload

        private_redis.start()
        # The same API object, no restart: it reconnects on its own; the AOF kept the job.
        wait_for(lambda: client.get(queued["status_url"]).status_code == 200, 30)
        assert client.get(queued["status_url"]).json()["status"] == "queued"
        after = post_file(client, clip)
        assert after.status_code == 202, after.text

        env = worker_env(private_redis.url, tiny_model_dir)
        worker = WorkerProcess(env, tmp_path / "worker.log")
        workers.append(worker)
        urls = [queued["status_url"], after.json()["status_url"]]
        wait_for(lambda: all(_finished(client, u) for u in urls), WORKER_START_S)

        # An idle worker rides out a second restart and takes the next job.
        worker.wait_ready(redis.Redis.from_url(private_redis.url))
        private_redis.stop()
        private_redis.start()
        late = wait_for(lambda: _accepted(client, clip), 30, 0.5, "an upload to be accepted")
        wait_for(lambda: _finished(client, late), 120, 0.2)
        assert worker.proc.poll() is None, worker.tail()
        worker.proc.send_signal(signal.SIGTERM)
        assert worker.proc.wait(timeout=60) == 0, worker.tail()


def _finished(client: TestClient, url: str) -> bool:
    return bool(client.get(url).json()["status"] == "finished")


def _accepted(client: TestClient, clip: Path) -> str | None:
    response = post_file(client, clip)
    return str(response.json()["status_url"]) if response.status_code == 202 else None


def test_job_past_its_timeout_fails_with_processing_timeout(
    settings: Settings, redis_conn: redis.Redis, tiny_model_dir: Path, face_clip: Path
) -> None:
    # 200 sequences of 5 frames: far more work than 1 s on any CPU, so the timeout always fires.
    slow = DetectionPipeline.load(
        tiny_model_dir, PipelineConfig(device="cpu", sequences=200, sequence_length=5)
    )
    with TestClient(create_app(settings.model_copy(update={"job_timeout_s": 1}))) as client:
        accepted = post_file(client, face_clip).json()
        queue = Queue(settings.queue_name, connection=redis_conn)
        worker = DetectionWorker([queue], connection=redis_conn, pipeline=slow, settings=settings)
        started = time.monotonic()
        worker.work(burst=True)
        assert time.monotonic() - started < 30
        body = client.get(accepted["status_url"]).json()
    assert body["status"] == "failed", body
    assert body["error"]["code"] == "processing_timeout"
    assert stored_files(settings.upload_dir) == []


def test_accepted_truncated_faststart_mp4_ends_with_a_result_or_a_code(
    client: TestClient,
    settings: Settings,
    redis_conn: redis.Redis,
    tiny_pipeline: DetectionPipeline,
    tmp_path: Path,
) -> None:
    source = bad_media.h264_clip(tmp_path / "fast.mp4", faststart=True)
    cut = bad_media.truncated(source, tmp_path / "cut.mp4", 0.9)
    accepted = post_file(client, cut).json()
    queue = Queue(settings.queue_name, connection=redis_conn)
    DetectionWorker([queue], connection=redis_conn, pipeline=tiny_pipeline, settings=settings).work(
        burst=True
    )
    body = client.get(accepted["status_url"]).json()
    # The index promises 30 frames, 10% of them are missing: what FFmpeg decodes is scored.
    assert body["status"] == "finished", body
    assert body["result"]["video"]["frame_count"] <= 30
    assert stored_files(settings.upload_dir) == []
