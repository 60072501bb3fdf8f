"""The bad-input corpus: each hostile or broken upload gets its own 4xx code, never a 500, leaves
no file behind, and the service still serves a real video afterwards (checked in the same test).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from contract.settings import Settings
from service.app import create_app
from tests import bad_media, media
from tests.fault_helpers import (
    MULTIPART_TYPE,
    asgi_client,
    assert_error,
    assert_still_serving,
    multipart,
    post_file,
    stored_files,
)

Maker = Callable[[Path, Path], Path]
"""Writes one corpus item: (directory, a valid MP4 to cut from) -> the file."""


@pytest.fixture(scope="module")
def valid_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small, valid 30-frame H.264 MP4 (index at the end, as most encoders write it)."""
    return bad_media.h264_clip(tmp_path_factory.mktemp("corpus") / "valid.mp4")


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    # raise_server_exceptions (the default) turns any 500 into a failing test.
    with TestClient(create_app(settings)) as c:
        yield c


CORPUS: dict[str, tuple[str, Maker, int, str]] = {
    "zero_bytes": ("empty.mp4", lambda d, _: bad_media.empty(d / "x"), 422, "empty_upload"),
    "random_bytes_named_mp4": (
        "clip.mp4",
        lambda d, _: bad_media.random_bytes(d / "x"),
        422,
        "invalid_video",
    ),
    "text_file": ("notes.txt", lambda d, _: bad_media.text(d / "x"), 422, "invalid_video"),
    "mp4_truncated_10pct": (
        "cut.mp4",
        lambda d, v: bad_media.truncated(v, d / "x", 0.1),
        422,
        "invalid_video",
    ),
    "mp4_truncated_50pct": (
        "cut.mp4",
        lambda d, v: bad_media.truncated(v, d / "x", 0.5),
        422,
        "invalid_video",
    ),
    # moov (the index) is at the end, so even 90% of the file has no index: undecodable.
    "mp4_truncated_90pct": (
        "cut.mp4",
        lambda d, v: bad_media.truncated(v, d / "x", 0.9),
        422,
        "invalid_video",
    ),
    "mp4_without_moov": (
        "nomoov.mp4",
        lambda d, v: bad_media.without_moov(v, d / "x"),
        422,
        "invalid_video",
    ),
    "audio_only_m4a": (
        "song.mp4",
        lambda d, _: media.audio_only_clip(d / "x.m4a"),
        422,
        "no_video_stream",
    ),
    "one_frame": (
        "one.mp4",
        lambda d, _: bad_media.h264_clip(d / "x.mp4", 1),
        422,
        "too_few_frames",
    ),
    "one_by_one_pixel": (
        "dot.avi",
        lambda d, _: bad_media.one_pixel(d / "x.avi"),
        422,
        "resolution_too_small",
    ),
    "header_claims_8k": (
        "8k.mkv",
        lambda d, _: bad_media.eight_k_header(d / "x.mkv"),
        422,
        "resolution_too_large",
    ),
    "header_claims_4_hours": (
        "long.mp4",
        lambda d, _: bad_media.four_hours(d / "x.mp4"),
        422,
        "video_too_long",
    ),
    # A JPEG is taken as an image whatever its name; one cut in half does not decode.
    "truncated_jpeg_sent_as_video": (
        "photo.mp4",
        lambda d, _: bad_media.truncated_jpeg(d / "x.jpg"),
        422,
        "invalid_image",
    ),
    "animated_gif": ("anim.mp4", lambda d, _: bad_media.gif(d / "x.gif"), 415, "unsupported_media"),
    # Refused before FFmpeg's concat demuxer could open the file it names (format_whitelist).
    "ffconcat_playlist": (
        "list.mp4",
        lambda d, v: bad_media.ffconcat(d / "x", v.name),
        415,
        "unsupported_media",
    ),
}


@pytest.mark.parametrize("item", list(CORPUS), ids=list(CORPUS))
def test_corpus_item_is_refused_with_its_code(
    item: str, client: TestClient, settings: Settings, valid_clip: Path, tmp_path: Path
) -> None:
    name, make, status, code = CORPUS[item]
    path = make(tmp_path, valid_clip)
    assert_error(post_file(client, path, name), status, code)
    assert_still_serving(client, settings.upload_dir, valid_clip)


def test_faststart_mp4_truncated_at_90pct_is_accepted(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    # With the index up front (faststart), 90% of the file still probes as a whole video: the
    # upload is accepted, and the worker must finish it or fail it with a code (test_faults).
    source = bad_media.h264_clip(tmp_path / "fast.mp4", faststart=True)
    cut = bad_media.truncated(source, tmp_path / "cut.mp4", 0.9)
    response = post_file(client, cut)
    assert response.status_code == 202, response.text
    assert client.get(response.json()["status_url"]).json()["status"] == "queued"


@pytest.mark.parametrize(
    "filename",
    ["../../etc/passwd.mp4", "..\\..\\windows\\win.mp4", "/tmp/abs.mp4", "a/../../b.mp4"],
)
def test_path_traversal_filename_is_stored_under_a_uuid(
    filename: str, client: TestClient, settings: Settings, valid_clip: Path
) -> None:
    response = post_file(client, valid_clip, filename)
    assert response.status_code == 202, response.text
    stored = stored_files(settings.upload_dir)
    assert len(stored) == 1
    assert stored[0].parent == settings.upload_dir
    assert len(stored[0].stem) == 32 and stored[0].suffix == ".upload"  # uuid4().hex
    # Nothing was written next to the store, where `..` would have led.
    assert sorted(p.name for p in settings.upload_dir.parent.iterdir()) == ["uploads"]
    shown = client.get(response.json()["status_url"]).json()["filename"]
    assert "/" not in shown and "\\" not in shown and ".." not in shown.removesuffix(".mp4")


BAD_BODIES: dict[str, tuple[bytes, str, str]] = {
    # name: (body, content type, what the message must say)
    "no_file_field": (multipart([("note", None, b"hello")]), MULTIPART_TYPE, "No file"),
    "two_files": (
        multipart([("file", "a.mp4", b"\0" * 10), ("file", "b.mp4", b"\0" * 10)]),
        MULTIPART_TYPE,
        "exactly one file",
    ),
    "wrong_field_name": (multipart([("video", "a.mp4", b"\0" * 10)]), MULTIPART_TYPE, "No file"),
    "file_field_is_not_a_file": (
        multipart([("file", None, b"\0" * 10)]),
        MULTIPART_TYPE,
        "must be a file",
    ),
    "not_multipart": (b"\0" * 100, "video/mp4", "multipart/form-data"),
    "no_boundary": (multipart([("file", "a.mp4", b"x")]), "multipart/form-data", "multipart"),
    "garbage_instead_of_boundary": (b"garbage, no boundary", MULTIPART_TYPE, "Malformed"),
    "body_ends_inside_the_file": (
        multipart([("file", "a.mp4", b"\0" * 100)])[:-40],
        MULTIPART_TYPE,
        "ended before",
    ),
    "endless_part_header": (
        b'--x\r\nContent-Disposition: form-data; name="file"; filename="' + b"a" * 20_000,
        "multipart/form-data; boundary=x",
        "header size",  # python-multipart caps part headers (no unbounded buffer)
    ),
}


@pytest.mark.parametrize("case", list(BAD_BODIES), ids=list(BAD_BODIES))
def test_malformed_multipart_is_bad_upload_request(
    case: str, client: TestClient, settings: Settings, valid_clip: Path
) -> None:
    body, content_type, says = BAD_BODIES[case]
    response = client.post("/detect", content=body, headers={"content-type": content_type})
    assert says in assert_error(response, 422, "bad_upload_request")["error"]["message"]
    assert_still_serving(client, settings.upload_dir, valid_clip)


def test_other_form_fields_beside_the_file_are_ignored(
    client: TestClient, settings: Settings, valid_clip: Path
) -> None:
    body = multipart([("note", None, b"hi"), ("file", "v.mp4", valid_clip.read_bytes())])
    response = client.post("/detect", content=body, headers={"content-type": MULTIPART_TYPE})
    assert response.status_code == 202, response.text
    assert len(stored_files(settings.upload_dir)) == 1


def test_utf8_names_in_part_headers_are_accepted(
    client: TestClient, settings: Settings, valid_clip: Path
) -> None:
    # Found by the fuzzer: a non-latin-1 field name used to crash the multipart parser (500).
    body = multipart([("Ā", None, b"null"), ("file", "vidéo-日本.mp4", valid_clip.read_bytes())])
    response = client.post("/detect", content=body, headers={"content-type": MULTIPART_TYPE})
    assert response.status_code == 202, response.text
    assert client.get(response.json()["status_url"]).json()["filename"] == "vidéo-日本.mp4"
    assert len(stored_files(settings.upload_dir)) == 1


@pytest.mark.parametrize("job_id", ["%3B", "a" * 1000, "x y", "%00", "é"])
def test_malformed_job_ids_are_404_not_500(job_id: str, client: TestClient) -> None:
    # Found by the fuzzer: RQ raises ValueError on such ids, which was a 500.
    assert_error(client.get(f"/jobs/{job_id}"), 404, "job_not_found")
    assert_error(client.delete(f"/jobs/{job_id}"), 404, "job_not_found")


def test_405_lists_every_method_of_the_path(client: TestClient) -> None:
    # FastAPI's one-route-per-method made Starlette's 405 say `Allow: GET` for /jobs/{id}.
    response = client.request("PUT", "/jobs/some-id")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "DELETE, GET"


def test_client_disconnect_mid_upload_leaves_no_file(settings: Settings, valid_clip: Path) -> None:
    body = multipart([("file", "v.mp4", valid_clip.read_bytes())])
    messages = iter(
        [
            {"type": "http.request", "body": body[:4096], "more_body": True},
            {"type": "http.disconnect"},  # what uvicorn delivers when the client goes away
        ]
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(messages)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def scenario() -> None:
        app = create_app(settings)
        async with asgi_client(app) as client:
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": "/detect",
                "raw_path": b"/detect",
                "root_path": "",
                "query_string": b"",
                "headers": [(b"content-type", MULTIPART_TYPE.encode())],
                "client": ("127.0.0.1", 1234),
                "server": ("testserver", 80),
                "state": {},
            }
            await app(scope, receive, send)
            assert stored_files(settings.upload_dir) == []
            assert (await client.get("/healthz")).status_code == 200

    asyncio.run(scenario())
    statuses = [m["status"] for m in sent if m["type"] == "http.response.start"]
    assert all(s < 500 for s in statuses), statuses
