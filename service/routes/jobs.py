"""GET and DELETE /jobs/{job_id}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from starlette.concurrency import run_in_threadpool

from contract.errors import InvalidRequest, JobNotFound, QueueUnavailable
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
    responses={
        **_ERRORS,
        409: {"model": ErrorResponse, "description": "The job already ended."},
    },
    summary="Cancel a job",
    description="A queued job is canceled at once; a running one stops at its next stage.",
)
async def cancel_job(owner: OwnerDep, state: StateDep, job_id: str = JobId) -> JobStatus:
    """Cancel a queued job, or ask a running one to stop."""
    return await run_in_threadpool(state.jobs.cancel, job_id, owner)
