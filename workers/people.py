"""People in a result: face tracks scored on their own, and the person a target names.

Each person gets what the video gets, on their faces alone: every frame member post-processes
the person's face scores, every sequence member the sequences cut around the person's face,
and the members are averaged.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from contract.calibration import Calibration, calibrate
from contract.operating import OperatingPoints, verdict
from contract.people import Person, PersonBox, Target, TargetBox, TargetChoice
from contract.result import NO_FACE_PROBABILITY, FrameResult
from models.postprocess import PostprocessSpec, combine_members, postprocess
from workers.tracks import Box, iou

TARGET_MIN_IOU = 0.1
"""A target box must overlap the person's nearest face at least this much (or hold its centre)."""
TARGET_MIN_GAP_S = 0.5
"""A face counts as "at t" within half the largest gap between sampled frames, or this."""


@dataclass(frozen=True)
class MemberFaces:
    """One member's scores, with which face each score belongs to (sequences: their middle
    frame's face) and how it post-processes them."""

    name: str
    spec: PostprocessSpec
    scores: np.ndarray
    faces: Sequence[int]


def face_px(box: Box) -> float:
    """A face's short side in pixels: what the members' input enlarges."""
    return float(min(box[2] - box[0], box[3] - box[1]))


def build_people(
    frames: list[FrameResult],
    tracks: list[list[int]],
    members: list[MemberFaces],
    table: OperatingPoints | None,
    calibration: Calibration | None = None,
) -> list[Person]:
    """A Person per track, ids in order of first appearance; its score calibrated as the video's."""
    placed = [(frame, face) for frame in frames for face in frame.faces]
    people = []
    for person_id, track in enumerate(tracks):
        chosen = set(track)
        member_scores: dict[str, float | None] = {}
        for member in members:
            mine = [
                float(s) for s, n in zip(member.scores, member.faces, strict=True) if n in chosen
            ]
            member_scores[member.name] = postprocess(mine, member.spec)
        score = combine_members(list(member_scores.values()))
        boxes = []
        for n in track:
            frame, face = placed[n]
            face.person = person_id
            b = face.box
            boxes.append(
                PersonBox(
                    frame=frame.index,
                    timestamp_s=frame.timestamp_s,
                    face=n,
                    box=(b.x1, b.y1, b.x2, b.y2),
                )
            )
        probability = NO_FACE_PROBABILITY if score is None else calibrate(score, calibration)
        people.append(
            Person(
                id=person_id,
                faces=boxes,
                face_px=float(np.median([face_px(b.box) for b in boxes])),
                member_scores=member_scores,
                fake_probability=probability,
                verdict=verdict(probability, table, unsure=score is None).label,
            )
        )
    return people


def choose_person(
    target: Target, people: list[Person], sampled_times: Sequence[float]
) -> tuple[Person | None, TargetChoice | None]:
    """The person a target names, and why; (None, None) for `all`."""
    if target == "all":
        return None, None
    if target == "largest":
        if not people:
            return None, TargetChoice(requested="largest", person=None, why="no face was found")
        person = max(people, key=lambda p: (p.face_px, len(p.faces)))
        why = f"the largest faces: median {person.face_px:.0f} px over {len(person.faces)} frames"
        return person, TargetChoice(requested="largest", person=person.id, why=why)
    return _at_box(target, people, sampled_times)


def _at_box(
    target: TargetBox, people: list[Person], sampled_times: Sequence[float]
) -> tuple[Person | None, TargetChoice]:
    times = sorted(sampled_times)
    gaps = [b - a for a, b in itertools.pairwise(times)]
    tolerance = max([TARGET_MIN_GAP_S, *(g / 2 for g in gaps)])
    best: tuple[float, Person, PersonBox] | None = None
    for person in people:
        face = min(person.faces, key=lambda f: abs(f.timestamp_s - target.t))
        if abs(face.timestamp_s - target.t) > tolerance:
            continue
        overlap = iou(face.box, target.box)
        cx, cy = (face.box[0] + face.box[2]) / 2, (face.box[1] + face.box[3]) / 2
        x1, y1, x2, y2 = target.box
        inside = x1 <= cx <= x2 and y1 <= cy <= y2
        if overlap < TARGET_MIN_IOU and not inside:
            continue
        if best is None or overlap > best[0]:
            best = (overlap, person, face)
    if best is None:
        why = f"no face within {tolerance:.2f} s of t={target.t:g} s overlaps the box"
        return None, TargetChoice(requested="box", box=target, person=None, why=why)
    overlap, person, face = best
    why = (
        f"its face at {face.timestamp_s:.2f} s (frame {face.frame}) overlaps the box "
        f"(IoU {overlap:.2f})"
    )
    return person, TargetChoice(requested="box", box=target, person=person.id, why=why)
