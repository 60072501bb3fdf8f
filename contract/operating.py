"""Operating points: what a score means on the model's validation set, and the verdict bands.

`dfdetect evaluate --save-operating-points` measures, the model directory keeps
(`operating_points.json`), results carry a `Verdict` read from it. A model without a table gets
no bands: its verdict says so instead of inventing them. Pure Python (the API imports it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

OPERATING_POINTS_FILE = "operating_points.json"
"""Beside manifest.json in a model directory."""
TARGET_FALSE_POSITIVE_RATE = 0.05
"""FAKE from the lowest threshold at which at most this share of real videos scored FAKE."""
TARGET_TRUE_POSITIVE_RATE = 0.95
"""REAL below the highest threshold at which at least this share of fake videos is caught."""
VerdictLabel = Literal["REAL", "UNCERTAIN", "FAKE"]


class OperatingPoint(BaseModel):
    """Calling a video FAKE when its score is >= threshold, on the validation set."""

    model_config = ConfigDict(frozen=True)

    threshold: float = Field(ge=0.0, le=1.0)
    false_positive_rate: float = Field(ge=0.0, le=1.0, description="Real videos called FAKE.")
    true_positive_rate: float = Field(ge=0.0, le=1.0, description="Fake videos called FAKE.")


class OperatingPoints(BaseModel):
    """The table and the bands derived from it."""

    model_config = ConfigDict(frozen=True)

    dataset: str = Field(description="The labelled set it was measured on, in words.")
    videos: int = Field(ge=1)
    fakes: int = Field(ge=1)
    reals: int = Field(ge=1)
    fake_threshold: float = Field(
        description="Scores at or above: FAKE (false-positive rate <= target_false_positive_rate)."
    )
    real_threshold: float = Field(
        description="Scores below: REAL (true-positive rate >= target_true_positive_rate)."
    )
    target_false_positive_rate: float = TARGET_FALSE_POSITIVE_RATE
    target_true_positive_rate: float = TARGET_TRUE_POSITIVE_RATE
    points: list[OperatingPoint] = Field(description="By rising threshold.")
    checkpoints: list[str] = Field(
        default_factory=list,
        description="SHA-256 of each member's checkpoint it was measured with: a table whose "
        "weights have changed since is not used.",
    )
    temperature: float | None = Field(
        None,
        description="The calibration temperature the scores were measured under (null: none): "
        "a table whose model has been calibrated differently since is not used.",
    )
    postprocess: list[dict[str, Any]] | None = Field(
        None,
        description="Each member's post-processing the scores were measured under (null: not "
        "recorded): a table whose post-processing has been refitted since is not used.",
    )

    def false_positive_rate_at(self, threshold: float) -> float:
        """Share of validation reals that scored >= threshold (the table's nearest point)."""
        rate = 1.0
        for point in self.points:
            if point.threshold <= threshold:
                rate = point.false_positive_rate
        return rate


class Verdict(BaseModel):
    """The label a person can act on, and what it rests on."""

    label: VerdictLabel | None = Field(
        description="From the model's bands; null when the model has no operating-points table."
    )
    fake_threshold: float | None = None
    real_threshold: float | None = None
    expected_false_positive_rate: float | None = Field(
        None,
        description="Share of the validation set's real videos that scored at least this high.",
    )
    dataset: str | None = Field(None, description="Where the bands were measured.")
    note: str = Field(description="The verdict in words.")


def operating_points(
    labels: Sequence[int], scores: Sequence[float], dataset: str
) -> OperatingPoints:
    """The table at every distinct score (plus 0 and 1), and the bands from the targets.

    labels: 1 fake, 0 real. Raises ValueError without both labels.
    """
    fakes = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    reals = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    if not fakes or not reals:
        raise ValueError("operating points need both fake and real videos")
    thresholds = sorted({0.0, 1.0, *(_at_or_below(float(s)) for s in scores)})
    points = [
        OperatingPoint(
            threshold=t,
            false_positive_rate=sum(s >= t for s in reals) / len(reals),
            true_positive_rate=sum(s >= t for s in fakes) / len(fakes),
        )
        for t in thresholds
    ]
    fake_at = min(
        (p.threshold for p in points if p.false_positive_rate <= TARGET_FALSE_POSITIVE_RATE),
        default=1.0,
    )
    real_at = max(
        (p.threshold for p in points if p.true_positive_rate >= TARGET_TRUE_POSITIVE_RATE),
        default=0.0,
    )
    return OperatingPoints(
        dataset=dataset,
        videos=len(scores),
        fakes=len(fakes),
        reals=len(reals),
        fake_threshold=fake_at,
        # A model good enough for the bands to cross has no uncertain band.
        real_threshold=min(real_at, fake_at),
        points=points,
    )


def _at_or_below(score: float) -> float:
    """The score to 6 decimals, rounded down: a score rounded up would miss its own point."""
    rounded = round(score, 6)
    return rounded if rounded <= score else round(rounded - 1e-6, 6)


def verdict(score: float | None, table: OperatingPoints | None, *, unsure: bool) -> Verdict:
    """The verdict of a score; `unsure` (a reason said so, or it abstained) makes it UNCERTAIN."""
    if table is None:
        return Verdict(
            label=None,
            note="This model has no operating-points table measured on its current weights "
            "(dfdetect evaluate --save-operating-points): no verdict bands; read "
            "fake_probability as it is.",
        )
    bands = {
        "fake_threshold": table.fake_threshold,
        "real_threshold": table.real_threshold,
        "dataset": table.dataset,
    }
    if score is None or unsure:
        return Verdict(label="UNCERTAIN", note="The reasons say why no verdict.", **bands)
    rate = table.false_positive_rate_at(score)
    if score >= table.fake_threshold:
        label: VerdictLabel = "FAKE"
    elif score < table.real_threshold:
        label = "REAL"
    else:
        label = "UNCERTAIN"
    return Verdict(
        label=label,
        expected_false_positive_rate=rate,
        note=f"{label}: on {table.dataset}, {rate:.0%} of real videos scored this high or "
        f"higher; FAKE from {table.fake_threshold:.3f}, REAL below {table.real_threshold:.3f}.",
        **bands,
    )
