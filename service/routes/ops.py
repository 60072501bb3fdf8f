"""Operations: liveness, readiness, Prometheus metrics, what the workers loaded."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError
from starlette.concurrency import run_in_threadpool

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
        body = Readiness(status="not_ready", workers=0, reason=f"Redis unavailable: {exc}")
        return JSONResponse(body.model_dump(), status_code=503)
    if not workers:
        body = Readiness(
            status="not_ready", workers=0, reason="No worker with loaded models is registered."
        )
        return JSONResponse(body.model_dump(), status_code=503)
    return JSONResponse(Readiness(status="ready", workers=len(workers)).model_dump())


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
        503: {"model": ErrorResponse, "description": "Redis is unavailable (`queue_unavailable`)."},
    },
    summary="The ensembles the workers have loaded",
    description="Members, checkpoint hashes and whether each is trained, per worker.",
)
async def models(owner: OwnerDep, state: StateDep) -> ModelsInfo:
    """What the live workers have loaded, with a warning when any member is untrained."""
    workers = await run_in_threadpool(state.jobs.workers_with_models)
    warnings = [UNTRAINED_WARNING] if any(not w.trained for w in workers) else []
    return ModelsInfo(workers=workers, warnings=warnings)
