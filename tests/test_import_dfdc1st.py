"""`dfdetect models import dfdc-1st`: the winner's DeepFakeClassifier checkpoints, scored the same.

Sources are random tf_efficientnet_b0 networks in the 1st-place layout (tests/dfdc_sources.py),
lively, saved as that repository's training script saves them; the published files are B7s.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from cli.main import main
from contract.digest import file_sha256
from contract.errors import ModelError
from models.ensemble import Ensemble
from models.import_dfdc1st import import_dfdc1st
from models.manifest import Manifest, load_manifest, load_member
from tests.dfdc_sources import CPU, face_crops, lively_first, to_batch

SIZE = 64
"""Crop side for the parity check (the recipe's 380 costs more and tests nothing more)."""
NAMES = (
    "final_111_DeepFakeClassifier_tf_efficientnet_b0_ns_0_36",
    "final_555_DeepFakeClassifier_tf_efficientnet_b0_ns_0_19",
)


@pytest.fixture(scope="module")
def crops(data_dir: Path) -> list[np.ndarray]:
    return face_crops(data_dir, 8, SIZE)


@pytest.fixture(scope="module")
def sources(
    crops: list[np.ndarray], tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[Path], list[torch.Tensor]]:
    """Two checkpoints as train_classifier.py saves them (`module.` keys inside `state_dict`,
    a numpy `bce_best`), one as a bare state dict; and each source network's logits."""
    folder = tmp_path_factory.mktemp("dfdc1st")
    images = to_batch(crops)
    paths, logits = [], []
    for seed, name in enumerate(NAMES):
        net = lively_first("tf_efficientnet_b0", images, seed)
        with torch.no_grad():
            logits.append(net(images))
        state = net.state_dict()
        if seed == 0:
            saved: object = {
                "epoch": 12,
                "state_dict": {f"module.{k}": v for k, v in state.items()},
                "bce_best": np.float64(0.19),
            }
        else:
            saved = state
        torch.save(saved, folder / name)
        paths.append(folder / name)
    return paths, logits


@pytest.fixture(scope="module")
def imported(
    sources: tuple[list[Path], list[torch.Tensor]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Manifest]:
    out = tmp_path_factory.mktemp("imported") / "dfdc1st"
    return out, import_dfdc1st(out, sources[0])


def test_imported_members_give_the_source_logits(
    sources: tuple[list[Path], list[torch.Tensor]],
    imported: tuple[Path, Manifest],
    crops: list[np.ndarray],
) -> None:
    out, manifest = imported
    for spec, expected in zip(manifest.members, sources[1], strict=True):
        assert torch.sigmoid(expected).std() > 0.15, "scores must spread for equality to count"
        with torch.no_grad():
            actual = load_member(out, spec, CPU)(to_batch(crops))
        torch.testing.assert_close(actual, expected, rtol=0.0, atol=1e-5)


def test_the_ensemble_scores_them_the_same(
    sources: tuple[list[Path], list[torch.Tensor]],
    imported: tuple[Path, Manifest],
    crops: list[np.ndarray],
) -> None:
    out, manifest = imported
    ensemble = Ensemble.load(out, CPU)
    for member in ensemble.members:  # the members say 380: score the crops unresized
        member.spec = member.spec.model_copy(update={"image_size": SIZE})
    scores = ensemble.score_faces(crops)
    # Not 1e-5: the ensemble normalises in float32 (to_batch in float64), lays batches out
    # channels_last and folds BatchNorm into the convolutions (2e-5 apart measured at 224).
    for spec, expected in zip(manifest.members, sources[1], strict=True):
        np.testing.assert_allclose(scores[spec.name], torch.sigmoid(expected).numpy(), atol=1e-4)


def test_the_directory_says_what_it_holds_and_where_it_came_from(
    sources: tuple[list[Path], list[torch.Tensor]], imported: tuple[Path, Manifest]
) -> None:
    out, manifest = imported
    assert load_manifest(out) == manifest
    assert manifest.recipe == "dfdc-1st" and manifest.trained
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["manifest.json", *(f"{name}.safetensors" for name in NAMES)]
    )
    for spec, path in zip(manifest.members, sources[0], strict=True):
        assert (spec.name, spec.kind, spec.backbone) == (path.name, "frame", "tf_efficientnet_b0")
        assert (spec.crop, spec.image_size, spec.resize, spec.postprocess.strategy) == (
            "thirds",
            380,
            "isotropic_pad",
            "confident",
        )
        assert spec.sha256 == file_sha256(out / spec.checkpoint)
        provenance = spec.provenance
        assert provenance is not None
        assert (provenance.source_file, provenance.source_sha256) == (path.name, file_sha256(path))
        assert (provenance.solution, provenance.licence, provenance.recipe) == (
            "dfdc-1st",
            "MIT",
            "dfdc-1st",
        )


def test_the_command_line_imports(
    sources: tuple[list[Path], list[torch.Tensor]],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "cli"
    assert main(["models", "import", "dfdc-1st", "--out", str(out), str(sources[0][1])]) == 0
    assert "trained: true" in capsys.readouterr().out
    assert [m.name for m in load_manifest(out).members] == [NAMES[1]]


class _RunsCode:
    """Unpickling this would create the marker directory: its absence proves nothing ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.makedirs, (str(self.marker),)


def _bad_checkpoints(folder: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """Each kind of file that is not a 1st-place checkpoint, and what its error must say."""
    import timm

    cases: dict[str, tuple[Path, str]] = {}
    data = good.read_bytes()
    (folder / "truncated").write_bytes(data[: len(data) // 2])
    cases["truncated"] = (folder / "truncated", "not a readable PyTorch checkpoint")
    state = torch.load(good, weights_only=True)
    torch.save({"state_dict": state, "hook": _RunsCode(folder / "ran")}, folder / "code")
    cases["code"] = (folder / "code", "would run code it names")
    resnet = timm.create_model("resnet10t", pretrained=False).state_dict()
    torch.save(resnet, folder / "resnet")
    cases["resnet"] = (folder / "resnet", re.escape(f"key {next(iter(resnet))!r} does not fit"))
    missing = dict(state)
    del missing["encoder.blocks.3.0.bn2.running_var"]
    torch.save(missing, folder / "missing")
    cases["missing"] = (
        folder / "missing",
        re.escape("'encoder.blocks.3.0.bn2.running_var' is missing"),
    )
    torch.save([1, 2], folder / "list")
    cases["list"] = (folder / "list", "holds a list")
    return cases


@pytest.mark.parametrize("case", ["truncated", "code", "resnet", "missing", "list"])
def test_a_file_that_does_not_fit_is_named_and_nothing_is_written(
    sources: tuple[list[Path], list[torch.Tensor]], tmp_path: Path, case: str
) -> None:
    path, message = _bad_checkpoints(tmp_path, sources[0][1])[case]
    parent = tmp_path / "models"
    parent.mkdir()
    # A good file first: the bad one fails after a member was written to the staging dir.
    with pytest.raises(ModelError, match=message) as raised:
        import_dfdc1st(parent / "out", [sources[0][0], path])
    assert str(path) in str(raised.value)
    assert list(parent.iterdir()) == [], "a failed import leaves nothing behind"
    assert not (tmp_path / "ran").exists(), "the checkpoint's code must never run"


def test_an_existing_directory_with_files_is_refused(
    sources: tuple[list[Path], list[torch.Tensor]], tmp_path: Path
) -> None:
    (tmp_path / "other.txt").write_text("keep me")
    with pytest.raises(ModelError, match="not an empty directory"):
        import_dfdc1st(tmp_path, sources[0][:1])
    assert [p.name for p in tmp_path.iterdir()] == ["other.txt"]
