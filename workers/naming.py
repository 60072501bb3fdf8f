"""Worker names: `<host>.<pid>`, so a container's health check can find its own worker."""

from __future__ import annotations

import os
import socket


def host_worker_prefix() -> str:
    return f"{socket.gethostname()}."


def worker_name() -> str:
    return f"{host_worker_prefix()}{os.getpid()}"
