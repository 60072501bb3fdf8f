"""Degraded copies of a clip for evaluation: JPEG artefacts, half resolution, half frame rate.

The DFDC test videos were re-encoded, downscaled and frame-dropped on purpose; the 15th place
trained against exactly these (DESIGN.md, augmentations). Each copy is decoded and re-encoded
frame by frame with PyAV (H.264, near-lossless), so only the degradation asked for is added.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from contract.errors import InvalidVideo
from workers.sampling import upright

AUGMENTATIONS = ("jpeg", "downscale", "halffps")
"""Degradations `dfdetect evaluate --augment` knows."""
EVAL_JPEG_QUALITY = 40
"""JPEG quality of the `jpeg` copy: inside the 15th-place training range 20-70."""
DOWNSCALE_FACTOR = 0.5
"""`downscale` halves both sides (area interpolation)."""
X264_OPTIONS = {"crf": "18", "preset": "veryfast"}
"""Near-lossless H.264, so the re-encode itself adds little beyond the degradation."""
FALLBACK_RATE = Fraction(25)
"""Frame rate written when the source states none."""


def parse_augmentations(text: str | None) -> list[str]:
    """`jpeg,downscale,halffps` -> the list, refusing unknown names."""
    if not text:
        return []
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = sorted(set(names) - set(AUGMENTATIONS))
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}; choose from {list(AUGMENTATIONS)}")
    return list(dict.fromkeys(names))


def _degrade(image: np.ndarray, augmentation: str) -> np.ndarray:
    if augmentation == "jpeg":
        ok, data = cv2.imencode(
            ".jpg",
            cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
            [cv2.IMWRITE_JPEG_QUALITY, EVAL_JPEG_QUALITY],
        )
        if not ok:
            raise ValueError("JPEG encoding failed")
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError("JPEG decoding failed")
        decoded: np.ndarray = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        return decoded
    if augmentation == "downscale":
        height, width = image.shape[:2]
        size = (max(2, round(width * DOWNSCALE_FACTOR)), max(2, round(height * DOWNSCALE_FACTOR)))
        resized: np.ndarray = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        return resized
    return image


def reencode(src: Path, dst: Path, augmentation: str) -> Path:
    """Write a degraded H.264 copy of `src` to `dst` (upright; audio dropped)."""
    if augmentation not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {augmentation!r}")
    try:
        with av.open(str(src)) as source, av.open(str(dst), mode="w") as target:
            video = source.streams.video[0]
            rate = Fraction(video.average_rate or video.guessed_rate or FALLBACK_RATE)
            keep_every = 2 if augmentation == "halffps" else 1
            out = target.add_stream("libx264", rate=rate / keep_every, options=X264_OPTIONS)
            out.pix_fmt = "yuv420p"
            written = 0
            for number, frame in enumerate(source.decode(video)):
                if number % keep_every:
                    continue
                image = _degrade(upright(frame)[0], augmentation)
                # yuv420p needs even sides: drop a last odd row or column.
                height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
                if not written:  # the stream's size is fixed by its first frame
                    out.width, out.height = width, height
                picture = av.VideoFrame.from_ndarray(
                    np.ascontiguousarray(image[:height, :width]), format="rgb24"
                )
                target.mux(out.encode(picture))
                written += 1
            if not written:
                raise InvalidVideo(f"{src.name} has no decodable frame to re-encode")
            target.mux(out.encode())
    except (av.FFmpegError, IndexError) as exc:
        raise InvalidVideo(f"{src.name} could not be re-encoded for {augmentation}: {exc}") from exc
    return dst
