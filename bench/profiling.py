"""What the benchmark measures besides stage times: allocator, peak memory, time per member."""

from __future__ import annotations

import os
import platform
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import torch

from models.ensemble import Ensemble
from workers.allocator import allocator, with_jemalloc

REEXEC_MARK = "DFDETECT_BENCH_REEXEC"
"""Set in the environment of the re-executed benchmark, so it re-executes once at most."""
RSS_SAMPLE_S = 0.01
"""Interval of the peak-RSS sampler thread."""


def jemalloc_environment() -> dict[str, str] | None:
    """This process's environment with jemalloc preloaded (retaining), or None: already
    preloaded, already re-executed once, or not installed."""
    if allocator() == "jemalloc" or os.environ.get(REEXEC_MARK):
        return None
    env = with_jemalloc(dict(os.environ))
    return None if env is None else {**env, REEXEC_MARK: "1"}


def reexec(env: dict[str, str]) -> None:
    """Replace this process by the same command line under `env` (does not return)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable, *sys.orig_argv[1:]], env)


def machine(device: torch.device) -> dict[str, Any]:
    """Where the numbers come from: CPU, cores, threads, GPU, library versions, allocator."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import av
    import timm

    facts: dict[str, Any] = {
        "cpu": cpu,
        "cores": len(os.sched_getaffinity(0)),
        "torch_threads": torch.get_num_threads(),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "allocator": allocator(),
        "malloc_conf": os.environ.get("MALLOC_CONF", ""),
        "device": device.type,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "av": av.__version__,
    }
    if device.type == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(device)
        facts["cuda"] = torch.version.cuda
    return facts


class PeakMemory:
    """Peak resident memory of this process (sampled) and peak GPU memory over a block."""

    def __init__(self, device: torch.device) -> None:
        self.device = device
        self.rss_mb = 0.0
        self.gpu_mb: float | None = None

    @contextmanager
    def measure(self) -> Iterator[PeakMemory]:
        process = psutil.Process()
        peak = [process.memory_info().rss]
        done = threading.Event()

        def sample() -> None:
            while not done.wait(RSS_SAMPLE_S):
                peak[0] = max(peak[0], process.memory_info().rss)

        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            yield self
        finally:
            done.set()
            sampler.join()
            self.rss_mb = max(peak[0], process.memory_info().rss) / 2**20
            if self.device.type == "cuda":
                self.gpu_mb = torch.cuda.max_memory_allocated(self.device) / 2**20


class MemberTimer:
    """Wall time in each distinct encoder, named after the members that share it.

    Backbones are nearly all of a member's cost (the heads are one linear layer or a small
    LSTM over pooled features), so encoder time is what a member costs. With shared
    backbones one encoder serves two members: its time is theirs together (`a+b`).
    """

    def __init__(self, ensemble: Ensemble) -> None:
        self.device = ensemble.device
        owners: dict[int, list[str]] = {}
        modules: dict[int, torch.nn.Module] = {}
        for member in ensemble.members:
            encoder = member.module.encoder
            owners.setdefault(id(encoder), []).append(member.spec.name)
            modules[id(encoder)] = encoder
        self.labels = {key: "+".join(names) for key, names in owners.items()}
        self.modules = modules
        self.ms: dict[str, float] = {}

    @contextmanager
    def measure(self) -> Iterator[dict[str, float]]:
        self.ms = dict.fromkeys(self.labels.values(), 0.0)
        started: dict[int, float] = {}
        handles = []
        for key, module in self.modules.items():
            handles.append(module.register_forward_pre_hook(self._pre(key, started)))
            handles.append(module.register_forward_hook(self._post(key, started)))
        try:
            yield self.ms
        finally:
            for handle in handles:
                handle.remove()

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _pre(self, key: int, started: dict[int, float]) -> Any:
        def hook(module: torch.nn.Module, inputs: Any) -> None:
            self._sync()
            started[key] = time.perf_counter()

        return hook

    def _post(self, key: int, started: dict[int, float]) -> Any:
        def hook(module: torch.nn.Module, inputs: Any, output: Any) -> None:
            self._sync()
            label = self.labels[key]
            self.ms[label] += (time.perf_counter() - started.pop(key)) * 1000

        return hook
