"""`dfdetect models import dfdc-1st`: the DFDC winner's checkpoints as a dfdetect model directory.

selimsef/dfdc_deepfake_challenge (MIT), `training/zoo/classifiers.py`: `DeepFakeClassifier` is a
timm `tf_efficientnet_*_ns` encoder (created with its ImageNet classifier, which `forward`
never runs: it calls `encoder.forward_features`), `AdaptiveAvgPool2d(1)`, dropout and
`fc = Linear(F, 1)`. `predict_folder.py` loads `checkpoint.get("state_dict", checkpoint)` with a
leading `module.` removed. In eval mode that is our `frame` kind key for key: timm's headless
backbone is `forward_features` then the average pool, and dropout does nothing. So the tensors
map onto FrameClassifier unchanged, less `encoder.classifier.*`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from contract.errors import ModelError
from models.importers import (
    PLACEHOLDER_SHA256,
    ImportedMember,
    State,
    build_loaded,
    first_misfit,
    meta_classifier,
    provenance,
    read_checkpoint,
    recognise_encoder,
    state_dict_in,
    with_counters,
    write_model_dir,
)
from models.manifest import Manifest, MemberSpec
from models.postprocess import PostprocessSpec

SOLUTION = "dfdc-1st"
REPOSITORY = "https://github.com/selimsef/dfdc_deepfake_challenge"
LICENCE = "MIT"
RECIPE = "dfdc-1st"
INPUT_SIZE = 380
"""predict_folder.py: `input_size = 380`."""
ENCODER = "encoder."
HEAD = ("fc.weight", "fc.bias")
IMAGENET_HEAD = "encoder.classifier."
"""The encoder's own 1000-class head: saved, never used by `forward`."""
DESCRIBE = "a 1st-place DeepFakeClassifier (timm tf_efficientnet encoder + fc)"
NOTE = (
    "DFDC 1st place (selimsef/dfdc_deepfake_challenge, MIT; private leaderboard log loss "
    "0.428), imported with `dfdetect models import dfdc-1st`"
)


def read_dfdc1st(path: Path) -> tuple[str, State]:
    """The timm backbone a 1st-place checkpoint's encoder is, and its tensors as FrameClassifier's.

    A ModelError names the file and the first key that does not fit.
    """
    state = state_dict_in(read_checkpoint(path), path, ["state_dict"], bare=True)
    stray = next((k for k in state if not k.startswith(ENCODER) and k not in HEAD), None)
    if stray is not None:
        raise ModelError(
            f"{path} is not {DESCRIBE} checkpoint: key {stray!r} does not fit (the network "
            f"holds `encoder.*`, `fc.weight` and `fc.bias` only)"
        )
    encoder = {
        k.removeprefix(ENCODER): v
        for k, v in state.items()
        if k.startswith(ENCODER) and not k.startswith(IMAGENET_HEAD)
    }
    backbone = recognise_encoder(encoder, path, rename=lambda key: ENCODER + key, describe=DESCRIBE)
    target = meta_classifier("frame", backbone)
    mapped = with_counters(
        {k: v for k, v in state.items() if not k.startswith(IMAGENET_HEAD)}, target
    )
    misfit = first_misfit(mapped, target)
    if misfit is not None:
        key, reason = misfit
        raise ModelError(f"{path} is not {DESCRIBE} checkpoint: key {key!r} {reason}")
    return backbone, mapped


def member_name(path: Path) -> str:
    """A member name from the file name: `final_111_DeepFakeClassifier_tf_efficientnet_b7_ns_0_36`
    stays as it is; other characters than letters, digits, `_`, `.` and `-` become `_`."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", Path(path).name.removesuffix(".pth"))
    return name if re.match(r"[A-Za-z0-9]", name) else f"m{name}"


def import_dfdc1st(out: Path, checkpoints: Sequence[Path]) -> Manifest:
    """Write a model directory of the 1st-place members at `out`; nothing is left at `out`
    when one file does not fit."""
    if not checkpoints:
        raise ModelError("name at least one 1st-place checkpoint file")
    names = [member_name(path) for path in checkpoints]
    twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
    if twice is not None:
        raise ModelError(f"two checkpoints give the member name {twice!r}; name each file once")
    members = (_member(Path(path), name) for path, name in zip(checkpoints, names, strict=True))
    return write_model_dir(out, members, name="dfdc-1st-selimsef", note=NOTE, recipe=RECIPE)


def _member(path: Path, name: str) -> ImportedMember:
    backbone, state = read_dfdc1st(path)
    spec = MemberSpec(
        name=name,
        kind="frame",
        backbone=backbone,
        crop="thirds",
        image_size=INPUT_SIZE,
        resize="isotropic_pad",
        checkpoint=f"{name}.safetensors",
        sha256=PLACEHOLDER_SHA256,
        trained=True,
        postprocess=PostprocessSpec(strategy="confident"),
        provenance=provenance(
            path,
            solution=SOLUTION,
            repository=REPOSITORY,
            licence=LICENCE,
            recipe=RECIPE,
            source_layout="DeepFakeClassifier state dict ({'state_dict': ...} or bare, "
            "`module.` removed); encoder.classifier.* (the unused ImageNet head) dropped",
        ),
    )
    return ImportedMember(spec, build_loaded("frame", backbone, state, path))
