"""Probe a still-image upload (JPEG, PNG, WebP) with Pillow before it is queued.

The format comes from the file's magic bytes (contract/media.py), never its name or content type.
Every limit is checked on the header's size before a pixel is decoded, then the whole image is
decoded once, because a truncated file has a perfectly good header.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image, UnidentifiedImageError

from contract.errors import InvalidImage, ResolutionTooLarge, UnsupportedMedia
from contract.media import (
    FORMAT_NAMES,
    PILLOW_DECODE_ERRORS,
    PILLOW_PLUGINS,
    ImageFormat,
    exif_rotation,
    sniff_file,
)
from contract.settings import Settings
from service.probe import check_size


@dataclass(frozen=True)
class ProbedImage:
    """What the probe learned about an accepted image: its size as shown (EXIF applied)."""

    format: ImageFormat
    width: int
    height: int


def probe_image(path: Path, settings: Settings) -> ProbedImage:
    """Sniff the format, check the header's size against the limits, decode; raise a coded error."""
    fmt = sniff_file(path)
    if fmt == "gif":
        raise UnsupportedMedia("GIF is not accepted: send a JPEG, PNG or WebP image, or a video.")
    if fmt is None:
        raise UnsupportedMedia("The upload is not a JPEG, PNG or WebP image.")
    name = FORMAT_NAMES[fmt]
    try:
        image = Image.open(path, formats=[PILLOW_PLUGINS[fmt]])
    except Image.DecompressionBombError as exc:
        # Pillow's own ceiling (2 x Image.MAX_IMAGE_PIXELS), met only when an operator sets
        # DFDETECT_MAX_IMAGE_PIXELS above it. Its warning (past 1x) is left to the log: the
        # check below, not Pillow's, decides, and catching it would mean flipping the
        # process-wide warning filters from a thread of the pool.
        raise ResolutionTooLarge(
            f"The {name} image is larger than the decoder accepts; downscale the image."
        ) from exc
    except PILLOW_DECODE_ERRORS as exc:
        raise _undecodable(name, exc, path) from exc
    with image:
        width, height = image.size
        # Turning the image upright changes neither its pixel count nor its shorter side, so
        # the header's size (before EXIF orientation) is checked as it is.
        check_size(
            width, height, settings, settings.max_image_pixels, "DFDETECT_MAX_IMAGE_PIXELS", "image"
        )
        # Refused, not cut to its first frame: a verdict on one frame of an animation would pass
        # for a verdict on all of it. A multi-picture JPEG (MPO, a phone's depth or stereo
        # pair) is a photo with extras, so only PNG (APNG) and WebP are asked.
        if fmt != "jpeg" and getattr(image, "is_animated", False):
            raise UnsupportedMedia(
                f"An animated {name} is not accepted: send one still image (JPEG, PNG or WebP), "
                "or the animation as a video."
            )
        try:
            image.load()
            orientation = image.getexif().get(ExifTags.Base.Orientation)
        except PILLOW_DECODE_ERRORS as exc:
            raise _undecodable(name, exc, path) from exc
    if exif_rotation(orientation) in (90, 270):
        width, height = height, width
    return ProbedImage(fmt, width, height)


def _undecodable(name: str, exc: Exception, path: Path) -> InvalidImage:
    # Pillow names the file in some messages (all of UnidentifiedImageError's): that is the
    # server's path, which the client must not see.
    if isinstance(exc, UnidentifiedImageError):
        reason = "its header cannot be read"
    else:
        reason = str(exc) if str(path) not in str(exc) else type(exc).__name__
    return InvalidImage(
        f"The file starts as a {name} image but cannot be decoded ({reason}): it is truncated "
        f"or corrupt. Send the whole file, or save it again as {name}."
    )
