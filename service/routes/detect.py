"""POST /detect: stream, probe, enqueue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from contract.errors import (
    BadUploadRequest,
    DfdetectError,
    EmptyUpload,
    InsufficientStorage,
    InvalidImage,
    InvalidTarget,
    InvalidVideo,
    NoVideoStream,
    QueueUnavailable,
    ResolutionTooLarge,
    ResolutionTooSmall,
    TooFewFrames,
    TooManyFrames,
    UnsupportedMedia,
    UploadTooLarge,
    VideoTooLong,
)
from contract.people import TARGET_FIELD, parse_target
from service.deps import OwnerDep, StateDep
from service.probe_upload import probe_upload
from service.schemas import ErrorResponse, JobAccepted

router = APIRouter(tags=["detection"])


def _codes(*errors: type[DfdetectError]) -> str:
    """The errors' codes as the descriptions show them: "`a`, `b`"."""
    return ", ".join(f"`{error.code}`" for error in errors)


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": why}
    for code, why in {
        401: "Missing or invalid API key.",
        413: f"Upload larger than DFDETECT_MAX_UPLOAD_BYTES ({_codes(UploadTooLarge)}).",
        415: "Container, codec or image format (GIF, animated images) not accepted "
        f"({_codes(UnsupportedMedia)}).",
        422: "Not a decodable video or image, or outside the limits ("
        + _codes(
            InvalidVideo,
            InvalidImage,
            NoVideoStream,
            VideoTooLong,
            ResolutionTooLarge,
            ResolutionTooSmall,
            TooManyFrames,
            TooFewFrames,
            EmptyUpload,
            BadUploadRequest,
            InvalidTarget,
        )
        + ").",
        429: "Rate limit, queue full or too many concurrent uploads (with Retry-After).",
        503: f"Redis is unavailable ({_codes(QueueUnavailable)}).",
        507: f"The upload store is full ({_codes(InsufficientStorage)}).",
    }.items()
}

_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "The video or image, as multipart/form-data with one file in the field "
        "`file`.",
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {
                            "type": "string",
                            "format": "binary",
                            "description": "A video file (MP4, MOV, MKV, WebM, AVI, TS) or an "
                            "image (JPEG, PNG, WebP).",
                        },
                        TARGET_FIELD: {
                            "type": "string",
                            "description": "Whose verdict: `all` (default: the video's), "
                            "`largest` (the person with the largest faces) or JSON "
                            '`{"t": seconds, "box": [x1, y1, x2, y2]}` (the person whose face '
                            "is there then; `target_not_found` otherwise). Also accepted as "
                            "the query parameter `target`.",
                            "examples": ["largest", '{"t": 3.2, "box": [810, 380, 1010, 640]}'],
                        },
                    },
                },
                "example": {"file": "clip.mp4"},
            }
        },
    }
}


@router.post(
    "/detect",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobAccepted,
    responses=_ERRORS,
    openapi_extra=_UPLOAD_BODY,
    summary="Upload a video or an image for deepfake detection",
    description="Streams the upload to the store, checks it is a decodable video or image "
    "(JPEG, PNG, WebP; judged by its bytes) within the limits, and queues it. Poll `status_url` "
    "for the result.",
)
async def detect(request: Request, owner: OwnerDep, state: StateDep) -> JSONResponse:
    """Stream the upload to the store, probe it, queue it: 202 with the job's status URL."""
    await run_in_threadpool(state.limiter.check, owner)
    # Refuse before streaming when the queue is already full; enqueue checks again after.
    await run_in_threadpool(state.jobs.check_capacity)
    length = request.headers.get("content-length")
    async with state.upload_slots.slot():
        upload = await state.uploads.receive(
            request.headers.get("content-type"),
            int(length) if length and length.isdigit() else None,
            request.stream(),
        )
    try:
        target = parse_target(
            upload.fields.get(TARGET_FIELD) or request.query_params.get(TARGET_FIELD)
        )
        await run_in_threadpool(probe_upload, upload.path, state.settings)
        job = await run_in_threadpool(state.jobs.enqueue, upload, owner, target)
    except BaseException:
        upload.path.unlink(missing_ok=True)
        raise
    url = f"/jobs/{job.id}"
    body = JobAccepted(job_id=job.id, status="queued", status_url=url)
    return JSONResponse(body.model_dump(), status_code=202, headers={"Location": url})
