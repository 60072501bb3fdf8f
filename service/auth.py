"""API keys: `Authorization: Bearer KEY` or `X-API-Key: KEY`, compared in constant time.

Keys are held only as SHA-256 digests; a job's owner is a prefix of its key's digest, so Redis
never stores a usable key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

from contract.errors import Unauthorized
from contract.settings import LOOPBACK_HOSTS, Settings

OPEN_OWNER = ""
"""Owner of every job when the service runs without keys (loopback only)."""
OWNER_CHARS = 16
"""Hex digits of the key's digest that name a job's owner (64 bits: no collisions in practice)."""
_DIGEST = re.compile(r"[0-9a-f]{64}")


def key_digest(key: str) -> str:
    """SHA-256 hex digest of an API key (what a hashes file lists)."""
    return hashlib.sha256(key.encode()).hexdigest()


def load_key_digests(settings: Settings) -> list[str]:
    """Digests of every accepted key: from DFDETECT_API_KEYS and the hashes file.

    A hashes file with a malformed line or no digest at all is an error, not an open service.
    """
    digests = [key_digest(k) for k in settings.api_keys if k]
    if settings.api_key_hashes_file is not None:
        path = Path(settings.api_key_hashes_file)
        found = []
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            text = line.strip().lower()
            if not text or text.startswith("#"):
                continue
            if not _DIGEST.fullmatch(text):
                raise ValueError(
                    f"{path}:{number}: not a SHA-256 hex digest "
                    "(write `printf %s KEY | sha256sum | cut -d' ' -f1`)"
                )
            found.append(text)
        if not found:
            raise ValueError(f"{path}: DFDETECT_API_KEY_HASHES_FILE lists no key digest")
        digests += found
    return digests


def build_auth(settings: Settings) -> ApiKeyAuth:
    """The key check for these settings; refuses to run open on a non-loopback host."""
    auth = ApiKeyAuth(load_key_digests(settings))
    if auth.open and settings.host not in LOOPBACK_HOSTS:
        raise ValueError(
            f"DFDETECT_HOST={settings.host} is not loopback and no API key is configured"
        )
    return auth


class ApiKeyAuth:
    """Turns request headers into an owner id, or raises 401."""

    def __init__(self, digests: list[str]) -> None:
        self.digests = [d.encode() for d in digests]

    @property
    def open(self) -> bool:
        """True when no key is configured: every caller is the same (open) owner."""
        return not self.digests

    def owner(self, authorization: str | None, x_api_key: str | None) -> str:
        """The owner id of the presented key; 401 when it is missing or unknown."""
        if self.open:
            return OPEN_OWNER
        bearer = None
        if authorization is not None:
            scheme, _, token = authorization.strip().partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized(
                    "Authorization must be `Bearer KEY` (or send `X-API-Key: KEY` alone).",
                    headers={"WWW-Authenticate": "Bearer"},
                )
            bearer = token.strip()
        presented = {k for k in (x_api_key, bearer) if k}
        if not presented:
            raise Unauthorized(
                "Missing API key: send `Authorization: Bearer KEY` or `X-API-Key: KEY`.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if len(presented) > 1:
            # A wrong key beside a right one is refused, not ignored: no guessing which counts.
            raise Unauthorized(
                "Two different API keys were sent; send one.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        digest = key_digest(presented.pop()).encode()
        # Compare against every digest, without stopping early, so timing reveals nothing.
        matched = False
        for known in self.digests:
            matched |= hmac.compare_digest(digest, known)
        if not matched:
            raise Unauthorized("Invalid API key.", headers={"WWW-Authenticate": "Bearer"})
        return digest.decode()[:OWNER_CHARS]
