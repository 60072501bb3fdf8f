"""The face-crop cache `dfdetect preprocess` writes and the trainers read.

Layout of a cache directory:
- `cache.json`: the settings the crops were made with (a resumed run must use the same);
- `index.jsonl`: one line per processed video (appended as videos finish: an interrupted run
  loses at most the videos in flight); the last line of a video wins;
- `crops/<key>/f<frame>_<face>.png`: face crops, one per face per sampled frame;
- `crops/<key>/s<start>_<face>.png`: sequences, L crops side by side in one strip.
PNG is lossless: the cache adds no compression artefacts of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from contract.errors import DatasetError
from contract.recipes import CropRule
from training.dfdc import Label

SETTINGS_FILE = "cache.json"
"""The cache's settings file."""
INDEX_FILE = "index.jsonl"
"""The cache's index: one JSON line per processed video."""
CROPS_DIR = "crops"
"""Folder of the per-video crop folders."""
CACHE_FORMAT = 1
"""The cache format this code reads and writes."""
CACHE_CROP: CropRule = "margin"
"""How every cached face is cut (face crops, sequences, and the real-face strips of
training/real_faces.py): the 15th place's margin. A member trained on them names this rule in
its manifest, so it reads margin crops under any recipe, the 1st place's included."""

Status = Literal["ok", "no_face", "failed"]


class CacheSettings(BaseModel):
    """How the crops of a cache were made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: int = CACHE_FORMAT
    sequences: int
    sequence_length: int
    crop_size: int
    detect_scale: float


class CachedFace(BaseModel):
    """One face crop: the frame it was cut from and which face (0 = largest)."""

    file: str
    frame: int
    face: int


class CachedSequence(BaseModel):
    """One sequence strip: its frames and which face of the middle frame it follows."""

    file: str
    frames: list[int]
    face: int


class CachedVideo(BaseModel):
    """One line of the index: a processed video, what was kept, or why it failed."""

    video: str
    key: str
    label: Label
    status: Status
    reason: str | None = None
    sampled_frames: int = 0
    faces: list[CachedFace] = []
    sequences: list[CachedSequence] = []

    @property
    def target(self) -> float:
        """1.0 for FAKE, 0.0 for REAL."""
        return 1.0 if self.label == "FAKE" else 0.0


def video_key(path: Path) -> str:
    """A folder name unique to a video file: its stem and a short hash of its absolute path."""
    digest = hashlib.sha1(str(Path(path).resolve()).encode()).hexdigest()[:8]
    return f"{Path(path).stem}-{digest}"


def read_settings(cache_dir: Path) -> CacheSettings | None:
    """The settings of an existing cache; None when the folder is not a cache yet."""
    path = Path(cache_dir) / SETTINGS_FILE
    if not path.is_file():
        return None
    try:
        return CacheSettings.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise DatasetError(f"{path} is not a cache settings file: {exc}") from exc


def write_settings(cache_dir: Path, settings: CacheSettings) -> None:
    """Write `cache.json`."""
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    text = json.dumps(settings.model_dump(mode="json"), indent=2) + "\n"
    (Path(cache_dir) / SETTINGS_FILE).write_text(text, encoding="utf-8")


def read_index(cache_dir: Path) -> dict[str, CachedVideo]:
    """video path -> its latest index line; a torn last line (a killed run) is ignored."""
    path = Path(cache_dir) / INDEX_FILE
    records: dict[str, CachedVideo] = {}
    if not path.is_file():
        return records
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = CachedVideo.model_validate_json(line)
        except ValidationError:
            continue  # half a line written when the run was killed
        records[record.video] = record
    return records


def append_record(cache_dir: Path, record: CachedVideo) -> None:
    """Append one video's line to the index and flush it to disk."""
    with open(Path(cache_dir) / INDEX_FILE, "a", encoding="utf-8") as handle:
        handle.write(record.model_dump_json() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def open_cache(cache_dir: Path) -> tuple[CacheSettings, list[CachedVideo]]:
    """A finished cache's settings and its usable videos (those with crops), in index order."""
    settings = read_settings(cache_dir)
    if settings is None:
        raise DatasetError(
            f"{cache_dir} is not a crop cache (no {SETTINGS_FILE}); make one with "
            "`dfdetect preprocess DATA_DIR --out CACHE`"
        )
    videos = [record for record in read_index(cache_dir).values() if record.status == "ok"]
    return settings, videos


def write_png(path: Path, image: np.ndarray) -> None:
    """Write an RGB uint8 image as PNG."""
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR)):
        raise OSError(f"could not write {path}")


def read_png(path: Path) -> np.ndarray:
    """Read a PNG written by write_png as RGB uint8."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"{path} is missing or unreadable; run `dfdetect preprocess` again")
    rgb: np.ndarray = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    return rgb


def join_strip(crops: list[np.ndarray]) -> np.ndarray:
    """L crops of one size side by side: one image per sequence."""
    return np.concatenate(crops, axis=1)


def split_strip(strip: np.ndarray) -> np.ndarray:
    """A strip of square crops back into (L, S, S, 3)."""
    size = strip.shape[0]
    length = strip.shape[1] // size
    return np.stack([strip[:, i * size : (i + 1) * size] for i in range(length)])
