"""Ensemble scoring: batched equals one-by-one, shared backbones equal unshared, CUDA equals CPU.

Untrained EfficientNets answer nearly the same for every input (their BatchNorm statistics are
the initial 0 and 1, so activations fade layer by layer: spread about 1e-6). Equality within
1e-5 would then prove nothing, so these tests score with `lively_model_dir`: the scaffolded
ensemble with BatchNorm statistics re-estimated on real face-photo crops and heads scaled so
that logits spread (probabilities 0.1-0.9), exactly as a trained model's would.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from contract.errors import ModelError
from models.batching import unique_crops
from models.crop_rules import CropsByRule
from models.device import resolve_device
from models.ensemble import Ensemble, EnsembleScores
from models.manifest import load_manifest
from tests.conftest import TEST_IMAGE_SIZE
from tests.lively import photo_crops

CPU = torch.device("cpu")
SIZE = TEST_IMAGE_SIZE
LENGTH = 5


@pytest.fixture(scope="module")
def ensemble(lively_model_dir: Path) -> Ensemble:
    return Ensemble.load(lively_model_dir, CPU, batch_size=4)


@pytest.fixture(scope="module")
def unshared(lively_model_dir: Path) -> Ensemble:
    return Ensemble.load(lively_model_dir, CPU, batch_size=4, share_backbones=False)


@pytest.fixture(scope="module")
def crops() -> list[np.ndarray]:
    return photo_crops(12)


@pytest.fixture(scope="module")
def sequences(crops: list[np.ndarray]) -> list[list[np.ndarray]]:
    """Three sequences whose middle crops are also face crops, as in the pipeline."""
    return [crops[start : start + LENGTH] for start in (0, 3, 6)]


@pytest.fixture(scope="module")
def both(crops: list[np.ndarray], sequences: list[list[np.ndarray]]) -> CropsByRule:
    """The face crops and the sequences, the same for every crop rule."""
    return CropsByRule.alike(crops, sequences)


def test_load_gives_members_untrained_and_described(ensemble: Ensemble) -> None:
    assert [m.spec.name for m in ensemble.members] == ["b0_frame", "b0_frame_cutmix", "b0_lstm"]
    assert not ensemble.trained
    assert (ensemble.crop_size, ensemble.sequence_length) == (SIZE, LENGTH)
    described = ensemble.describe("margin")
    assert described[2]["kind"] == "sequence" and described[2]["trained"] is False
    assert described[0]["sha256"] == ensemble.members[0].spec.sha256
    assert all(not member.module.training for member in ensemble.members)


def test_load_refuses_a_tampered_model_dir(lively_model_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(lively_model_dir, tmp_path / "copy")
    checkpoint = tmp_path / "copy" / "b0_lstm.safetensors"
    data = bytearray(checkpoint.read_bytes())
    data[-1] ^= 0x01
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r"b0_lstm\.safetensors.*fails its checksum"):
        Ensemble.load(tmp_path / "copy", CPU)


def test_scores_are_probabilities_per_crop_and_per_sequence(
    ensemble: Ensemble, crops: list[np.ndarray], sequences: list[list[np.ndarray]]
) -> None:
    faces = ensemble.score_faces(crops)
    assert set(faces) == {"b0_frame", "b0_frame_cutmix"}
    assert all(s.shape == (12,) and s.dtype == np.float32 for s in faces.values())
    assert all(s.std() > 0.05 and s.min() > 0 and s.max() < 1 for s in faces.values())
    by_sequence = ensemble.score_sequences(sequences)
    assert set(by_sequence) == {"b0_lstm"} and by_sequence["b0_lstm"].shape == (3,)


def test_empty_inputs_give_empty_arrays(ensemble: Ensemble) -> None:
    scores = ensemble.score(CropsByRule.alike([], []))
    assert {name: s.shape for name, s in scores.faces.items()} == {
        "b0_frame": (0,),
        "b0_frame_cutmix": (0,),
    }
    assert ensemble.score_sequences([])["b0_lstm"].shape == (0,)
    assert ensemble.score_faces([])["b0_frame"].shape == (0,)


def test_batch_scoring_equals_one_by_one(ensemble: Ensemble, crops: list[np.ndarray]) -> None:
    batched = ensemble.score_faces(crops)  # three chunks of batch_size 4
    single = [ensemble.score_faces([crop]) for crop in crops]
    # oneDNN picks convolution kernels by batch size, so sums are ordered differently; with
    # BatchNorm folded into the convolutions' bias, 1.0e-5 seen (scores matter to 0.01).
    for name, scores in batched.items():
        np.testing.assert_allclose(scores, [s[name][0] for s in single], atol=1e-4)


def test_batch_sequence_scoring_equals_one_by_one(
    ensemble: Ensemble, sequences: list[list[np.ndarray]]
) -> None:
    batched = ensemble.score_sequences(sequences)["b0_lstm"]
    single = [ensemble.score_sequences([sequence])["b0_lstm"][0] for sequence in sequences]
    np.testing.assert_allclose(batched, single, atol=1e-5)
    assert batched.std() > 0.01


def test_sequences_of_different_lengths_score_as_if_alone(
    ensemble: Ensemble, crops: list[np.ndarray]
) -> None:
    mixed = [crops[0:5], crops[5:8], crops[8:13]]
    together = ensemble.score_sequences(mixed)["b0_lstm"]
    alone = [ensemble.score_sequences([sequence])["b0_lstm"][0] for sequence in mixed]
    np.testing.assert_allclose(together, alone, atol=1e-5)


def assert_scores_close(a: EnsembleScores, b: EnsembleScores, atol: float) -> None:
    """Every member's face and sequence scores agree within `atol`."""
    assert a.faces.keys() == b.faces.keys() and a.sequences.keys() == b.sequences.keys()
    for name, scores in a.faces.items():
        np.testing.assert_allclose(scores, b.faces[name], atol=atol)
    for name, scores in a.sequences.items():
        np.testing.assert_allclose(scores, b.sequences[name], atol=atol)


def test_shared_backbone_scores_equal_unshared(
    ensemble: Ensemble,
    unshared: Ensemble,
    both: CropsByRule,
) -> None:
    assert_scores_close(ensemble.score(both), unshared.score(both), 1e-5)


def test_folded_batchnorm_scores_equal_unfolded(
    ensemble: Ensemble,
    lively_model_dir: Path,
    both: CropsByRule,
) -> None:
    unfolded = Ensemble.load(lively_model_dir, CPU, batch_size=4, fold_norms=False)
    # Folding reorders floating-point sums, as a layout change does: 1.0e-5 seen.
    assert_scores_close(ensemble.score(both), unfolded.score(both), 1e-4)
    # Folding replaced the norms in the one encoder the CutMix and LSTM members share.
    encoders = {m.spec.name: m.module.encoder for m in ensemble.members}
    assert encoders["b0_frame_cutmix"] is encoders["b0_lstm"]
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in encoders["b0_lstm"].modules())


def count_encoded(ensemble: Ensemble) -> dict[str, int]:
    """Images that went through each member's encoder during the next calls (forward hooks)."""
    counts = {member.spec.name: 0 for member in ensemble.members}
    for member in ensemble.members:

        def hook(_: nn.Module, args: tuple[torch.Tensor], name: str = member.spec.name) -> None:
            counts[name] += args[0].shape[0]

        member.module.encoder.register_forward_pre_hook(hook)
    return counts


def test_shared_backbone_encodes_each_distinct_crop_once(
    lively_model_dir: Path, both: CropsByRule
) -> None:
    shared = Ensemble.load(lively_model_dir, CPU)
    assert shared.members[2].module.encoder is shared.members[1].module.encoder
    counts = count_encoded(shared)
    shared.score(both)
    # The LSTM's 15 sequence crops are all among the 12 face crops the CutMix member encodes;
    # the shared encoder's hooks fire for both members, once per forward.
    assert counts == {"b0_frame": 12, "b0_frame_cutmix": 12, "b0_lstm": 12}


def test_unshared_backbones_encode_every_crop(lively_model_dir: Path, both: CropsByRule) -> None:
    separate = Ensemble.load(lively_model_dir, CPU, share_backbones=False)
    assert separate.members[2].module.encoder is not separate.members[1].module.encoder
    counts = count_encoded(separate)
    separate.score(both)
    assert counts == {"b0_frame": 12, "b0_frame_cutmix": 12, "b0_lstm": 15}


def test_crops_of_another_size_are_area_resized(
    ensemble: Ensemble, crops: list[np.ndarray]
) -> None:
    large = photo_crops(4, size=96)
    resized = [cv2.resize(c, (SIZE, SIZE), interpolation=cv2.INTER_AREA) for c in large]
    for name, scores in ensemble.score_faces(large).items():
        np.testing.assert_allclose(scores, ensemble.score_faces(resized)[name], atol=1e-6)


def test_layout_does_not_change_scores(
    ensemble: Ensemble, lively_model_dir: Path, crops: list[np.ndarray]
) -> None:
    nchw = Ensemble.load(lively_model_dir, CPU, channels_last=False)
    # Each layout has its own convolution kernels, so sums are ordered differently: 1.4e-5 seen.
    for name, scores in ensemble.score_faces(crops).items():
        np.testing.assert_allclose(scores, nchw.score_faces(crops)[name], atol=1e-4)


def test_warm_up_leaves_scores_unchanged(ensemble: Ensemble, crops: list[np.ndarray]) -> None:
    before = ensemble.score_faces(crops[:3])
    ensemble.warm_up()
    after = ensemble.score_faces(crops[:3])
    assert all(np.array_equal(before[name], after[name]) for name in before)


def test_a_crop_that_is_not_uint8_rgb_is_refused(ensemble: Ensemble) -> None:
    with pytest.raises(ValueError, match="uint8"):
        ensemble.score_faces([np.zeros((SIZE, SIZE, 3), np.float32)])
    with pytest.raises(ValueError, match="at least one crop"):
        ensemble.score_sequences([[]])


def test_resolve_device() -> None:
    assert resolve_device("cpu") == CPU
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present")
def test_asking_for_missing_cuda_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="CUDA is not available"):
        resolve_device("cuda")


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_fp32_equals_cpu(lively_model_dir: Path, both: CropsByRule) -> None:
    # fp32 means fp32: the ensemble turns TF32 off (measured 0.008 from the CPU with it on).
    cuda = Ensemble.load(lively_model_dir, torch.device("cuda")).score(both)
    cpu = Ensemble.load(lively_model_dir, CPU).score(both)
    for name in cuda.faces:
        np.testing.assert_allclose(cuda.faces[name], cpu.faces[name], atol=1e-4)
    np.testing.assert_allclose(cuda.sequences["b0_lstm"], cpu.sequences["b0_lstm"], atol=1e-4)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.xfail(
    strict=True,
    reason="fp16 moved these test networks' scores by up to 0.016 (mean 0.003) on an H100; "
    "half precision stays off by default until trained weights pass this check",
)
def test_cuda_half_precision_within_0_01_of_fp32(lively_model_dir: Path, both: CropsByRule) -> None:
    cuda = torch.device("cuda")
    fp32 = Ensemble.load(lively_model_dir, cuda).score(both)
    fp16 = Ensemble.load(lively_model_dir, cuda, half=True).score(both)
    for name in fp32.faces:
        np.testing.assert_allclose(fp16.faces[name], fp32.faces[name], atol=0.01)
    np.testing.assert_allclose(fp16.sequences["b0_lstm"], fp32.sequences["b0_lstm"], atol=0.01)


def test_unique_crops_merges_equal_pixels_only() -> None:
    a, b = photo_crops(2)
    unique, inverse = unique_crops([a, b, a.copy(), b])
    assert len(unique) == 2 and inverse == [0, 1, 0, 1]
    # Same bytes (all zero), different shapes: different crops.
    flat, tall = np.zeros((2, 6, 3), np.uint8), np.zeros((4, 3, 3), np.uint8)
    assert unique_crops([flat, tall])[1] == [0, 1]


def test_padded_batches_score_as_unpadded(
    ensemble: Ensemble, lively_model_dir: Path, crops: list[np.ndarray]
) -> None:
    padded = Ensemble.load(lively_model_dir, CPU, batch_size=8, pad_batches=True)
    assert padded.batch_sizes() == [1, 2, 4, 8]
    for name, scores in ensemble.score_faces(crops[:11]).items():  # chunks 8 + 3, padded to 4
        np.testing.assert_allclose(scores, padded.score_faces(crops[:11])[name], atol=1e-5)


def test_batch_sizes_end_at_batch_size(lively_model_dir: Path) -> None:
    ensemble = Ensemble(load_manifest(lively_model_dir), [], CPU, batch_size=48)
    assert ensemble.batch_sizes() == [1, 2, 4, 8, 16, 32, 48]
