"""Still images as uploads: sniffed by their bytes, probed before decoding, loaded upright.

Real files only: Pillow writes each image into tmp_path, the shared photo is the real one, and
the API tests post through the real app to a real Redis.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from contract.errors import (
    DfdetectError,
    InvalidImage,
    ResolutionTooLarge,
    ResolutionTooSmall,
    UnsupportedMedia,
)
from contract.media import SNIFF_BYTES, sniff_file, sniff_image
from contract.settings import Settings
from service.app import create_app
from service.probe import probe_video
from service.probe_image import ProbedImage, probe_image
from service.probe_upload import probe_upload
from tests.fault_helpers import assert_error, post_file, stored_files
from workers.images import load_image

FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}
"""Our name of each accepted format -> Pillow's, to write test files."""

WIDTH, HEIGHT = 80, 48
"""A landscape size, so a quarter turn shows in the shape."""


@pytest.fixture(scope="module")
def plain() -> Settings:
    """Default limits without Redis: the probes read nothing else."""
    return Settings(_env_file=None)  # type: ignore[call-arg]


def picture(width: int = WIDTH, height: int = HEIGHT) -> Image.Image:
    """A smooth gradient (it compresses like a photo, unlike noise), RGB."""
    x = np.linspace(0, 255, width, dtype=np.uint8)[None, :, None]
    y = np.linspace(0, 255, height, dtype=np.uint8)[:, None, None]
    pixels = (
        np.broadcast_to(x, (height, width, 3)) // 2 + np.broadcast_to(y, (height, width, 3)) // 2
    )
    return Image.fromarray(np.ascontiguousarray(pixels))


def write(path: Path, fmt: str = "jpeg", **options: object) -> Path:
    picture().save(path, format=FORMATS.get(fmt, fmt.upper()), **options)
    return path


def half_of(path: Path, out: Path) -> Path:
    data = path.read_bytes()
    out.write_bytes(data[: len(data) // 2])
    return out


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A PNG whose IHDR claims width x height, then one IDAT chunk of a few zlib bytes.

    Valid up to the pixels (signature, chunk CRCs), so it opens; anything that decodes it fails.
    A probe that answers `resolution_too_large`, not `invalid_image`, has not decoded it.
    """

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    idat = zlib.compress(b"\0" * 64)  # the first bytes of row 0, far short of the image
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat))
    return path


def rotated_jpeg(path: Path) -> Path:
    """A landscape JPEG with EXIF orientation 6: shown upright it is portrait (turned 90 CW)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return write(path, "jpeg", exif=exif)


# --- sniffing ---


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_each_accepted_format_is_sniffed_from_its_bytes(fmt: str, tmp_path: Path) -> None:
    # Named .bin: the bytes decide, not the name.
    path = write(tmp_path / "upload.bin", fmt)
    assert sniff_file(path) == fmt
    assert sniff_image(path.read_bytes()[:SNIFF_BYTES]) == fmt


def test_gif_is_sniffed_as_gif_and_text_as_nothing(tmp_path: Path) -> None:
    assert sniff_file(write(tmp_path / "a.jpg", "gif")) == "gif"
    assert sniff_image(b"GIF87a" + b"\0" * 10) == "gif"
    text = tmp_path / "notes.jpg"
    text.write_text("this is not an image\n")
    assert sniff_file(text) is None
    assert sniff_image(b"") is None


def test_riff_is_webp_only_with_the_webp_tag() -> None:
    # AVI and WAV are RIFF too: they must go on to the video probe.
    assert sniff_image(b"RIFF\x10\x00\x00\x00AVI LIST") is None
    assert sniff_image(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "webp"


# --- the probe ---


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_probe_accepts_each_format_and_reports_its_size(
    fmt: str, tmp_path: Path, plain: Settings
) -> None:
    path = write(tmp_path / "upload.bin", fmt)
    assert probe_image(path, plain) == ProbedImage(fmt, WIDTH, HEIGHT)
    assert probe_upload(path, plain) == ProbedImage(fmt, WIDTH, HEIGHT)


def test_probe_reports_the_upright_size_of_a_rotated_jpeg(tmp_path: Path, plain: Settings) -> None:
    path = rotated_jpeg(tmp_path / "portrait.jpg")
    assert probe_image(path, plain) == ProbedImage("jpeg", HEIGHT, WIDTH)


def test_gif_is_refused_by_name(tmp_path: Path, plain: Settings) -> None:
    gif = write(tmp_path / "anim.mp4", "gif")
    for probe in (probe_image, probe_upload):
        with pytest.raises(UnsupportedMedia, match="GIF is not accepted"):
            probe(gif, plain)


def test_animated_webp_is_refused(tmp_path: Path, plain: Settings) -> None:
    path = tmp_path / "anim.webp"
    first, second = picture(), picture().transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    first.save(path, format="WEBP", save_all=True, append_images=[second])
    with pytest.raises(UnsupportedMedia, match="animated WebP"):
        probe_upload(path, plain)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_an_image_cut_in_half_is_invalid_image(fmt: str, tmp_path: Path, plain: Settings) -> None:
    cut = half_of(write(tmp_path / "whole", fmt), tmp_path / "cut")
    with pytest.raises(InvalidImage, match="truncated or corrupt") as raised:
        probe_upload(cut, plain)
    assert str(tmp_path) not in raised.value.message, "the server's path leaked"


def test_text_named_jpg_gets_the_video_probe_answer(tmp_path: Path, plain: Settings) -> None:
    text = tmp_path / "photo.jpg"
    text.write_text("this is not an image\n" * 100)
    with pytest.raises(DfdetectError) as by_video:
        probe_video(text, plain)
    with pytest.raises(DfdetectError) as by_upload:
        probe_upload(text, plain)
    assert type(by_upload.value) is type(by_video.value)
    assert not isinstance(by_upload.value, InvalidImage)


def test_header_over_the_pixel_limit_is_refused_before_decoding(
    tmp_path: Path, plain: Settings
) -> None:
    # 8000 x 8000 = 64 M: past our 50 M, short of Pillow's own bomb warning (89 M).
    path = png_header_only(tmp_path / "big.png", 8000, 8000)
    with pytest.raises(ResolutionTooLarge, match="DFDETECT_MAX_IMAGE_PIXELS"):
        probe_upload(path, plain)
    # The same bytes at a size within the limits do reach the decoder, and fail there.
    with pytest.raises(InvalidImage):
        probe_upload(png_header_only(tmp_path / "small.png", 640, 480), plain)


def test_header_past_pillows_bomb_limit_is_resolution_too_large(
    tmp_path: Path, plain: Settings
) -> None:
    # 20000 x 20000 = 400 M: Pillow refuses it in Image.open, whatever our limit says.
    path = png_header_only(tmp_path / "bomb.png", 20_000, 20_000)
    with pytest.raises(ResolutionTooLarge):
        probe_upload(path, plain.model_copy(update={"max_image_pixels": 10**9}))


def test_the_pixel_limit_is_the_setting(tmp_path: Path, plain: Settings) -> None:
    path = write(tmp_path / "a.png", "png")
    with pytest.raises(ResolutionTooLarge, match=f"{WIDTH}x{HEIGHT}"):
        probe_upload(path, plain.model_copy(update={"max_image_pixels": WIDTH * HEIGHT - 1}))


def test_too_small_an_image_is_resolution_too_small(tmp_path: Path, plain: Settings) -> None:
    path = tmp_path / "tiny.png"
    picture(plain.min_side_px + 10, plain.min_side_px - 1).save(path, format="PNG")
    with pytest.raises(ResolutionTooSmall, match="DFDETECT_MIN_SIDE_PX"):
        probe_upload(path, plain)


# --- loading for the worker ---


def test_exif_orientation_6_loads_upright_with_rotation_90(tmp_path: Path) -> None:
    path = rotated_jpeg(tmp_path / "portrait.jpg")
    video = load_image(path, sha256="0" * 64)
    (frame,) = video.frames
    assert frame.image.shape == (WIDTH, HEIGHT, 3)
    assert (video.info.width, video.info.height, video.info.rotation) == (HEIGHT, WIDTH, 90)
    assert video.info.sha256 == "0" * 64  # the caller's hash, not recomputed
    # Turned clockwise: the stored image's left column (dark) is now the top row.
    stored = np.asarray(Image.open(path).convert("RGB"))
    assert np.abs(frame.image[0].astype(int) - stored[::-1, 0].astype(int)).max() <= 24


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_load_image_is_one_rgb_frame_of_its_format(fmt: str, tmp_path: Path) -> None:
    video = load_image(write(tmp_path / "upload.bin", fmt))
    assert video.info.codec == fmt and video.info.rotation == 0
    assert video.info.frame_count == 1 and video.sequences == []
    assert video.frames[0].image.shape == (HEIGHT, WIDTH, 3)


def test_load_image_refuses_an_undecodable_image(tmp_path: Path) -> None:
    with pytest.raises(InvalidImage):
        load_image(half_of(write(tmp_path / "whole.jpg"), tmp_path / "cut.jpg"))


@pytest.fixture(scope="module")
def obama(data_dir: Path) -> Path:
    """The shared photo obama.jpg: skipped when absent, a failure in CI (as data_dir)."""
    path = data_dir / "images" / "obama.jpg"
    if not path.is_file():
        reason = f"shared photo not found at {path} (set DFDETECT_TEST_DATA)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; in CI it must be present")
        pytest.skip(reason)
    return path


def test_load_image_reads_the_shared_photo(obama: Path, plain: Settings) -> None:
    video = load_image(obama)
    image = video.frames[0].image
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    assert video.info.codec == "jpeg"
    assert (video.info.width, video.info.height) == (image.shape[1], image.shape[0])
    assert len(video.info.sha256) == 64
    probed = probe_upload(obama, plain)
    assert (probed.width, probed.height) == (video.info.width, video.info.height)


# --- through the API ---


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as c:
        yield c


def test_api_queues_a_png(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    # Sent with a video's name and content type (post_file's): the bytes decide.
    response = post_file(client, write(tmp_path / "a.png", "png"), "photo.mp4")
    assert response.status_code == 202, response.text
    assert client.get(response.json()["status_url"]).json()["status"] == "queued"
    assert len(stored_files(settings.upload_dir)) == 1


def test_api_refuses_a_gif(client: TestClient, settings: Settings, tmp_path: Path) -> None:
    response = post_file(client, write(tmp_path / "a.gif", "gif"))
    assert "GIF" in assert_error(response, 415, "unsupported_media")["error"]["message"]
    assert stored_files(settings.upload_dir) == []


def test_api_refuses_a_truncated_jpeg(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    cut = half_of(write(tmp_path / "whole.jpg"), tmp_path / "cut.jpg")
    assert "JPEG" in assert_error(post_file(client, cut), 422, "invalid_image")["error"]["message"]
    assert stored_files(settings.upload_dir) == []


def test_api_sends_text_named_jpg_to_the_video_probe(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    # Stored as <uuid>.upload, so FFmpeg cannot guess from the name: the text-file answer.
    text = tmp_path / "photo.jpg"
    text.write_text("this is not an image\n" * 100)
    assert_error(post_file(client, text), 422, "invalid_video")
    assert stored_files(settings.upload_dir) == []
