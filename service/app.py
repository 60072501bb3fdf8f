"""The FastAPI app, built by `create_app(settings)`; its lifespan owns Redis and the queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from redis import Redis
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from contract.errors import (
    ClientDisconnected,
    DfdetectError,
    HttpError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    QueueUnavailable,
)
from contract.settings import Settings
from service.auth import build_auth
from service.deps import AppState
from service.jobs import JobStore
from service.limits import RateLimiter, UploadSlots
from service.metrics import Metrics
from service.routes import detect, jobs, ops, page
from service.uploads import UploadStore

log = logging.getLogger("dfdetect.api")

DESCRIPTION = (
    "Upload a video, poll the job, read an overall fake probability with a per-frame, per-face "
    "breakdown. The method is the 15th-place DFDC solution: MTCNN face crops scored by two "
    "EfficientNet frame classifiers and an EfficientNet + LSTM sequence classifier."
)


def redis_client(url: str) -> Redis:
    """Short timeouts: a dead Redis must turn into a quick 503, not a hung request."""
    return Redis.from_url(
        url, socket_connect_timeout=2, socket_timeout=10, health_check_interval=15
    )


def error_response(error: DfdetectError, status: int | None = None) -> JSONResponse:
    """The one error body, `{"error": {"code", "message"}}`, with the error's status and headers."""
    return JSONResponse({"error": error.detail()}, status or error.status, headers=error.headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DfdetectError)
    async def domain_error(_: Request, exc: DfdetectError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RedisError)
    async def redis_down(_: Request, exc: RedisError) -> JSONResponse:
        log.warning("redis unavailable: %s", exc)
        return error_response(
            QueueUnavailable(
                "The job queue (Redis) is unavailable; retry shortly.",
                headers={"Retry-After": "5"},
            )
        )

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, _: ClientDisconnect) -> JSONResponse:
        # Not a server error: the partial upload is already removed, and nobody reads this.
        log.info("client disconnected during %s %s", request.method, request.url.path)
        return error_response(ClientDisconnected("The client closed the connection."))

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(InvalidRequest(str(exc.errors())[:500]))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = {404: NotFound, 405: MethodNotAllowed}.get(exc.status_code, HttpError)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(_allowed_methods(request.url.path))
        # Starlette's status, whatever it is: HttpError's own is only a default.
        return error_response(error(str(exc.detail), headers=headers), exc.status_code)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return error_response(DfdetectError("Internal error; it has been logged."))


ROUTERS = (detect.router, jobs.router, ops.router, page.router)
"""Every router of the API, included without a prefix."""


def _allowed_methods(path: str) -> list[str]:
    """Every method some route serves at this path (RFC 9110 `Allow`).

    FastAPI makes one route per method, and Starlette's 405 names only the first route's.
    """
    methods: set[str] = set()
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and route.path_regex.match(path):
                methods |= route.methods or set()
    return sorted(methods)


async def _reap_forever(state: AppState) -> None:
    """Jobs of dead workers fail within a few heartbeats even when nobody polls them."""
    while True:
        await asyncio.sleep(state.settings.worker_heartbeat_s)
        try:
            reaped = await run_in_threadpool(state.jobs.reap_lost_jobs)
        except RedisError:
            continue
        except Exception:  # one bad job must not end the reaper for the life of the process
            log.exception("reaping lost jobs failed")
            continue
        if reaped:
            log.warning("failed %d job(s) whose worker was lost", reaped)


def create_app(settings: Settings) -> FastAPI:
    """Build the API for these settings; Redis is connected in the lifespan."""
    if not settings.redis_url:
        raise ValueError("DFDETECT_REDIS_URL is required to serve the API (`dfdetect run` sets it)")
    # Read the keys now: a bad hashes file stops the start, not the first request.
    auth = build_auth(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redis = redis_client(settings.redis_url or "")
        store = JobStore(redis, settings)
        state = AppState(
            settings=settings,
            redis=redis,
            jobs=store,
            uploads=UploadStore(
                settings.upload_dir,
                max_bytes=settings.max_upload_bytes,
                min_free_bytes=settings.min_free_disk_bytes,
            ),
            auth=auth,
            limiter=RateLimiter(redis, settings.rate_limit_per_minute),
            upload_slots=UploadSlots(settings.max_concurrent_uploads),
            metrics=Metrics(store.queue),
        )
        app.state.dfdetect = state
        reaper = asyncio.create_task(_reap_forever(state))
        try:
            yield
        finally:
            reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaper
            redis.close()

    app = FastAPI(
        title="dfdetect",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,
    )
    _install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)

    @app.middleware("http")
    async def record_metrics(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = route.path if isinstance(route, APIRoute) else "unmatched"
        state: AppState | None = getattr(request.app.state, "dfdetect", None)
        if state is not None:
            state.metrics.requests.labels(path, request.method, str(response.status_code)).inc()
            state.metrics.latency.labels(path, request.method).observe(time.perf_counter() - start)
        return response

    return app
