"""What the importers share: reading checkpoints without running code, recognising encoders."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from contract.errors import ModelError
from models.importers import (
    SIGNATURES,
    meta_backbone,
    read_checkpoint,
    recognise_encoder,
    signature,
    state_dict_in,
)


@pytest.mark.parametrize(
    "name", ["tf_efficientnet_b0", "tf_efficientnet_b7", "tf_efficientnet_lite0"]
)
def test_the_signature_table_is_what_timm_builds(name: str) -> None:
    assert signature(meta_backbone(name)) == SIGNATURES[name]


def test_an_encoder_is_recognised_by_its_tensors_without_counters() -> None:
    encoder = {k: torch.empty(v.shape) for k, v in meta_backbone("tf_efficientnet_b0").items()}
    assert recognise_encoder(encoder, Path("x")) == "tf_efficientnet_b0"
    less = {k: v for k, v in encoder.items() if not k.endswith("num_batches_tracked")}
    assert recognise_encoder(less, Path("x")) == "tf_efficientnet_b0"
    del less["blocks.2.1.bn3.weight"]
    with pytest.raises(ModelError, match=r"'blocks\.2\.1\.bn3\.weight' is missing"):
        recognise_encoder(less, Path("x"))


def test_numpy_scalars_of_numpy_1_and_2_load_and_legacy_files_too(tmp_path: Path) -> None:
    saved = {"state_dict": {"w": torch.ones(2)}, "bce_best": np.float64(0.19), "epoch": 3}
    torch.save(saved, tmp_path / "numpy2")
    # NumPy 1 (2020's training runs) pickled scalars as numpy.core.multiarray.scalar.
    with (
        zipfile.ZipFile(tmp_path / "numpy2") as src,
        zipfile.ZipFile(tmp_path / "numpy1", "w") as dst,
    ):
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("data.pkl"):
                assert b"numpy._core.multiarray" in data
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            dst.writestr(info, data)
    torch.save(saved, tmp_path / "legacy", _use_new_zipfile_serialization=False)
    for name in ("numpy2", "numpy1", "legacy"):
        loaded = read_checkpoint(tmp_path / name)
        assert loaded["bce_best"] == 0.19 and torch.equal(loaded["state_dict"]["w"], torch.ones(2))


def test_state_dicts_are_found_unwrapped_and_checked() -> None:
    inner = {"module.fc.weight": torch.ones(1, 2)}
    assert list(state_dict_in({"state_dict": inner}, Path("f"), ["state_dict"], bare=True)) == [
        "fc.weight"
    ]
    assert list(state_dict_in(inner, Path("f"), ["state_dict"], bare=True)) == ["fc.weight"]
    with pytest.raises(ModelError, match="not \\{'model': state dict\\}"):
        state_dict_in(inner, Path("f"), ["model"], bare=False)
    with pytest.raises(ModelError, match="key 'epoch' does not fit: a int"):
        state_dict_in({"model": {"epoch": 3}}, Path("f"), ["model"], bare=False)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        read_checkpoint(tmp_path / "nope.pth")
