"""A manifest's `recipe_overrides`: the model's own values for its recipe's fields."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from contract.errors import ModelError
from contract.pipeline import PipelineConfig
from contract.recipes import RECIPES, recipe_with
from models.manifest import MANIFEST_FILE, load_manifest
from workers.pipeline import DetectionPipeline
from workers.recipes import resolve_recipe

CONFIG = PipelineConfig(device="cpu", sequences=2, sequence_length=3)


def with_overrides(tiny_model_dir: Path, out: Path, overrides: dict) -> Path:
    shutil.copytree(tiny_model_dir, out)
    manifest = json.loads((out / MANIFEST_FILE).read_text())
    manifest["recipe_overrides"] = overrides
    (out / MANIFEST_FILE).write_text(json.dumps(manifest))
    return out


def test_overrides_replace_fields_and_keep_the_rest() -> None:
    recipe = recipe_with("dfdc-15th", {"min_face_px": 400, "video_score": "max_person"})
    assert (recipe.min_face_px, recipe.video_score) == (400, "max_person")
    assert recipe.thresholds == RECIPES["dfdc-15th"].thresholds


@pytest.mark.parametrize("overrides", [{"nonsense": 1}, {"name": "dfdc-1st"}, {"min_face_px": 0}])
def test_a_bad_override_is_a_model_error(
    tiny_model_dir: Path, tmp_path: Path, overrides: dict
) -> None:
    model = with_overrides(tiny_model_dir, tmp_path / "m", overrides)
    with pytest.raises(ModelError, match="recipe"):
        load_manifest(model)


def test_the_pipeline_runs_the_model_s_values(
    tiny_model_dir: Path, tmp_path: Path, face_clip: Path
) -> None:
    model = with_overrides(
        tiny_model_dir, tmp_path / "m", {"min_face_px": 5000, "video_score": "max_person"}
    )
    result = DetectionPipeline.load(model, CONFIG).detect(face_clip)
    assert [r.code for r in result.reasons] == ["faces_too_small"]
    assert result.verdict.label is None  # the scaffold has no table
    assert result.video_score == "max_person"
    assert result.fake_probability == max(p.fake_probability for p in result.people)


def test_a_model_can_make_small_faces_abstain(
    tiny_model_dir: Path, tmp_path: Path, face_clip: Path
) -> None:
    overrides = {"min_face_px": 5000, "abstain_on": ["no_face", "faces_too_small"]}
    model = with_overrides(tiny_model_dir, tmp_path / "m", overrides)
    result = DetectionPipeline.load(model, CONFIG).detect(face_clip)
    assert (result.fake_probability, result.fallback) == (0.5, "faces_too_small")
    assert result.reasons[0].abstained and result.verdict.label is None


def test_explicit_settings_win_over_the_manifest() -> None:
    overrides = {"video_score": "max_person"}
    assert resolve_recipe(PipelineConfig(), "dfdc-15th", overrides).video_score == "max_person"
    # Another recipe named by the settings: the manifest's overrides were for its own.
    other = resolve_recipe(PipelineConfig(recipe="dfdc-1st"), "dfdc-15th", overrides)
    assert other == RECIPES["dfdc-1st"]
