"""Jobs in Redis: enqueue an upload, read a job's state and face images, cancel or delete, reap
jobs whose worker died.

The contract with the workers (job function, Redis keys) lives in contract/queue.py.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.job import JobStatus as RQStatus
from rq.job_lifecycle import record_job_failure

from contract.errors import (
    FaceNotFound,
    JobCanceled,
    JobNotFound,
    ProcessingFailed,
    QueueFull,
    WorkerLost,
)
from contract.people import Target, target_json
from contract.queue import (
    ALIVE_KEY,
    CANCEL_KEY,
    FACES_KEY,
    JOB_FUNCTION,
    MODELS_KEY,
    WorkerModels,
)
from contract.result import DetectionResult
from contract.settings import Settings
from service.schemas import ErrorDetail, JobStatus
from service.uploads import StoredUpload

QUEUE_FULL_RETRY_AFTER_S = 30
"""Retry-After for queue_full: about one job's run time on a GPU."""
WORKER_LOST = WorkerLost(
    "The worker running this job stopped (crash or kill); upload the video again."
)
"""What the reaper records on a started job whose worker stopped heartbeating."""
NO_REASON = ProcessingFailed("The job failed without a recorded reason; see the worker's log.")
"""What a failed job with no recorded error reports."""

JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""Ids worth looking up: what RQ accepts (uuid4 here), bounded."""

_QUEUED_STATES = {RQStatus.QUEUED, RQStatus.DEFERRED, RQStatus.SCHEDULED, RQStatus.CREATED}


class JobStore:
    """Queue operations on behalf of the API; `owner` scopes every job to one API key."""

    def __init__(self, redis: Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.queue = Queue(settings.queue_name, connection=redis)

    def check_capacity(self) -> None:
        """429 queue_full when DFDETECT_MAX_QUEUE_LENGTH jobs are already waiting."""
        waiting = self.queue.count
        if waiting >= self.settings.max_queue_length:
            raise QueueFull(
                f"{waiting} jobs are waiting (DFDETECT_MAX_QUEUE_LENGTH "
                f"{self.settings.max_queue_length}); retry later.",
                headers={"Retry-After": str(QUEUE_FULL_RETRY_AFTER_S)},
            )

    def enqueue(self, upload: StoredUpload, owner: str, target: Target = "all") -> Job:
        """Queue a probed upload for detection; 429 queue_full past the queue limit."""
        self.check_capacity()
        meta = {
            "owner": owner,
            "filename": upload.filename,
            "sha256": upload.sha256,
            "size": upload.size,
            "upload_path": str(upload.path),
            "created_at": datetime.now(UTC).isoformat(),
        }
        return self.queue.enqueue(
            JOB_FUNCTION,
            kwargs={
                "upload_path": str(upload.path),
                "sha256": upload.sha256,
                "target": target_json(target),
            },
            job_id=str(uuid.uuid4()),
            job_timeout=self.settings.job_timeout_s,
            result_ttl=self.settings.result_ttl_s,
            failure_ttl=self.settings.failure_ttl_s,
            meta=meta,
        )

    def fetch(self, job_id: str, owner: str) -> Job:
        """The job, or 404 for unknown ids and ids that belong to another key."""
        if not JOB_ID.fullmatch(job_id):
            # RQ raises ValueError on such ids; no job of ours has one.
            raise JobNotFound("No job with this id (job ids are uuids).")
        try:
            job = Job.fetch(job_id, connection=self.redis)
        except NoSuchJobError as exc:
            raise JobNotFound(f"No job with id {job_id}.") from exc
        if job.meta.get("owner", "") != owner:
            raise JobNotFound(f"No job with id {job_id}.")
        return job

    def status(self, job_id: str, owner: str) -> JobStatus:
        """The job's state; a started job whose worker died is failed (worker_lost) first."""
        job = self.fetch(job_id, owner)
        self._reap_if_lost(job)
        return self.describe(job)

    def describe(self, job: Job) -> JobStatus:
        """The API's view of an RQ job."""
        state = job.get_status(refresh=True)
        meta = job.get_meta(refresh=False)
        base: dict[str, Any] = {
            "job_id": job.id,
            "filename": meta.get("filename"),
            "created_at": meta.get("created_at"),
        }
        if state in _QUEUED_STATES:
            return JobStatus(**base, status="queued", queue_position=job.get_position())
        if state == RQStatus.STARTED:
            return JobStatus(**base, status="started", stage=meta.get("stage"))
        if state == RQStatus.FINISHED:
            result = DetectionResult.model_validate(job.return_value())
            return JobStatus(**base, status="finished", result=result)
        error = meta.get("error")
        if state == RQStatus.CANCELED or (error or {}).get("code") == JobCanceled.code:
            # A job JobCanceled ended has that code as its status, and no error.
            return JobStatus(**base, status=JobCanceled.code)
        error = error or NO_REASON.detail()
        return JobStatus(**base, status="failed", error=ErrorDetail(**error))

    def face_image(self, job_id: str, n: int, owner: str) -> bytes:
        """The JPEG of face n of the owner's job; 404 job_not_found, or face_not_found for n."""
        job = self.fetch(job_id, owner)
        data = self.redis.hget(FACES_KEY.format(job_id=job.id), str(n))
        if not isinstance(data, bytes):  # None: no such field
            raise FaceNotFound(
                f"Job {job_id} has no image of face {n}: faces are numbered from 0 in frame "
                "order, only a finished job has images, and a face whose image_url is null "
                "has none."
            )
        return data

    def cancel(self, job_id: str, owner: str) -> JobStatus:
        """Cancel a queued job at once; ask a running one to stop at its next stage; delete an
        ended one (finished, failed) with its result and face images, answering its last state."""
        job = self.fetch(job_id, owner)
        state = job.get_status(refresh=True)
        if state in _QUEUED_STATES:
            with contextlib.suppress(InvalidJobOperation):
                job.cancel()
            _remove_upload(job)
        elif state == RQStatus.STARTED:
            self.redis.set(CANCEL_KEY.format(job_id=job.id), 1, ex=self.settings.job_timeout_s)
        elif state != RQStatus.CANCELED:
            last = self.describe(job)
            with self.redis.pipeline() as pipe:
                job.delete(pipeline=pipe)
                pipe.delete(FACES_KEY.format(job_id=job.id))
                pipe.execute()
            _remove_upload(job)
            return last
        return self.describe(job)

    def reap_lost_jobs(self) -> int:
        """Fail every started job whose worker stopped heartbeating; returns how many."""
        registry = self.queue.started_job_registry
        job_ids = {job_id for job_id, _ in registry.get_job_and_execution_ids(cleanup=False)}
        reaped = 0
        for job_id in job_ids:
            with contextlib.suppress(NoSuchJobError):
                reaped += self._reap_if_lost(Job.fetch(job_id, connection=self.redis))
        return reaped

    def _reap_if_lost(self, job: Job) -> bool:
        if job.get_status(refresh=True) != RQStatus.STARTED or not job.worker_name:
            return False
        if self.redis.exists(ALIVE_KEY.format(worker=job.worker_name)):
            return False
        registry = self.queue.started_job_registry
        # RQ 3 keys the started registry by `job_id:execution_id`; the dead worker left its entry.
        entries = [
            f"{job_id}:{execution_id}"
            for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False)
            if job_id == job.id
        ]
        job.meta["error"] = WORKER_LOST.detail()
        job.save_meta()
        with self.redis.pipeline() as pipe:
            record_job_failure(job, f"{WorkerLost.code}: the worker stopped heartbeating", pipe)
            if entries:
                pipe.zrem(registry.key, *entries)
            pipe.delete(FACES_KEY.format(job_id=job.id))  # a failed job keeps no face images
            pipe.execute()
        _remove_upload(job)
        return True

    def workers_with_models(self) -> list[WorkerModels]:
        """Workers that advertise loaded models and are alive."""
        found = []
        for key in self.redis.scan_iter(MODELS_KEY.format(worker="*")):
            raw = self.redis.get(key)
            if raw is not None:
                found.append(WorkerModels.model_validate(json.loads(raw)))
        return sorted(found, key=lambda w: w.worker)


def _remove_upload(job: Job) -> None:
    path = job.meta.get("upload_path")
    if path:
        Path(path).unlink(missing_ok=True)
