"""The RQ job: one stored upload in, one DetectionResult (as JSON) and its face images (Redis,
FACES_KEY) out, the upload deleted after.

Runs inside a DetectionWorker, which provides the loaded pipeline through CURRENT_PIPELINE.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

from rq import get_current_job
from rq.defaults import DEFAULT_RESULT_TTL
from rq.timeouts import JobTimeoutException

from contract.errors import DfdetectError, ProcessingFailed, ProcessingTimeout, WorkerLost
from contract.people import parse_target
from contract.queue import CANCEL_KEY
from workers.face_images import store_face_images
from workers.pipeline import DetectionPipeline

CURRENT_PIPELINE: ContextVar[DetectionPipeline] = ContextVar("dfdetect_pipeline")
"""Set by DetectionWorker around each job: models stay loaded between jobs, no global state."""


def detect_video(upload_path: str, sha256: str, target: str | None = None) -> dict[str, Any]:
    """Run the pipeline on a stored upload; record stage and error in job.meta for the API.

    `target`: as `POST /detect` took it (contract.people.target_json); None for all.
    """
    job = get_current_job()
    if job is None:
        raise RuntimeError("detect_video runs only as an RQ job")
    try:
        pipeline = CURRENT_PIPELINE.get()
    except LookupError as exc:
        raise RuntimeError("detect_video needs a DetectionWorker (dfdetect worker)") from exc
    redis = job.connection
    cancel_key = CANCEL_KEY.format(job_id=job.id)

    def progress(stage: str) -> None:
        job.meta["stage"] = stage
        job.save_meta()

    def should_stop() -> bool:
        return bool(redis.exists(cancel_key))

    try:
        output = pipeline.detect_with_crops(
            Path(upload_path),
            sha256=sha256,
            progress=progress,
            should_stop=should_stop,
            target=parse_target(target),
        )
        # Written last, with the TTL RQ gives the result it saves right after this returns.
        store_face_images(
            redis,
            job.id,
            output.result,
            output.face_crops,
            job.get_result_ttl(DEFAULT_RESULT_TTL),
        )
        return output.result.model_dump(mode="json")
    except DfdetectError as exc:
        _record_error(job.meta, exc)
        raise
    except JobTimeoutException:
        _record_error(
            job.meta,
            ProcessingTimeout("The video took longer than DFDETECT_JOB_TIMEOUT_S to process."),
        )
        raise
    except Exception as exc:
        _record_error(job.meta, ProcessingFailed(f"{type(exc).__name__}: {exc}"[:500]))
        raise
    except BaseException:
        # SystemExit from a second SIGTERM/SIGINT (RQ's cold shutdown): the job will not finish.
        _record_error(
            job.meta,
            WorkerLost(
                "The worker was stopped (cold shutdown) during this job; upload the video again."
            ),
        )
        raise
    finally:
        job.save_meta()
        redis.delete(cancel_key)
        Path(upload_path).unlink(missing_ok=True)


def _record_error(meta: dict[str, Any], error: DfdetectError) -> None:
    meta["error"] = error.detail()
    meta.pop("stage", None)
