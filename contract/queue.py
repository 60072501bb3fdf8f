"""What the API and the workers agree on in Redis: the job name, the keys, what a worker has.

Torch-free and free of the rest of the project: the API enqueues by dotted name and reads these
keys without importing the pipeline.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from contract.operating import OperatingPoints
from contract.result import ModelIdentity

JOB_FUNCTION = "workers.jobs.detect_video"
"""Enqueued by dotted name so the API never imports the pipeline (or torch)."""
CANCEL_KEY = "dfdetect:cancel:{job_id}"
"""Set by DELETE /jobs/{id}; the running pipeline checks it between stages."""
ALIVE_KEY = "dfdetect:alive:{worker}"
"""Refreshed by a worker every heartbeat; gone while its job is started: the worker died."""
MODELS_KEY = "dfdetect:models:{worker}"
"""JSON of what a worker loaded (WorkerModels), with the same TTL as ALIVE_KEY."""
FACES_KEY = "dfdetect:faces:{job_id}"
"""Hash of a finished job's face images: field n (the face's index in frame order, as text) ->
JPEG bytes. The worker writes it with the result's TTL; deleting the job deletes it."""
FACE_IMAGE_PATH = "/jobs/{job_id}/faces/{n}.jpg"
"""Where the API serves face n of a job: the `image_url` of each stored face."""
MAX_FACE_IMAGES = 128
"""Faces stored per job, the first in frame order; later faces have no image."""
MAX_FACE_IMAGE_BYTES = 20_000
"""Largest JPEG stored for one face; one that cannot be encoded under it is not stored."""
ALIVE_TTL_FACTOR = 3
"""A worker is dead after missing this many heartbeats."""


def alive_ttl(heartbeat_s: int) -> int:
    """Seconds ALIVE_KEY and MODELS_KEY live after a heartbeat of `heartbeat_s`."""
    return heartbeat_s * ALIVE_TTL_FACTOR


class WorkerModels(BaseModel):
    """What one worker has loaded."""

    worker: str = Field(description="RQ worker name.")
    device: str = Field(description="cpu or cuda:N.")
    trained: bool = Field(description="False when any member has untrained weights.")
    members: list[dict[str, Any]] = Field(
        description="name, kind, backbone, image_size, crop (the rule its faces are cut by), "
        "resize, mean, std, sha256, trained, postprocess and provenance of each member."
    )
    model: ModelIdentity = Field(
        default_factory=ModelIdentity, description="Name, version and note of the weights."
    )
    recipe: str | None = Field(None, description="The recipe this worker runs (dfdc-15th, ...).")
    operating_points: OperatingPoints | None = Field(
        None,
        description="Threshold -> false/true-positive rate on the model's validation set, and "
        "the verdict bands; null: the model has none (its results carry no verdict label).",
    )
