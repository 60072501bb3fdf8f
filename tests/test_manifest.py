"""Model directories: the scaffolded 15th-place ensemble, manifest checks, checksummed loading."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from contract.errors import ModelError
from models.manifest import (
    MANIFEST_FILE,
    Manifest,
    MemberSpec,
    file_sha256,
    load_manifest,
    load_member,
    save_checkpoint,
    save_manifest,
)
from models.naming import member_prefix
from models.networks import FrameClassifier, SequenceClassifier
from models.scaffold import scaffold_ensemble
from tests.conftest import TEST_BACKBONE, TEST_IMAGE_SIZE

CPU = torch.device("cpu")
NAMES = ["b0_frame", "b0_frame_cutmix", "b0_lstm"]


def encoder_tensors(path: Path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_file(str(path)).items() if k.startswith("encoder.")}


def copy_model_dir(source: Path, target: Path, members: list[str]) -> Manifest:
    """A model dir holding only some members of `source` (a checkpoint is 16-40 MB)."""
    manifest = load_manifest(source)
    kept = [member for member in manifest.members if member.name in members]
    target.mkdir()
    for member in kept:
        shutil.copy(source / member.checkpoint, target / member.checkpoint)
    copy = Manifest(members=kept)
    save_manifest(target, copy)
    return copy


def write_manifest(model_dir: Path, document: object) -> None:
    model_dir.mkdir(exist_ok=True)
    (model_dir / MANIFEST_FILE).write_text(json.dumps(document))


def test_scaffold_writes_three_untrained_members(tiny_model_dir: Path) -> None:
    manifest = load_manifest(tiny_model_dir)
    assert [m.name for m in manifest.members] == NAMES
    assert [m.kind for m in manifest.members] == ["frame", "frame", "sequence"]
    assert not manifest.trained and not any(m.trained for m in manifest.members)
    assert {m.backbone for m in manifest.members} == {TEST_BACKBONE}
    assert {m.image_size for m in manifest.members} == {TEST_IMAGE_SIZE}
    lstm = manifest.members[2]
    assert (lstm.sequence_length, lstm.encoder) == (5, "b0_frame_cutmix")
    for member in manifest.members:
        assert member.checkpoint == f"{member.name}.safetensors"
        assert file_sha256(tiny_model_dir / member.checkpoint) == member.sha256


def test_scaffold_lstm_encoder_is_identical_to_cutmix_backbone(tiny_model_dir: Path) -> None:
    lstm = encoder_tensors(tiny_model_dir / "b0_lstm.safetensors")
    cutmix = encoder_tensors(tiny_model_dir / "b0_frame_cutmix.safetensors")
    frame = encoder_tensors(tiny_model_dir / "b0_frame.safetensors")
    assert lstm.keys() == cutmix.keys() and len(lstm) > 100
    assert all(torch.equal(lstm[name], cutmix[name]) for name in lstm)
    assert not all(torch.equal(frame[name], cutmix[name]) for name in frame)


def test_scaffold_is_deterministic_given_seed(tiny_model_dir: Path, tmp_path: Path) -> None:
    again = scaffold_ensemble(tmp_path / "again", backbone=TEST_BACKBONE, image_size=64)
    assert again == load_manifest(tiny_model_dir)


def test_scaffold_sequence_cascade_counts_sequences_not_frames(tiny_model_dir: Path) -> None:
    frame, _, lstm = load_manifest(tiny_model_dir).members
    assert frame.postprocess.cascade == ((0.8, 8), (0.7, 15), (0.6, 25))
    assert lstm.postprocess.cascade == ((0.8, 2), (0.7, 3), (0.6, 5))


@pytest.mark.parametrize(
    ("backbone", "prefix"),
    [
        ("tf_efficientnet_b6", "b6"),
        ("tf_efficientnet_b6.ns_jft_in1k", "b6"),
        ("efficientnet_b0", "b0"),
        ("tf_efficientnetv2_s", "tf_efficientnetv2_s"),
        ("resnet18", "resnet18"),
    ],
)
def test_member_prefix(backbone: str, prefix: str) -> None:
    assert member_prefix(backbone) == prefix


def test_load_member_restores_saved_weights_in_eval_mode(tiny_model_dir: Path) -> None:
    frame, _, lstm = load_manifest(tiny_model_dir).members
    saved = load_file(str(tiny_model_dir / frame.checkpoint))
    module = load_member(tiny_model_dir, frame, CPU)
    assert isinstance(module, FrameClassifier) and not module.training
    assert all(torch.equal(saved[name], t) for name, t in module.state_dict().items())
    assert isinstance(load_member(tiny_model_dir, lstm, CPU), SequenceClassifier)


def test_tampered_checkpoint_is_refused_naming_file_and_hashes(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    model_dir = tmp_path / "tampered"
    (member,) = copy_model_dir(tiny_model_dir, model_dir, ["b0_frame"]).members
    path = model_dir / member.checkpoint
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError) as raised:
        load_member(model_dir, member, CPU)
    message = str(raised.value)
    assert str(path) in message and member.sha256 in message and file_sha256(path) in message
    assert raised.value.code == "model_error"


def test_missing_checkpoint_is_refused_naming_file(tiny_model_dir: Path, tmp_path: Path) -> None:
    model_dir = tmp_path / "missing"
    (member,) = copy_model_dir(tiny_model_dir, model_dir, ["b0_frame"]).members
    (model_dir / member.checkpoint).unlink()
    with pytest.raises(ModelError, match=r"b0_frame\.safetensors .* is missing"):
        load_member(model_dir, member, CPU)


def test_checkpoint_of_another_kind_is_refused(tiny_model_dir: Path) -> None:
    frame = load_manifest(tiny_model_dir).members[0]
    as_sequence = frame.model_copy(update={"kind": "sequence", "sequence_length": 5})
    with pytest.raises(ModelError, match="does not fit member 'b0_frame' \\(sequence"):
        load_member(tiny_model_dir, as_sequence, CPU)


def test_save_checkpoint_returns_file_hash(tmp_path: Path) -> None:
    module = torch.nn.Linear(3, 1)
    sha256 = save_checkpoint(module, tmp_path / "linear.safetensors")
    assert sha256 == file_sha256(tmp_path / "linear.safetensors")


def test_manifest_round_trips(tiny_model_dir: Path, tmp_path: Path) -> None:
    manifest = load_manifest(tiny_model_dir)
    save_manifest(tmp_path, manifest)
    assert load_manifest(tmp_path) == manifest


def test_missing_model_dir_and_manifest_are_model_errors(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"does not exist.*dfdetect models scaffold"):
        load_manifest(tmp_path / "nowhere")
    with pytest.raises(ModelError, match=r"manifest\.json not found"):
        load_manifest(tmp_path)


def test_invalid_json_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(ModelError, match="not a valid manifest"):
        load_manifest(tmp_path)


def spec_document(**changes: object) -> dict[str, object]:
    member = {
        "name": "b0_lstm",
        "kind": "sequence",
        "backbone": TEST_BACKBONE,
        "image_size": 64,
        "checkpoint": "b0_lstm.safetensors",
        "sha256": "a" * 64,
        "trained": False,
        "sequence_length": 5,
    }
    member.update(changes)
    return {"format_version": 1, "members": [member]}


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"encoder": "b0_frame"}, "not a frame member"),
        ({"checkpoint": "../b0_lstm.safetensors"}, "file name inside the model dir"),
        ({"sha256": "abc"}, "64 lowercase hex"),
        ({"sequence_length": None}, "needs sequence_length"),
        ({"kind": "audio"}, "members.0.kind"),
        ({"weights": "x"}, "members.0.weights"),
    ],
)
def test_bad_manifest_is_a_model_error_saying_what(
    tmp_path: Path, changes: dict[str, object], problem: str
) -> None:
    write_manifest(tmp_path, spec_document(**changes))
    with pytest.raises(ModelError, match=problem):
        load_manifest(tmp_path)


def test_unknown_format_version_is_a_model_error(tmp_path: Path) -> None:
    write_manifest(tmp_path, {**spec_document(), "format_version": 2})
    with pytest.raises(ModelError, match="format_version 2 is not supported"):
        load_manifest(tmp_path)


def test_member_names_must_be_unique() -> None:
    member = MemberSpec.model_validate(spec_document()["members"][0])  # type: ignore[index]
    with pytest.raises(ValueError, match="unique"):
        Manifest(members=[member, member])
