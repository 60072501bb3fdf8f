"""Face detection with facenet-pytorch MTCNN, and the 15th-place choice of faces per frame."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import groupby

import cv2
import numpy as np
import torch
from facenet_pytorch import MTCNN

from workers.config import (
    CONFIDENT_FACE_PROB,
    FALLBACK_FACE_PROB,
    MAX_FACES,
    PipelineConfig,
)


@dataclass(frozen=True)
class Detection:
    """One face MTCNN found: its box in full-size frame pixels and its probability."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    prob: float

    @property
    def area(self) -> float:
        """Box area in pixels (0 for a degenerate box)."""
        x1, y1, x2, y2 = self.box
        return max(0.0, x2 - x1) * max(0.0, y2 - y1)


def select_faces(
    detections: Sequence[Detection],
    *,
    confident_prob: float = CONFIDENT_FACE_PROB,
    fallback_prob: float = FALLBACK_FACE_PROB,
    max_faces: int = MAX_FACES,
) -> list[Detection]:
    """Faces to score in one frame (15th-place code): the largest confident ones, else the
    single largest probable one, else none."""
    confident = [d for d in detections if d.prob > confident_prob]
    if confident:
        return sorted(confident, key=lambda d: d.area, reverse=True)[:max_faces]
    probable = [d for d in detections if d.prob > fallback_prob]
    return [max(probable, key=lambda d: d.area)] if probable else []


class FaceDetector:
    """MTCNN over batches of frames, optionally on downscaled frames (boxes mapped back)."""

    def __init__(self, config: PipelineConfig, device: torch.device) -> None:
        self.config = config
        self.device = device
        # min_face_size is in pixels of the (possibly downscaled) detection frame.
        self.mtcnn = MTCNN(
            keep_all=True,
            min_face_size=config.min_face_size,
            thresholds=list(config.thresholds),
            factor=config.factor,
            post_process=False,
            device=device,
        ).eval()

    def detect(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """All faces in each HxWx3 uint8 RGB image, boxes in that image's pixels."""
        found: list[list[Detection]] = []
        for batch in self._batches(images):
            found.extend(self._detect_batch(batch))
        return found

    def detect_and_select(self, images: Sequence[np.ndarray]) -> list[list[Detection]]:
        """The faces select_faces keeps in each image, largest first."""
        config = self.config
        return [
            select_faces(
                detections,
                confident_prob=config.confident_face_prob,
                fallback_prob=config.fallback_face_prob,
                max_faces=config.max_faces,
            )
            for detections in self.detect(images)
        ]

    def _batches(self, images: Sequence[np.ndarray]) -> Iterator[list[np.ndarray]]:
        # MTCNN's batch mode stacks the images, so a batch holds one frame size only.
        size = self.config.detect_batch_size
        for _, same_shape in groupby(images, key=lambda image: image.shape):
            run = list(same_shape)
            for start in range(0, len(run), size):
                yield run[start : start + size]

    def _detect_batch(self, images: list[np.ndarray]) -> list[list[Detection]]:
        height, width = images[0].shape[:2]
        scale = self.config.detect_scale
        small_w, small_h = max(1, round(width * scale)), max(1, round(height * scale))
        if (small_w, small_h) != (width, height):
            images = [
                cv2.resize(image, (small_w, small_h), interpolation=cv2.INTER_AREA)
                for image in images
            ]
        boxes, probs = self.mtcnn.detect(np.stack(images))
        to_full = (width / small_w, height / small_h)
        return [
            _detections(image_boxes, image_probs, to_full, (width, height))
            for image_boxes, image_probs in zip(boxes, probs, strict=True)
        ]


def _detections(
    boxes: np.ndarray | None,
    probs: Sequence[float | None],
    to_full: tuple[float, float],
    size: tuple[int, int],
) -> list[Detection]:
    """One image's MTCNN output (None when it found no face) as boxes clipped to the frame."""
    if boxes is None:
        return []
    (sx, sy), (width, height) = to_full, size
    found = []
    for box, prob in zip(boxes, probs, strict=True):
        x1, y1, x2, y2 = (float(v) for v in box)
        if prob is None or not all(map(math.isfinite, (x1, y1, x2, y2))):
            continue
        clipped = (
            min(max(x1 * sx, 0.0), width),
            min(max(y1 * sy, 0.0), height),
            min(max(x2 * sx, 0.0), width),
            min(max(y2 * sy, 0.0), height),
        )
        found.append(Detection(clipped, float(prob)))
    return found
