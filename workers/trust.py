"""How far to trust an answer: input quality, and the reasons it is unsure or abstains."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from contract.quality import LOW_BITS_PER_PIXEL, InputQuality
from contract.reasons import Reason
from contract.recipes import Recipe
from contract.result import NO_FACE_PROBABILITY, FrameResult, VideoInfo


def input_quality(
    video: VideoInfo, frames: list[FrameResult], face_sides: Sequence[float]
) -> InputQuality:
    """Face size, face coverage and bits per pixel of one input."""
    with_face = sum(bool(frame.faces) for frame in frames)
    bits_per_pixel = None
    if video.bitrate_kbps and video.fps > 0 and video.width * video.height > 0:
        bits_per_pixel = video.bitrate_kbps * 1000 / (video.width * video.height * video.fps)
    return InputQuality(
        width=video.width,
        height=video.height,
        frames_sampled=len(frames),
        frames_with_face=with_face,
        frames_with_face_share=with_face / len(frames) if frames else 0.0,
        face_px_median=float(np.median(face_sides)) if len(face_sides) else None,
        face_px_min=float(min(face_sides)) if len(face_sides) else None,
        bitrate_kbps=video.bitrate_kbps,
        bits_per_pixel=bits_per_pixel,
        low_quality_reencode=None
        if bits_per_pixel is None
        else bits_per_pixel < LOW_BITS_PER_PIXEL,
    )


def find_reasons(
    recipe: Recipe, quality: InputQuality, face_sides: Sequence[float], *, image: bool
) -> list[Reason]:
    """The reasons an answer resting on `face_sides` (px) is unsure; no_face when there are none."""
    if not len(face_sides):
        return [Reason.no_face(NO_FACE_PROBABILITY)]
    reasons = []
    median = float(np.median(face_sides))
    if median < recipe.min_face_px:
        reasons.append(
            Reason.faces_too_small(
                median, recipe.min_face_px, abstained="faces_too_small" in recipe.abstain_on
            )
        )
    # One frame has a face or none: coverage says nothing about a still image.
    if not image and quality.frames_with_face_share < recipe.min_face_frame_share:
        reasons.append(
            Reason.few_frames_with_faces(
                quality.frames_with_face,
                quality.frames_sampled,
                recipe.min_face_frame_share,
                abstained="few_frames_with_faces" in recipe.abstain_on,
            )
        )
    return reasons
