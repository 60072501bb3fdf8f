"""Synthetic test videos: a real face photo (scikit-image's astronaut) or no face at all."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from skimage import data as skdata


def astronaut_frame(width: int, height: int) -> np.ndarray:
    """The astronaut photo (a real, frontal face) pasted on a grey canvas of the given size."""
    face = skdata.astronaut()  # 512x512 RGB, face around the upper middle
    canvas = np.full((height, width, 3), 90, dtype=np.uint8)
    h, w = min(height, face.shape[0]), min(width, face.shape[1])
    top, left = (height - h) // 2, (width - w) // 2
    canvas[top : top + h, left : left + w] = face[:h, :w]
    return canvas


def write_clip(
    path: Path,
    frames: list[np.ndarray] | np.ndarray,
    *,
    fps: int = 25,
    codec: str = "libx264",
    rotation: int | None = None,
    gop: int = 12,
) -> Path:
    """Encode RGB frames to `path` (container from the suffix); optional rotation metadata."""
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        first = frames[0]
        stream.width, stream.height = first.shape[1], first.shape[0]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        if rotation is not None:
            stream.metadata["rotate"] = str(rotation)
        for image in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def face_clip(path: Path, *, n_frames: int = 30, width: int = 640, height: int = 512, **kw: object) -> Path:
    """A clip of the astronaut's face drifting slowly, so frames differ."""
    base = astronaut_frame(width, height)
    frames = [np.roll(base, shift=2 * i, axis=1) for i in range(n_frames)]
    return write_clip(path, frames, **kw)  # type: ignore[arg-type]


def noise_clip(path: Path, *, n_frames: int = 30, width: int = 320, height: int = 240) -> Path:
    """A clip with no face in it: smooth colour noise."""
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(n_frames):
        small = rng.integers(0, 255, size=(height // 16, width // 16, 3), dtype=np.uint8)
        frames.append(np.kron(small, np.ones((16, 16, 1), dtype=np.uint8)))
    return write_clip(path, frames)
