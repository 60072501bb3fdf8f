"""GET and DELETE /jobs/{job_id}, GET /jobs/{job_id}/faces/{n}.jpg."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Response
from starlette.concurrency import run_in_threadpool

from contract.errors import FaceNotFound, InvalidRequest, JobNotFound, QueueUnavailable
from contract.queue import FACE_IMAGE_PATH, MAX_FACE_IMAGE_BYTES, MAX_FACE_IMAGES
from service.deps import OwnerDep, StateDep
from service.schemas import ErrorResponse, JobStatus

router = APIRouter(tags=["jobs"])

JobId = Path(description="The id returned by POST /detect.", examples=["3f6d1c0e-6a51"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or invalid API key."},
    404: {
        "model": ErrorResponse,
        "description": f"No such job for this key (`{JobNotFound.code}`).",
    },
    422: {"model": ErrorResponse, "description": f"Malformed request (`{InvalidRequest.code}`)."},
    503: {
        "model": ErrorResponse,
        "description": f"Redis is unavailable (`{QueueUnavailable.code}`).",
    },
}


@router.get(
    "/jobs/{job_id}",
    response_model=JobStatus,
    response_model_exclude_none=True,
    responses=_ERRORS,
    summary="Poll a job",
    description="`queued` (with queue position), `started` (with stage), `finished` (with the "
    "result) or `failed` (with an error code and message).",
)
async def get_job(owner: OwnerDep, state: StateDep, job_id: str = JobId) -> JobStatus:
    """The job's state, result or error; 404 for ids of other keys."""
    return await run_in_threadpool(state.jobs.status, job_id, owner)


@router.delete(
    "/jobs/{job_id}",
    response_model=JobStatus,
    response_model_exclude_none=True,
    responses=_ERRORS,
    summary="Cancel or delete a job",
    description="A queued job is canceled at once; a running one stops at its next stage. A "
    "finished or failed job is deleted with its result and face images: the answer is its last "
    f"state, and the id answers 404 (`{JobNotFound.code}`) from then on.",
)
async def cancel_job(owner: OwnerDep, state: StateDep, job_id: str = JobId) -> JobStatus:
    """Cancel a queued job, ask a running one to stop, or delete an ended one."""
    return await run_in_threadpool(state.jobs.cancel, job_id, owner)


FaceNo = Path(description="The face's index in frame order (0 = first face).", ge=0, examples=[0])
_FACE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": f"The face crop as it was scored: a square JPEG of at most "
        f"{MAX_FACE_IMAGE_BYTES} bytes.",
        "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
    },
    **_ERRORS,
    404: {
        "model": ErrorResponse,
        "description": f"No such job for this key (`{JobNotFound.code}`), or the job has no "
        f"image of face n (`{FaceNotFound.code}`).",
        "content": {
            "application/json": {
                "examples": {
                    JobNotFound.code: {
                        "summary": "Unknown job, or another key's",
                        "value": {
                            "error": {"code": JobNotFound.code, "message": "No job with id 3f6d."}
                        },
                    },
                    FaceNotFound.code: {
                        "summary": "No image of this face",
                        "value": {
                            "error": {
                                "code": FaceNotFound.code,
                                "message": "Job 3f6d has no image of face 7: faces are "
                                "numbered from 0 in frame order, ...",
                            }
                        },
                    },
                }
            }
        },
    },
}


@router.get(
    FACE_IMAGE_PATH,
    response_class=Response,
    responses=_FACE_RESPONSES,
    summary="A face image of a finished job",
    description=f"The face crop that face n of the result was scored on, as a JPEG (the "
    f"face's `image_url`). Kept as long as the result; the first {MAX_FACE_IMAGES} faces of a "
    "job have one. Same API key as the job.",
)
async def get_face_image(
    owner: OwnerDep, state: StateDep, job_id: str = JobId, n: int = FaceNo
) -> Response:
    """JPEG bytes of one stored face crop; 404 for other keys' jobs and unknown faces."""
    data = await run_in_threadpool(state.jobs.face_image, job_id, n, owner)
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private"})
