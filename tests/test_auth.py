"""API keys: where they come from, how they are sent, what a missing one gets, and that a job
is visible only to the key that created it. Against real Redis."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from contract.settings import Settings
from service.app import create_app
from tests import bad_media
from tests.fault_helpers import HttpResponse, assert_error, post_file, stored_files

KEY_A = "key-a-0123456789abcdef"
KEY_B = "key-b-fedcba9876543210"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bad_media.h264_clip(tmp_path_factory.mktemp("auth") / "clip.mp4")


@pytest.fixture
def keyed(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_keys": [KEY_A, KEY_B]})


@pytest.fixture
def client(keyed: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(keyed)) as c:
        yield c


def test_keys_are_read_from_the_environment_as_json_or_comma_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DFDETECT_API_KEYS", f'["{KEY_A}", "{KEY_B}"]')
    assert Settings(_env_file=None).api_keys == [KEY_A, KEY_B]  # type: ignore[call-arg]
    monkeypatch.setenv("DFDETECT_API_KEYS", f" {KEY_A} , {KEY_B} ,")
    assert Settings(_env_file=None).api_keys == [KEY_A, KEY_B]  # type: ignore[call-arg]


def test_bearer_and_x_api_key_are_both_accepted(client: TestClient, clip: Path) -> None:
    assert post_file(client, clip, headers=bearer(KEY_A)).status_code == 202
    assert post_file(client, clip, headers={"X-API-Key": KEY_B}).status_code == 202
    assert client.get("/models", headers={"X-API-Key": KEY_A}).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not-a-key"},
        {"X-API-Key": "not-a-key"},
        {"Authorization": f"Basic {KEY_A}"},
        {"Authorization": "Bearer "},
        {"X-API-Key": KEY_A.upper()},
    ],
    ids=["none", "wrong_bearer", "wrong_x_api_key", "basic_scheme", "empty_bearer", "case"],
)
def test_without_a_valid_key_every_protected_endpoint_is_401(
    headers: dict[str, str], client: TestClient, keyed: Settings, clip: Path
) -> None:
    responses: list[HttpResponse] = [
        post_file(client, clip, headers=headers),
        client.get("/jobs/some-id", headers=headers),
        client.delete("/jobs/some-id", headers=headers),
        client.get("/models", headers=headers),
    ]
    for response in responses:
        assert_error(response, 401, "unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"
        assert KEY_A not in response.text
    assert stored_files(keyed.upload_dir) == []  # refused before a byte was stored


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {KEY_B}", "X-API-Key": KEY_A},
        {"Authorization": f"Basic {KEY_A}", "X-API-Key": KEY_A},
        {"Authorization": "garbage", "X-API-Key": KEY_A},
    ],
    ids=["two_different_keys", "basic_beside_x_api_key", "garbage_beside_x_api_key"],
)
def test_a_bad_credential_beside_a_good_one_is_401(
    headers: dict[str, str], client: TestClient
) -> None:
    # Found by the fuzzer: the bad one used to be ignored. Which key counts is never guessed.
    assert_error(client.get("/models", headers=headers), 401, "unauthorized")


def test_the_same_key_in_both_headers_is_accepted(client: TestClient) -> None:
    headers = {"Authorization": f"Bearer {KEY_A}", "X-API-Key": KEY_A}
    assert client.get("/models", headers=headers).status_code == 200


def test_probes_and_metrics_need_no_key(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 503  # no worker, but not 401
    assert client.get("/metrics").status_code == 200


def test_a_job_is_invisible_to_another_key(client: TestClient, clip: Path) -> None:
    url = post_file(client, clip, headers=bearer(KEY_A)).json()["status_url"]
    assert_error(client.get(url, headers=bearer(KEY_B)), 404, "job_not_found")
    assert_error(client.delete(url, headers=bearer(KEY_B)), 404, "job_not_found")
    # B's DELETE did nothing: the owner still sees the job queued.
    assert client.get(url, headers=bearer(KEY_A)).json()["status"] == "queued"
    assert client.get(url, headers={"X-API-Key": KEY_A}).status_code == 200


def test_hashes_file_keys_are_accepted(settings: Settings, clip: Path, tmp_path: Path) -> None:
    hashes = tmp_path / "keys.sha256"
    digest = hashlib.sha256(KEY_A.encode()).hexdigest()
    hashes.write_text(f"# ops team\n\n{digest.upper()}\n")
    with TestClient(create_app(settings.model_copy(update={"api_key_hashes_file": hashes}))) as c:
        assert post_file(c, clip, headers=bearer(KEY_A)).status_code == 202
        assert_error(post_file(c, clip, headers=bearer(KEY_B)), 401, "unauthorized")


@pytest.mark.parametrize(
    ("content", "error"),
    [("# nothing but comments\n", "lists no key"), ("not-a-digest\n", "not a SHA-256")],
)
def test_a_useless_hashes_file_stops_the_start(
    content: str, error: str, settings: Settings, tmp_path: Path
) -> None:
    hashes = tmp_path / "keys.sha256"
    hashes.write_text(content)
    # Otherwise a typo would leave the service open (or locked) without anyone noticing.
    with pytest.raises(ValueError, match=error):
        create_app(settings.model_copy(update={"api_key_hashes_file": hashes}))


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20"])
def test_settings_refuse_an_open_service_on_a_public_host(host: str) -> None:
    with pytest.raises(ValidationError, match="no API keys are configured"):
        Settings(_env_file=None, host=host)  # type: ignore[call-arg]
    assert Settings(_env_file=None, host=host, api_keys=[KEY_A]).host == host  # type: ignore[call-arg]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1"])
def test_loopback_may_run_open(host: str, settings: Settings, clip: Path) -> None:
    open_settings = settings.model_copy(update={"host": host})
    with TestClient(create_app(open_settings)) as c:
        assert post_file(c, clip).status_code == 202


def test_blank_keys_do_not_count_as_keys() -> None:
    with pytest.raises(ValidationError, match="no API keys"):
        Settings(_env_file=None, host="0.0.0.0", api_keys=["", "  "])  # type: ignore[call-arg]


def test_dfdetect_serve_refuses_to_start_open_on_a_public_host(tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("DFDETECT_")},
        "DFDETECT_HOST": "0.0.0.0",
        "DFDETECT_REDIS_URL": "redis://127.0.0.1:1/0",
    }
    done = subprocess.run(
        [sys.executable, "-m", "cli.main", "serve"],
        env=env,
        cwd=tmp_path,  # no .env from the checkout
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert "no API keys are configured" in done.stderr
