"""Generators for the bad-input corpus: each writes one hostile or broken file, small and fast.

Everything is written with PyAV (or by cutting bytes), so the corpus needs no fixtures on disk.
"""

from __future__ import annotations

import struct
from pathlib import Path

import av
import numpy as np
from PIL import Image
from skimage import data as skdata

from tests import media

EIGHT_K = (7680, 4320)
"""An 8K UHD frame: over the default DFDETECT_MAX_PIXELS (3840 x 2160)."""
FOUR_HOURS_MS = 4 * 3600 * 1000
HEADER_BYTES = 4096
"""Bytes of a Matroska file kept by `header_only`: its track header, none of its frames."""


def h264_clip(
    path: Path,
    n_frames: int = 30,
    *,
    size: tuple[int, int] = (128, 96),
    times_ms: list[int] | None = None,
    faststart: bool = False,
) -> Path:
    """An H.264 clip of noise (MP4 or MKV by suffix); explicit frame times; moov up front."""
    rng = np.random.default_rng(7)
    frames = [rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8) for _ in range(n_frames)]
    return media.encode_clip(path, frames, times_ms=times_ms, gop=None, faststart=faststart)


def truncated(source: Path, path: Path, fraction: float) -> Path:
    """The first `fraction` of `source`'s bytes, as an interrupted upload would leave them."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def mp4_boxes(data: bytes) -> list[tuple[bytes, int, int]]:
    """Top-level MP4 boxes as (type, offset, size)."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        boxes.append((kind, offset, size))
        offset += size
    return boxes


def without_moov(source: Path, path: Path) -> Path:
    """`source` with its `moov` box (the index: codecs, sizes, sample tables) cut out."""
    data = source.read_bytes()
    kept = [data[o : o + n] for kind, o, n in mp4_boxes(data) if kind != b"moov"]
    path.write_bytes(b"".join(kept))
    return path


def one_pixel(path: Path, n_frames: int = 3) -> Path:
    """A 1x1 MPEG-4 Part 2 clip in AVI (libx264 needs even sizes; mpeg4 takes 1x1)."""
    return media.encode_clip(path, [np.full((1, 1, 3), 128, np.uint8)] * n_frames, codec="mpeg4")


def eight_k_header(path: Path) -> Path:
    """The first 4 KB of a one-frame 7680x4320 MJPEG Matroska file: an 8K header, no frame.

    Only a probe that reads the limit from the header refuses it as too large; one that decoded
    first would call it truncated.
    """
    full = path.with_suffix(".full.mkv")
    with av.open(str(full), mode="w") as container:
        stream = container.add_stream("mjpeg", rate=25)
        stream.width, stream.height = EIGHT_K
        stream.pix_fmt = "yuvj420p"
        frame = av.VideoFrame(*EIGHT_K, "yuvj420p")
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    path.write_bytes(full.read_bytes()[:HEADER_BYTES])
    full.unlink()
    return path


def four_hours(path: Path) -> Path:
    """Three frames whose timestamps span four hours: a header (and index) that says 4 h."""
    return h264_clip(path, 3, times_ms=[0, 40, FOUR_HOURS_MS])


def jpeg(path: Path) -> Path:
    """A real photo as JPEG (accepted as an image, whatever its name)."""
    Image.fromarray(skdata.astronaut()).save(path, format="JPEG")
    return path


def truncated_jpeg(path: Path) -> Path:
    """A real photo as JPEG cut in half: an image header over bytes that stop."""
    data = jpeg(path).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def gif(path: Path, n_frames: int = 3) -> Path:
    """An animated GIF: a video to FFmpeg, but not an accepted container."""
    frames = [np.full((32, 32, 3), 60 * i, np.uint8) for i in range(n_frames)]
    return media.encode_clip(path, frames, codec="gif", fps=10, pix_fmt="rgb8")


def ffconcat(path: Path, target: str) -> Path:
    """An ffconcat playlist: its demuxer would open `target`, a file the client does not own."""
    path.write_text(f"ffconcat version 1.0\nfile {target}\n")
    return path


def random_bytes(path: Path, size: int = 100_000) -> Path:
    """Seeded random bytes (deterministic: FFmpeg's probe must see the same bytes every run)."""
    path.write_bytes(np.random.default_rng(0).bytes(size))
    return path


def text(path: Path) -> Path:
    """A plain text file."""
    path.write_text("this is not a video\n" * 100)
    return path


def empty(path: Path) -> Path:
    """0 bytes."""
    path.write_bytes(b"")
    return path
