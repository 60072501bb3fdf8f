"""Per-key rate limit (in Redis, shared by all API replicas); concurrent uploads (per process)."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis import Redis

from contract.errors import RateLimited, TooManyUploads

RATE_KEY = "dfdetect:rate:{owner}"
"""Sorted set of one key's request times in the last window."""
RATE_WINDOW_S = 60
"""The rate limit counts requests in this sliding window (DFDETECT_RATE_LIMIT_PER_MINUTE)."""
UPLOAD_RETRY_AFTER_S = 5
"""Retry-After when every upload slot is busy: an upload of a few MB takes about this long."""


class RateLimiter:
    """A sliding one-minute window per key: no burst of 2x the limit at a window boundary."""

    def __init__(self, redis: Redis, per_minute: int) -> None:
        self.redis = redis
        self.per_minute = per_minute

    def check(self, owner: str) -> None:
        """Count one request for `owner`; 429 with Retry-After past the limit."""
        if self.per_minute <= 0:
            return
        now = time.time()
        key = RATE_KEY.format(owner=owner or "open")
        member = f"{now:.6f}:{uuid.uuid4().hex[:8]}"
        pipe = self.redis.pipeline()  # MULTI/EXEC: replicas see one consistent count
        pipe.zremrangebyscore(key, 0, now - RATE_WINDOW_S)
        pipe.zadd(key, {member: now})
        pipe.zcard(key)
        pipe.zrange(key, 0, 0, withscores=True)
        pipe.expire(key, RATE_WINDOW_S)
        _, _, count, oldest, _ = pipe.execute()
        if count <= self.per_minute:
            return
        # A refused request does not use up the budget, so a client that waits gets in.
        self.redis.zrem(key, member)
        retry = max(1, math.ceil(oldest[0][1] + RATE_WINDOW_S - now))
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
        """Hold one slot while an upload streams; 429 too_many_uploads when none is free."""
        if self.active >= self.limit:
            raise TooManyUploads(
                f"{self.active} uploads are already streaming (DFDETECT_MAX_CONCURRENT_UPLOADS); "
                "retry shortly.",
                headers={"Retry-After": str(UPLOAD_RETRY_AFTER_S)},
            )
        self.active += 1
        try:
            yield
        finally:
            self.active -= 1
