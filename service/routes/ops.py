"""Operations: liveness, readiness, Prometheus metrics, what the workers loaded."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

from contract.errors import NotReady, QueueUnavailable
from contract.result import UNTRAINED_WARNING
from service.deps import OwnerDep, StateDep
from service.schemas import ErrorResponse, Health, ModelsInfo, Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health, summary="Liveness: the API process answers")
async def healthz() -> Health:
    """Liveness: answers while the process runs, whatever Redis and the workers do."""
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "Not ready, with the reason."}},
    summary="Readiness: Redis answers and a worker with loaded models is registered",
)
async def readyz(state: StateDep) -> JSONResponse:
    """Readiness: 200 when Redis answers and a worker with loaded models is registered."""
    try:
        await run_in_threadpool(state.redis.ping)
        workers = await run_in_threadpool(state.jobs.workers_with_models)
    except RedisError as exc:
        return _not_ready(NotReady(f"Redis unavailable: {exc}"))
    if not workers:
        return _not_ready(NotReady("No worker with loaded models is registered."))
    return JSONResponse(Readiness(status="ready", workers=len(workers)).model_dump())


def _not_ready(error: NotReady) -> JSONResponse:
    """503 with the Readiness body: the error's code is its `status`, its message the reason."""
    body = Readiness(status=error.code, workers=0, reason=error.message)
    return JSONResponse(body.model_dump(), status_code=error.status)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"example": "dfdetect_queue_depth 0.0\n"}}}},
    summary="Prometheus metrics",
    description="HTTP requests and latencies by route; queue depth and jobs by state.",
)
async def metrics(state: StateDep) -> Response:
    """Prometheus text format."""
    body = await run_in_threadpool(generate_latest, state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


@router.get(
    "/models",
    response_model=ModelsInfo,
    responses={
        401: {"model": ErrorResponse, "description": "Missing or invalid API key."},
        503: {
            "model": ErrorResponse,
            "description": f"Redis is unavailable (`{QueueUnavailable.code}`).",
        },
    },
    summary="The ensembles the workers have loaded",
    description="Members, checkpoint hashes and whether each is trained, per worker.",
)
async def models(owner: OwnerDep, state: StateDep) -> ModelsInfo:
    """What the live workers have loaded, with a warning when any member is untrained."""
    workers = await run_in_threadpool(state.jobs.workers_with_models)
    warnings = [UNTRAINED_WARNING] if any(not w.trained for w in workers) else []
    return ModelsInfo(workers=workers, warnings=warnings)
