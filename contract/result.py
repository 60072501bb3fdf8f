"""The detection result: what a worker stores and what `GET /jobs/{id}` returns.

Torch-free: the API serves this schema in its OpenAPI document.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from contract.calibration import Calibration
from contract.operating import Verdict
from contract.people import Person, TargetChoice
from contract.quality import InputQuality
from contract.reasons import Reason, ReasonCode
from contract.recipes import DEFAULT_RECIPE, RecipeName, VideoScoreRule

UNTRAINED_WARNING = (
    "untrained_weights: at least one ensemble member has random (untrained) weights; "
    "its scores are meaningless. Train or install trained weights (README: Bring your own weights)."
)
MODEL_NOTE_PREFIX = "model_note: "
"""Starts the warning that repeats the model's note (what its scores rest on) in every result."""
NO_FACE_PROBABILITY = 0.5
"""What the 15th-place solution answered when no face was found: the log-loss-safe guess."""


class VideoInfo(BaseModel):
    """Facts of the decoded file (an image: one frame, duration and fps 0, codec its format)."""

    duration_s: float = Field(description="Duration in seconds.", examples=[10.0])
    fps: float = Field(description="Average frame rate.", examples=[29.97])
    width: int = Field(description="Frame width after rotation.", examples=[1920])
    height: int = Field(description="Frame height after rotation.", examples=[1080])
    frame_count: int = Field(description="Frames in the video stream (counted).", examples=[300])
    rotation: int = Field(0, description="Rotation applied to make frames upright, degrees.")
    codec: str = Field(description="Video codec name.", examples=["h264"])
    sha256: str = Field(description="SHA-256 of the file.")
    bitrate_kbps: float | None = Field(
        None, description="The video stream's average bit rate (its packets over its duration)."
    )


class Box(BaseModel):
    """A face box in pixels of the full-size (upright) frame."""

    x1: float
    y1: float
    x2: float
    y2: float


class FaceScore(BaseModel):
    """One face in one sampled frame."""

    box: Box
    detection_score: float = Field(description="MTCNN face probability.")
    member_scores: dict[str, float] = Field(
        description="Fake probability from each frame-classifier member."
    )
    fake_probability: float = Field(description="Mean of the member scores.")
    image_url: str | None = Field(
        None,
        description="The face crop as it was scored (JPEG, owner's API key): "
        "`/jobs/{job_id}/faces/{n}.jpg`, n the face's index in frame order. Null when not "
        "stored: past the first 128 faces of a job, a crop no JPEG quality fits in 20 KB, "
        "or a result not made by a worker (`dfdetect detect`).",
        examples=["/jobs/3f6d1c0e-6a51-4a8e-9d0f-2b1c9a7e4d10/faces/0.jpg"],
    )
    person: int | None = Field(None, description="The id of the person (track) it belongs to.")


class FrameResult(BaseModel):
    """One sampled frame and the faces kept in it."""

    index: int = Field(description="Frame index in presentation order.")
    timestamp_s: float = Field(description="Presentation time, seconds.")
    faces: list[FaceScore]


class SequenceResult(BaseModel):
    """One sampled sequence of consecutive frames, scored by the sequence members."""

    frame_indices: list[int]
    face: int = Field(description="Which face of the middle frame (0 = largest).")
    member_scores: dict[str, float]
    fake_probability: float


class MemberResult(BaseModel):
    """One ensemble member's post-processed verdict on the video."""

    name: str
    kind: Literal["frame", "sequence"]
    score: float | None = Field(
        description="Post-processed fake probability, before the ensemble's calibration; "
        "null if no crops."
    )
    postprocess: str = Field(description="Post-processing strategy applied.")
    checkpoint_sha256: str
    trained: bool
    applicable: bool = Field(
        True, description="False for a sequence member on a still image (nothing to score)."
    )


class ModelIdentity(BaseModel):
    """Which weights answered: the model directory's name, version and what its score rests on."""

    name: str | None = Field(None, examples=["dfdetect-starter-sbi-lite0"])
    version: str | None = Field(None, examples=["1"])
    note: str | None = Field(
        None,
        description="What the weights were trained on and measured, in words (model card).",
    )
    calibration: Calibration | None = Field(
        None,
        description="The temperature fake_probability and each person's score were calibrated "
        "with (members' scores are not); null: none.",
    )


class DetectionResult(BaseModel):
    """Overall verdict plus the per-frame, per-face, per-member breakdown."""

    fake_probability: float = Field(ge=0.0, le=1.0, examples=[0.73])
    label: Literal["FAKE", "REAL"] = Field(description="FAKE when fake_probability >= 0.5.")
    verdict: Verdict = Field(description="REAL, UNCERTAIN or FAKE from the model's bands.")
    fallback: ReasonCode | None = Field(
        None,
        description="Set when the score fell back to 0.5: the code of the reason that made it "
        "(no_face, target_not_found, or one the recipe's abstain_on names).",
    )
    reasons: list[Reason] = Field(
        default_factory=list, description="Why the answer is unsure or abstained (codes)."
    )
    media: Literal["video", "image"] = "video"
    trained: bool = Field(description="False when any member has untrained weights.")
    model: ModelIdentity = Field(
        default_factory=ModelIdentity, description="The weights that answered."
    )
    video: VideoInfo
    quality: InputQuality
    people: list[Person] = Field(description="Face tracks, one per person, with their scores.")
    target: TargetChoice | None = Field(
        None, description="Set when a target was asked for: whose verdict this is."
    )
    video_score: VideoScoreRule = Field(
        "all_faces",
        description="How fake_probability was formed: all_faces (every face, the method's "
        "rule) or max_person (the most fake person's score).",
    )
    frames: list[FrameResult]
    sequences: list[SequenceResult]
    models: list[MemberResult]
    warnings: list[str]
    timings_ms: dict[str, float] = Field(description="Wall time of each stage, milliseconds.")
    recipe: RecipeName = Field(
        DEFAULT_RECIPE,
        description="The recipe that ran: what was done to the video (sampling, faces, crops), "
        "dfdc-15th or dfdc-1st; the model directory names it.",
    )
