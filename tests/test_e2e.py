"""End to end: `dfdetect serve` and `dfdetect worker` as processes, a real clip over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

pytestmark = pytest.mark.slow

START_TIMEOUT_S = 120
JOB_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def stack(
    redis_conn: Redis, redis_url: str, tiny_model_dir: Path, tmp_path: Path
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The API and one worker, as a user starts them; yields (base URL, worker process)."""
    port = free_port()
    env = {
        **os.environ,
        "DFDETECT_REDIS_URL": redis_url,
        "DFDETECT_MODEL_DIR": str(tiny_model_dir),
        "DFDETECT_UPLOAD_DIR": str(tmp_path / "uploads"),
        "DFDETECT_PORT": str(port),
        "DFDETECT_DEVICE": "cpu",
        "DFDETECT_SEQUENCES": "3",
        "DFDETECT_WORKER_HEARTBEAT_S": "1",
    }
    cli = [sys.executable, "-m", "cli.main"]
    logs = tmp_path / "logs"
    logs.mkdir()
    api = subprocess.Popen([*cli, "serve"], env=env, stderr=(logs / "api.log").open("wb"))
    worker = subprocess.Popen([*cli, "worker"], env=env, stderr=(logs / "worker.log").open("wb"))
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ok(f"{base}/readyz"), START_TIMEOUT_S, "readyz 200")
        yield base, worker
    finally:
        for proc in (worker, api):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in (worker, api):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_real_clip_from_upload_to_result(
    stack: tuple[str, subprocess.Popen[bytes]], videos_dir: Path
) -> None:
    base, worker = stack
    clip = videos_dir / "hamilton_stage_360p.mp4"
    with clip.open("rb") as f:
        accepted = httpx.post(f"{base}/detect", files={"file": (clip.name, f)}, timeout=60)
    assert accepted.status_code == 202, accepted.text
    url = base + accepted.headers["location"]
    job: dict = {}

    def finished() -> bool:
        nonlocal job
        job = httpx.get(url, timeout=5).json()
        return job["status"] in {"finished", "failed"}

    wait_for(finished, JOB_TIMEOUT_S, "the job to end")
    assert job["status"] == "finished", job
    result = job["result"]
    assert result["video"]["width"] == 640 and result["video"]["height"] == 360
    assert len(result["frames"]) == 15  # 3 sequences x 5 frames
    assert any(frame["faces"] for frame in result["frames"])
    assert 0.0 < result["fake_probability"] < 1.0
    assert result["trained"] is False

    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    wait_for(lambda: httpx.get(f"{base}/readyz").status_code == 503, 10, "readyz 503")


def test_dfdetect_run_starts_everything_and_stops_cleanly(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """`dfdetect run` with no Redis URL: embedded Redis, API and worker; SIGINT stops all three."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFDETECT_")}
    env |= {
        "DFDETECT_MODEL_DIR": str(tiny_model_dir),
        "DFDETECT_DATA_DIR": str(tmp_path / "var"),
        "DFDETECT_UPLOAD_DIR": str(tmp_path / "var" / "uploads"),
        "DFDETECT_PORT": str(port),
        "DFDETECT_DEVICE": "cpu",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "run"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for(lambda: _ok(f"http://127.0.0.1:{port}/readyz"), START_TIMEOUT_S, "readyz 200")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert not _ok(f"http://127.0.0.1:{port}/healthz")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # No child left behind: nothing else in the session survives.
    leftover = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True)
    assert leftover.stdout.strip() == ""
