"""Temperature scaling of the answer (Guo et al., "On Calibration of Modern Neural Networks",
ICML 2017): the video and person scores' logit divided by one temperature fitted on labelled
videos.

Why: a detector trained on self-blended images is about as sure of itself on real deepfakes as
on its pseudo-fakes, and wrong more often there; a score near 0 or 1 that is wrong costs the
DFDC log loss dearly. One temperature keeps every ranking (ROC AUC, which of two videos looks
faker, the verdict bands' order) and keeps 0.5 at 0.5 (the no-face answer and the label
threshold), and only says how far to trust the distance from 0.5. No bias term: that would fit
the labelled set's share of fakes, which says nothing about what users upload.

Torch-free: the manifest stores it and every result names it.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field

PROBABILITY_EPS = 1e-7
"""Scores are clipped to [eps, 1 - eps] before the logit: finite for 0 and 1, and far inside the
DFDC metric's own 1e-15 clipping."""


class Calibration(BaseModel):
    """The temperature a model directory's answers are divided by, and what it was fitted on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    temperature: float = Field(
        gt=0.0,
        le=1000.0,
        description="The video score's logit is divided by this: above 1 pulls scores towards "
        "0.5, below 1 pushes them away; 1 changes nothing.",
        examples=[2.27],
    )
    fitted_on: str = Field(
        description="The labelled videos it was fitted on, in words.",
        examples=["38 labelled dev clips (28 FAKE, 10 REAL) in shared/data/videos"],
    )
    videos: int = Field(ge=2, description="How many labelled videos it was fitted on.")
    log_loss_before: float | None = Field(
        None, ge=0.0, description="Log loss on those videos before calibration."
    )
    log_loss_cross_validated: float | None = Field(
        None,
        ge=0.0,
        description="Log loss on those videos with each one calibrated by a temperature fitted "
        "without it (leave-one-out): what to expect on videos it was not fitted on.",
    )


def logit(probability: float) -> float:
    p = min(max(probability, PROBABILITY_EPS), 1.0 - PROBABILITY_EPS)
    return math.log(p / (1.0 - p))


def sigmoid(value: float) -> float:
    # Split by sign so neither branch overflows exp().
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    e = math.exp(value)
    return e / (1.0 + e)


def scale(probability: float, temperature: float) -> float:
    """`probability` with its logit divided by `temperature`."""
    return sigmoid(logit(probability) / temperature)


def calibrate(probability: float, calibration: Calibration | None) -> float:
    """`probability` with its logit divided by the calibration's temperature; unchanged
    without one."""
    return probability if calibration is None else scale(probability, calibration.temperature)
