"""The starter's parts on real faces: the landmark cache, SBI pairs, the head-only LSTM member,
and which ensemble a worker serves by default."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from contract.settings import Settings
from models import packaged
from models.crop_rules import CropsByRule
from models.ensemble import Ensemble
from models.manifest import ENCODER_PREFIX, load_manifest
from training.real_faces import RealSettings, open_real_cache, preprocess_real
from training.sbi_dataset import SbiDataset, split_persons
from training.schedule import TrainOptions
from training.starter import real_settings
from training.starter_options import StarterOptions
from training.train_frame import train_frame
from training.train_sequence import train_sequence
from workers.worker import ensure_model_dir

CPU = torch.device("cpu")
LENGTH = 3
"""Frames per strip in these tests (the starter uses 5)."""


@pytest.fixture(scope="module")
def real_cache(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real-face cache of two shared photos and one real clip (two people and more)."""
    roots = tmp_path_factory.mktemp("roots")
    for name in ("obama.jpg", "two_people.jpg"):
        (roots / name).symlink_to(data_dir / "images" / name)
    (roots / "talking.mp4").symlink_to(data_dir / "videos" / "talking_head_d11.mp4")
    out = tmp_path_factory.mktemp("real")
    settings = RealSettings(sequences=3, sequence_length=LENGTH, crop_size=96)
    counts = preprocess_real([roots], out, settings, device=CPU, progress=False)
    assert counts["ok"] == 3 and counts["strips"] >= 4
    return out


def test_the_cache_keeps_five_landmarks_inside_every_crop(real_cache: Path) -> None:
    settings, sources = open_real_cache(real_cache)
    kinds = {source.kind for source in sources}
    assert kinds == {"photo", "video"}
    for source in sources:
        for strip in source.strips:
            marks = np.asarray(strip.landmarks)
            assert marks.shape == (len(strip.frames), 5, 2)
            assert np.all((marks > 0) & (marks < settings.crop_size))
            # Eyes above the mouth corners: the points are in the crop's upright frame.
            assert np.all(marks[:, :2, 1].max(axis=1) < marks[:, 3:, 1].min(axis=1))


def test_a_rerun_resumes_instead_of_detecting_again(real_cache: Path) -> None:
    settings, _ = open_real_cache(real_cache)
    roots = {Path(s.source).parent for s in open_real_cache(real_cache)[1]}
    counts = preprocess_real(sorted(roots), real_cache, settings, device=CPU, progress=False)
    assert counts["skipped"] == counts["sources"] == 3


def test_an_item_is_a_real_crop_and_its_self_blended_fake(real_cache: Path) -> None:
    dataset = SbiDataset([real_cache], augment=False)
    real, fake = dataset[0]
    assert (real[1], fake[1]) == (0.0, 1.0)
    assert real[0].shape == fake[0].shape == (1, 96, 96, 3)
    assert real[2] != fake[2]  # own video numbers: validation never averages across labels
    assert np.abs(real[0].astype(int) - fake[0].astype(int)).max() > 0
    again = SbiDataset([real_cache], augment=False)[0]
    assert np.array_equal(again[1][0], fake[0])  # validation draws the same blend every epoch


def test_a_sequence_item_blends_every_frame(real_cache: Path) -> None:
    dataset = SbiDataset([real_cache], sequence_length=LENGTH, augment=True, seed=3)
    assert all(len(np.asarray(item.landmarks)) >= LENGTH for item in dataset.items)
    real, fake = dataset[0]
    assert real[0].shape[0] == fake[0].shape[0] == LENGTH
    changed = np.abs(real[0].astype(int) - fake[0].astype(int)).reshape(LENGTH, -1).max(axis=1)
    assert np.all(changed > 0)


def test_the_starter_caches_real_faces_at_its_input_size() -> None:
    default = real_settings(StarterOptions(data_dir=Path("data")))
    assert (default.crop_size, default.sequence_length, default.sequences) == (224, 5, 4)
    larger = StarterOptions(data_dir=Path("data"), backbone="tf_efficientnet_lite2", image_size=260)
    assert real_settings(larger).crop_size == 260  # not 224 px crops scaled up


def test_the_split_is_by_person(real_cache: Path) -> None:
    _, sources = open_real_cache(real_cache)
    kept, held = split_persons(sources, 0.5, seed=0)
    assert kept and held and not kept & held
    assert kept | held == {source.person for source in sources}


@pytest.fixture(scope="module")
def sbi_ensemble(real_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A frame member and an LSTM head on its frozen encoder, trained briefly on SBI pairs."""
    out = tmp_path_factory.mktemp("sbi_model")
    common = {"caches": [real_cache], "val": [], "out": out, "epochs": 1, "batch_size": 4}
    frame = TrainOptions(
        name="b0_frame", image_size=64, samples_per_epoch=8, sbi=True, progress=False, **common
    )  # type: ignore[arg-type]
    train_frame(frame, "efficientnet_b0")
    lstm = TrainOptions(
        name="b0_lstm", image_size=0, samples_per_epoch=4, sbi=True, progress=False, **common
    )  # type: ignore[arg-type]
    train_sequence(lstm, out, "b0_frame", LENGTH)
    return out


def test_the_lstm_member_stores_its_head_only(sbi_ensemble: Path) -> None:
    manifest = load_manifest(sbi_ensemble)
    lstm = next(m for m in manifest.members if m.kind == "sequence")
    assert lstm.head_only and lstm.encoder == "b0_frame"
    stored = load_file(sbi_ensemble / lstm.checkpoint)
    assert stored and not any(key.startswith(ENCODER_PREFIX) for key in stored)


def test_trained_members_name_the_caches_crop_rule(sbi_ensemble: Path) -> None:
    # Trained on margin crops, they read margin crops under the 1st-place recipe too.
    assert {m.crop for m in load_manifest(sbi_ensemble).members} == {"margin"}


def test_the_head_only_member_shares_the_frame_members_backbone(sbi_ensemble: Path) -> None:
    ensemble = Ensemble.load(sbi_ensemble, CPU, fold_norms=False)
    frame, lstm = ensemble.members
    assert lstm.module.encoder is frame.module.encoder
    crops = [np.random.default_rng(i).integers(0, 255, (64, 64, 3), np.uint8) for i in range(3)]
    scores = ensemble.score(CropsByRule.alike(crops, [crops]))
    assert scores.faces["b0_frame"].shape == (3,) and scores.sequences["b0_lstm"].shape == (1,)


def test_a_worker_without_a_model_dir_serves_the_shipped_starter(tmp_path: Path) -> None:
    starter = packaged.starter_dir()
    if starter is None:
        pytest.skip("this checkout has no models/starter yet")
    assert ensure_model_dir(Settings(data_dir=tmp_path)) == starter
    assert ensure_model_dir(Settings(data_dir=tmp_path, model_dir=tmp_path)) == tmp_path
    assert load_manifest(starter).trained


def test_an_install_without_the_starter_scaffolds_random_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(packaged, "STARTER_DIR", tmp_path / "absent")
    settings = Settings(data_dir=tmp_path, scaffold_backbone="efficientnet_b0")
    model_dir = ensure_model_dir(settings)
    assert model_dir.parent == tmp_path / "models" and not load_manifest(model_dir).trained
