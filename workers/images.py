"""A still image (JPEG, PNG, WebP) as a one-frame `SampledVideo`, upright as a viewer shows it.

The API has probed the upload already (service/probe_image.py); this only decodes it, so the rest
of the pipeline (faces, crops, scores) runs on an image exactly as on a video's frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, ImageOps

from contract.digest import file_sha256
from contract.errors import InvalidImage
from contract.media import (
    FORMAT_NAMES,
    PILLOW_DECODE_ERRORS,
    PILLOW_PLUGINS,
    exif_rotation,
    sniff_file,
)
from contract.result import VideoInfo
from workers.sampling import SampledFrame, SampledVideo


def load_image(path: Path, *, sha256: str | None = None) -> SampledVideo:
    """Decode the image, apply its EXIF orientation, return it as frame 0 of a 1-frame video.

    `sha256` saves hashing the file again when the caller knows it already.
    """
    fmt = sniff_file(path)
    if fmt is None or fmt == "gif":
        raise InvalidImage("The file is not a JPEG, PNG or WebP image.")
    try:
        with Image.open(path, formats=[PILLOW_PLUGINS[fmt]]) as image:
            image.load()  # everything decoded here, so a truncated file fails in this `try`
            rotation = exif_rotation(image.getexif().get(ExifTags.Base.Orientation))
            pixels = np.array(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.uint8)
    except PILLOW_DECODE_ERRORS as exc:
        # Not str(exc): Pillow's messages can name the file, a server path.
        raise InvalidImage(
            f"The {FORMAT_NAMES[fmt]} image cannot be decoded ({type(exc).__name__}): it is "
            "truncated or corrupt."
        ) from exc
    height, width = pixels.shape[:2]
    info = VideoInfo(
        duration_s=0.0,
        fps=0.0,
        width=width,
        height=height,
        frame_count=1,
        rotation=rotation,
        codec=fmt,
        sha256=sha256 or file_sha256(path),
    )
    # No sequences: a sequence is consecutive frames, and an image has one.
    return SampledVideo(
        info=info,
        frames=[SampledFrame(index=0, timestamp_s=0.0, image=pixels)],
        sequences=[],
        image=True,
    )
