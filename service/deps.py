"""Dependencies as `Annotated` aliases: what each route needs, taken from the app's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from redis import Redis

from contract.settings import Settings
from service.auth import ApiKeyAuth
from service.jobs import JobStore
from service.limits import RateLimiter, UploadSlots
from service.metrics import Metrics
from service.uploads import UploadStore


@dataclass
class AppState:
    """Everything the lifespan builds; one per app."""

    settings: Settings
    redis: Redis
    jobs: JobStore
    uploads: UploadStore
    auth: ApiKeyAuth
    limiter: RateLimiter
    upload_slots: UploadSlots
    metrics: Metrics


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.dfdetect
    return state


StateDep = Annotated[AppState, Depends(get_state)]


_bearer = HTTPBearer(auto_error=False, description="API key as a bearer token.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="API key.")


def get_owner(
    request: Request,
    state: StateDep,
    bearer_scheme: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    x_api_key: Annotated[str | None, Depends(_api_key)],
) -> str:
    """The caller's owner id (401 without a valid key, unless the service runs open)."""
    # The raw header, not HTTPBearer's parse (which drops other schemes): a malformed
    # Authorization beside a valid X-API-Key is refused rather than ignored.
    return state.auth.owner(request.headers.get("authorization"), x_api_key)


OwnerDep = Annotated[str, Depends(get_owner)]
