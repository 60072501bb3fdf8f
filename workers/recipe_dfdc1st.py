"""The `dfdc-1st` recipe's steps: the DFDC winner's kernel (selimsef, kernel_utils.py), in order.

- frames: `VideoReader.read_frames(num_frames=32)` reads `np.linspace(0, frame_count - 1, 32)`
  truncated to integers;
- faces: `FaceExtractor.process_videos` runs MTCNN (thresholds 0.7, 0.8, 0.8) on each frame
  halved with PIL's `resize` (its default filter), one frame at a time, keeps every box MTCNN
  returns (facenet-pytorch's `detect`: largest first), doubles each coordinate and truncates it
  to an integer, and cuts `frame[max(y1 - h // 3, 0):y2 + h // 3, max(x1 - w // 3, 0):x2 + w // 3]`
  from the full frame;
- `predict_on_video` scores the faces in frame order, at most 127 (the batch it fills).
The members then resize each crop by their own rule (models/batching.py `isotropic_pad`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from facenet_pytorch import MTCNN
from PIL import Image

from workers.faces import Detection


def linspace_indices(frame_count: int, frames: int) -> list[int]:
    """The frames the kernel reads: linspace(0, count - 1, frames) truncated, each once."""
    if frame_count <= 0:
        return []
    spread = np.linspace(0, frame_count - 1, frames, endpoint=True).astype(np.int64)
    return sorted({int(index) for index in spread})


def halve(image: np.ndarray) -> Image.Image:
    """The frame at half size as the kernel made it: PIL's `resize` to (w // 2, h // 2)."""
    picture = Image.fromarray(image.astype(np.uint8))
    return picture.resize(size=[side // 2 for side in picture.size])


def detect_every_face(mtcnn: MTCNN, images: Sequence[np.ndarray]) -> list[list[Detection]]:
    """Per frame, every face MTCNN finds on the halved frame, largest first, each box in
    full-frame pixels as the kernel has it (doubled, truncated to integers, not clipped)."""
    found: list[list[Detection]] = []
    for image in images:
        boxes, probs = mtcnn.detect(halve(image), landmarks=False)
        detections = []
        if boxes is not None:
            for box, prob in zip(boxes, probs, strict=True):
                if box is None or prob is None:
                    continue
                x1, y1, x2, y2 = (float(int(value * 2)) for value in box)
                detections.append(Detection((x1, y1, x2, y2), float(prob)))
        found.append(detections)
    return found


def crop_thirds(image: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The kernel's crop: the box grown by a third of its height and width on each side, cut
    from the full frame (clipped at the top and left by max(., 0), by the frame elsewhere)."""
    x1, y1, x2, y2 = (int(value) for value in box)
    pad_h, pad_w = (y2 - y1) // 3, (x2 - x1) // 3
    return image[max(y1 - pad_h, 0) : y2 + pad_h, max(x1 - pad_w, 0) : x2 + pad_w]


def cap_faces(faces: list[list[Detection]], most: int | None) -> list[list[Detection]]:
    """The first `most` faces in frame order (each frame's own order kept); later ones dropped."""
    if most is None:
        return faces
    kept: list[list[Detection]] = []
    left = most
    for detections in faces:
        kept.append(detections[: max(left, 0)])
        left -= len(kept[-1])
    return kept
