"""Probe an upload with PyAV before it is queued: a decodable video stream within the limits.

Judged by what the demuxer and decoder say, never by the file name or the client's content type.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av

from service.errors import (
    InvalidVideo,
    NoVideoStream,
    ResolutionTooLarge,
    TooManyFrames,
    UnsupportedMedia,
    VideoTooLong,
)
from service.settings import Settings

PROBE_MAX_PACKETS = 200
"""Packets read looking for the first decodable frame before the file is called undecodable."""


def ffmpeg_reason(exc: Exception) -> str:
    """FFmpeg's reason without the server-side path that PyAV puts in the message."""
    return str(getattr(exc, "strerror", None) or type(exc).__name__)


@dataclass(frozen=True)
class ProbedVideo:
    container: str
    codec: str
    width: int
    height: int
    duration_s: float | None
    frames: int | None


def _duration_s(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> float | None:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def probe_video(path: Path, settings: Settings) -> ProbedVideo:
    """Open the file, check container, codec and limits, decode one frame; raise a coded error."""
    try:
        container = av.open(str(path), mode="r", metadata_errors="ignore")
    except (av.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidVideo(f"The upload is not a decodable video: {ffmpeg_reason(exc)}.") from exc
    with container:
        if not container.streams.video:
            raise NoVideoStream("The upload has no video stream (audio only or not a video).")
        stream = container.streams.video[0]
        fmt = container.format.name
        codec = stream.codec_context.name
        if fmt not in settings.allowed_containers:
            raise UnsupportedMedia(
                f"Container `{fmt}` is not accepted; send one of: "
                f"{', '.join(settings.allowed_containers)}."
            )
        if codec not in settings.allowed_codecs:
            raise UnsupportedMedia(
                f"Video codec `{codec}` is not accepted; send one of: "
                f"{', '.join(settings.allowed_codecs)}."
            )
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > settings.max_pixels:
            raise ResolutionTooLarge(
                f"{width}x{height} is over the limit of {settings.max_pixels} pixels a frame "
                "(DFDETECT_MAX_PIXELS); downscale the video."
            )
        duration = _duration_s(container, stream)
        if duration is not None and duration > settings.max_duration_s:
            raise VideoTooLong(
                f"The video lasts {duration:.0f} s; the limit is {settings.max_duration_s:.0f} s "
                "(DFDETECT_MAX_DURATION_S). Cut it into shorter clips."
            )
        frames = stream.frames or None
        if frames is not None and frames > settings.max_frames:
            raise TooManyFrames(
                f"The video has {frames} frames; the limit is {settings.max_frames} "
                "(DFDETECT_MAX_FRAMES)."
            )
        _decode_first_frame(container, stream)
    return ProbedVideo(fmt, codec, width, height, duration, frames)


def _decode_first_frame(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream
) -> None:
    try:
        for count, packet in enumerate(container.demux(stream)):
            for _ in packet.decode():
                return
            if count >= PROBE_MAX_PACKETS:
                break
    except (av.FFmpegError, ValueError) as exc:
        raise InvalidVideo(f"The video stream cannot be decoded: {ffmpeg_reason(exc)}.") from exc
    raise InvalidVideo("No frame of the video stream could be decoded (truncated or corrupt).")
