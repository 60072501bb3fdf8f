"""A member's crop rule is its own (MemberSpec.crop): it scores faces cut by that rule under any
recipe, and a member that names none reads the recipe's.

The lively scaffold (tests/lively.py) stands in for a 15th-place ensemble. Giving its CutMix
member the 1st place's thirds rule also puts two rules through one backbone: the LSTM shares
the CutMix member's encoder and still reads margin crops.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from contract.errors import ModelError
from contract.pipeline import PipelineConfig
from contract.recipes import CropRule, RecipeName
from models.crop_rules import CropsByRule
from models.ensemble import Ensemble
from models.manifest import MANIFEST_FILE, load_manifest
from tests.lively import LENGTH, photo_crops
from workers.crops import crop_with_margin
from workers.pipeline import DetectionPipeline
from workers.recipe_dfdc1st import crop_thirds

CPU = torch.device("cpu")
CUT = {"margin": crop_with_margin, "thirds": crop_thirds}
"""Each rule's cut, straight from its module: what a member of that rule must have scored."""


def with_crops(model_dir: Path, out: Path, crops: dict[str, str]) -> Path:
    """A copy of a model directory whose named members name these crop rules."""
    shutil.copytree(model_dir, out)
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    for member in manifest["members"]:
        if member["name"] in crops:
            member["crop"] = crops[member["name"]]
    (out / MANIFEST_FILE).write_text(json.dumps(manifest))
    return out


@pytest.fixture(scope="module")
def thirds_cutmix(lively_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lively ensemble with its CutMix member trained, say, on 1st-place thirds crops."""
    out = tmp_path_factory.mktemp("member_crops") / "thirds_cutmix"
    return with_crops(lively_model_dir, out, {"b0_frame_cutmix": "thirds"})


@pytest.mark.parametrize(
    ("recipe", "own", "expected"),
    [
        # A 1st-place member beside a 15th-place one, run by the 15th-place recipe.
        (
            "dfdc-15th",
            {"b0_frame_cutmix": "thirds"},
            {"b0_frame": "margin", "b0_frame_cutmix": "thirds"},
        ),
        # A member trained on margin crops keeps them under the 1st-place recipe.
        ("dfdc-1st", {"b0_frame": "margin"}, {"b0_frame": "margin", "b0_frame_cutmix": "thirds"}),
    ],
)
def test_each_frame_member_scores_the_crop_of_its_own_rule(
    lively_model_dir: Path,
    face_clip: Path,
    tmp_path: Path,
    recipe: RecipeName,
    own: dict[str, str],
    expected: dict[str, CropRule],
) -> None:
    model = with_crops(lively_model_dir, tmp_path / "m", own)
    config = PipelineConfig(device="cpu", sequences=2, sequence_length=LENGTH, recipe=recipe)
    pipeline = DetectionPipeline.load(model, config)
    video = pipeline.sample(face_clip)
    output = pipeline.detect_with_crops(face_clip, video=video)
    images = {frame.index: frame.image for frame in video.frames}
    faces = [(frame.index, face) for frame in output.result.frames for face in frame.faces]
    assert len(faces) >= 5
    boxes = [(images[i], (f.box.x1, f.box.y1, f.box.x2, f.box.y2)) for i, f in faces]
    cut = {rule: [CUT[rule](image, box) for image, box in boxes] for rule in CUT}
    for name, rule in expected.items():
        scored = [face.member_scores[name] for _, face in faces]
        own_cut = pipeline.ensemble.score_faces(cut[rule])[name]
        np.testing.assert_allclose(scored, own_cut, atol=1e-5)
        # Were the member's rule ignored, it would have scored the other cut: far from this.
        other = pipeline.ensemble.score_faces(cut["thirds" if rule == "margin" else "margin"])
        assert np.abs(own_cut - other[name]).max() > 1e-3
    # The page's face images stay the recipe's crops.
    page_rule = "thirds" if recipe == "dfdc-1st" else "margin"
    for crop, expected_crop in zip(output.face_crops, cut[page_rule], strict=True):
        np.testing.assert_array_equal(crop, expected_crop)


def test_a_sequence_member_reads_its_rule_through_a_shared_backbone(
    thirds_cutmix: Path, face_clip: Path
) -> None:
    config = PipelineConfig(device="cpu", sequences=2, sequence_length=LENGTH)
    pipeline = DetectionPipeline.load(thirds_cutmix, config)
    members = {m.spec.name: m for m in pipeline.ensemble.members}
    assert members["b0_lstm"].module.encoder is members["b0_frame_cutmix"].module.encoder
    video = pipeline.sample(face_clip)
    result = pipeline.detect(face_clip, video=video)
    images = {frame.index: frame.image for frame in video.frames}
    by_index = {frame.index: frame for frame in result.frames}
    assert result.sequences
    for sequence in result.sequences:
        middle = sequence.frame_indices[len(sequence.frame_indices) // 2]
        box = by_index[middle].faces[sequence.face].box
        corners = (box.x1, box.y1, box.x2, box.y2)
        margin = [crop_with_margin(images[i], corners) for i in sequence.frame_indices]
        thirds = [crop_thirds(images[i], corners) for i in sequence.frame_indices]
        lstm = pipeline.ensemble.score_sequences([margin, thirds])["b0_lstm"]
        assert abs(lstm[0] - lstm[1]) > 1e-4, "the two cuts must score apart to tell them apart"
        assert sequence.member_scores["b0_lstm"] == pytest.approx(float(lstm[0]), abs=1e-5)


def test_the_ensemble_keeps_rules_apart_in_one_call(thirds_cutmix: Path) -> None:
    ensemble = Ensemble.load(thirds_cutmix, CPU)
    margin, thirds = photo_crops(8, seed=3), photo_crops(8, seed=4)
    sequences = [margin[:LENGTH], margin[3:]]
    scores = ensemble.score(
        CropsByRule("margin", {"margin": margin, "thirds": thirds}, {"margin": sequences})
    )
    np.testing.assert_allclose(
        scores.faces["b0_frame"], ensemble.score_faces(margin)["b0_frame"], atol=1e-5
    )
    np.testing.assert_allclose(
        scores.faces["b0_frame_cutmix"], ensemble.score_faces(thirds)["b0_frame_cutmix"], atol=1e-5
    )
    np.testing.assert_allclose(
        scores.sequences["b0_lstm"], ensemble.score_sequences(sequences)["b0_lstm"], atol=1e-5
    )
    with pytest.raises(ValueError, match="'b0_frame_cutmix' reads thirds crops"):
        ensemble.score(CropsByRule("margin", {"margin": margin}))


def test_models_lists_the_rule_each_member_reads(thirds_cutmix: Path) -> None:
    ensemble = Ensemble.load(thirds_cutmix, CPU)
    assert ensemble.crop_rules("margin") == ["margin", "thirds"]
    assert ensemble.crop_rules("thirds") == ["thirds"]
    described = {m["name"]: m for m in ensemble.describe("margin")}
    assert {name: m["crop"] for name, m in described.items()} == {
        "b0_frame": "margin",
        "b0_frame_cutmix": "thirds",
        "b0_lstm": "margin",
    }
    assert described["b0_frame"]["resize"] == "square_area"
    assert described["b0_frame"]["mean"] == [0.485, 0.456, 0.406]


def test_an_unknown_crop_rule_is_a_model_error(tiny_model_dir: Path, tmp_path: Path) -> None:
    model = with_crops(tiny_model_dir, tmp_path / "m", {"b0_frame": "square"})
    with pytest.raises(ModelError, match=r"members\.0\.crop: .*'margin' or 'thirds'"):
        load_manifest(model)


def test_manifests_without_the_field_load_unchanged(tiny_model_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(tiny_model_dir, tmp_path / "m")
    manifest = json.loads((tmp_path / "m" / MANIFEST_FILE).read_text())
    for member in manifest["members"]:
        del member["crop"]
    (tmp_path / "m" / MANIFEST_FILE).write_text(json.dumps(manifest))
    assert load_manifest(tmp_path / "m") == load_manifest(tiny_model_dir)
    assert {member.crop for member in load_manifest(tmp_path / "m").members} == {None}
