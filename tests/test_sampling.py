"""Frame sampling: the 15th-place indices, exact frames by seeking, and what real files do."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np
import pytest

from contract.digest import file_sha256
from contract.errors import InvalidVideo, NoVideoStream
from tests import media
from workers.sampling import SampledVideo, sample_frames, sequence_starts

# 15th place: 10 sequences of 5 consecutive frames.
N, L = 10, 5
EXPECTED_300 = [start + k for start in range(0, 300, 30) for k in range(L)]
"""Indices sampled from a 300-frame clip: starts 0, 30, ..., 270."""


@pytest.fixture(scope="module")
def numbered_300(clips_tmp: Path) -> Path:
    """300 frames at 25 fps, a keyframe every 12, B-frames: each frame shows its index."""
    return media.encode_clip(clips_tmp / "numbered_300.mp4", media.numbered_frames(300))


@pytest.fixture(scope="module")
def sampled_300(numbered_300: Path) -> SampledVideo:
    return sample_frames(numbered_300, N, L)


def _indices(video: SampledVideo) -> list[int]:
    return [frame.index for frame in video.frames]


def test_starts_of_a_300_frame_clip_are_every_30th_frame() -> None:
    assert sequence_starts(300, N, L) == list(range(0, 300, 30))


def test_starts_of_a_50_frame_clip_leave_the_gap_rounded_up() -> None:
    # end = 45, gap = ceil(45 / 10) = 5: nine sequences, as the 15th-place code gives.
    assert sequence_starts(50, N, L) == [0, 5, 10, 15, 20, 25, 30, 35, 40]


@pytest.mark.parametrize("frame_count", [1, 4, 5])
def test_a_clip_no_longer_than_a_sequence_gives_one_sequence(frame_count: int) -> None:
    assert sequence_starts(frame_count, N, L) == [0]


def test_more_sequences_than_room_gives_overlapping_sequences_a_frame_apart() -> None:
    assert sequence_starts(8, N, L) == [0, 1, 2]


def test_fifty_frames_with_exact_indices_and_timestamps(sampled_300: SampledVideo) -> None:
    assert _indices(sampled_300) == EXPECTED_300
    assert [f.timestamp_s for f in sampled_300.frames] == pytest.approx(
        [i / 25 for i in EXPECTED_300]
    )
    assert [media.read_number(f.image) for f in sampled_300.frames] == EXPECTED_300


def test_sequences_list_consecutive_frame_indices(sampled_300: SampledVideo) -> None:
    assert sampled_300.sequences == [list(range(s, s + L)) for s in range(0, 300, 30)]


def test_video_facts_are_counted(sampled_300: SampledVideo) -> None:
    info = sampled_300.info
    assert (info.frame_count, info.width, info.height, info.rotation) == (300, 160, 64, 0)
    assert (info.duration_s, info.fps, info.codec) == (pytest.approx(12.0), 25.0, "h264")


def test_frames_are_rgb_uint8(sampled_300: SampledVideo) -> None:
    image = sampled_300.frames[0].image
    assert (image.shape, image.dtype) == ((64, 160, 3), np.uint8)


def test_seeking_and_sequential_decoding_give_identical_frames(
    numbered_300: Path, sampled_300: SampledVideo
) -> None:
    sequential = sample_frames(numbered_300, N, L, decode="sequential")
    assert _indices(sequential) == _indices(sampled_300)
    for a, b in zip(sequential.frames, sampled_300.frames, strict=True):
        assert np.array_equal(a.image, b.image), a.index


def test_sha256_is_computed_or_taken_as_given(numbered_300: Path) -> None:
    assert file_sha256(numbered_300) == hashlib.sha256(numbered_300.read_bytes()).hexdigest()
    assert sample_frames(numbered_300, 1, 1, sha256="abc").info.sha256 == "abc"


def test_a_header_without_a_frame_count_is_counted(clips_tmp: Path) -> None:
    # Matroska stores no frame count: the header says 0.
    path = media.encode_clip(clips_tmp / "no_count.mkv", media.numbered_frames(40))
    video = sample_frames(path, 2, 3)
    assert video.info.frame_count == 40
    assert [media.read_number(f.image) for f in video.frames] == [0, 1, 2, 19, 20, 21]


def test_a_header_with_a_wrong_frame_count_is_ignored(clips_tmp: Path) -> None:
    path = media.encode_clip(clips_tmp / "wrong.avi", media.numbered_frames(40), codec="mpeg4")
    data = bytearray(path.read_bytes())
    # AVI keeps the count twice: avih dwTotalFrames and the stream's strh dwLength.
    struct.pack_into("<I", data, data.find(b"avih") + 8 + 16, 999)
    struct.pack_into("<I", data, data.find(b"strh") + 8 + 32, 999)
    path.write_bytes(bytes(data))
    video = sample_frames(path, 2, 3)
    assert video.info.frame_count == 40
    assert [media.read_number(f.image) for f in video.frames] == _indices(video)


def test_packets_without_timestamps_are_indexed_in_decode_order(clips_tmp: Path) -> None:
    # A raw H.264 elementary stream has no container timestamps at all.
    path = media.encode_clip(clips_tmp / "raw.h264", media.numbered_frames(40))
    video = sample_frames(path, 2, 3)
    assert (video.info.frame_count, _indices(video)) == (40, [0, 1, 2, 19, 20, 21])
    assert [media.read_number(f.image) for f in video.frames] == _indices(video)
    assert video.frames[3].timestamp_s == pytest.approx(19 / 25)


def test_variable_frame_rate_keeps_each_frames_own_time(clips_tmp: Path) -> None:
    times_ms = [0, 40, 80, 200, 240, 400, 440, 460, 480, 1000, 1040, 1500]
    frames = media.numbered_frames(len(times_ms))
    path = media.encode_clip(clips_tmp / "vfr.mp4", frames, times_ms=times_ms)
    video = sample_frames(path, 3, 2)  # end = 10, gap = 4: starts 0, 4, 8
    assert (video.info.frame_count, _indices(video)) == (12, [0, 1, 4, 5, 8, 9])
    assert [f.timestamp_s for f in video.frames] == pytest.approx([0, 0.04, 0.24, 0.4, 0.48, 1.0])
    assert [media.read_number(f.image) for f in video.frames] == _indices(video)


@pytest.mark.parametrize("rotate", [90, 180, 270])
def test_a_rotated_phone_video_comes_out_upright(clips_tmp: Path, rotate: int) -> None:
    source = media.numbered_frames(6, width=192, height=96)
    path = media.encode_clip(clips_tmp / f"rot{rotate}.mp4", source, rotate=rotate)
    video = sample_frames(path, 1, 6)
    upright = np.rot90(source[3], -rotate // 90)  # the tag is clockwise; rot90 turns anticlockwise
    assert video.info.rotation == rotate
    assert (video.info.width, video.info.height) == (upright.shape[1], upright.shape[0])
    assert np.abs(video.frames[3].image.astype(int) - upright).mean() < 3


def test_a_clip_shorter_than_a_sequence_gives_the_frames_there_are(clips_tmp: Path) -> None:
    path = media.encode_clip(clips_tmp / "three.mp4", media.numbered_frames(3))
    video = sample_frames(path, N, L)
    assert (_indices(video), video.sequences) == ([0, 1, 2], [[0, 1, 2]])


def test_odd_frame_sizes_are_kept(clips_tmp: Path) -> None:
    frames = media.numbered_frames(4, width=161, height=63)
    path = media.encode_clip(clips_tmp / "odd.mp4", frames, pix_fmt="yuv444p")
    video = sample_frames(path, 1, 2)
    assert video.frames[0].image.shape == (63, 161, 3)
    assert (video.info.width, video.info.height) == (161, 63)


def test_a_truncated_file_without_its_index_is_invalid(numbered_300: Path, tmp_path: Path) -> None:
    path = tmp_path / "truncated.mp4"  # the moov atom (the index) is at the end: cut off
    path.write_bytes(numbered_300.read_bytes()[: numbered_300.stat().st_size // 2])
    with pytest.raises(InvalidVideo, match="cannot be opened"):
        sample_frames(path, N, L)


def test_a_truncated_file_with_its_index_first_gives_the_frames_before_the_cut(
    clips_tmp: Path, tmp_path: Path
) -> None:
    whole = media.encode_clip(
        clips_tmp / "faststart.mp4", media.numbered_frames(300), faststart=True
    )
    path = tmp_path / "cut.mp4"
    path.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    video = sample_frames(path, N, L)
    assert 0 < len(video.frames) < N * L
    assert [media.read_number(f.image) for f in video.frames] == _indices(video)
    assert all(seq == list(range(seq[0], seq[0] + len(seq))) for seq in video.sequences)


def test_a_text_file_named_mp4_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "notes.mp4"
    path.write_text("not a video\n" * 100)
    with pytest.raises(InvalidVideo):
        sample_frames(path, N, L)


def test_an_empty_file_is_invalid(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.write_bytes(b"")
    with pytest.raises(InvalidVideo):
        sample_frames(path, N, L)


def test_an_audio_only_file_has_no_video_stream(tmp_path: Path) -> None:
    with pytest.raises(NoVideoStream, match="no video stream"):
        sample_frames(media.audio_only_clip(tmp_path / "voice.m4a"), N, L)


@pytest.fixture(scope="module")
def dfdc_1080p(videos_dir: Path) -> tuple[SampledVideo, SampledVideo]:
    """A DFDC training clip (1920x1080, 300 frames, AAC audio) decoded both ways."""
    path = videos_dir / "abqwwspghj.mp4"
    return sample_frames(path, N, L), sample_frames(path, N, L, decode="sequential")


@pytest.mark.clips
def test_a_1080p_clip_with_audio_gives_50_full_size_frames(
    dfdc_1080p: tuple[SampledVideo, SampledVideo],
) -> None:
    video = dfdc_1080p[0]
    assert (video.info.frame_count, video.info.width, video.info.height) == (300, 1920, 1080)
    assert _indices(video) == EXPECTED_300
    assert video.frames[5].timestamp_s == pytest.approx(30 * 100 / 2997)


@pytest.mark.clips
def test_seeking_matches_sequential_decoding_on_a_real_1080p_clip(
    dfdc_1080p: tuple[SampledVideo, SampledVideo],
) -> None:
    seek, sequential = dfdc_1080p
    assert _indices(seek) == _indices(sequential)
    for a, b in zip(seek.frames, sequential.frames, strict=True):
        assert np.array_equal(a.image, b.image), a.index


@pytest.mark.clips
@pytest.mark.parametrize(
    ("name", "frame_count", "size"),
    [("talking_head_d13.mp4", 352, (720, 1280)), ("crop_0_aaqaifqrwn_0_0.mp4", 149, (256, 256))],
)
def test_real_clips_give_their_frame_count_and_size(
    videos_dir: Path, name: str, frame_count: int, size: tuple[int, int]
) -> None:
    video = sample_frames(videos_dir / name, N, L)
    assert (video.info.frame_count, (video.info.width, video.info.height)) == (frame_count, size)
    assert len(video.frames) == N * L
    assert video.frames[0].image.shape == (size[1], size[0], 3)
