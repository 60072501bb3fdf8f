"""Face tracks: linking logic on boxes, and one track per person on a real street clip."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from contract.people import TargetBox
from contract.pipeline import PipelineConfig
from contract.result import DetectionResult
from models.packaged import STARTER_DIR
from workers.appearance import appearance_distance, colour_descriptor
from workers.people import choose_person
from workers.pipeline import DetectionPipeline
from workers.tracks import TrackedFace, link_tracks

RED = colour_descriptor(np.full((8, 8, 3), (200, 40, 40), np.uint8))
BLUE = colour_descriptor(np.full((8, 8, 3), (40, 40, 200), np.uint8))
SPANS = [[0, 1, 2], [10, 11, 12], [20, 21, 22]]


def face(n: int, frame: int, x: float, width: float = 80, looks: np.ndarray = RED) -> TrackedFace:
    return TrackedFace(n, frame, (x, 100, x + width, 100 + width), looks)


def people(*rows: tuple[float, float, np.ndarray]) -> list[TrackedFace]:
    """Faces in every frame of SPANS: one per (x, step a frame, looks) row."""
    faces = []
    for frame in [f for span in SPANS for f in span]:
        for x, step, looks in rows:
            faces.append(face(len(faces), frame, x + step * frame, looks=looks))
    return faces


def test_two_people_standing_apart_are_two_tracks() -> None:
    faces = people((100, 0, RED), (600, 0, BLUE))
    tracks = link_tracks(faces, SPANS)
    assert len(tracks) == 2
    assert {faces[n].box[0] for n in tracks[0]} == {100}
    assert {faces[n].box[0] for n in tracks[1]} == {600}


def test_a_walker_is_followed_across_gaps_by_their_motion() -> None:
    # 30 px a frame: 300 px (3.75 widths) between sequences, out of reach without the motion.
    faces = people((100, 30, RED))
    assert len(link_tracks(faces, SPANS)) == 1


def test_two_faces_of_one_frame_never_share_a_track() -> None:
    faces = people((100, 0, RED), (150, 0, RED))  # overlapping boxes, same colours
    tracks = link_tracks(faces, SPANS)
    for track in tracks:
        frames = [faces[n].frame for n in track]
        assert len(frames) == len(set(frames))


def test_appearance_keeps_apart_people_who_take_each_others_place() -> None:
    # Sequence 1: red at x=100; sequence 2: a blue face where red was, red gone.
    faces = [face(i, f, 100, looks=RED) for i, f in enumerate(SPANS[0])]
    faces += [face(3 + i, f, 100, looks=BLUE) for i, f in enumerate(SPANS[1])]
    assert len(link_tracks(faces, SPANS[:2])) == 2
    assert appearance_distance(RED, BLUE) > 0.9


def test_a_sure_link_is_not_traded_for_two_impossible_ones() -> None:
    """The assignment is gated before solving (facenet_street frame 82 split a boy in two)."""
    span = [[0, 1]]
    faces = [face(0, 0, 850), face(1, 0, 490), face(2, 1, 845), face(3, 1, 1200, width=55)]
    tracks = link_tracks(faces, span)
    assert [0, 2] in tracks


def test_frames_outside_any_span_are_linked_too() -> None:
    faces = [face(i, f, 100 + i) for i, f in enumerate([0, 8, 16])]
    assert link_tracks(faces, []) == [[0, 1, 2]]


# facenet_street_1080p.mp4: five people pass a camera; these faces were matched by eye on a
# contact sheet of every track's crops (frame index, box centre).
BOY = [(0, 943, 675), (92, 823, 700)]
WOMAN_WALKING = [(0, 331, 771), (30, 1445, 831)]
RED_HAIR = [(2, 714, 605), (91, 492, 657)]
WHITE_HAIR = (50, 242, 717)


@pytest.fixture(scope="module")
def street(videos_dir: Path) -> DetectionResult:
    pipeline = DetectionPipeline.load(STARTER_DIR, PipelineConfig(device="cpu"))
    clip = videos_dir / "facenet_street_1080p.mp4"
    with av.open(str(clip)) as container:
        rate = float(container.streams.video[0].average_rate or 25)
    frame, x, y = WHITE_HAIR
    t = frame / rate
    box = (x - 30.0, y - 40.0, x + 30.0, y + 40.0)
    return pipeline.detect(clip, target=TargetBox(t=t, box=box))


def _person_at(result: DetectionResult, frame: int, x: float, y: float) -> int:
    for person in result.people:
        for f in person.faces:
            x1, y1, x2, y2 = f.box
            if f.frame == frame and x1 <= x <= x2 and y1 <= y <= y2:
                return person.id
    raise AssertionError(f"no face at frame {frame} ({x}, {y})")


def test_each_person_of_the_street_clip_is_one_track(street: DetectionResult) -> None:
    ids = [
        {_person_at(street, *where) for where in person}
        for person in (BOY, WOMAN_WALKING, RED_HAIR)
    ]
    assert all(len(found) == 1 for found in ids), ids  # one person: one track
    assert len(set.union(*ids)) == 3  # three people: three tracks
    assert len(street.people) == 5
    # Box continuity: consecutive faces of a track within a span are close.
    for person in street.people:
        for a, b in zip(person.faces, person.faces[1:], strict=False):
            if b.frame - a.frame == 1:
                width = a.box[2] - a.box[0]
                assert abs((a.box[0] + a.box[2]) / 2 - (b.box[0] + b.box[2]) / 2) < width
    # Every face is in exactly one person, and says so.
    faces = [f for frame in street.frames for f in frame.faces]
    assert sorted(b.face for p in street.people for b in p.faces) == list(range(len(faces)))
    for person in street.people:
        assert all(faces[b.face].person == person.id for b in person.faces)


def test_a_target_box_picks_that_person(street: DetectionResult) -> None:
    lady = _person_at(street, *WHITE_HAIR)
    assert street.target is not None and street.target.person == lady
    assert street.target.requested == "box" and "IoU" in street.target.why
    chosen = next(p for p in street.people if p.id == lady)
    assert street.fake_probability == chosen.fake_probability
    assert street.reasons == []


def test_largest_and_a_miss(street: DetectionResult) -> None:
    times = [f.timestamp_s for f in street.frames]
    person, choice = choose_person("largest", street.people, times)
    assert person is not None and choice is not None
    assert person.face_px == max(p.face_px for p in street.people)
    nowhere = TargetBox(t=1.0, box=(1800, 10, 1900, 60))
    person, choice = choose_person(nowhere, street.people, times)
    assert person is None and choice is not None and choice.person is None
    assert choose_person("all", street.people, times) == (None, None)
