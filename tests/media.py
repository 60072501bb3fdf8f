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


def face_clip(path: Path, *, n_frames: int = 30, width: int = 640, height: int = 512) -> Path:
    """A clip of the astronaut's face drifting slowly, so frames differ."""
    base = astronaut_frame(width, height)
    return encode_clip(path, [np.roll(base, shift=2 * i, axis=1) for i in range(n_frames)])


def noise_clip(path: Path, *, n_frames: int = 30, width: int = 320, height: int = 240) -> Path:
    """A clip with no face in it: smooth colour noise."""
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(n_frames):
        small = rng.integers(0, 255, size=(height // 16, width // 16, 3), dtype=np.uint8)
        frames.append(np.kron(small, np.ones((16, 16, 1), dtype=np.uint8)))
    return encode_clip(path, frames)


NUMBER_BITS = 9
"""Bits numbered_frames draws: indices up to 511."""
NUMBER_BLOCK = 16
"""Side of one bit's square, pixels: large enough to survive lossy coding."""


def numbered_frames(n_frames: int, width: int = 160, height: int = 64) -> list[np.ndarray]:
    """Grey frames that carry their index as a row of black/white squares along the top."""
    frames = []
    for index in range(n_frames):
        image = np.full((height, width, 3), 128, dtype=np.uint8)
        for bit in range(NUMBER_BITS):
            value = 255 if index >> bit & 1 else 0
            image[:NUMBER_BLOCK, bit * NUMBER_BLOCK : (bit + 1) * NUMBER_BLOCK] = value
        frames.append(image)
    return frames


def read_number(image: np.ndarray) -> int:
    """The index numbered_frames drew into a (decoded, upright) frame."""
    centre = NUMBER_BLOCK // 2
    bits = [image[centre, bit * NUMBER_BLOCK + centre].mean() > 127 for bit in range(NUMBER_BITS)]
    return sum(1 << bit for bit, on in enumerate(bits) if on)


def encode_clip(
    path: Path,
    frames: list[np.ndarray],
    *,
    codec: str = "libx264",
    fps: int = 25,
    times_ms: list[int] | None = None,
    rotate: int = 0,
    pix_fmt: str = "yuv420p",
    gop: int | None = 12,
    faststart: bool = False,
) -> Path:
    """Encode RGB frames (container from the suffix; H.264 unless `codec` says otherwise), with
    optional explicit frame times (variable frame rate), a display-matrix rotation (clockwise
    degrees, what a phone's `rotate` tag means; FFmpeg 7 muxers ignore that tag), another pixel
    format, the encoder's own keyframe interval (`gop=None`) or the index up front."""
    options = {"movflags": "faststart"} if faststart else {}
    with av.open(str(path), mode="w", options=options) as container:
        stream = container.add_stream(codec, rate=Fraction(fps))
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = pix_fmt
        if gop is not None:
            stream.codec_context.gop_size = gop
        if times_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotate:
            stream.set_display_rotation(-rotate)  # PyAV takes counter-clockwise degrees
        for i, image in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
            if times_ms is not None:
                frame.pts, frame.time_base = times_ms[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def audio_only_clip(path: Path, *, seconds: float = 0.5) -> Path:
    """An AAC file with no video stream."""
    rate, samples = 44100, 1024
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("aac", rate=rate)
        for i in range(int(seconds * rate / samples)):
            tone = np.sin(np.arange(samples) * 0.05, dtype=np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = rate, i * samples
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
