"""The worker's allocator: jemalloc preloaded where installed, nothing changed where not."""

from __future__ import annotations

import subprocess
import sys

from workers.allocator import JEMALLOC_CONF, find_jemalloc, with_jemalloc


def test_with_jemalloc_preloads_it_where_installed() -> None:
    env = with_jemalloc({"LD_PRELOAD": "/other.so", "PATH": "/bin"})
    library = find_jemalloc()
    if library is None:
        assert env is None
        return
    assert env is not None
    assert env["LD_PRELOAD"].split() == [library, "/other.so"]
    assert env["MALLOC_CONF"] == JEMALLOC_CONF
    assert env["PATH"] == "/bin"


def test_a_process_started_with_it_runs_on_jemalloc() -> None:
    env = with_jemalloc({})
    if env is None:
        return  # not installed: `dfdetect run` then starts the worker on glibc malloc
    code = "from workers.allocator import allocator; print(allocator())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "jemalloc", out.stderr
