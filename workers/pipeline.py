"""Everything a worker does to one video: sample → detect faces → crop → score → post-process.

The RQ job and `dfdetect detect` both call `DetectionPipeline.detect`; nothing else scores videos.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from contract.errors import JobCanceled
from contract.pipeline import PipelineConfig
from contract.result import (
    MODEL_NOTE_PREFIX,
    NO_FACE_PROBABILITY,
    UNTRAINED_WARNING,
    Box,
    DetectionResult,
    FaceScore,
    FrameResult,
    MemberResult,
    SequenceResult,
)
from models.device import resolve_device
from models.ensemble import Ensemble
from models.postprocess import combine_members, postprocess
from workers.crops import crop_with_margin
from workers.faces import Detection, FaceDetector
from workers.recipes import RecipeSteps, detector_config, resolve_recipe
from workers.sampling import SampledVideo, sample_frames

Progress = Callable[[str], None]
StopCheck = Callable[[], bool]


@dataclass(frozen=True)
class SequenceCrop:
    frame_indices: list[int]
    face: int
    crops: list[np.ndarray]


@dataclass(frozen=True)
class DetectionOutput:
    """A result and the face crops it scored: `face_crops[n]` is the n-th FaceScore in frame
    order, cut with the margin from the full-size frame (RGB uint8, not resized)."""

    result: DetectionResult
    face_crops: list[np.ndarray]


class _StageClock:
    """Wall time per stage, plus the progress and cancellation hooks run between stages."""

    def __init__(self, progress: Progress | None, should_stop: StopCheck | None) -> None:
        self.timings_ms: dict[str, float] = {}
        self.progress = progress
        self.should_stop = should_stop

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        if self.should_stop is not None and self.should_stop():
            raise JobCanceled("The job was canceled.")
        if self.progress is not None:
            self.progress(name)
        start = time.perf_counter()
        yield
        self.timings_ms[name] = round((time.perf_counter() - start) * 1000, 1)


class DetectionPipeline:
    """A loaded ensemble and face detector, reused for every video a worker handles."""

    def __init__(self, config: PipelineConfig, ensemble: Ensemble, detector: FaceDetector) -> None:
        self.config = config
        self.ensemble = ensemble
        self.detector = detector
        self.steps = RecipeSteps(resolve_recipe(config, ensemble.manifest.recipe), config)

    @classmethod
    def load(cls, model_dir: Path, config: PipelineConfig) -> DetectionPipeline:
        """Load and verify the ensemble, build MTCNN, on the configured device."""
        device = resolve_device(config.device)
        ensemble = Ensemble.load(
            model_dir,
            device,
            half=config.half,
            channels_last=config.channels_last,
            batch_size=config.score_batch_size,
            share_backbones=config.share_backbones,
            fold_norms=config.fold_norms,
        )
        recipe = resolve_recipe(config, ensemble.manifest.recipe)
        return cls(config, ensemble, FaceDetector(detector_config(config, recipe), device))

    def warm_up(self) -> None:
        self.ensemble.warm_up()

    def sample(self, path: Path, *, sha256: str | None = None) -> SampledVideo:
        """The configured frames of a video (the decode stage alone; no model involved)."""
        cfg = self.config
        return sample_frames(
            path,
            cfg.sequences,
            cfg.sequence_length,
            decode=cfg.decode,
            sha256=sha256,
            spans_for=self.steps.spans_for(),
        )

    def detect(
        self,
        path: Path,
        *,
        sha256: str | None = None,
        progress: Progress | None = None,
        should_stop: StopCheck | None = None,
        video: SampledVideo | None = None,
    ) -> DetectionResult:
        """Score one video file; raises contract.errors exceptions for unusable input.

        `video`: its frames from `sample` already (decoded while the device scored another
        video); the decode stage then costs nothing here.
        """
        return self.detect_with_crops(
            path, sha256=sha256, progress=progress, should_stop=should_stop, video=video
        ).result

    def detect_with_crops(
        self,
        path: Path,
        *,
        sha256: str | None = None,
        progress: Progress | None = None,
        should_stop: StopCheck | None = None,
        video: SampledVideo | None = None,
    ) -> DetectionOutput:
        """`detect`, keeping the scored face crops beside the result (the RQ job stores them)."""
        clock = _StageClock(progress, should_stop)
        total = time.perf_counter()
        with clock.stage("decode"):
            video = video or self.sample(path, sha256=sha256)
        with clock.stage("detect_faces"):
            faces = self.steps.faces(self.detector, [f.image for f in video.frames])
        with clock.stage("crop"):
            face_crops = [
                self.steps.crop(frame.image, det.box)
                for frame, dets in zip(video.frames, faces, strict=True)
                for det in dets
            ]
            sequences = sequence_crops(video, faces) if self.steps.scores_sequences else []
        with clock.stage("score"):
            scores = self.ensemble.score(face_crops, [s.crops for s in sequences])
        with clock.stage("postprocess"):
            result = self._assemble(video, faces, scores.faces, sequences, scores.sequences)
        clock.timings_ms["total"] = round((time.perf_counter() - total) * 1000, 1)
        result.timings_ms.update(clock.timings_ms)
        return DetectionOutput(result, face_crops)

    def _assemble(
        self,
        video: SampledVideo,
        faces: list[list[Detection]],
        face_scores: dict[str, np.ndarray],
        sequences: list[SequenceCrop],
        seq_scores: dict[str, np.ndarray],
    ) -> DetectionResult:
        frames: list[FrameResult] = []
        cursor = 0
        for frame, dets in zip(video.frames, faces, strict=True):
            scored = []
            for det in dets:
                members = {name: float(s[cursor]) for name, s in face_scores.items()}
                cursor += 1
                scored.append(
                    FaceScore(
                        box=Box(x1=det.box[0], y1=det.box[1], x2=det.box[2], y2=det.box[3]),
                        detection_score=det.prob,
                        member_scores=members,
                        fake_probability=_mean(members.values()),
                    )
                )
            frames.append(
                FrameResult(index=frame.index, timestamp_s=frame.timestamp_s, faces=scored)
            )
        seq_results = []
        for i, seq in enumerate(sequences):
            members = {name: float(s[i]) for name, s in seq_scores.items()}
            seq_results.append(
                SequenceResult(
                    frame_indices=seq.frame_indices,
                    face=seq.face,
                    member_scores=members,
                    fake_probability=_mean(members.values()),
                )
            )
        models = []
        for member in self.ensemble.members:
            spec, reads = member.spec, member.module.input_kind
            scores = face_scores if reads == "frame" else seq_scores
            raw = scores.get(spec.name, np.empty(0))
            models.append(
                MemberResult(
                    name=spec.name,
                    kind=reads,
                    score=postprocess([float(x) for x in raw], spec.postprocess),
                    postprocess=spec.postprocess.strategy,
                    checkpoint_sha256=spec.sha256,
                    trained=spec.trained,
                )
            )
        combined = combine_members([m.score for m in models])
        identity = self.ensemble.identity()
        warnings = [] if self.ensemble.trained else [UNTRAINED_WARNING]
        if identity.note:
            warnings.append(f"{MODEL_NOTE_PREFIX}{identity.note}")
        trained_length = self.ensemble.sequence_length
        if trained_length is not None and trained_length != self.config.sequence_length:
            warnings.append(
                f"sequence_length_mismatch: the sequence members were trained on {trained_length} "
                f"frames but {self.config.sequence_length} were sampled "
                "(DFDETECT_SEQUENCE_LENGTH); their scores may be off."
            )
        fallback = None
        if combined is None:
            combined, fallback = NO_FACE_PROBABILITY, "no_face"
            warnings.append("no_face: no face was found in any sampled frame; returning 0.5.")
        return DetectionResult(
            fake_probability=combined,
            label="FAKE" if combined >= 0.5 else "REAL",
            fallback=fallback,
            trained=self.ensemble.trained,
            model=identity,
            video=video.info,
            frames=frames,
            sequences=seq_results,
            models=models,
            warnings=warnings + _decode_warnings(video, self.steps.wanted),
            recipe=self.steps.recipe.name,
            timings_ms={},
        )


def _decode_warnings(video: SampledVideo, wanted_for: Callable[[int], set[int]]) -> list[str]:
    """Say so when damage cost sampled frames: the score rests on fewer frames than asked."""
    wanted = wanted_for(video.info.frame_count)
    if len(video.frames) >= len(wanted):
        return []
    return [
        f"partial_decode: {len(wanted) - len(video.frames)} of {len(wanted)} sampled frames "
        "could not be decoded (damaged or truncated file); the score uses the rest."
    ]


def _mean(values: Iterable[float]) -> float:
    """Mean of one face's (or sequence's) member scores."""
    vals = list(values)
    return float(np.mean(vals)) if vals else NO_FACE_PROBABILITY


def sequence_crops(video: SampledVideo, faces: list[list[Detection]]) -> list[SequenceCrop]:
    """15th place: every frame of a sequence is cropped with its middle frame's box."""
    by_index = {f.index: (f, dets) for f, dets in zip(video.frames, faces, strict=True)}
    out = []
    for indices in video.sequences:
        present = [i for i in indices if i in by_index]
        if not present:
            continue
        _, middle_faces = by_index[present[len(present) // 2]]
        for face_no, det in enumerate(middle_faces):
            crops = [crop_with_margin(by_index[i][0].image, det.box) for i in present]
            out.append(SequenceCrop(present, face_no, crops))
    return out
