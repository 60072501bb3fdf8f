"""DetectionWorker: an RQ SimpleWorker that loads the ensemble once and keeps it.

SimpleWorker runs jobs in its own process: a fork per job (RQ's default) would lose the loaded
models and cannot carry a CUDA context. A heartbeat thread advertises liveness and the loaded
models, so the API knows when a worker (and its job) is gone.
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Any

from rq import Queue, SimpleWorker
from rq.executions import Execution
from rq.job import Job

from contract.queue import ALIVE_KEY, FACES_KEY, MODELS_KEY, WorkerModels, alive_ttl
from contract.settings import Settings
from models.packaged import starter_dir
from workers.jobs import CURRENT_PIPELINE
from workers.pipeline import DetectionPipeline

log = logging.getLogger("dfdetect.worker")

UNTRAINED_BANNER = (
    "MODELS ARE UNTRAINED: scores are random. Set DFDETECT_MODEL_DIR to trained weights "
    "(README: Bring your own weights)."
)


def ensure_model_dir(settings: Settings) -> Path:
    """The configured model directory, else the shipped starter ensemble, else (an install
    without it) a scaffolded random-weight ensemble, said loudly."""
    if settings.model_dir is not None:
        return settings.model_dir
    starter = starter_dir()
    if starter is not None:
        log.info("no DFDETECT_MODEL_DIR: serving the starter ensemble in %s", starter)
        return starter
    out = settings.data_dir / "models" / f"scaffold-{settings.scaffold_backbone}"
    if not (out / "manifest.json").is_file():
        from models.scaffold import scaffold_ensemble

        log.warning("no DFDETECT_MODEL_DIR: scaffolding random weights in %s", out)
        scaffold_ensemble(out, backbone=settings.scaffold_backbone)
    return out


class DetectionWorker(SimpleWorker):
    """Runs `workers.jobs.detect_video` with a pipeline loaded once at start."""

    def __init__(
        self, *args: Any, pipeline: DetectionPipeline, settings: Settings, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.pipeline = pipeline
        self.settings = settings
        self._beating = threading.Event()
        self._beat_thread: threading.Thread | None = None

    def advertisement(self) -> WorkerModels:
        ensemble = self.pipeline.ensemble
        return WorkerModels(
            worker=self.name,
            device=str(ensemble.device),
            trained=ensemble.trained,
            members=ensemble.describe(self.pipeline.steps.recipe.crop),
            model=ensemble.identity(),
            recipe=self.pipeline.steps.recipe.name,
            operating_points=self.pipeline.operating_points,
        )

    def _advertise(self) -> None:
        ttl = alive_ttl(self.settings.worker_heartbeat_s)
        pipe = self.connection.pipeline()
        pipe.set(ALIVE_KEY.format(worker=self.name), 1, ex=ttl)
        pipe.set(
            MODELS_KEY.format(worker=self.name), self.advertisement().model_dump_json(), ex=ttl
        )
        pipe.execute()

    def _beat(self) -> None:
        while not self._beating.wait(self.settings.worker_heartbeat_s):
            try:
                self._advertise()
            except Exception:  # a Redis blip must not kill the thread; the next beat retries
                log.warning("heartbeat failed", exc_info=True)

    def register_birth(self) -> None:
        super().register_birth()
        self._advertise()
        if not self.pipeline.ensemble.trained:
            log.warning(UNTRAINED_BANNER)
        self._beating.clear()
        self._beat_thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)
        self._beat_thread.start()

    def register_death(self) -> None:
        self._beating.set()
        if self._beat_thread is not None:
            self._beat_thread.join(timeout=5)
        self.connection.delete(
            ALIVE_KEY.format(worker=self.name), MODELS_KEY.format(worker=self.name)
        )
        super().register_death()

    def perform_job(self, job: Job, queue: Queue, execution: Execution) -> bool:
        token = CURRENT_PIPELINE.set(self.pipeline)
        try:
            return super().perform_job(job, queue, execution)
        finally:
            CURRENT_PIPELINE.reset(token)

    def handle_job_failure(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> None:
        # A job that failed after its face images were written (a timeout, a result RQ could
        # not save) keeps none: they live only as long as a result.
        self.connection.delete(FACES_KEY.format(job_id=job.id))
        super().handle_job_failure(job, queue, *args, **kwargs)


def describe_models(worker: DetectionWorker) -> str:
    """One JSON line of what the worker loaded, for its start-up log."""
    return json.dumps(worker.advertisement().model_dump())
