"""Generated benchmark clips: a real face (scikit-image's astronaut) moving over a 1080p frame.

Cost should not grow with a video's length, so the benchmark needs the same picture at 10 s,
60 s and 5 min. The clips are encoded once and cached: 1920x1080 H.264 at 30 fps with x264's
default keyframe interval (250), as the DFDC clips are (keyframes at 0 and 250 in 300 frames).
"""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

GENERATED_SECONDS = (10, 60, 300)
"""Lengths of the generated clips: a DFDC clip's 10 s, a minute, five minutes."""
GENERATED_FPS = 30
"""Frame rate of the generated clips (DFDC: 29.97)."""
GENERATED_SIZE = (1920, 1080)
"""Width and height of the generated clips (DFDC: 1920x1080)."""
X264_PRESET = "veryfast"
"""Encoder speed: a 5-minute 1080p clip encodes in minutes on two cores; decoding is what
the benchmark measures, and it costs about the same at any preset."""


def generated_name(seconds: int, width: int, height: int) -> str:
    """File name of a generated clip, e.g. `astronaut_1080p_10s.mp4`."""
    return (
        f"astronaut_{height}p_{seconds}s.mp4"
        if width * 9 == height * 16
        else (f"astronaut_{width}x{height}_{seconds}s.mp4")
    )


def generated_clip(
    cache_dir: Path,
    seconds: int,
    *,
    size: tuple[int, int] = GENERATED_SIZE,
    fps: int = GENERATED_FPS,
) -> Path:
    """The cached clip of this length and size, encoded first if it is not there yet."""
    width, height = size
    path = Path(cache_dir) / generated_name(seconds, width, height)
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial.mp4")
    _encode(partial, seconds * fps, width, height, fps)
    partial.replace(path)  # atomic: an interrupted run leaves no half clip under the real name
    return path


def _encode(path: Path, frames: int, width: int, height: int, fps: int) -> None:
    background = _background(width, height)
    face = _astronaut(height)
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(
            "libx264", rate=Fraction(fps), options={"preset": X264_PRESET}
        )
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            image = _frame(background, face, index, fps)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _background(width: int, height: int) -> np.ndarray:
    """Smooth colour noise, so the encoder has texture to code rather than a flat grey."""
    rng = np.random.default_rng(0)
    block = 24
    small = rng.integers(40, 200, size=(math.ceil(height / block), math.ceil(width / block), 3))
    tiled = np.kron(small.astype(np.uint8), np.ones((block, block, 1), np.uint8))
    return np.ascontiguousarray(tiled[:height, :width])


def _astronaut(height: int) -> np.ndarray:
    """The astronaut photo, about half the frame's height (a DFDC-like face size)."""
    try:
        from skimage import data as skdata
    except ImportError as exc:  # a dev dependency: `pip install -e '.[dev]'`
        raise SystemExit("dfdetect bench needs scikit-image for its generated clips") from exc
    import cv2

    photo = skdata.astronaut()
    side = max(64, height // 2)
    resized: np.ndarray = cv2.resize(photo, (side, side), interpolation=cv2.INTER_AREA)
    return resized


def _frame(background: np.ndarray, face: np.ndarray, index: int, fps: int) -> np.ndarray:
    """The face drifting left and right (a 4 s period) and a little up and down."""
    height, width = background.shape[:2]
    side = face.shape[0]
    phase = 2 * math.pi * index / (4 * fps)
    left = int((width - side) / 2 + (width - side) / 4 * math.sin(phase))
    top = int((height - side) / 2 + (height - side) / 8 * math.cos(phase))
    image = background.copy()
    image[top : top + side, left : left + side] = face
    return image
