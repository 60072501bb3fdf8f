"""Every limit of the API, each with its setting and stable error code, against real Redis."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from rq.job import Job

from contract.settings import Settings
from service.app import create_app
from tests import bad_media
from tests.fault_helpers import (
    BOUNDARY,
    MULTIPART_TYPE,
    asgi_client,
    assert_error,
    multipart,
    post_file,
    stored_files,
)

CHUNK = 64 * 1024


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """30 frames of 128x96 H.264 (1.2 s at 25 fps), as MP4 and as Matroska (no frame count)."""
    folder = tmp_path_factory.mktemp("limits")
    return {
        "mp4": bad_media.h264_clip(folder / "clip.mp4"),
        "mkv": bad_media.h264_clip(folder / "clip.mkv"),
    }


def limited(settings: Settings, **limits: object) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=limits)))


# --- Upload size (413 while streaming) ---


def test_upload_over_the_size_limit_is_413_before_reading_it(
    settings: Settings, clips: dict[str, Path]
) -> None:
    assert clips["mp4"].stat().st_size > 100_000
    with limited(settings, max_upload_bytes=10_000) as client:
        assert_error(post_file(client, clips["mp4"]), 413, "upload_too_large")
        assert client.get("/healthz").status_code == 200
    assert stored_files(settings.upload_dir) == []


def test_file_part_over_the_limit_within_the_multipart_slack_is_413(
    settings: Settings, clips: dict[str, Path]
) -> None:
    # Content-Length passes the early check (limit + 64 KiB of slack): the streamed part does not.
    size = clips["mp4"].stat().st_size
    with limited(settings, max_upload_bytes=size - 1000) as client:
        assert_error(post_file(client, clips["mp4"]), 413, "upload_too_large")
    assert stored_files(settings.upload_dir) == []


def test_chunked_upload_without_content_length_is_cut_off_while_streaming(
    settings: Settings,
) -> None:
    limit, total = 256 * 1024, 16 * 1024 * 1024
    sent = 0

    async def endless_upload() -> AsyncIterator[bytes]:
        nonlocal sent
        head = multipart([("file", "big.mp4", b"")])
        yield head[: head.index(b"\r\n\r\n") + 4]  # headers of the file part, then its bytes
        while sent < total:
            sent += CHUNK
            yield b"\0" * CHUNK
        yield f"\r\n--{BOUNDARY}--\r\n".encode()

    async def scenario() -> None:
        app = create_app(settings.model_copy(update={"max_upload_bytes": limit}))
        async with asgi_client(app) as client:
            response = await client.post(
                "/detect", content=endless_upload(), headers={"content-type": MULTIPART_TYPE}
            )
            assert "content-length" not in response.request.headers
            assert_error(response, 413, "upload_too_large")
            assert (await client.get("/healthz")).status_code == 200

    asyncio.run(scenario())
    assert sent < 2 * limit, f"the API read {sent} bytes past a {limit}-byte limit"
    assert stored_files(settings.upload_dir) == []


# --- What the probe reads from the file (never the name or content type) ---


@pytest.mark.parametrize(
    ("clip", "limits", "code"),
    [
        ("mp4", {"max_duration_s": 1.0}, "video_too_long"),
        ("mp4", {"max_pixels": 128 * 96 - 1}, "resolution_too_large"),
        ("mp4", {"min_side_px": 97}, "resolution_too_small"),
        ("mp4", {"max_frames": 29}, "too_many_frames"),
        ("mkv", {"max_frames": 29}, "too_many_frames"),  # no count in the header: duration x fps
        ("mp4", {"min_frames": 31}, "too_few_frames"),
    ],
    ids=["duration", "pixels", "min_side", "frames_mp4", "frames_mkv", "min_frames"],
)
def test_probe_limits_are_422_with_their_code(
    clip: str, limits: dict[str, object], code: str, settings: Settings, clips: dict[str, Path]
) -> None:
    with limited(settings, **limits) as client:
        assert_error(post_file(client, clips[clip]), 422, code)
    assert stored_files(settings.upload_dir) == []


def test_the_same_clips_pass_at_the_limits(settings: Settings, clips: dict[str, Path]) -> None:
    at_limits = {
        "max_duration_s": 1.2,
        "max_pixels": 128 * 96,
        "min_side_px": 96,
        "max_frames": 30,
        "min_frames": 30,
    }
    with limited(settings, **at_limits) as client:
        for clip in clips.values():
            assert post_file(client, clip).status_code == 202


def test_container_and_codec_are_judged_by_probing_not_by_name(
    settings: Settings, clips: dict[str, Path]
) -> None:
    with limited(settings) as client:
        with clips["mp4"].open("rb") as f:
            named_txt = client.post("/detect", files={"file": ("notes.txt", f, "text/plain")})
        assert named_txt.status_code == 202
        assert post_file(client, clips["mkv"], "looks.mp4").status_code == 202
    with limited(settings, allowed_codecs=["vp9"]) as client:
        body = assert_error(post_file(client, clips["mp4"]), 415, "unsupported_media")
        assert "`h264`" in body["error"]["message"]
    with limited(settings, allowed_containers=["matroska,webm"]) as client:
        assert_error(post_file(client, clips["mp4"], "clip.mkv"), 415, "unsupported_media")
    assert len(stored_files(settings.upload_dir)) == 2


# --- Rate, queue, concurrency, disk ---


def test_rate_limit_is_per_key_with_retry_after(settings: Settings, clips: dict[str, Path]) -> None:
    keys = {"a": "rate-key-a-000000", "b": "rate-key-b-000000"}
    limits = {"rate_limit_per_minute": 2, "api_keys": list(keys.values())}
    with limited(settings, **limits) as client:
        a, b = ({"X-API-Key": k} for k in keys.values())
        assert [post_file(client, clips["mp4"], headers=a).status_code for _ in range(2)] == [
            202
        ] * 2
        refused = post_file(client, clips["mp4"], headers=a)
        assert_error(refused, 429, "rate_limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # A refused request does not use up the budget of the next minute, and B has its own.
        assert_error(post_file(client, clips["mp4"], headers=a), 429, "rate_limited")
        assert post_file(client, clips["mp4"], headers=b).status_code == 202
    assert len(stored_files(settings.upload_dir)) == 3


def test_full_queue_is_429_with_retry_after(settings: Settings, clips: dict[str, Path]) -> None:
    with limited(settings, max_queue_length=1) as client:
        assert post_file(client, clips["mp4"]).status_code == 202
        refused = post_file(client, clips["mp4"])
        assert_error(refused, 429, "queue_full")
        assert int(refused.headers["retry-after"]) > 0
    assert len(stored_files(settings.upload_dir)) == 1


def test_concurrent_uploads_past_the_limit_are_429(
    settings: Settings, clips: dict[str, Path]
) -> None:
    video = clips["mp4"].read_bytes()
    body = multipart([("file", "slow.mp4", video)])
    streaming, release = asyncio.Event(), asyncio.Event()

    async def slow_upload() -> AsyncIterator[bytes]:
        yield body[:CHUNK]
        streaming.set()  # the API asked for more: it is inside its upload slot
        await release.wait()
        yield body[CHUNK:]

    async def scenario() -> None:
        app = create_app(settings.model_copy(update={"max_concurrent_uploads": 1}))
        async with asgi_client(app) as client:
            headers = {"content-type": MULTIPART_TYPE}
            first = asyncio.create_task(
                client.post("/detect", content=slow_upload(), headers=headers)
            )
            await asyncio.wait_for(streaming.wait(), 10)
            second = await client.post("/detect", content=body, headers=headers)
            assert_error(second, 429, "too_many_uploads")
            assert int(second.headers["retry-after"]) > 0
            release.set()
            assert (await first).status_code == 202
            # The slot is free again once the first upload is stored.
            assert (await client.post("/detect", content=body, headers=headers)).status_code == 202

    asyncio.run(scenario())
    assert len(stored_files(settings.upload_dir)) == 2


def test_full_disk_is_507_not_a_crash(settings: Settings, clips: dict[str, Path]) -> None:
    with limited(settings, min_free_disk_bytes=10**18) as client:
        assert_error(post_file(client, clips["mp4"]), 507, "insufficient_storage")
        assert client.get("/healthz").status_code == 200
    assert stored_files(settings.upload_dir) == []


def test_job_timeout_setting_becomes_the_rq_job_timeout(
    settings: Settings, clips: dict[str, Path], redis_conn: Redis
) -> None:
    with limited(settings, job_timeout_s=7, result_ttl_s=60, failure_ttl_s=120) as client:
        job_id = post_file(client, clips["mp4"]).json()["job_id"]
    job = Job.fetch(job_id, connection=redis_conn)
    assert (job.timeout, job.result_ttl, job.failure_ttl) == (7, 60, 120)
