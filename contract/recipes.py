"""Recipes: what the pipeline does to a video, named, so that the name travels with a model.

A model directory's manifest names the recipe its members were made for (`recipe`);
`PipelineConfig.recipe`, when set, overrides it; every result names the recipe that ran.
What a member does to a face (crop rule, input size, resize rule, mean/std) is the member's own,
in the manifest; a member that names no crop rule reads the recipe's. Torch-free: the API
validates manifests and results with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from contract.reasons import ReasonCode

RecipeName = Literal["dfdc-15th", "dfdc-1st"]
"""The registered recipes."""
DEFAULT_RECIPE: RecipeName = "dfdc-15th"
"""Today's behaviour: the 15th-place pipeline."""
VideoScoreRule = Literal["all_faces", "max_person"]
"""all_faces: each member post-processes every face of the video (both DFDC kernels);
max_person: each person's faces on their own, and the video takes the most fake person."""
CropRule = Literal["margin", "thirds"]
"""How a face is cut from the full frame: margin (15th place) grows the box by h/0.75 - h on
each axis; thirds (1st place) by h//3 and w//3 on each side."""


class Recipe(BaseModel):
    """The steps of one solution's inference kernel, as data."""

    model_config = ConfigDict(frozen=True)

    name: RecipeName
    description: str
    sampling: Literal["sequences", "linspace"] = Field(
        description="sequences: N runs of L consecutive frames (PipelineConfig.sequences and "
        "sequence_length); linspace: `frames` frames at linspace(0, count - 1) as integers."
    )
    frames: int | None = Field(None, ge=1, description="Frames a video, for linspace sampling.")
    thresholds: tuple[float, float, float] = Field(description="MTCNN P-, R-, O-net thresholds.")
    detection: Literal["selected", "every_face_half_size"] = Field(
        description="selected: MTCNN on the (scaled) frame, the 15th place's choice of faces; "
        "every_face_half_size: MTCNN on the frame halved with PIL's resize, every face it "
        "returns, boxes doubled and truncated to integers."
    )
    crop: CropRule = Field(
        description="margin: grown by h/0.75 - h on each axis; thirds: h//3 and w//3 on each "
        "side, cut from the full frame. A member that names its own (MemberSpec.crop) reads that."
    )
    max_faces: int | None = Field(
        None, ge=1, description="Most faces scored a video, in frame order (None: no cap)."
    )
    video_score: VideoScoreRule = "all_faces"
    min_face_px: int = Field(
        40,
        ge=1,
        description="faces_too_small below this median short side of the face boxes, px "
        "(the project's own: such a face is enlarged 4x or more to a 160-224 px input).",
    )
    min_face_frame_share: float = Field(
        0.3,
        ge=0.0,
        le=1.0,
        description="few_frames_with_faces below this share of sampled frames with a face.",
    )
    abstain_on: frozenset[ReasonCode] = Field(
        frozenset({"no_face", "target_not_found"}),
        description="Reasons that make the score fall back to 0.5; the others only make the "
        "verdict UNCERTAIN.",
    )


def recipe_with(name: str, overrides: Mapping[str, Any] | None = None) -> Recipe:
    """The registered recipe `name` with some fields replaced (a manifest's `recipe_overrides`),
    validated as a whole. Raises ValueError on an unknown recipe, field or value."""
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; registered: {sorted(RECIPES)}")
    base = RECIPES[name]
    if not overrides:
        return base
    unknown = set(overrides) - (set(Recipe.model_fields) - {"name"})
    if unknown:
        raise ValueError(f"recipe_overrides names no field of a recipe: {sorted(unknown)}")
    return Recipe.model_validate({**base.model_dump(), **overrides})


RECIPES: dict[str, Recipe] = {
    "dfdc-15th": Recipe(
        name="dfdc-15th",
        description="15th place (ryanwongsa): 10 sequences of 5 frames, MTCNN [0.6, 0.7, 0.7] "
        "at full size, the largest confident faces, margin h/0.75 - h, cascade per member, "
        "members averaged",
        sampling="sequences",
        thresholds=(0.6, 0.7, 0.7),
        detection="selected",
        crop="margin",
    ),
    "dfdc-1st": Recipe(
        name="dfdc-1st",
        description="1st place (selimsef, kernel_utils.py and predict_folder.py): 32 frames "
        "spread evenly, MTCNN [0.7, 0.8, 0.8] on the half-size frame, every face, h/3 and w/3 "
        "margins, `confident` per member, members averaged",
        sampling="linspace",
        frames=32,
        thresholds=(0.7, 0.8, 0.8),
        detection="every_face_half_size",
        crop="thirds",
        # predict_on_video fills a batch of 4 x 32 while `n + 1 < 128`: 127 faces at most.
        max_faces=127,
    ),
}
"""Each registered recipe."""
