"""Reading H.264 access units without decoding them: which frames no other frame refers to.

The seeking sampler skips those when they are not wanted; decoding them could change no other
frame's pixels.
"""

from __future__ import annotations

from av.video.stream import VideoStream


def h264_nal_length_size(stream: VideoStream) -> int | None:
    """Bytes of each NAL length prefix of an H.264 stream in MP4/MKV form (avcC), else None."""
    extradata = stream.codec_context.extradata
    if stream.codec_context.name != "h264" or not extradata or extradata[0] != 1:
        return None  # another codec, or Annex B start codes: no cheap way to read the NALs
    return (extradata[4] & 3) + 1


def is_unreferenced_h264(packet: bytes | memoryview, length_size: int) -> bool:
    """True when every slice of an H.264 access unit has nal_ref_idc 0: no other frame is
    predicted from it, so not decoding it changes no other frame's pixels (H.264 7.4.1)."""
    data, at, slices = memoryview(packet), 0, 0
    while at + length_size < len(data):
        size = int.from_bytes(data[at : at + length_size], "big")
        header = data[at + length_size]
        if header & 0x1F in (1, 5):  # coded slice, non-IDR or IDR
            if header & 0x60:
                return False
            slices += 1
        at += length_size + size
    return slices > 0
