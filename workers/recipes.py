"""A recipe's steps bound to a loaded face detector: what the pipeline calls at each stage.

The recipe is the model directory's (`Manifest.recipe`) unless `PipelineConfig.recipe` names
another; MTCNN thresholds set in the config (away from the default) win over the recipe's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from contract.pipeline import MTCNN_THRESHOLDS, PipelineConfig
from contract.recipes import RECIPES, CropRule, Recipe, recipe_with
from workers.crops import crop_with_margin
from workers.faces import Detection, FaceDetector
from workers.recipe_dfdc1st import cap_faces, crop_thirds, detect_every_face, linspace_indices
from workers.sampling import sequence_starts

Box = tuple[float, float, float, float]


def resolve_recipe(
    config: PipelineConfig, manifest_recipe: str, overrides: Mapping[str, Any] | None = None
) -> Recipe:
    """The recipe to run: the config's when it names another, else the model directory's with
    the manifest's `recipe_overrides`."""
    if config.recipe is not None and config.recipe != manifest_recipe:
        return RECIPES[config.recipe]
    return recipe_with(manifest_recipe, overrides)


def detector_config(config: PipelineConfig, recipe: Recipe) -> PipelineConfig:
    """The config MTCNN is built with: the recipe's thresholds unless the config set its own."""
    if config.thresholds != MTCNN_THRESHOLDS:
        return config
    return config.with_overrides(thresholds=recipe.thresholds)


class RecipeSteps:
    """Sampling, face finding and cropping as the recipe says."""

    def __init__(self, recipe: Recipe, config: PipelineConfig) -> None:
        self.recipe = recipe
        self.config = config

    @property
    def scores_sequences(self) -> bool:
        """Whether sequences are cut for the sequence members (not from scattered frames)."""
        return self.recipe.sampling == "sequences"

    def spans_for(self) -> Callable[[int], list[list[int]]] | None:
        """sample_frames' `spans_for`: None for the configured N x L sequences."""
        if self.recipe.sampling == "sequences":
            return None
        count = self.recipe.frames or 1
        return lambda frame_count: [[i] for i in linspace_indices(frame_count, count)]

    def wanted(self, frame_count: int) -> set[int]:
        """The frame indices sampling asks for."""
        spans_for = self.spans_for()
        if spans_for is not None:
            return {i for span in spans_for(frame_count) for i in span}
        cfg = self.config
        starts = sequence_starts(frame_count, cfg.sequences, cfg.sequence_length)
        return {i for s in starts for i in range(s, min(s + cfg.sequence_length, frame_count))}

    def faces(self, detector: FaceDetector, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """The faces to score in each frame."""
        if self.recipe.detection == "selected":
            return detector.detect_and_select(images)
        found = detect_every_face(detector.mtcnn, images)
        # A box wholly outside the frame cuts an empty crop: the kernel raised on it (and
        # answered 0.5 for the whole video); here that face is dropped.
        kept = [
            [d for d in dets if self.crop(image, d.box).size > 0]
            for image, dets in zip(images, found, strict=True)
        ]
        return cap_faces(kept, self.recipe.max_faces)

    def crop(self, image: np.ndarray, box: Box) -> np.ndarray:
        """A face's crop by the recipe's rule (members that name no rule of their own read it)."""
        return cut_face(self.recipe.crop, image, box)


def cut_face(rule: CropRule, image: np.ndarray, box: Box) -> np.ndarray:
    """A face's crop from the full frame by `rule`, not resized (each member resizes it)."""
    if rule == "thirds":
        return crop_thirds(image, box)
    return crop_with_margin(image, box)
