"""`dfdetect models import dfdc-15th`: checkpoints trained with the 15th-place code, as a model dir.

ryanwongsa/DeepFakeDetectionChallenge (MIT) saves `{"model": state_dict, "optimizer": ...}`
(logger/checkpointer_saver.py). Its frame model `Net` (models/efficientnet/net.py) is its own
copy of lukemelas' EfficientNet as `efficient_net` (with a 1000-class `_fc` that `forward` never
runs: it calls `extract_features`), an average pool, dropout, `_fc = Linear(F, 1)` and a sigmoid:
our `frame` kind once the backbone's keys are mapped to timm's (models/lukemelas.py) and the
sigmoid left to the ensemble. Its `SequenceModelEfficientNet` (models/efficientnet_lstm/model.py)
holds `encoder_model.net.model` (a `Net` whose `_fc` became an identity) and
`decoder_model.LSTM` / `decoder_model.fc1`: the kinds of models/dfdc_networks.py.

Padding: that vendored copy pads every convolution statically for the network's nominal size
(B6: 528) at every depth. That is TensorFlow's "same", as timm's `tf_` models pad, wherever each
stride-2 convolution meets an even size: true of 224-pixel crops (224, 112, 56, 28, 14), the
size the solution trained on, and of every multiple of 32. tests/test_import_dfdc15th.py says
which padding of the `efficientnet_pytorch` package agrees.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import torch

from contract.errors import ModelError
from contract.pipeline import DEFAULT_IMAGE_SIZE, DEFAULT_SEQUENCE_LENGTH
from models.dfdc_networks import BILSTM_15TH, LSTM_15TH
from models.importers import (
    PLACEHOLDER_SHA256,
    SIGNATURES,
    TF_EFFICIENTNETS,
    ImportedMember,
    State,
    build_loaded,
    first_misfit,
    materialise,
    meta_backbone,
    meta_classifier,
    provenance,
    read_checkpoint,
    state_dict_in,
    without_counters,
    write_model_dir,
)
from models.lukemelas import lukemelas_to_timm
from models.manifest import ENCODER_PREFIX, Manifest, MemberSpec
from models.naming import member_prefix
from models.postprocess import DEFAULT_CASCADE, PostprocessSpec, scale_cascade
from models.provenance import Provenance

SOLUTION = "dfdc-15th"
REPOSITORY = "https://github.com/ryanwongsa/DeepFakeDetectionChallenge"
LICENCE = "MIT"
RECIPE = "dfdc-15th"
FRAME_BACKBONE = "efficient_net."
FRAME_HEAD = {"_fc.weight": "fc.weight", "_fc.bias": "fc.bias"}
SEQUENCE_BACKBONE = "encoder_model.net.model.efficient_net."
SEQUENCE_HEAD = {"decoder_model.LSTM.": "lstm.", "decoder_model.fc1.": "fc."}
LUKEMELAS_SCALES = tuple(n for n in TF_EFFICIENTNETS if re.fullmatch(r".*_(b\d|l2)", n))
"""lukemelas' efficientnet-b0 to b8 and l2 are timm's tf_efficientnet of the same scale."""
NOTE = (
    "15th-place method (ryanwongsa/DeepFakeDetectionChallenge, MIT): weights trained with "
    "its code, imported with `dfdetect models import dfdc-15th`"
)


def _backbone(efficient_net: State, path: Path, prefix: str) -> tuple[str, State]:
    """timm's name for a lukemelas EfficientNet's tensors, and those tensors in timm's keys.

    The scale is one whose head conv has the same shape; the mapping then checks every key.
    """
    head = efficient_net.get("_conv_head.weight")
    if head is None:
        raise ModelError(f"{path}: key {prefix + '_conv_head.weight'!r} is missing")
    scales = [n for n in LUKEMELAS_SCALES if SIGNATURES[n][2] == tuple(head.shape[:2])]
    # B0 and B1 share a head: the nearer tensor count first (one lukemelas tensor per timm
    # tensor, plus the ImageNet `_fc`), so an error speaks of the right network.
    count = len(without_counters(efficient_net)) - sum(k.startswith("_fc.") for k in efficient_net)
    scales.sort(key=lambda n: abs(SIGNATURES[n][0] - count))
    if not scales:
        raise ModelError(
            f"{path}: key {prefix + '_conv_head.weight'!r} has shape {tuple(head.shape)}, "
            "which no EfficientNet b0-b8 or l2 has"
        )
    error: ValueError | None = None
    for name in scales:
        try:
            mapped = lukemelas_to_timm(efficient_net, meta_backbone(name))
        except ValueError as failed:
            error = error or failed
            continue
        return name, materialise(mapped)
    # lukemelas' keys start with `_`, timm's never do: name the file's key in full.
    reason = re.sub(r"'(_[^']*)'", lambda m: repr(prefix + m.group(1)), str(error))
    raise ModelError(f"{path} does not fit a lukemelas EfficientNet: {reason}")


def _split(state: State, path: Path, backbone: str, head: dict[str, str]) -> tuple[State, State]:
    """The backbone's tensors (prefix removed) and the head's (renamed); a ModelError names a
    key that is neither."""
    encoder = {k.removeprefix(backbone): v for k, v in state.items() if k.startswith(backbone)}
    rest: State = {}
    for key, value in state.items():
        if key.startswith(backbone):
            continue
        source = next((s for s in head if key.startswith(s)), None)
        if source is None:
            raise ModelError(
                f"{path}: key {key!r} does not fit (expected {backbone}* and "
                f"{', '.join(f'{s}*' if s.endswith('.') else s for s in head)})"
            )
        rest[head[source] + key.removeprefix(source)] = value
    return encoder, rest


def _check(
    mapped: State, kind: str, backbone: str, path: Path, rename: Callable[[str], str]
) -> None:
    misfit = first_misfit(mapped, meta_classifier(kind, backbone))
    if misfit is not None:
        key, reason = misfit
        raise ModelError(f"{path}: key {rename(key)!r} {reason}")


def read_frame(path: Path) -> tuple[str, State]:
    """A 15th-place `Net` checkpoint as the timm backbone and FrameClassifier tensors."""
    state = state_dict_in(read_checkpoint(path), path, ["model"], bare=False)
    efficient_net, head = _split(state, path, FRAME_BACKBONE, FRAME_HEAD)
    backbone, encoder = _backbone(efficient_net, path, FRAME_BACKBONE)
    mapped = {ENCODER_PREFIX + k: v for k, v in encoder.items()} | head
    back = {v: k for k, v in FRAME_HEAD.items()}
    _check(mapped, "frame", backbone, path, lambda k: back.get(k, k))
    return backbone, mapped


def read_sequence(path: Path) -> tuple[str, str, State]:
    """A 15th-place `SequenceModelEfficientNet` checkpoint: its kind (uni- or bidirectional
    LSTM, from its tensors), timm backbone and tensors."""
    state = state_dict_in(read_checkpoint(path), path, ["model"], bare=False)
    efficient_net, head = _split(state, path, SEQUENCE_BACKBONE, SEQUENCE_HEAD)
    backbone, encoder = _backbone(efficient_net, path, SEQUENCE_BACKBONE)
    kind = BILSTM_15TH if "lstm.weight_ih_l0_reverse" in head else LSTM_15TH
    mapped = {ENCODER_PREFIX + k: v for k, v in encoder.items()} | head

    def rename(key: str) -> str:
        for source, target in SEQUENCE_HEAD.items():
            if key.startswith(target):
                return source + key.removeprefix(target)
        return key

    _check(mapped, kind, backbone, path, rename)
    return kind, backbone, mapped


def _same_encoder(a: State, b: State) -> bool:
    keys = [k for k in a if k.startswith(ENCODER_PREFIX)]
    return keys == [k for k in b if k.startswith(ENCODER_PREFIX)] and all(
        torch.equal(a[k], b[k]) for k in keys
    )


def import_dfdc15th(
    out: Path,
    frame: Path,
    frame_cutmix: Path,
    sequence: Path,
    *,
    image_size: int = DEFAULT_IMAGE_SIZE,
    sequence_length: int = DEFAULT_SEQUENCE_LENGTH,
) -> Manifest:
    """Write the three 15th-place members at `out`: `<p>_frame`, `<p>_frame_cutmix`, `<p>_lstm`.

    When the sequence model's encoder is, tensor for tensor, one frame model's backbone (as
    the solution froze the CutMix model's), the LSTM member stores its head only and names
    that member as its `encoder`. Nothing is left at `out` when a file does not fit.
    """
    read = {"frame": read_frame(Path(frame)), "frame_cutmix": read_frame(Path(frame_cutmix))}
    kind, backbone, sequence_state = read_sequence(Path(sequence))
    prefix = member_prefix(backbone)
    shares = next(
        (
            role
            for role in ("frame_cutmix", "frame")
            if _same_encoder(read[role][1], sequence_state)
        ),
        None,
    )

    def members() -> Iterator[ImportedMember]:
        for role, path in (("frame", frame), ("frame_cutmix", frame_cutmix)):
            name = f"{prefix}_{role}"
            net_backbone, state = read[role]
            spec = MemberSpec(
                name=name,
                kind="frame",
                backbone=net_backbone,
                crop="margin",
                image_size=image_size,
                checkpoint=f"{name}.safetensors",
                sha256=PLACEHOLDER_SHA256,
                trained=True,
                postprocess=PostprocessSpec(cascade=DEFAULT_CASCADE),
                provenance=_provenance(Path(path), "Net"),
            )
            yield ImportedMember(spec, build_loaded("frame", net_backbone, state, Path(path)))
        name = f"{prefix}_lstm"
        spec = MemberSpec(
            name=name,
            kind=kind,
            backbone=backbone,
            crop="margin",
            image_size=image_size,
            checkpoint=f"{name}.safetensors",
            sha256=PLACEHOLDER_SHA256,
            trained=True,
            postprocess=PostprocessSpec(cascade=scale_cascade(DEFAULT_CASCADE, sequence_length)),
            sequence_length=sequence_length,
            encoder=None if shares is None else f"{prefix}_{shares}",
            head_only=shares is not None,
            provenance=_provenance(Path(sequence), "SequenceModelEfficientNet"),
        )
        module = build_loaded(kind, backbone, sequence_state, Path(sequence))
        yield ImportedMember(spec, module, head_only=shares is not None)

    return write_model_dir(out, members(), name="dfdc-15th-imported", note=NOTE, recipe=RECIPE)


def _provenance(path: Path, network: str) -> Provenance:
    return provenance(
        path,
        solution=SOLUTION,
        repository=REPOSITORY,
        licence=LICENCE,
        recipe=RECIPE,
        source_layout=f"{{'model': {network} state dict}}; lukemelas EfficientNet keys mapped "
        "to timm's (models/lukemelas.py)",
    )
