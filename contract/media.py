"""What kind of still image an upload is, from its first bytes (never its name or content type).

The API sends an image to the image probe and everything else to the video probe; the worker
needs the same answer to pick its loader, so the sniffing, and what an EXIF orientation means,
live here, torch-free and dependency-free.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

ImageFormat = Literal["jpeg", "png", "webp"]
"""The still-image formats accepted as uploads."""

SniffedFormat = ImageFormat | Literal["gif"]
"""What `sniff_image` can recognise: the accepted formats and GIF, which is refused by name."""

SNIFF_BYTES = 16
"""Bytes of the file's head that `sniff_image` needs (WebP's signature ends at byte 12)."""

FORMAT_NAMES: dict[ImageFormat, str] = {"jpeg": "JPEG", "png": "PNG", "webp": "WebP"}
"""Each format as a person writes it, for messages."""

PILLOW_PLUGINS: dict[ImageFormat, str] = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
"""Pillow's plugin for each format: the one it may try (`Image.open(formats=...)`), so bytes
sniffed as one format are never parsed by another plugin."""

PILLOW_DECODE_ERRORS: tuple[type[Exception], ...] = (OSError, SyntaxError, ValueError, EOFError)
"""What Pillow raises on truncated or corrupt data (its UnidentifiedImageError is an OSError)."""

EXIF_ROTATION: dict[int, int] = {1: 0, 2: 0, 3: 180, 4: 180, 5: 270, 6: 90, 7: 90, 8: 270}
"""Clockwise degrees that EXIF orientation 1-8 turns the stored pixels to show them upright.

2, 4, 5 and 7 also mirror the pixels (mirror first, then this turn, as exiftool names them);
only the turn is counted. 5-8 are quarter turns: the upright image swaps width and height.
"""

_JPEG = b"\xff\xd8\xff"  # SOI followed by the first marker's 0xFF
_PNG = b"\x89PNG\r\n\x1a\n"
_GIFS = (b"GIF87a", b"GIF89a")


def sniff_image(head: bytes) -> SniffedFormat | None:
    """The image format whose signature `head` starts with; None: not one we know (a video?)."""
    if head.startswith(_JPEG):
        return "jpeg"
    if head.startswith(_PNG):
        return "png"
    # RIFF <4-byte little-endian size> WEBP: RIFF alone is also AVI's and WAV's container.
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(_GIFS):
        return "gif"
    return None


def sniff_file(path: Path) -> SniffedFormat | None:
    """`sniff_image` of the first SNIFF_BYTES of the file."""
    with path.open("rb") as handle:
        return sniff_image(handle.read(SNIFF_BYTES))


def exif_rotation(orientation: int | None) -> int:
    """EXIF_ROTATION of an orientation tag, 0 for a missing or out-of-range one."""
    return EXIF_ROTATION.get(orientation or 1, 0)
