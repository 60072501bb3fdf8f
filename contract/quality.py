"""Input quality with every result: how much face and how many bits the score rests on."""

from __future__ import annotations

from pydantic import BaseModel, Field

LOW_BITS_PER_PIXEL = 0.04
"""H.264 below about this many bits per pixel and frame shows blocking on faces; DFDC's own
clips run 0.07 to 0.15. A heuristic: the stream's average, not a measure of each frame."""


class InputQuality(BaseModel):
    """Facts of the input that bound how far to trust the score."""

    width: int
    height: int
    frames_sampled: int
    frames_with_face: int
    frames_with_face_share: float = Field(ge=0.0, le=1.0)
    face_px_median: float | None = Field(
        description="Median short side of the scored face boxes, px (null: no face)."
    )
    face_px_min: float | None = None
    bitrate_kbps: float | None = Field(
        None, description="The video stream's average bit rate (null for an image or unknown)."
    )
    bits_per_pixel: float | None = Field(
        None, description="Bit rate / (width x height x frame rate)."
    )
    low_quality_reencode: bool | None = Field(
        None,
        description=f"True below {LOW_BITS_PER_PIXEL} bits per pixel: the stream looks "
        "re-encoded at low quality (a heuristic on the average rate).",
    )
