"""`dfdetect models import dfdc-15th`: checkpoints of the 15th-place code, scored the same.

Sources are random efficientnet-b0 networks from the `efficientnet_pytorch` package in the
layouts of that solution's `Net` and `SequenceModelEfficientNet` (tests/dfdc_sources.py), lively,
saved as its trainer saves them (`{"model": ..., "optimizer": ...}`); its own members are B6s.

Padding: the solution's vendored EfficientNet pads every convolution statically for the nominal
image size (B6: 528) at every depth. timm's `tf_` models pad TensorFlow-"same" from the size that
arrives, as the package's dynamic padding (`image_size=None`) does. At 224-pixel crops every
stride-2 convolution meets an even size (224, 112, 56, 28, 14), as at any multiple of 32, and
the three agree: the sources here use the package's dynamic padding on 64-pixel crops, and one
test checks the vendored rule against it.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest
import torch

from contract.digest import file_sha256
from contract.errors import ModelError
from models.crop_rules import CropsByRule
from models.dfdc_networks import BILSTM_15TH, LSTM_15TH
from models.ensemble import Ensemble
from models.import_dfdc15th import import_dfdc15th
from models.manifest import Manifest, load_manifest, load_member
from tests.dfdc_sources import (
    CPU,
    NetLayout,
    SequenceModelLayout,
    enliven_batchnorms,
    face_crops,
    standardise,
    to_batch,
    vendored_padding,
)


class Case(NamedTuple):
    out: Path
    manifest: Manifest
    expected: dict[str, torch.Tensor]
    drifted: bool
    sources: dict[str, torch.nn.Module]


SIZE = 64
"""Crop side: a multiple of 32 like the solution's 224, so its padding and timm's agree."""
LENGTH = 5
CROPS = 8


def lively_net(images: torch.Tensor, seed: int) -> NetLayout:
    torch.manual_seed(seed)
    net = NetLayout("efficientnet-b0")
    enliven_batchnorms(net.efficient_net, images, seed)
    with torch.no_grad():
        standardise(net._fc, net.logits(images))  # type: ignore[arg-type]
    return net.eval()


def windows(images: torch.Tensor) -> torch.Tensor:
    """Every run of LENGTH consecutive crops: (CROPS - LENGTH + 1, LENGTH, 3, H, W)."""
    return images.unfold(0, LENGTH, 1).permute(0, 4, 1, 2, 3)


def lively_sequence(
    cutmix: NetLayout, images: torch.Tensor, bidirectional: bool, drifted: bool
) -> SequenceModelLayout:
    """The LSTM on a copy of the CutMix model (as the solution loads it); `drifted`: its
    BatchNorm statistics moved (BatchNorm keeps counting under requires_grad=False)."""
    torch.manual_seed(7)
    net = NetLayout("efficientnet-b0")
    net.load_state_dict(cutmix.state_dict())
    if drifted:
        enliven_batchnorms(net.efficient_net, images.flip(0)[:4], seed=9)
    sequence = SequenceModelLayout(net, bidirectional).eval()
    with torch.no_grad():
        standardise(sequence.decoder_model.fc1, sequence(windows(images)))
    return sequence


@pytest.fixture(scope="module")
def crops(data_dir: Path) -> list[np.ndarray]:
    return face_crops(data_dir, CROPS, SIZE)


@pytest.fixture(scope="module")
def frames(crops: list[np.ndarray]) -> tuple[NetLayout, NetLayout]:
    images = to_batch(crops)
    return lively_net(images, 0), lively_net(images, 1)


def save(folder: Path, name: str, state: dict[str, torch.Tensor]) -> Path:
    """As logger/checkpointer_saver.py saves: the model's and the optimizer's state dicts."""
    torch.save(
        {"model": state, "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4}]}}, folder / name
    )
    return folder / name


@pytest.fixture(
    scope="module", params=[(True, False), (False, True)], ids=["bilstm-shared", "lstm-drifted"]
)
def case(
    request: pytest.FixtureRequest,
    crops: list[np.ndarray],
    frames: tuple[NetLayout, NetLayout],
    tmp_path_factory: pytest.TempPathFactory,
) -> Case:
    """Three checkpoints imported; the source logits of each member (frame members per crop,
    the sequence member per window)."""
    bidirectional, drifted = request.param
    images = to_batch(crops)
    frame, cutmix = frames
    sequence = lively_sequence(cutmix, images, bidirectional, drifted)
    folder = tmp_path_factory.mktemp("dfdc15th")
    paths = [
        save(folder, name, net.state_dict())
        for name, net in (("frame.ckpt", frame), ("cutmix.ckpt", cutmix), ("lstm.ckpt", sequence))
    ]
    sources = {"b0_frame": frame, "b0_frame_cutmix": cutmix, "b0_lstm": sequence}
    with torch.no_grad():
        expected = {name: source_logits(net, images) for name, net in sources.items()}
    out = folder / "imported"
    manifest = import_dfdc15th(out, *paths, image_size=SIZE, sequence_length=LENGTH)
    return Case(out, manifest, expected, drifted, sources)


def source_logits(net: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """A source's logits: per crop for `Net`, per window for the sequence model."""
    if isinstance(net, NetLayout):
        return net.logits(images)
    out: torch.Tensor = net(windows(images))
    return out


def test_imported_members_give_the_source_logits(case: Case, crops: list[np.ndarray]) -> None:
    """Within 1e-5 in float64, where only a wrong mapping can part them; float32 rounds
    differently in lukemelas' and timm's convolutions (SE pooling, padding), 2e-5 measured."""
    out, manifest, expected, _, sources = case
    images = to_batch(crops)
    for spec in manifest.members:
        assert torch.sigmoid(expected[spec.name]).std() > 0.15, "scores must spread"
        module = load_member(out, spec, CPU)
        with torch.no_grad():
            inputs = windows(images) if spec.sequence_length else images
            torch.testing.assert_close(module(inputs), expected[spec.name], rtol=0.0, atol=1e-4)
            reference = copy.deepcopy(sources[spec.name]).double()
            torch.testing.assert_close(
                module.double()(inputs.double()),
                source_logits(reference, images.double()),
                rtol=0.0,
                atol=1e-5,
            )


def test_the_ensemble_scores_them_the_same(case: Case, crops: list[np.ndarray]) -> None:
    out, _, expected, _, _ = case
    sequences = [crops[start : start + LENGTH] for start in range(CROPS - LENGTH + 1)]
    scores = Ensemble.load(out, CPU).score(CropsByRule.alike(crops, sequences))
    # float32 normalisation, channels_last and folded BatchNorm: not 1e-5 (see test_import_dfdc1st)
    for name, got in {**scores.faces, **scores.sequences}.items():
        np.testing.assert_allclose(got, torch.sigmoid(expected[name]).numpy(), atol=1e-4)


def test_the_directory_records_kinds_sharing_and_provenance(
    case: Case,
) -> None:
    out, manifest, _, drifted, _ = case
    assert load_manifest(out) == manifest and manifest.trained and manifest.recipe == "dfdc-15th"
    frame, cutmix, lstm = manifest.members
    assert [m.name for m in manifest.members] == ["b0_frame", "b0_frame_cutmix", "b0_lstm"]
    assert {m.backbone for m in manifest.members} == {"tf_efficientnet_b0"}
    # Trained on 15th-place margin crops: they keep them under any recipe.
    assert {m.crop for m in manifest.members} == {"margin"}
    assert lstm.kind == (LSTM_15TH if drifted else BILSTM_15TH) and lstm.sequence_length == LENGTH
    # The same encoder tensors as the CutMix model: the LSTM stores its head only.
    assert (lstm.encoder, lstm.head_only) == (
        (None, False) if drifted else ("b0_frame_cutmix", True)
    )
    for spec in manifest.members:
        provenance = spec.provenance
        assert provenance is not None and spec.image_size == SIZE
        source = out.parent / provenance.source_file
        assert provenance.source_sha256 == file_sha256(source)
        assert (provenance.solution, provenance.licence) == ("dfdc-15th", "MIT")
    assert frame.postprocess.strategy == cutmix.postprocess.strategy == "cascade"


def test_the_vendored_padding_agrees_with_timms_at_a_multiple_of_32(
    frames: tuple[NetLayout, NetLayout], crops: list[np.ndarray]
) -> None:
    frame = frames[0]
    vendored = NetLayout("efficientnet-b0")
    vendored.load_state_dict(frame.state_dict())
    vendored_padding(vendored.eval(), nominal=528)  # B6's nominal size, as for its members
    images = to_batch(crops[:2])
    with torch.no_grad():
        torch.testing.assert_close(
            vendored.logits(images), frame.logits(images), rtol=0.0, atol=1e-5
        )
        # At an odd size they part: stride-2 convolutions pad one pixel less on one side.
        odd = torch.nn.functional.interpolate(images, size=(SIZE + 1, SIZE + 1), mode="bilinear")
        assert (vendored.logits(odd) - frame.logits(odd)).abs().max() > 1e-3


@pytest.fixture(scope="module")
def good(case: Case) -> tuple[Path, Path, Path]:
    out = case[0]
    names = [m.provenance.source_file for m in case[1].members if m.provenance]
    frame, cutmix, lstm = (out.parent / name for name in names)
    return frame, cutmix, lstm


def _damaged(folder: Path, good: tuple[Path, Path, Path], case: str) -> tuple[dict[str, Path], str]:
    """The three files with one replaced by a damaged one, and what the error must say."""
    frame, cutmix, lstm = good
    files = {"frame": frame, "frame_cutmix": cutmix, "sequence": lstm}
    state = torch.load(lstm, weights_only=True)["model"]
    if case == "truncated":
        data = cutmix.read_bytes()
        (folder / "cut").write_bytes(data[: len(data) // 3])
        files["frame_cutmix"] = folder / "cut"
        return files, "not a readable PyTorch checkpoint"
    if case == "missing":
        key = "encoder_model.net.model.efficient_net._blocks.3._bn1.running_var"
        del state[key]
        files["sequence"] = save(folder, "missing", state)
        return files, re.escape(repr(key))
    if case == "lstm":
        key = "decoder_model.LSTM.weight_hh_l1"
        state[key] = state[key][:, :100]
        files["sequence"] = save(folder, "lstm", state)
        return files, re.escape(f"{key!r} has shape")
    if case == "first_place":
        torch.save({"state_dict": {"encoder.conv_stem.weight": torch.zeros(1)}}, folder / "first")
        files["frame"] = folder / "first"
        return files, "not \\{'model': state dict\\}"
    raise AssertionError(case)


@pytest.mark.parametrize("damage", ["truncated", "missing", "lstm", "first_place"])
def test_a_file_that_does_not_fit_is_named_and_nothing_is_written(
    good: tuple[Path, Path, Path], tmp_path: Path, damage: str
) -> None:
    files, message = _damaged(tmp_path, good, damage)
    parent = tmp_path / "models"
    parent.mkdir()
    with pytest.raises(ModelError, match=message) as raised:
        import_dfdc15th(parent / "out", files["frame"], files["frame_cutmix"], files["sequence"])
    assert any(str(path) in str(raised.value) for path in files.values())
    assert list(parent.iterdir()) == []
