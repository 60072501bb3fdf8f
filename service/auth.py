"""API keys: `Authorization: Bearer KEY` or `X-API-Key: KEY`, compared in constant time.

Keys are held only as SHA-256 digests; a job's owner is a prefix of its key's digest, so Redis
never stores a usable key.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from service.errors import Unauthorized
from service.settings import Settings

OPEN_OWNER = ""
"""Owner of every job when the service runs without keys (loopback only)."""


def key_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def load_key_digests(settings: Settings) -> list[str]:
    """Digests of every accepted key: from DFDETECT_API_KEYS and the hashes file."""
    digests = [key_digest(k) for k in settings.api_keys if k]
    if settings.api_key_hashes_file is not None:
        lines = Path(settings.api_key_hashes_file).read_text().splitlines()
        digests += [ln.strip().lower() for ln in lines if ln.strip() and not ln.startswith("#")]
    return digests


class ApiKeyAuth:
    """Turns request headers into an owner id, or raises 401."""

    def __init__(self, digests: list[str]) -> None:
        self.digests = [d.encode() for d in digests]

    @property
    def open(self) -> bool:
        return not self.digests

    def owner(self, authorization: str | None, x_api_key: str | None) -> str:
        if self.open:
            return OPEN_OWNER
        key = x_api_key
        if key is None and authorization and authorization.lower().startswith("bearer "):
            key = authorization[7:].strip()
        if not key:
            raise Unauthorized(
                "Missing API key: send `Authorization: Bearer KEY` or `X-API-Key: KEY`.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        digest = key_digest(key).encode()
        # Compare against every digest, without stopping early, so timing reveals nothing.
        matched = False
        for known in self.digests:
            matched |= hmac.compare_digest(digest, known)
        if not matched:
            raise Unauthorized("Invalid API key.", headers={"WWW-Authenticate": "Bearer"})
        return digest.decode()[:16]
