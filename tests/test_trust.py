"""Reasons, input quality and verdicts: each reason code made by `Reason`, found, in OpenAPI."""

from __future__ import annotations

import json
import typing
from pathlib import Path

import pytest

from contract.errors import InvalidTarget
from contract.operating import operating_points
from contract.people import TargetBox, parse_target
from contract.quality import InputQuality
from contract.reasons import REASON_EXAMPLES, Reason, ReasonCode
from contract.recipes import RECIPES
from workers.pipeline import DetectionPipeline
from workers.trust import find_reasons

REPO = Path(__file__).resolve().parents[1]
RECIPE = RECIPES["dfdc-15th"]


def quality(with_face: int, sampled: int = 50) -> InputQuality:
    return InputQuality(
        width=1920,
        height=1080,
        frames_sampled=sampled,
        frames_with_face=with_face,
        frames_with_face_share=with_face / sampled,
        face_px_median=None,
    )


def test_no_faces_abstain_with_no_face() -> None:
    reasons = find_reasons(RECIPE, quality(0), [], image=False)
    assert [(r.code, r.abstained) for r in reasons] == [("no_face", True)]
    assert "0.5" in reasons[0].message


def test_small_faces_and_few_frames_make_it_unsure_not_abstain() -> None:
    reasons = find_reasons(RECIPE, quality(5), [18.0, 20.0, 90.0], image=False)
    assert [r.code for r in reasons] == ["faces_too_small", "few_frames_with_faces"]
    assert not any(r.abstained for r in reasons)  # dfdc-15th's numbers do not move
    assert "20 px" in reasons[0].message and "5 of 50" in reasons[1].message


def test_large_faces_in_most_frames_give_no_reason() -> None:
    assert find_reasons(RECIPE, quality(45), [150.0, 160.0], image=False) == []


def test_an_image_is_not_short_of_frames() -> None:
    assert find_reasons(RECIPE, quality(1, sampled=1), [150.0], image=True) == []


def test_a_recipe_can_make_small_faces_abstain() -> None:
    strict = RECIPE.model_copy(update={"abstain_on": frozenset({"no_face", "faces_too_small"})})
    reasons = find_reasons(strict, quality(50), [12.0], image=False)
    assert [(r.code, r.abstained) for r in reasons] == [("faces_too_small", True)]


def test_every_code_has_a_constructor_and_an_example() -> None:
    codes = set(typing.get_args(ReasonCode))
    assert set(REASON_EXAMPLES) == codes
    made = {
        Reason.no_face(0.5).code,
        Reason.faces_too_small(10, 40, abstained=False).code,
        Reason.few_frames_with_faces(1, 50, 0.3, abstained=False).code,
        Reason.target_not_found("t=1 s", 0.5).code,
    }
    assert made == codes


def test_every_reason_code_is_in_openapi_with_an_example() -> None:
    schema = json.loads((REPO / "openapi" / "openapi.json").read_text())["components"]["schemas"]
    reason = schema["Reason"]
    assert set(reason["properties"]["code"]["enum"]) == set(typing.get_args(ReasonCode))
    assert {e["code"] for e in reason["examples"]} == set(typing.get_args(ReasonCode))


def test_targets_parse_and_bad_ones_are_refused() -> None:
    assert parse_target(None) == "all" and parse_target("largest") == "largest"
    box = parse_target('{"t": 3.2, "box": [10, 20, 110, 140]}')
    assert box == TargetBox(t=3.2, box=(10, 20, 110, 140))
    for bad in ["someone", '{"t": -1, "box": [0, 0, 1, 1]}', '{"t": 1, "box": [5, 5, 1, 1]}']:
        with pytest.raises(InvalidTarget):
            parse_target(bad)


def test_a_target_that_matches_no_one_abstains(
    tiny_pipeline: DetectionPipeline, face_clip: Path
) -> None:
    result = tiny_pipeline.detect(face_clip, target=TargetBox(t=0.0, box=(0, 0, 4, 4)))
    assert result.fake_probability == 0.5 and result.fallback == "target_not_found"
    assert [r.code for r in result.reasons] == ["target_not_found"]
    assert result.target is not None and result.target.person is None
    assert result.people  # everyone is still listed


def test_a_clip_without_faces_says_no_face(
    tiny_pipeline: DetectionPipeline, noise_clip: Path
) -> None:
    result = tiny_pipeline.detect(noise_clip)
    assert result.fallback == "no_face" and [r.code for r in result.reasons] == ["no_face"]
    assert result.people == [] and result.quality.frames_with_face == 0
    assert result.quality.face_px_median is None


def test_quality_of_a_real_clip(tiny_pipeline: DetectionPipeline, face_clip: Path) -> None:
    result = tiny_pipeline.detect(face_clip)
    q = result.quality
    assert (q.width, q.height) == (result.video.width, result.video.height)
    assert q.frames_sampled == len(result.frames) and q.frames_with_face >= 1
    assert q.bitrate_kbps is not None and q.bitrate_kbps > 0
    assert q.bits_per_pixel is not None
    assert q.low_quality_reencode == (q.bits_per_pixel < 0.04)


def test_verdict_without_a_table_says_so(tiny_pipeline: DetectionPipeline, face_clip: Path) -> None:
    result = tiny_pipeline.detect(face_clip)
    assert result.verdict.label is None and "no operating-points table" in result.verdict.note
    assert all(p.verdict is None for p in result.people)


def test_verdict_bands_from_a_table() -> None:
    from contract.operating import verdict

    table = operating_points([1, 1, 1, 0, 0, 0], [0.9, 0.8, 0.4, 0.3, 0.2, 0.1], "six clips")
    assert verdict(0.95, table, unsure=False).label == "FAKE"
    assert verdict(0.05, table, unsure=False).label == "REAL"
    assert verdict(0.95, table, unsure=True).label == "UNCERTAIN"
