"""The answer to one input: the video (or person's) score, its verdict, and what it rests on.

From the per-face and per-sequence scores the pipeline made: people (face tracks scored on their
own), the score by the recipe's rule or for the person a target names, the reasons it is unsure
or abstains, input quality, and the verdict from the model's operating points.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from contract.calibration import Calibration, calibrate
from contract.operating import OperatingPoints, verdict
from contract.people import Person, Target
from contract.pipeline import PipelineConfig
from contract.reasons import Reason
from contract.recipes import Recipe, VideoScoreRule
from contract.result import (
    MODEL_NOTE_PREFIX,
    NO_FACE_PROBABILITY,
    UNTRAINED_WARNING,
    DetectionResult,
    FrameResult,
    MemberResult,
    SequenceResult,
)
from models.ensemble import Ensemble, EnsembleScores
from models.postprocess import combine_members
from workers.people import MemberFaces, build_people, choose_person, face_px
from workers.sampling import SampledVideo
from workers.trust import find_reasons, input_quality


@dataclass(frozen=True)
class Scored:
    """What the pipeline scored: the breakdown a result carries."""

    video: SampledVideo
    frames: list[FrameResult]
    sequences: list[SequenceResult]
    models: list[MemberResult]
    scores: EnsembleScores
    """The members' raw scores: per face in frame order, per sequence."""

    @property
    def image(self) -> bool:
        return self.video.image


@dataclass(frozen=True)
class Answering:
    """What the answer depends on besides the scores."""

    ensemble: Ensemble
    recipe: Recipe
    config: PipelineConfig
    operating_points: OperatingPoints | None
    wanted: Callable[[int], set[int]]


def video_score_rule(config: PipelineConfig, recipe: Recipe) -> VideoScoreRule:
    """The config's rule when it sets one, else the recipe's."""
    return config.video_score or recipe.video_score


def _member_faces(
    ensemble: Ensemble, scores: EnsembleScores, sequence_faces: list[int]
) -> list[MemberFaces]:
    """Each member's raw scores and the face each belongs to (a sequence: its middle face)."""
    out = []
    for member in ensemble.members:
        spec = member.spec
        if member.module.input_kind == "frame":
            values = scores.faces.get(spec.name, np.empty(0))
            which: list[int] = list(range(len(values)))
        else:
            values = scores.sequences.get(spec.name, np.empty(0))
            which = sequence_faces
        out.append(MemberFaces(spec.name, spec.postprocess, values, which))
    return out


def answer(
    context: Answering,
    scored: Scored,
    tracks: list[list[int]],
    sequence_faces: list[int],
    target: Target,
) -> DetectionResult:
    """The result: people, the score by the rule or the target, reasons, quality, verdict."""
    ensemble, recipe, table = context.ensemble, context.recipe, context.operating_points
    people = build_people(
        scored.frames,
        tracks,
        _member_faces(ensemble, scored.scores, sequence_faces),
        table,
        ensemble.manifest.calibration,
    )
    rule = video_score_rule(context.config, recipe)
    combined = _video_score(rule, scored.models, people, ensemble.manifest.calibration)
    all_sides = [face_px(person_box.box) for person in people for person_box in person.faces]
    sides = all_sides
    times = [frame.timestamp_s for frame in scored.frames]
    chosen, choice = choose_person(target, people, times)
    reasons: list[Reason] = []
    if choice is not None:
        if chosen is None:
            reasons.append(Reason.target_not_found(choice.why, NO_FACE_PROBABILITY))
            combined = None
        else:
            combined = chosen.fake_probability
            sides = [face_px(b.box) for b in chosen.faces]
    quality = input_quality(scored.video.info, scored.frames, all_sides)
    if not reasons:
        reasons = find_reasons(recipe, quality, sides, image=scored.image)
    warnings = [] if ensemble.trained else [UNTRAINED_WARNING]
    identity = ensemble.identity()
    if identity.note:
        warnings.append(f"{MODEL_NOTE_PREFIX}{identity.note}")
    trained_length = ensemble.sequence_length
    if (
        not scored.image
        and trained_length is not None
        and trained_length != context.config.sequence_length
    ):
        warnings.append(
            f"sequence_length_mismatch: the sequence members were trained on {trained_length} "
            f"frames but {context.config.sequence_length} were sampled "
            "(DFDETECT_SEQUENCE_LENGTH); their scores may be off."
        )
    fallback = next((r.code for r in reasons if r.abstained), None)
    if fallback is not None or combined is None:
        combined = NO_FACE_PROBABILITY
        fallback = fallback or "no_face"
    if fallback == "no_face":
        warnings.append("no_face: no face was found in any sampled frame; returning 0.5.")
    return DetectionResult(
        fake_probability=combined,
        label="FAKE" if combined >= 0.5 else "REAL",
        verdict=verdict(combined, table, unsure=bool(reasons)),
        fallback=fallback,
        reasons=reasons,
        media="image" if scored.image else "video",
        trained=ensemble.trained,
        model=identity,
        video=scored.video.info,
        quality=quality,
        people=people,
        target=choice,
        video_score=rule,
        frames=scored.frames,
        sequences=scored.sequences,
        models=scored.models,
        warnings=warnings + _decode_warnings(scored.video, context.wanted, image=scored.image),
        recipe=recipe.name,
        timings_ms={},
    )


def _video_score(
    rule: VideoScoreRule,
    models: list[MemberResult],
    people: list[Person],
    calibration: Calibration | None,
) -> float | None:
    if rule == "max_person":  # people's scores are calibrated already
        return max((p.fake_probability for p in people), default=None)
    combined = combine_members([m.score for m in models])
    return None if combined is None else calibrate(combined, calibration)


def _decode_warnings(
    video: SampledVideo, wanted_for: Callable[[int], set[int]], *, image: bool
) -> list[str]:
    """Say so when damage cost sampled frames: the score rests on fewer frames than asked."""
    if image:
        return []
    wanted = wanted_for(video.info.frame_count)
    if len(video.frames) >= len(wanted):
        return []
    return [
        f"partial_decode: {len(wanted) - len(video.frames)} of {len(wanted)} sampled frames "
        "could not be decoded (damaged or truncated file); the score uses the rest."
    ]
