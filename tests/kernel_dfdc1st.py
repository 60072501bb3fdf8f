"""The 1st-place kernel's steps, rewritten from kernel_utils.py for the recipe's parity tests.

Frames are read the kernel's way, with OpenCV (`grab` every frame, `retrieve` the wanted ones,
BGR to RGB), not with the pipeline's PyAV sampler; everything after follows the kernel's
functions line by line (`FaceExtractor.process_videos`, `isotropically_resize_image`,
`put_to_center`, `predict_on_video`, `confident_strategy`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch
from facenet_pytorch import MTCNN
from PIL import Image
from torch import nn

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def read_frames(path: Path, num_frames: int = 32) -> tuple[list[np.ndarray], list[int]]:
    capture = cv2.VideoCapture(str(path))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    wanted = np.linspace(0, count - 1, num_frames, endpoint=True, dtype=int)
    frames, read = [], []
    for index in range(wanted[0], wanted[-1] + 1):
        if not capture.grab():
            break
        if index == wanted[len(read)]:
            ok, frame = capture.retrieve()
            if not ok or frame is None:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            read.append(index)
    capture.release()
    return frames, read


def faces_of(
    detector: MTCNN, frames: Sequence[np.ndarray]
) -> list[list[tuple[tuple[int, int, int, int], np.ndarray]]]:
    """Per frame: (doubled integer box, crop) of every face, as process_videos makes them."""
    found = []
    for frame in frames:
        img = Image.fromarray(frame.astype(np.uint8))
        img = img.resize(size=[s // 2 for s in img.size])
        boxes, _ = detector.detect(img, landmarks=False)
        faces = []
        if boxes is not None:
            for bbox in boxes:
                if bbox is not None:
                    xmin, ymin, xmax, ymax = [int(b * 2) for b in bbox]
                    p_h, p_w = (ymax - ymin) // 3, (xmax - xmin) // 3
                    crop = frame[max(ymin - p_h, 0) : ymax + p_h, max(xmin - p_w, 0) : xmax + p_w]
                    faces.append(((xmin, ymin, xmax, ymax), crop))
        found.append(faces)
    return found


def isotropically_resize(img: np.ndarray, size: int) -> np.ndarray:
    h, w = img.shape[:2]
    if max(w, h) == size:
        return img
    if w > h:
        scale = size / w
        h = h * scale
        w = size
    else:
        scale = size / h
        w = w * scale
        h = size
    interpolation = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    resized: np.ndarray = cv2.resize(img, (int(w), int(h)), interpolation=interpolation)
    return resized


def put_to_center(img: np.ndarray, input_size: int) -> np.ndarray:
    img = img[:input_size, :input_size]
    image = np.zeros((input_size, input_size, 3), dtype=np.uint8)
    start_w = (input_size - img.shape[1]) // 2
    start_h = (input_size - img.shape[0]) // 2
    image[start_h : start_h + img.shape[0], start_w : start_w + img.shape[1], :] = img
    return image


def confident_strategy(pred: np.ndarray, t: float = 0.8) -> float:
    sz = len(pred)
    fakes = np.count_nonzero(pred > t)
    if fakes > sz // 2.5 and fakes > 11:
        return float(np.mean(pred[pred > t]))
    if np.count_nonzero(pred < 0.2) > 0.9 * sz:
        return float(np.mean(pred[pred < 0.2]))
    return float(np.mean(pred))


def predict_on_video(
    crops: Sequence[np.ndarray], models: Sequence[nn.Module], input_size: int = 380
) -> tuple[float, list[np.ndarray]]:
    """The video score and each model's per-face probabilities (fp32; the kernel ran fp16)."""
    batch = np.zeros((4 * 32, input_size, input_size, 3), dtype=np.uint8)
    n = 0
    for face in crops:
        resized = put_to_center(isotropically_resize(face, input_size), input_size)
        if n + 1 < len(batch):
            batch[n] = resized
            n += 1
    if n == 0:
        return 0.5, []
    x = torch.tensor(batch[:n]).float().permute(0, 3, 1, 2) / 255.0
    x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
    preds, per_face = [], []
    with torch.no_grad():
        for model in models:
            probabilities = torch.sigmoid(model(x).reshape(-1)).numpy()
            per_face.append(probabilities)
            preds.append(confident_strategy(probabilities))
    return float(np.mean(preds)), per_face
