"""Every error a client or an operator can meet: a stable `code`, an HTTP status, a fix-it message.

One flat module (as rq/exceptions.py): the API maps these to HTTP in one handler, workers store
the code of the one that ended a job. Torch-free.
"""

from __future__ import annotations


class DfdetectError(Exception):
    """Base class: `code` is stable and machine-readable; the message says how to fix it."""

    code = "internal_error"
    status = 500

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


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
    code = "video_too_long"
    status = 422


class ResolutionTooLarge(DfdetectError):
    code = "resolution_too_large"
    status = 422


class TooManyFrames(DfdetectError):
    code = "too_many_frames"
    status = 422


class EmptyUpload(DfdetectError):
    code = "empty_upload"
    status = 422


class UploadTooLarge(DfdetectError):
    code = "upload_too_large"
    status = 413


class BadUploadRequest(DfdetectError):
    """The multipart body is not one file in the field `file`."""

    code = "bad_upload_request"
    status = 422


class InsufficientStorage(DfdetectError):
    code = "insufficient_storage"
    status = 507


class Unauthorized(DfdetectError):
    code = "unauthorized"
    status = 401


class JobNotFound(DfdetectError):
    code = "job_not_found"
    status = 404


class JobNotCancellable(DfdetectError):
    code = "job_not_cancellable"
    status = 409


class QueueUnavailable(DfdetectError):
    code = "queue_unavailable"
    status = 503


class QueueFull(DfdetectError):
    code = "queue_full"
    status = 429


class RateLimited(DfdetectError):
    code = "rate_limited"
    status = 429


class TooManyUploads(DfdetectError):
    code = "too_many_uploads"
    status = 429


class NotReady(DfdetectError):
    code = "not_ready"
    status = 503


class ModelError(DfdetectError):
    """A model directory that cannot be loaded: missing file, checksum mismatch, bad manifest."""

    code = "model_error"
    status = 500


class ProcessingTimeout(DfdetectError):
    code = "processing_timeout"
    status = 504


class WorkerLost(DfdetectError):
    code = "worker_lost"
    status = 500


class JobCanceled(DfdetectError):
    """DELETE /jobs/{id} asked a running job to stop."""

    code = "canceled"
    status = 409
