"""A tiny DFDC-layout set: astronaut clips as REAL, clips with the face manipulated as FAKE."""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout
from pathlib import Path

import cv2
import numpy as np
from skimage import data as skdata

from tests.media import encode_clip

FRAME_SIZE = 256
"""Side of the synthetic frames: the astronaut's face is about 50 px, found by MTCNN."""
FACE_REGION = (slice(28, 90), slice(86, 138))
"""Rows and columns of the face in the 256 px astronaut (MTCNN's box with a few px more)."""
FAKES = ("blur", "colour", "pixelate")
"""Manipulations of the face region: each leaves a face MTCNN still finds."""


def _manipulate(image: np.ndarray, kind: str) -> np.ndarray:
    out = image.copy()
    face = out[FACE_REGION]
    if kind == "blur":
        face[:] = cv2.GaussianBlur(face, (0, 0), 3)
    elif kind == "colour":
        face[:] = np.clip(face.astype(np.int16) + np.array([40, -20, -20]), 0, 255).astype(np.uint8)
    else:
        height, width = face.shape[:2]
        small = cv2.resize(face, (width // 3, height // 3), interpolation=cv2.INTER_AREA)
        face[:] = cv2.resize(small, (width, height), interpolation=cv2.INTER_NEAREST)
    return out


def labelled_set(folder: Path, *, real: int = 3, fake: int = 3, n_frames: int = 12) -> Path:
    """Write `real` REAL and `fake` FAKE clips and their metadata.json into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    base = cv2.resize(skdata.astronaut(), (FRAME_SIZE, FRAME_SIZE), interpolation=cv2.INTER_AREA)
    metadata = {}
    for number in range(real + fake):
        is_fake = number >= real
        image = _manipulate(base, FAKES[(number - real) % len(FAKES)]) if is_fake else base
        # Each clip drifts from its own start and brightness, so no two clips are alike.
        image = np.clip(image.astype(np.int16) + 6 * number - 15, 0, 255).astype(np.uint8)
        frames = [np.roll(image, shift=number + i, axis=1) for i in range(n_frames)]
        name = f"{'fake' if is_fake else 'real'}_{number}.mp4"
        encode_clip(folder / name, frames)
        metadata[name] = {"label": "FAKE" if is_fake else "REAL", "split": "train"}
    (folder / "metadata.json").write_text(json.dumps(metadata, indent=2), encoding="utf-8")
    return folder


def dfdetect(*argv: str) -> str:
    """Run `dfdetect ARGV` in this process; its stdout (a non-zero exit fails the test)."""
    from cli.main import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--log-level", "WARNING", *argv]) == 0
    return out.getvalue()
