"""Per-key rate limit (in Redis, shared by every API replica) and concurrent uploads (per process)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis import Redis

from service.errors import RateLimited, TooManyUploads

RATE_KEY = "dfdetect:rate:{owner}:{window}"
RATE_WINDOW_S = 60


class RateLimiter:
    """Fixed one-minute windows: simple, shared through Redis, good enough against floods."""

    def __init__(self, redis: Redis, per_minute: int) -> None:
        self.redis = redis
        self.per_minute = per_minute

    def check(self, owner: str) -> None:
        if self.per_minute <= 0:
            return
        now = time.time()
        window = int(now // RATE_WINDOW_S)
        key = RATE_KEY.format(owner=owner or "open", window=window)
        pipe = self.redis.pipeline()
        pipe.incr(key)
        pipe.expire(key, RATE_WINDOW_S * 2)
        count, _ = pipe.execute()
        if count > self.per_minute:
            retry = int(RATE_WINDOW_S - now % RATE_WINDOW_S) + 1
            raise RateLimited(
                f"More than {self.per_minute} uploads a minute (DFDETECT_RATE_LIMIT_PER_MINUTE); "
                f"retry in {retry} s.",
                headers={"Retry-After": str(retry)},
            )


class UploadSlots:
    """Caps uploads streaming at once in this process; past it, 429 rather than a slow pile-up."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.active = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.active >= self.limit:
            raise TooManyUploads(
                f"{self.active} uploads are already streaming (DFDETECT_MAX_CONCURRENT_UPLOADS); "
                "retry shortly.",
                headers={"Retry-After": "5"},
            )
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
