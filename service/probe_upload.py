"""Which probe an upload gets: its first bytes say image (Pillow) or anything else (PyAV)."""

from __future__ import annotations

from pathlib import Path

from contract.media import sniff_file
from contract.settings import Settings
from service.probe import ProbedVideo, probe_video
from service.probe_image import ProbedImage, probe_image


def probe_upload(path: Path, settings: Settings) -> ProbedImage | ProbedVideo:
    """Probe a JPEG, PNG, WebP or GIF as an image, anything else as a video; raise a coded error.

    A GIF goes to the image probe to be refused by name, where the video probe could only say
    its container is not on the list. Bytes no image signature matches are the video probe's to
    judge, so a text file named `.jpg` gets the same answer as any other non-video.
    """
    if sniff_file(path) is None:
        return probe_video(path, settings)
    return probe_image(path, settings)
