"""Face tracks: which faces of the sampled frames are one person.

Within a span of consecutive frames (a 15th-place sequence) faces are linked frame to frame by
box overlap; spans are then joined across the gaps between them by position, size and
appearance (workers/appearance.py), never two faces of one frame into one track. Pure numpy and
scipy's assignment solver: the pipeline calls it with its boxes and descriptors.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from workers.appearance import appearance_distance

Box = tuple[float, float, float, float]

LINK_DISTANCE = 0.75
"""Within a span, a face whose centre lies within this many face widths of a tracklet's last
face continues it (a walker moves ~0.4 widths a frame in facenet_street_1080p.mp4, which
breaks box overlap)."""
MAX_JUMP = 1.5
"""Across a gap, a centre further than this many face widths from where the track was (or
where its motion would have taken it) is another person..."""
JUMP_PER_FRAME = 0.05
"""...plus this many widths a frame of gap, up to MAX_JUMP_GAP (people wander)."""
MAX_JUMP_GAP = 2.5
MAX_SIZE_RATIO = 2.0
"""Nor is a face more than twice or less than half a track's last face width."""
MAX_APPEARANCE = 0.45
"""Nor one whose colour histogram is further than this (Hellinger) from the track's mean."""
JUMP_WEIGHT, SIZE_WEIGHT, APPEARANCE_WEIGHT = 1.0, 0.5, 2.0
"""Cost of a join: position dominates where people stand apart, appearance where they cross."""
VELOCITY_FRAMES = 10
"""Motion is measured over the last this many frames of a track."""
FORBIDDEN = 1e6


@dataclass(frozen=True)
class TrackedFace:
    """A face as the tracker sees it: global index, frame, box, appearance."""

    index: int
    frame: int
    box: Box
    descriptor: np.ndarray

    @property
    def width(self) -> float:
        return max(1.0, self.box[2] - self.box[0])

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)


@dataclass
class Track:
    """Faces of one person, in frame order."""

    faces: list[TrackedFace] = field(default_factory=list)

    @property
    def frames(self) -> set[int]:
        return {face.frame for face in self.faces}

    @property
    def descriptor(self) -> np.ndarray:
        return np.mean([face.descriptor for face in self.faces], axis=0)


def iou(a: Box, b: Box) -> float:  # the target box's match (workers/people.py)
    """Intersection over union of two boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _within_span(span: list[int], faces_of: dict[int, list[TrackedFace]]) -> list[Track]:
    """Tracklets of one span: each frame's faces matched by centre distance to the span's
    tracklets (their last face), so a face missed in one frame keeps its tracklet."""
    tracklets: list[Track] = []
    for frame in span:
        faces = faces_of.get(frame, [])
        if not faces:
            continue
        matched: dict[int, Track] = {}
        if tracklets:
            cost = np.array([[_distance(t.faces[-1], f) for f in faces] for t in tracklets])
            # Gated before solving: a minimal total must not trade a sure link for two
            # impossible ones.
            cost[cost > LINK_DISTANCE] = FORBIDDEN
            for row, col in zip(*linear_sum_assignment(cost), strict=True):
                if cost[row, col] <= LINK_DISTANCE:
                    matched[col] = tracklets[row]
        for col, face in enumerate(faces):
            track = matched.get(col)
            if track is None:
                track = Track()
                tracklets.append(track)
            track.faces.append(face)
    return tracklets


def _distance(a: TrackedFace, b: TrackedFace) -> float:
    """Centre distance in mean face widths; far for faces of very different sizes."""
    width = (a.width + b.width) / 2
    if max(a.width, b.width) > MAX_SIZE_RATIO * min(a.width, b.width):
        return FORBIDDEN
    return float(np.hypot(a.centre[0] - b.centre[0], a.centre[1] - b.centre[1])) / width


def _velocity(track: Track) -> tuple[float, float]:
    """Centre motion per frame over the track's last run of faces (0 from a single face)."""
    last = track.faces[-1]
    run = [f for f in track.faces if last.frame - f.frame <= VELOCITY_FRAMES]
    first = run[0]
    if first.frame == last.frame:
        return (0.0, 0.0)
    steps = last.frame - first.frame
    return (
        (last.centre[0] - first.centre[0]) / steps,
        (last.centre[1] - first.centre[1]) / steps,
    )


def _join_cost(track: Track, tracklet: Track) -> float:
    """Cost of continuing `track` with `tracklet`; FORBIDDEN past a gate or on a shared frame.

    Position is compared with where the track's last motion would have taken it: people walk
    several face widths between two sequences a second apart.
    """
    if track.frames & tracklet.frames:
        return FORBIDDEN
    last, first = track.faces[-1], tracklet.faces[0]
    width = (last.width + first.width) / 2
    vx, vy = _velocity(track)
    gap = first.frame - last.frame
    x, y = last.centre[0] + vx * gap, last.centre[1] + vy * gap
    moved = float(np.hypot(x - first.centre[0], y - first.centre[1])) / width
    jump = min(moved, _distance(last, first))
    size = abs(float(np.log(first.width / last.width)))
    looks = appearance_distance(track.descriptor, tracklet.descriptor)
    allowed = min(MAX_JUMP + JUMP_PER_FRAME * gap, MAX_JUMP_GAP)
    if jump > allowed or size > np.log(MAX_SIZE_RATIO) or looks > MAX_APPEARANCE:
        return FORBIDDEN
    return JUMP_WEIGHT * jump + SIZE_WEIGHT * size + APPEARANCE_WEIGHT * looks


def link_tracks(faces: list[TrackedFace], spans: list[list[int]]) -> list[list[int]]:
    """Group faces into tracks; returns each track's face indices, tracks by first appearance.

    `spans`: runs of consecutive sampled frames (frames in no span are spans of their own).
    """
    faces_of: dict[int, list[TrackedFace]] = {}
    for face in faces:
        faces_of.setdefault(face.frame, []).append(face)
    covered = {frame for span in spans for frame in span}
    runs = [sorted(span) for span in spans] + [[f] for f in sorted(faces_of) if f not in covered]
    runs.sort(key=lambda run: run[0] if run else -1)
    tracks: list[Track] = []
    for run in runs:
        tracklets = _within_span(run, faces_of)
        if not tracklets:
            continue
        joined: dict[int, Track] = {}
        if tracks:
            cost = np.array([[_join_cost(t, piece) for piece in tracklets] for t in tracks])
            for row, col in zip(*linear_sum_assignment(cost), strict=True):
                if cost[row, col] < FORBIDDEN:
                    joined[col] = tracks[row]
        for col, piece in enumerate(tracklets):
            track = joined.get(col)
            if track is None:
                tracks.append(piece)
            else:
                track.faces.extend(piece.faces)
    ordered = sorted(tracks, key=lambda t: min(f.index for f in t.faces))
    return [sorted(face.index for face in track.faces) for track in ordered]
