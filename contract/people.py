"""People: face tracks across the sampled frames, and the target a client asks about.

Torch-free: `POST /detect` parses the target with it, results carry `Person` and `TargetChoice`.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from contract.errors import InvalidTarget
from contract.operating import VerdictLabel

TARGET_FIELD = "target"
"""The multipart field (or query parameter) of `POST /detect` that names the target."""
MAX_TARGET_CHARS = 512


class TargetBox(BaseModel):
    """A face at a time: the person whose track passes nearest to `box` at `t` seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    t: Annotated[float, Field(ge=0.0, description="Seconds from the start (0 for an image).")]
    box: tuple[float, float, float, float] = Field(
        description="x1, y1, x2, y2 in pixels of the upright full-size frame."
    )

    @model_validator(mode="after")
    def _ordered(self) -> TargetBox:
        x1, y1, x2, y2 = self.box
        if not (x2 > x1 and y2 > y1):
            raise ValueError("box must be [x1, y1, x2, y2] with x2 > x1 and y2 > y1")
        return self


Target = Literal["all", "largest"] | TargetBox
"""`all`: every person (the video's score, the default); `largest`: the person with the largest
faces; a box: that person."""


def parse_target(raw: str | None) -> Target:
    """The target from its form field: `all`, `largest` or JSON `{"t": .., "box": [..]}`."""
    text = (raw or "").strip()
    if text in ("", "all"):
        return "all"
    if text == "largest":
        return "largest"
    if len(text) > MAX_TARGET_CHARS:
        raise InvalidTarget(f"The target is longer than {MAX_TARGET_CHARS} characters.")
    try:
        return TargetBox.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "not JSON"
        raise InvalidTarget(
            'The target must be `all`, `largest` or {"t": seconds, "box": [x1, y1, x2, y2]} '
            f"({reason})."
        ) from exc


def target_json(target: Target) -> str:
    """The target as the job stores it (the inverse of parse_target)."""
    return target if isinstance(target, str) else target.model_dump_json()


class PersonBox(BaseModel):
    """One face of a person: which sampled frame, where, and its index among the job's faces."""

    frame: int = Field(description="Frame index in presentation order.")
    timestamp_s: float
    face: int = Field(description="Index of the face in frame order (its image_url's n).")
    box: tuple[float, float, float, float]


class Person(BaseModel):
    """One face track: the faces of one person across the sampled frames, scored on their own."""

    id: int = Field(description="Track id, 0 first seen; the FaceScore.person of its faces.")
    faces: list[PersonBox]
    face_px: float = Field(description="Median short side of its face boxes, px.")
    member_scores: dict[str, float | None] = Field(
        description="Each member's post-processed score on this person's faces (null: none)."
    )
    fake_probability: float = Field(
        ge=0.0,
        le=1.0,
        description="Mean of the member scores, calibrated as the video score is "
        "(ModelIdentity.calibration).",
    )
    verdict: VerdictLabel | None = Field(
        None, description="From the model's bands (null without an operating-points table)."
    )


class TargetChoice(BaseModel):
    """Which person a targeted request was answered for, and why."""

    requested: Literal["all", "largest", "box"]
    box: TargetBox | None = None
    person: int | None = Field(description="The chosen track's id; null when none matched.")
    why: str = Field(description="How it was chosen, in words.")
