"""Every error a client or an operator can meet: a stable `code`, an HTTP status, a fix-it message.

One flat module (as rq/exceptions.py): the API maps these to HTTP in one handler, workers store
the code of the one that ended a job. Torch-free.
"""

from __future__ import annotations

from typing import Literal


class DfdetectError(Exception):
    """Base class: `code` is stable and machine-readable; the message says how to fix it."""

    code = "internal_error"
    status = 500

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}

    def detail(self) -> dict[str, str]:
        """`{"code", "message"}`: the `error` of an error body, and of a failed job's meta."""
        return {"code": self.code, "message": self.message}


class InvalidVideo(DfdetectError):
    """The bytes are not a video we can decode (truncated, not a media file, no moov atom)."""

    code = "invalid_video"
    status = 422


class NoVideoStream(DfdetectError):
    """A media file with no video stream (audio only, an image container)."""

    code = "no_video_stream"
    status = 422


class UnsupportedMedia(DfdetectError):
    """A container or codec outside the allowed lists (found by probing, never by extension)."""

    code = "unsupported_media"
    status = 415


class VideoTooLong(DfdetectError):
    """Longer than DFDETECT_MAX_DURATION_S, as the header says (nothing is decoded to know)."""

    code = "video_too_long"
    status = 422


class ResolutionTooLarge(DfdetectError):
    """More pixels a frame than DFDETECT_MAX_PIXELS, as the header says."""

    code = "resolution_too_large"
    status = 422


class ResolutionTooSmall(DfdetectError):
    """A side shorter than DFDETECT_MIN_SIDE_PX: no face detector can find a face in it."""

    code = "resolution_too_small"
    status = 422


class TooManyFrames(DfdetectError):
    """More frames than DFDETECT_MAX_FRAMES (header count, or duration x frame rate)."""

    code = "too_many_frames"
    status = 422


class TooFewFrames(DfdetectError):
    """Fewer decodable frames than DFDETECT_MIN_FRAMES (a picture goes as JPEG, PNG or WebP)."""

    code = "too_few_frames"
    status = 422


class InvalidImage(DfdetectError):
    """A JPEG, PNG or WebP header over bytes that do not decode (truncated, corrupt)."""

    code = "invalid_image"
    status = 422


class InvalidTarget(DfdetectError):
    """`target` is not `all`, `largest` or {"t": seconds, "box": [x1, y1, x2, y2]}."""

    code = "invalid_target"
    status = 422


class EmptyUpload(DfdetectError):
    """The file part has 0 bytes."""

    code = "empty_upload"
    status = 422


class UploadTooLarge(DfdetectError):
    """Past DFDETECT_MAX_UPLOAD_BYTES: refused while streaming, the partial file removed."""

    code = "upload_too_large"
    status = 413


class BadUploadRequest(DfdetectError):
    """The multipart body is not one file in the field `file`."""

    code = "bad_upload_request"
    status = 422


class InsufficientStorage(DfdetectError):
    """The upload store has less free space than DFDETECT_MIN_FREE_DISK_BYTES, or ran out."""

    code = "insufficient_storage"
    status = 507


class Unauthorized(DfdetectError):
    """No API key, or one that is not configured."""

    code = "unauthorized"
    status = 401


class JobNotFound(DfdetectError):
    """No such job, or a job another API key owns (the two are indistinguishable on purpose)."""

    code = "job_not_found"
    status = 404


class FaceNotFound(DfdetectError):
    """GET /jobs/{id}/faces/{n}.jpg of the owner's job, but no image n is stored.

    n past the job's faces, a face past the stored cap (its `image_url` is null), or a job not
    finished yet.
    """

    code = "face_not_found"
    status = 404


class QueueUnavailable(DfdetectError):
    """Redis does not answer; the API answers this instead of a 500."""

    code = "queue_unavailable"
    status = 503


class QueueFull(DfdetectError):
    """DFDETECT_MAX_QUEUE_LENGTH jobs are already waiting."""

    code = "queue_full"
    status = 429


class RateLimited(DfdetectError):
    """More than DFDETECT_RATE_LIMIT_PER_MINUTE uploads from one key in the last minute."""

    code = "rate_limited"
    status = 429


class TooManyUploads(DfdetectError):
    """DFDETECT_MAX_CONCURRENT_UPLOADS uploads are already streaming into this API process."""

    code = "too_many_uploads"
    status = 429


class NotReady(DfdetectError):
    """/readyz: Redis does not answer, or no worker with loaded models is registered.

    Its code is the readiness `status` (typed as that literal), not an error body.
    """

    code: Literal["not_ready"] = "not_ready"
    status = 503


class ModelError(DfdetectError):
    """A model directory that cannot be loaded: missing file, checksum mismatch, bad manifest."""

    code = "model_error"
    status = 500


class ProcessingTimeout(DfdetectError):
    """The job ran past DFDETECT_JOB_TIMEOUT_S."""

    code = "processing_timeout"
    status = 504


class ProcessingFailed(DfdetectError):
    """The job ended on an unexpected exception (the message names it), or with no reason kept."""

    code = "processing_failed"
    status = 500


class WorkerLost(DfdetectError):
    """The worker running the job died (SIGKILL, crash, lost host) or was stopped cold."""

    code = "worker_lost"
    status = 500


class JobCanceled(DfdetectError):
    """DELETE /jobs/{id} asked a running job to stop.

    Clients never see it as an `error.code`: the job's `status` is this code (typed as that
    literal), with no error.
    """

    code: Literal["canceled"] = "canceled"
    status = 409


class InvalidRequest(DfdetectError):
    """Request parameters that fail validation (FastAPI's RequestValidationError)."""

    code = "invalid_request"
    status = 422


class NotFound(DfdetectError):
    """No route at this path."""

    code = "not_found"
    status = 404


class MethodNotAllowed(DfdetectError):
    """A route exists at this path, but not for this method (the answer has `Allow`)."""

    code = "method_not_allowed"
    status = 405


class HttpError(DfdetectError):
    """Any other HTTP error the framework raises; the answer keeps the framework's status."""

    code = "http_error"
    status = 400


class ClientDisconnected(DfdetectError):
    """The client closed the connection mid-request (nobody reads the answer)."""

    code = "client_disconnected"
    status = 400


class DatasetError(DfdetectError):
    """A data folder or cache that cannot be used as given; the message says how to fix it.

    Operators meet it in the training commands (`dfdetect preprocess`, `train`); never over HTTP.
    """

    code = "dataset_error"
    status = 500


def error_classes() -> list[type[DfdetectError]]:
    """DfdetectError and every subclass of it, level by level, in definition order."""
    found: list[type[DfdetectError]] = [DfdetectError]
    for cls in found:
        found.extend(sub for sub in cls.__subclasses__() if sub not in found)
    return found


def error_codes() -> dict[str, type[DfdetectError]]:
    """Every stable code -> the one class that has it; two classes with one code is an error."""
    codes: dict[str, type[DfdetectError]] = {}
    for cls in error_classes():
        if cls.code in codes:
            raise RuntimeError(f"{cls.__name__} and {codes[cls.code].__name__} share {cls.code!r}")
        codes[cls.code] = cls
    return codes
