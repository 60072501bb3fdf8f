"""The contract the API and the workers share: one definition of each setting, the job's name."""

from __future__ import annotations

import importlib

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from contract.pipeline import PipelineConfig
from contract.queue import JOB_FUNCTION
from contract.settings import Settings
from models.batching import crops_to_batch
from training.datasets import Collate


@pytest.mark.parametrize(
    "bad", [{"sequences": 0}, {"sequence_length": 0}, {"detect_scale": 7.0}, {"device": "tpu"}]
)
def test_the_settings_refuse_a_pipeline_value_the_worker_would_refuse(bad: dict) -> None:
    with pytest.raises(ValidationError):
        Settings(**bad)
    with pytest.raises(ValidationError):
        PipelineConfig(**bad)


def test_the_settings_pipeline_is_the_pipeline_configuration() -> None:
    settings = Settings(sequences=3, sequence_length=4, detect_scale=0.5)
    assert settings.pipeline() == PipelineConfig(sequences=3, sequence_length=4, detect_scale=0.5)


def test_overrides_replace_only_what_is_given_and_are_validated() -> None:
    config = PipelineConfig(sequences=3)
    assert config.with_overrides(sequences=None, detect_scale=0.5) == PipelineConfig(
        sequences=3, detect_scale=0.5
    )
    with pytest.raises(ValidationError):
        config.with_overrides(sequences=0)


def test_jobs_queued_by_the_previous_release_still_resolve() -> None:
    # The previous release enqueued this dotted name; keeping it is the upgrade path.
    assert JOB_FUNCTION == "workers.jobs.detect_video"
    module, _, name = JOB_FUNCTION.rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))


def test_training_batches_are_normalised_as_inference_batches() -> None:
    crops = [np.random.default_rng(i).integers(0, 255, (40, 30, 3), np.uint8) for i in range(3)]
    half = (0.5, 0.5, 0.5)
    batch = Collate(32, sequences=False, mean=half, std=half)([(c[None], 0.0, 0) for c in crops])
    served = crops_to_batch(crops, 32, torch.device("cpu"), mean=half, std=half)
    assert torch.equal(batch.images, served)


def test_a_recipe_set_in_the_environment_reaches_the_pipeline() -> None:
    assert Settings(recipe="dfdc-1st").pipeline().recipe == "dfdc-1st"
    assert Settings().pipeline().recipe is None  # the model directory's
    with pytest.raises(ValidationError):
        Settings(recipe="dfdc-2nd")
