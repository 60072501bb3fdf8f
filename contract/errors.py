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
    """Fewer decodable frames than DFDETECT_MIN_FRAMES: a still image, not a video."""

    code = "too_few_frames"
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


class JobNotCancellable(DfdetectError):
    code = "job_not_cancellable"
    status = 409


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
    code = "not_ready"
    status = 503


class ModelError(DfdetectError):
    """A model directory that cannot be loaded: missing file, checksum mismatch, bad manifest."""

    code = "model_error"
    status = 500


class ProcessingTimeout(DfdetectError):
    """The job ran past DFDETECT_JOB_TIMEOUT_S."""

    code = "processing_timeout"
    status = 504


class WorkerLost(DfdetectError):
    """The worker running the job died (SIGKILL, crash, lost host) or was stopped cold."""

    code = "worker_lost"
    status = 500


class JobCanceled(DfdetectError):
    """DELETE /jobs/{id} asked a running job to stop."""

    code = "canceled"
    status = 409
