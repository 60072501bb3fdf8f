"""Everything a worker does to one video: sample → detect faces → crop → score → post-process.

The RQ job and `dfdetect detect` both call `DetectionPipeline.detect`; nothing else scores videos.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, Unpack

import numpy as np

from contract.errors import JobCanceled
from contract.media import sniff_file
from contract.operating import OperatingPoints
from contract.people import Target
from contract.pipeline import PipelineConfig
from contract.recipes import CropRule
from contract.result import (
    NO_FACE_PROBABILITY,
    Box,
    DetectionResult,
    FaceScore,
    FrameResult,
    MemberResult,
    SequenceResult,
)
from models.crop_rules import CropsByRule
from models.device import resolve_device
from models.ensemble import Ensemble
from models.operating import load_operating_points
from models.postprocess import postprocess
from workers.answer import Answering, Scored, answer
from workers.appearance import colour_descriptor
from workers.faces import Detection, FaceDetector
from workers.images import load_image
from workers.recipes import RecipeSteps, cut_face, detector_config, resolve_recipe
from workers.sampling import SampledVideo, sample_frames
from workers.tracks import TrackedFace, link_tracks

Progress = Callable[[str], None]
StopCheck = Callable[[], bool]


@dataclass(frozen=True)
class SequenceCrop:
    frame_indices: list[int]
    face: int
    crops: list[np.ndarray]
    middle_face: int = -1
    """The index (in frame order, over the video) of the middle frame's face it was cut for."""


class DetectOptions(TypedDict, total=False):
    """`detect`'s keyword options, which it passes on to `detect_with_crops`."""

    sha256: str | None
    progress: Progress | None
    should_stop: StopCheck | None
    video: SampledVideo | None
    target: Target


@dataclass(frozen=True)
class DetectionOutput:
    """A result and its face crops: `face_crops[n]` is the n-th FaceScore in frame order, cut
    by the recipe's rule from the full-size frame (RGB uint8, not resized). A member with a
    rule of its own scored its own cut of the same face."""

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

    def __init__(
        self,
        config: PipelineConfig,
        ensemble: Ensemble,
        detector: FaceDetector,
        operating_points: OperatingPoints | None = None,
    ) -> None:
        self.config = config
        self.ensemble = ensemble
        self.detector = detector
        manifest = ensemble.manifest
        recipe = resolve_recipe(config, manifest.recipe, manifest.recipe_overrides)
        self.steps = RecipeSteps(recipe, config)
        self.operating_points = operating_points
        # The recipe's rule first: the page's face images and the track colours use its crops.
        self.crop_rules = list(dict.fromkeys([recipe.crop, *ensemble.crop_rules(recipe.crop)]))

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
        manifest = ensemble.manifest
        recipe = resolve_recipe(config, manifest.recipe, manifest.recipe_overrides)
        detector = FaceDetector(detector_config(config, recipe), device)
        return cls(config, ensemble, detector, load_operating_points(model_dir, manifest))

    def warm_up(self) -> None:
        self.ensemble.warm_up()

    def sample(self, path: Path, *, sha256: str | None = None) -> SampledVideo:
        """The configured frames of a video, or an image as one frame (the decode stage alone;
        no model involved). Images are told by their bytes, as the API probed them."""
        if sniff_file(path) in ("jpeg", "png", "webp"):
            return load_image(path, sha256=sha256)
        cfg = self.config
        return sample_frames(
            path,
            cfg.sequences,
            cfg.sequence_length,
            decode=cfg.decode,
            sha256=sha256,
            spans_for=self.steps.spans_for(),
        )

    def detect(self, path: Path, **options: Unpack[DetectOptions]) -> DetectionResult:
        """Score one video (or image) file; raises contract.errors exceptions for unusable input.

        `video`: its frames from `sample` already (decoded while the device scored another
        video); the decode stage then costs nothing here.
        """
        return self.detect_with_crops(path, **options).result

    def detect_with_crops(
        self,
        path: Path,
        *,
        sha256: str | None = None,
        progress: Progress | None = None,
        should_stop: StopCheck | None = None,
        video: SampledVideo | None = None,
        target: Target = "all",
    ) -> DetectionOutput:
        """`detect`, keeping the scored face crops beside the result (the RQ job stores them)."""
        clock = _StageClock(progress, should_stop)
        total = time.perf_counter()
        with clock.stage("decode"):
            video = video or self.sample(path, sha256=sha256)
        with clock.stage("detect_faces"):
            faces = self.steps.faces(self.detector, [f.image for f in video.frames])
        with clock.stage("crop"):
            crops, sequences = self._cut(video, faces)
            face_crops = list(crops.faces[crops.recipe])
        with clock.stage("score"):
            scores = self.ensemble.score(crops)
        with clock.stage("postprocess"):
            frames, seq_results, models = self._breakdown(
                video, faces, scores.faces, sequences, scores.sequences
            )
            tracks = _tracks(video, faces, face_crops)
            scored = Scored(video, frames, seq_results, models, scores)
            context = Answering(
                self.ensemble,
                self.steps.recipe,
                self.config,
                self.operating_points,
                self.steps.wanted,
            )
            faces_of = [s.middle_face for s in sequences]
            result = answer(context, scored, tracks, faces_of, target)
        clock.timings_ms["total"] = round((time.perf_counter() - total) * 1000, 1)
        result.timings_ms.update(clock.timings_ms)
        return DetectionOutput(result, face_crops)

    def _cut(
        self, video: SampledVideo, faces: list[list[Detection]]
    ) -> tuple[CropsByRule, list[SequenceCrop]]:
        """Each face (and sequence) cut once per rule the members read and by the recipe's;
        the sequences as the recipe's rule cut them (the same frames and faces by any rule)."""
        recipe = self.steps.recipe.crop
        boxes = [
            (frame.image, det.box)
            for frame, dets in zip(video.frames, faces, strict=True)
            for det in dets
        ]
        cut = {
            rule: [cut_face(rule, image, box) for image, box in boxes] for rule in self.crop_rules
        }
        scores_sequences = self.steps.scores_sequences and not video.image
        by_rule = {
            rule: sequence_crops(video, faces, rule) if scores_sequences else []
            for rule in self.crop_rules
        }
        sequences = {
            rule: [s.crops for s in cut_sequences] for rule, cut_sequences in by_rule.items()
        }
        return CropsByRule(recipe, cut, sequences), by_rule[recipe]

    def _breakdown(
        self,
        video: SampledVideo,
        faces: list[list[Detection]],
        face_scores: dict[str, np.ndarray],
        sequences: list[SequenceCrop],
        seq_scores: dict[str, np.ndarray],
    ) -> tuple[list[FrameResult], list[SequenceResult], list[MemberResult]]:
        """Per frame and face, per sequence, and each member's post-processed video score."""
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
                    applicable=not (video.image and reads == "sequence"),
                )
            )
        return frames, seq_results, models


def _tracks(
    video: SampledVideo, faces: list[list[Detection]], crops: list[np.ndarray]
) -> list[list[int]]:
    """The faces (indices in frame order) of each person."""
    tracked: list[TrackedFace] = []
    for frame, dets in zip(video.frames, faces, strict=True):
        for det in dets:
            n = len(tracked)
            tracked.append(TrackedFace(n, frame.index, det.box, colour_descriptor(crops[n])))
    return link_tracks(tracked, video.sequences)


def _mean(values: Iterable[float]) -> float:
    """Mean of one face's (or sequence's) member scores."""
    vals = list(values)
    return float(np.mean(vals)) if vals else NO_FACE_PROBABILITY


def sequence_crops(
    video: SampledVideo, faces: list[list[Detection]], rule: CropRule
) -> list[SequenceCrop]:
    """15th place: every frame of a sequence is cropped with its middle frame's box (cut by
    `rule`, the sequence member's; the 15th place's own is margin)."""
    by_index = {f.index: (f, dets) for f, dets in zip(video.frames, faces, strict=True)}
    first_face, count = {}, 0
    for frame, dets in zip(video.frames, faces, strict=True):
        first_face[frame.index] = count
        count += len(dets)
    out = []
    for indices in video.sequences:
        present = [i for i in indices if i in by_index]
        if not present:
            continue
        middle = present[len(present) // 2]
        for face_no, det in enumerate(by_index[middle][1]):
            crops = [cut_face(rule, by_index[i][0].image, det.box) for i in present]
            out.append(SequenceCrop(present, face_no, crops, first_face[middle] + face_no))
    return out
