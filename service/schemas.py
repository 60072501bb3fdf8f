"""Request and response bodies of the HTTP API (the OpenAPI document is generated from these)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.errors import InvalidVideo, JobNotFound
from contract.queue import WorkerModels
from contract.result import DetectionResult

JobState = Literal["queued", "started", "finished", "failed", "canceled"]


class ErrorDetail(BaseModel):
    """A stable code and a message that says how to fix the problem."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"code": InvalidVideo.code, "message": "Not a video."}]}
    )

    code: str = Field(
        description="Stable machine-readable error code.", examples=[InvalidVideo.code]
    )
    message: str = Field(
        description="What went wrong and how to fix it.",
        examples=["The upload is not a decodable video: moov atom not found."],
    )


class ErrorResponse(BaseModel):
    """Every error the API returns has this shape."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"error": {"code": JobNotFound.code, "message": "No job with id abc."}}]
        }
    )

    error: ErrorDetail


class JobAccepted(BaseModel):
    """The upload was accepted and queued."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "job_id": "3f6d1c0e-6a51-4a8e-9d0f-2b1c9a7e4d10",
                    "status": "queued",
                    "status_url": "/jobs/3f6d1c0e-6a51-4a8e-9d0f-2b1c9a7e4d10",
                }
            ]
        }
    )

    job_id: str = Field(description="Opaque job id.")
    status: JobState = Field(description="Always `queued` on acceptance.")
    status_url: str = Field(description="Where to poll the job.")


class JobStatus(BaseModel):
    """A job's state; `result` only when finished, `error` only when failed."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"job_id": "3f6d1c0e", "status": "queued", "queue_position": 0},
                {"job_id": "3f6d1c0e", "status": "started", "stage": "detect_faces"},
                {
                    "job_id": "3f6d1c0e",
                    "status": "failed",
                    "error": {"code": InvalidVideo.code, "message": "No frame could be decoded."},
                },
            ]
        }
    )

    job_id: str
    status: JobState
    queue_position: int | None = Field(None, description="0 = next to run (queued only).")
    stage: str | None = Field(None, description="Pipeline stage now running (started only).")
    filename: str | None = Field(None, description="The uploaded file's name, as sent.")
    created_at: str | None = Field(None, description="ISO 8601 time of the upload.")
    result: DetectionResult | None = None
    error: ErrorDetail | None = None


class Health(BaseModel):
    """Liveness: the API process answers."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: Literal["ok"]


class Readiness(BaseModel):
    """Readiness: Redis answers and at least one worker has loaded models."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ready", "workers": 1, "reason": None}]}
    )

    status: Literal["ready", "not_ready"]
    workers: int = Field(description="Workers with loaded models registered in Redis.")
    reason: str | None = Field(None, description="Why not ready.")


class ModelsInfo(BaseModel):
    """The ensembles loaded by the live workers, with a warning when any is untrained."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "workers": [
                        {
                            "worker": "gpu0",
                            "device": "cuda:0",
                            "trained": False,
                            "members": [
                                {
                                    "name": "b6_frame",
                                    "kind": "frame",
                                    "backbone": "tf_efficientnet_b6",
                                    "image_size": 224,
                                    "crop": "margin",
                                    "resize": "square_area",
                                    "mean": [0.485, 0.456, 0.406],
                                    "std": [0.229, 0.224, 0.225],
                                    "sha256": "9c1f...",
                                    "trained": False,
                                }
                            ],
                        }
                    ],
                    "warnings": ["untrained_weights: ..."],
                }
            ]
        }
    )

    workers: list[WorkerModels]
    warnings: list[str]
