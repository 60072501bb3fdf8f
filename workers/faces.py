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
from facenet_pytorch.models.utils.detect_face import (
    batched_nms_numpy,
    bbreg,
    fixed_batch_process,
    generateBoundingBox,
    pad,
    rerec,
)
from torch.nn.functional import interpolate
from torchvision.ops.boxes import batched_nms

from contract.pipeline import (
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
        to_full = (width / small_w, height / small_h)
        if self.config.vectorised_mtcnn:
            found = detect_face_vectorised(self.mtcnn, np.stack(images), self.device)
            return [
                _detections(faces[:, :4], list(faces[:, 4]), to_full, (width, height))
                for faces in found
            ]
        boxes, probs = self.mtcnn.detect(np.stack(images))
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


@torch.inference_mode()
def detect_face_vectorised(
    mtcnn: MTCNN, images: np.ndarray, device: torch.device
) -> list[np.ndarray]:
    """facenet-pytorch 2.5.3's `detect_face` (MIT) with its per-box loops made array operations.

    Same networks, pyramid, thresholds and NMS. The 24 and 48 px crops of the R- and O-net
    stages are read from one integral image, so their pixels are the ones
    `interpolate(mode="area")` makes, to float rounding; the original resizes each of the
    hundreds of candidate boxes in its own call. Returns, per image, a (K, 5) array of x1, y1,
    x2, y2, probability.
    """
    pixels = torch.as_tensor(images, device=device)  # (N, H, W, 3) uint8
    count, height, width = pixels.shape[:3]
    frames = pixels.permute(0, 3, 1, 2).float()
    sat = _integral(images) if device.type == "cpu" else _integral_torch(pixels)
    # The pyramid exactly as detect_face builds it (the same float steps).
    scale = 12.0 / mtcnn.min_face_size
    side, scales = min(height, width) * scale, []
    while side >= 12:
        scales.append(scale)
        scale, side = scale * mtcnn.factor, side * mtcnn.factor
    thresholds = mtcnn.thresholds
    all_boxes, all_inds, picks, offset = [], [], [], 0
    for scale in scales:
        level = interpolate(
            frames, size=(int(height * scale + 1), int(width * scale + 1)), mode="area"
        )
        reg, probs = mtcnn.pnet((level - 127.5) * 0.0078125)
        boxes, inds = generateBoundingBox(reg, probs[:, 1], scale, thresholds[0])
        all_boxes.append(boxes)
        all_inds.append(inds)
        picks.append(batched_nms(boxes[:, :4], boxes[:, 4], inds, 0.5) + offset)
        offset += boxes.shape[0]
    chosen = torch.cat(picks)
    boxes, inds = torch.cat(all_boxes)[chosen], torch.cat(all_inds)[chosen]
    pick = batched_nms(boxes[:, :4], boxes[:, 4], inds, 0.7)
    boxes, inds = boxes[pick], inds[pick]
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    boxes = torch.stack(
        [
            boxes[:, 0] + boxes[:, 5] * w,
            boxes[:, 1] + boxes[:, 6] * h,
            boxes[:, 2] + boxes[:, 7] * w,
            boxes[:, 3] + boxes[:, 8] * h,
            boxes[:, 4],
        ],
        dim=1,
    )
    boxes = rerec(boxes)
    for net, side_px, threshold in (
        (mtcnn.rnet, 24, thresholds[1]),
        (mtcnn.onet, 48, thresholds[2]),
    ):
        if len(boxes) == 0:
            break
        y, ey, x, ex = (torch.as_tensor(v, device=device).long() for v in pad(boxes, width, height))
        # detect_face crops rows y-1 .. ey-1 and columns x-1 .. ex-1 (pad's 1-based corners).
        region = torch.stack([y - 1, ey, x - 1, ex], dim=1)
        crops = _area_resize(sat, inds, region, (side_px, side_px))
        out = fixed_batch_process((crops - 127.5) * 0.0078125, net)
        score = out[-1][:, 1]
        keep = score > threshold
        boxes = torch.cat((boxes[keep, :4], score[keep].unsqueeze(1)), dim=1)
        inds, moves = inds[keep], out[0][keep]
        if net is mtcnn.rnet:
            pick = batched_nms(boxes[:, :4], boxes[:, 4], inds, 0.7)
            boxes = rerec(bbreg(boxes[pick], moves[pick]))
            inds = inds[pick]
        else:
            boxes = bbreg(boxes, moves)
            pick = batched_nms_numpy(boxes[:, :4], boxes[:, 4], inds, 0.7, "Min")
            boxes, inds = boxes[pick], inds[pick]
    found, owner = boxes.cpu().numpy(), inds.cpu().numpy()
    return [found[owner == index] for index in range(count)]


def _integral(images: np.ndarray) -> torch.Tensor:
    """Summed-area table of uint8 (N, H, W, C) images: int32 (N, H + 1, W + 1, C), exact
    (255 * H * W < 2^31 up to about 4K x 2K)."""
    return torch.from_numpy(np.stack([cv2.integral(image) for image in images]))


def _integral_torch(pixels: torch.Tensor) -> torch.Tensor:
    """`_integral` on the pixels' device (a GPU), by two cumulative sums."""
    count, height, width, channels = pixels.shape
    sat = torch.zeros(
        (count, height + 1, width + 1, channels), dtype=torch.int32, device=pixels.device
    )
    sat[:, 1:, 1:] = pixels.cumsum(1, dtype=torch.int32).cumsum(2, dtype=torch.int32)
    return sat


def _area_resize(
    sat: torch.Tensor, inds: torch.Tensor, regions: torch.Tensor, size: tuple[int, int]
) -> torch.Tensor:
    """Area resize of regions (top, bottom, left, right; end-exclusive) of images `inds` to
    `size`, as float NCHW. Output cell i averages input rows floor(i*h/n) .. ceil((i+1)*h/n),
    exactly the bins of adaptive_avg_pool2d, which `interpolate(mode="area")` is."""
    rows, cols = (torch.arange(n, device=sat.device) for n in size)
    top, bottom, left, right = regions.unbind(1)
    h, w = (bottom - top)[:, None], (right - left)[:, None]
    y0 = top[:, None] + torch.div(rows * h, size[0], rounding_mode="floor")
    y1 = top[:, None] + torch.div((rows + 1) * h + size[0] - 1, size[0], rounding_mode="floor")
    x0 = left[:, None] + torch.div(cols * w, size[1], rounding_mode="floor")
    x1 = left[:, None] + torch.div((cols + 1) * w + size[1] - 1, size[1], rounding_mode="floor")
    n = inds[:, None, None]
    total = (
        sat[n, y1[:, :, None], x1[:, None, :]]
        - sat[n, y0[:, :, None], x1[:, None, :]]
        - sat[n, y1[:, :, None], x0[:, None, :]]
        + sat[n, y0[:, :, None], x0[:, None, :]]
    )
    area = ((y1 - y0)[:, :, None] * (x1 - x0)[:, None, :]).unsqueeze(-1)
    return (total.float() / area.float()).permute(0, 3, 1, 2)
