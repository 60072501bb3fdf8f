"""Probe an upload with PyAV before it is queued: a decodable video stream within the limits.

Judged by what the demuxer and decoder say, never by the file name or the client's content type.
"""

from __future__ import annotations

import errno
from dataclasses import dataclass
from pathlib import Path

import av

from contract.errors import (
    InvalidVideo,
    NoVideoStream,
    ResolutionTooLarge,
    ResolutionTooSmall,
    TooFewFrames,
    TooManyFrames,
    UnsupportedMedia,
    VideoTooLong,
)
from contract.settings import Settings

PROBE_MAX_PACKETS = 200
"""Packets read looking for the first decodable frames before the file is called undecodable."""


def ffmpeg_reason(exc: Exception) -> str:
    """FFmpeg's reason without the server-side path that PyAV puts in the message."""
    return str(getattr(exc, "strerror", None) or type(exc).__name__)


def open_options(settings: Settings) -> dict[str, str]:
    """FFmpeg options that hold the demuxer to the allow-list while it opens the file.

    Checking the format after `av.open` would be too late: a playlist (HLS, ffconcat) makes its
    demuxer open the files it names during the open itself.
    """
    return {"format_whitelist": ",".join(settings.allowed_containers), "protocol_whitelist": "file"}


@dataclass(frozen=True)
class ProbedVideo:
    """What the probe learned about an accepted upload."""

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


def _frame_count(stream: av.video.stream.VideoStream, duration: float | None) -> int | None:
    """The header's frame count or, where the container keeps none (Matroska), duration x rate."""
    if stream.frames:
        return int(stream.frames)
    if duration is not None and stream.average_rate:
        return round(duration * float(stream.average_rate))
    return None


def _open(path: Path, settings: Settings) -> av.container.InputContainer:
    try:
        return av.open(
            str(path), mode="r", metadata_errors="ignore", options=open_options(settings)
        )
    except av.FFmpegError as exc:
        if getattr(exc, "errno", None) == errno.EINVAL:
            # FFmpeg's answer to a demuxer outside format_whitelist (a JPEG, a GIF, a playlist).
            raise UnsupportedMedia(
                "The upload is not in an accepted container; send MP4, MOV, MKV, WebM, AVI or "
                "MPEG-TS video."
            ) from exc
        raise InvalidVideo(f"The upload is not a decodable video: {ffmpeg_reason(exc)}.") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidVideo(f"The upload is not a decodable video: {ffmpeg_reason(exc)}.") from exc


def probe_video(path: Path, settings: Settings) -> ProbedVideo:
    """Open the file, check container, codec and limits, decode a few frames; raise a coded error.

    Every limit read from the header (size, duration, frame count) is checked before a frame is
    decoded, so a header that claims 8K or four hours costs nothing.
    """
    with _open(path, settings) as container:
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
        check_size(width, height, settings, settings.max_pixels, "DFDETECT_MAX_PIXELS", "video")
        duration = _duration_s(container, stream)
        if duration is not None and duration > settings.max_duration_s:
            raise VideoTooLong(
                f"The video lasts {duration:.0f} s; the limit is {settings.max_duration_s:.0f} s "
                "(DFDETECT_MAX_DURATION_S). Cut it into shorter clips."
            )
        frames = _frame_count(stream, duration)
        if frames is not None and frames > settings.max_frames:
            raise TooManyFrames(
                f"The video has {frames} frames; the limit is {settings.max_frames} "
                "(DFDETECT_MAX_FRAMES)."
            )
        _decode_first_frames(container, stream, settings.min_frames)
    return ProbedVideo(fmt, codec, width, height, duration, frames)


def check_size(
    width: int, height: int, settings: Settings, max_pixels: int, setting: str, what: str
) -> None:
    """A frame (or image) within `max_pixels` (the setting named) and large enough for a face."""
    if width * height > max_pixels:
        noun = "a frame" if what == "video" else f"an {what}"
        raise ResolutionTooLarge(
            f"{width}x{height} is over the limit of {max_pixels} pixels {noun} "
            f"({setting}); downscale the {what}."
        )
    if min(width, height) < settings.min_side_px:
        raise ResolutionTooSmall(
            f"{width}x{height} is too small to hold a face: each side needs at least "
            f"{settings.min_side_px} px (DFDETECT_MIN_SIDE_PX)."
        )


def _decode_first_frames(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, wanted: int
) -> None:
    """Decode `wanted` frames: the frames are real, whatever the header says about them."""
    decoded = 0
    try:
        for count, packet in enumerate(container.demux(stream)):
            decoded += len(packet.decode())
            if decoded >= wanted:
                return
            if count >= PROBE_MAX_PACKETS:
                break
    except (av.FFmpegError, ValueError) as exc:
        raise InvalidVideo(
            f"The video stream cannot be decoded after {decoded} frame(s): {ffmpeg_reason(exc)}."
        ) from exc
    if decoded == 0:
        raise InvalidVideo("No frame of the video stream could be decoded (truncated or corrupt).")
    raise TooFewFrames(
        f"Only {decoded} frame(s) could be decoded; a video needs at least {wanted} "
        "(DFDETECT_MIN_FRAMES). Send a longer video, or a single picture as JPEG, PNG or WebP."
    )
