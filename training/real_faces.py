"""`dfdetect preprocess-real`: face strips with MTCNN's five landmarks, from real clips and photos.

Self-blended training (training/sbi.py) needs only real faces and where their eyes, nose and
mouth are. This cache holds, per source file, sequences of L face crops cut as the pipeline cuts
them (the middle frame's box with the 15th-place margin, resized to the crop size) and each
frame's five landmarks in crop pixels; a photo is a strip of one frame per face.

Layout: `real.json` (settings), `index.jsonl` (one line per source; the last line of a source
wins, so a rerun resumes), `crops/<key>/s<start>_<face>.png` (strips, PNG: lossless).
"""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from facenet_pytorch import MTCNN
from pydantic import BaseModel, ConfigDict
from tqdm import tqdm

from contract.errors import DatasetError, InvalidVideo, NoVideoStream
from contract.pipeline import MTCNN_THRESHOLDS
from training.cache import (
    CROPS_DIR,
    INDEX_FILE,
    join_strip,
    video_key,
    write_png,
)
from workers.crops import margin_box
from workers.sampling import sample_frames

log = logging.getLogger("dfdetect.preprocess")

SETTINGS_FILE = "real.json"
"""The real-face cache's settings file."""
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi"})
PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
FACE_PROB = 0.95
"""A face is kept at this MTCNN probability: a training source should hold sure faces only."""
MIN_FACE_PX = 40
"""Smallest face height kept, px: below it landmarks are too coarse to draw a blend mask."""
DETECT_SIDE = 720
"""Frames are detected at most this long a side (boxes mapped back): enough for large faces."""
LINK_IOU = 0.3
"""A face in a neighbouring frame is the middle frame's face when boxes overlap this much."""

Box = tuple[float, float, float, float]


class RealSettings(BaseModel):
    """How the strips of a real-face cache were made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sequences: int
    sequence_length: int
    crop_size: int


class RealStrip(BaseModel):
    """L crops of one face and each crop's five landmarks (x, y in crop pixels)."""

    file: str
    frames: list[int]
    landmarks: list[list[list[float]]]


class RealSource(BaseModel):
    """One line of the index: a real clip or photo, whose person it shows, its strips."""

    source: str
    person: str
    kind: str
    status: str
    reason: str | None = None
    strips: list[RealStrip] = []


@dataclass(frozen=True)
class Face:
    """A detected face in full-frame pixels."""

    box: Box
    prob: float
    landmarks: np.ndarray  # (5, 2)


class LandmarkDetector:
    """facenet-pytorch's MTCNN with landmarks on frames scaled to DETECT_SIDE at most."""

    def __init__(self, device: torch.device) -> None:
        self.mtcnn = MTCNN(keep_all=True, device=device, thresholds=list(MTCNN_THRESHOLDS))

    def detect(self, image: np.ndarray) -> list[Face]:
        """Sure faces of one RGB frame, largest first."""
        scale = min(1.0, DETECT_SIDE / max(image.shape[:2]))
        small = image
        if scale < 1.0:
            size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
            small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        boxes, probs, points = self.mtcnn.detect(small, landmarks=True)
        if boxes is None:
            return []
        faces = [
            Face(_box(box, scale), float(prob), np.asarray(pts, dtype=np.float64) / scale)
            for box, prob, pts in zip(boxes, probs, points, strict=True)
            if prob is not None and prob >= FACE_PROB and (box[3] - box[1]) / scale >= MIN_FACE_PX
        ]
        return sorted(faces, key=lambda f: -(f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


def _box(values: np.ndarray, scale: float) -> Box:
    """An MTCNN box of a frame scaled by `scale`, in full-frame pixels."""
    x1, y1, x2, y2 = (float(v) / scale for v in values)
    return x1, y1, x2, y2


def _iou(a: Box, b: Box) -> float:
    x1, y1, x2, y2 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def crop_face(
    image: np.ndarray, box: Box, landmarks: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The pipeline's margin crop of `box`, resized to size x size, and landmarks moved into it."""
    left, top, right, bottom = margin_box(box, image.shape[1], image.shape[0])
    crop = cv2.resize(image[top:bottom, left:right], (size, size), interpolation=cv2.INTER_AREA)
    scale = np.array([size / (right - left), size / (bottom - top)])
    return crop, (np.asarray(landmarks, dtype=np.float64) - np.array([left, top])) * scale


def video_strips(
    detector: LandmarkDetector, path: Path, settings: RealSettings
) -> list[tuple[str, np.ndarray, RealStrip]]:
    """(file name, strip image, record) for each sampled sequence whose every frame has the face."""
    video = sample_frames(path, settings.sequences, settings.sequence_length)
    frames = {frame.index: frame.image for frame in video.frames}
    strips = []
    for indices in video.sequences:
        if len(indices) < settings.sequence_length:
            continue
        found = {index: detector.detect(frames[index]) for index in indices}
        middle = found[indices[len(indices) // 2]]
        if not middle:
            continue
        box = middle[0].box
        crops, marks = [], []
        for index in indices:
            linked = [f for f in found[index] if _iou(f.box, box) >= LINK_IOU]
            if not linked:
                break
            crop, points = crop_face(frames[index], box, linked[0].landmarks, settings.crop_size)
            crops.append(crop)
            marks.append(points.round(2).tolist())
        else:
            name = f"s{indices[0]}_0.png"
            strips.append(
                (name, join_strip(crops), RealStrip(file=name, frames=indices, landmarks=marks))
            )
    return strips


def photo_strips(
    detector: LandmarkDetector, path: Path, settings: RealSettings
) -> list[tuple[str, np.ndarray, RealStrip]]:
    """One single-frame strip per sure face of a photo."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"{path} is not a readable image")
    rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    strips = []
    for number, face in enumerate(detector.detect(rgb)):
        crop, points = crop_face(rgb, face.box, face.landmarks, settings.crop_size)
        name = f"s0_{number}.png"
        strips.append(
            (name, crop, RealStrip(file=name, frames=[0], landmarks=[points.round(2).tolist()]))
        )
    return strips


def sources(roots: Sequence[Path]) -> list[tuple[Path, str]]:
    """(file, person) for the clips and photos under `roots`; persons from a MANIFEST.tsv
    (`file`, `person_id` columns) beside them when there is one, else the file's stem."""
    found: list[tuple[Path, str]] = []
    for root in roots:
        persons: dict[str, str] = {}
        manifest = Path(root) / "MANIFEST.tsv"
        if manifest.is_file():
            with manifest.open(encoding="utf-8") as handle:
                persons = {
                    row["file"]: row["person_id"] for row in csv.DictReader(handle, delimiter="\t")
                }
        for path in sorted(Path(root).rglob("*")):
            if path.suffix.lower() in VIDEO_SUFFIXES | PHOTO_SUFFIXES:
                relative = path.relative_to(root).as_posix()
                found.append((path, persons.get(relative, f"{Path(root).name}:{path.stem}")))
    return found


def read_real_index(cache: Path) -> dict[str, RealSource]:
    """source -> its last record."""
    index = Path(cache) / INDEX_FILE
    records: dict[str, RealSource] = {}
    if index.is_file():
        for line in index.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = RealSource.model_validate_json(line)
                records[record.source] = record
    return records


def open_real_cache(cache: Path) -> tuple[RealSettings, list[RealSource]]:
    """A real-face cache's settings and its sources with strips."""
    settings_file = Path(cache) / SETTINGS_FILE
    if not settings_file.is_file():
        raise DatasetError(
            f"{cache} is not a real-face cache (no {SETTINGS_FILE}); run `dfdetect preprocess-real`"
        )
    settings = RealSettings.model_validate_json(settings_file.read_text(encoding="utf-8"))
    return settings, [r for r in read_real_index(cache).values() if r.strips]


def preprocess_real(
    roots: Sequence[Path],
    out: Path,
    settings: RealSettings,
    *,
    device: torch.device,
    progress: bool = True,
) -> dict[str, int]:
    """Fill (or resume) a real-face cache from the clips and photos under `roots`."""
    out = Path(out)
    (out / CROPS_DIR).mkdir(parents=True, exist_ok=True)
    settings_file = out / SETTINGS_FILE
    if settings_file.is_file():
        saved = RealSettings.model_validate_json(settings_file.read_text(encoding="utf-8"))
        if saved != settings:
            raise DatasetError(
                f"{out} was made with {saved}; use the same settings or another --out"
            )
    else:
        settings_file.write_text(settings.model_dump_json(), encoding="utf-8")
    done = read_real_index(out)
    detector = LandmarkDetector(device)
    counts = {"sources": 0, "skipped": 0, "ok": 0, "no_face": 0, "failed": 0, "strips": 0}
    todo: Iterable[tuple[Path, str]] = sources(roots)
    for path, person in tqdm(list(todo), desc="real faces", unit="file", disable=not progress):
        counts["sources"] += 1
        name = os.path.abspath(path)  # normalised, links kept: the rerun sees the same name
        if name in done and done[name].status != "failed":
            counts["skipped"] += 1
            continue
        kind = "video" if path.suffix.lower() in VIDEO_SUFFIXES else "photo"
        try:
            made = (
                video_strips(detector, path, settings)
                if kind == "video"
                else photo_strips(detector, path, settings)
            )
            status, reason = ("ok", None) if made else ("no_face", "no sure face in any sample")
        except (DatasetError, InvalidVideo, NoVideoStream, OSError) as exc:
            made, status, reason = [], "failed", str(exc)
        key = video_key(path)
        (out / CROPS_DIR / key).mkdir(exist_ok=True)
        strips = []
        for file, image, record in made:
            write_png(out / CROPS_DIR / key / file, image)
            strips.append(record.model_copy(update={"file": f"{key}/{file}"}))
        line = RealSource(
            source=name, person=person, kind=kind, status=status, reason=reason, strips=strips
        )
        with (out / INDEX_FILE).open("a", encoding="utf-8") as handle:
            handle.write(line.model_dump_json() + "\n")
        counts[status] += 1
        counts["strips"] += len(strips)
    log.info("real-face cache %s: %s", out, json.dumps(counts))
    return counts
