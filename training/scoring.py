"""Labelled videos scored by the inference pipeline itself: what fit-postprocess and evaluate
measure is exactly what `dfdetect detect` and the workers answer."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from contract.errors import DfdetectError
from contract.pipeline import PipelineConfig
from contract.result import NO_FACE_PROBABILITY, DetectionResult
from models.manifest import MemberSpec, load_manifest
from models.networks import classifier_input
from training.dfdc import LabelledVideo
from workers.pipeline import DetectionPipeline


@dataclass(frozen=True)
class ScoredVideo:
    """One labelled video and the pipeline's result, or the error that stopped it."""

    video: LabelledVideo
    result: DetectionResult | None
    error: str | None = None

    @property
    def fake_probability(self) -> float:
        """The ensemble's answer; 0.5 for a video the pipeline refused (the log-loss-safe guess
        a DFDC submission gave every video it could not read)."""
        return self.result.fake_probability if self.result else NO_FACE_PROBABILITY

    def raw_scores(self, spec: MemberSpec) -> np.ndarray:
        """A member's scores before post-processing: per face, or per sequence."""
        if self.result is None:
            return np.empty(0)
        if classifier_input(spec.kind) == "frame":
            values = [
                face.member_scores[spec.name]
                for frame in self.result.frames
                for face in frame.faces
                if spec.name in face.member_scores
            ]
        else:
            values = [
                sequence.member_scores[spec.name]
                for sequence in self.result.sequences
                if spec.name in sequence.member_scores
            ]
        return np.asarray(values, dtype=np.float64)


def pipeline_config(base: PipelineConfig, model_dir: Path, **overrides: object) -> PipelineConfig:
    """`base` with the options given; the sequence length defaults to the one the ensemble's
    sequence members were trained on."""
    if overrides.get("sequence_length") is None:
        lengths = [m.sequence_length for m in load_manifest(model_dir).members if m.sequence_length]
        if lengths:
            overrides["sequence_length"] = lengths[0]
    return base.with_overrides(**overrides)


def score_videos(
    pipeline: DetectionPipeline,
    videos: list[LabelledVideo],
    *,
    desc: str = "score",
    progress: bool = True,
) -> list[ScoredVideo]:
    """Run the pipeline on every video; a video it refuses is kept with its error."""
    scored = []
    for video in tqdm(videos, desc=desc, unit="video", disable=not progress):
        try:
            scored.append(ScoredVideo(video, pipeline.detect(video.path)))
        except DfdetectError as exc:
            scored.append(ScoredVideo(video, None, f"{exc.code}: {exc.message}"))
    return scored
