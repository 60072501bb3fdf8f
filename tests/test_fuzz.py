"""Fuzzing: schemathesis generates requests for every operation of openapi/openapi.json and sends
them to the ASGI app on real Redis. No 5xx; every response matches the documented schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from redis import Redis
from rq import Queue
from schemathesis import Case
from schemathesis.checks import CheckFunction
from schemathesis.specs.openapi.checks import positive_data_acceptance

from contract.settings import Settings
from service.app import create_app
from workers.pipeline import DetectionPipeline
from workers.worker import DetectionWorker

SPEC = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"
FUZZ_KEY = "fuzz-key-0123456789abcdef"
MAX_EXAMPLES = 25
"""Per operation and phase: enough to hit every documented branch, cheap on a 2-core CPU."""

Asgi = Any


def without_lifespan(app: FastAPI) -> Asgi:
    """The app as schemathesis should see it: the test's TestClient owns the lifespan.

    Schemathesis keeps every lifespan it starts until the process exits; refusing the scope
    (how an app without lifespan support answers) keeps Redis and the reaper to this test.
    """

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            raise RuntimeError("the lifespan is run by the test's TestClient")
        await app(scope, receive, send)

    return asgi


@pytest.fixture
def fuzzed_app(
    settings: Settings, redis_conn: Redis, tiny_pipeline: DetectionPipeline
) -> Iterator[Asgi]:
    """The app with one API key and no rate limit, and a registered worker with real models.

    With a worker, /readyz is 200 and /models lists a real ensemble: a 5xx is then always a bug.
    """
    fuzzed = settings.model_copy(update={"api_keys": [FUZZ_KEY], "rate_limit_per_minute": 0})
    queue = Queue(settings.queue_name, connection=redis_conn)
    worker = DetectionWorker(
        [queue], connection=redis_conn, pipeline=tiny_pipeline, settings=settings
    )
    worker.register_birth()
    app = create_app(fuzzed)
    try:
        with TestClient(app):
            yield without_lifespan(app)
    finally:
        worker.register_death()


# The committed spec, not the app's: a drift between them fails test_openapi.py.
schema = schemathesis.openapi.from_path(SPEC)


@schema.parametrize()
@hypothesis_settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
def test_every_operation_answers_as_documented(case: Case, fuzzed_app: Asgi) -> None:
    # Bound here, not per call, so the checks' own probes (e.g. without auth) reach the app too.
    case.operation.app = case.operation.schema.app = fuzzed_app
    # A schema-valid upload is any bytes in `file`; only a decodable video is accepted (422).
    excluded: list[CheckFunction] = (
        [positive_data_acceptance] if case.operation.path == "/detect" else []
    )
    case.call_and_validate(headers={"X-API-Key": FUZZ_KEY}, excluded_checks=excluded)
