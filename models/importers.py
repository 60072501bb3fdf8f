"""What `dfdetect models import` shares between solutions: reading a checkpoint without running
code, recognising a timm EfficientNet from tensor shapes, and writing a model directory whole.

A checkpoint is read with `torch.load(weights_only=True)`: tensors, containers and numbers only,
never an object whose pickle names code. Every problem is a ModelError that names the file and,
where keys are at fault, the first key that does not fit. The directory is written into a
temporary sibling and renamed into place, so a failed import leaves nothing behind.
"""

from __future__ import annotations

import importlib
import os
import pickle
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import timm
import torch

from contract.digest import file_sha256
from contract.errors import ModelError
from models.manifest import Manifest, MemberSpec, save_checkpoint, save_manifest
from models.networks import Classifier, build_classifier
from models.provenance import Provenance

State = dict[str, torch.Tensor]

SIGNATURES: dict[str, tuple[int, int, tuple[int, int]]] = {
    # name: (tensors less BatchNorm counters, stem channels, head conv (out, in)), as timm 1.0
    # builds them headless; tests/test_importers.py checks the table against timm.
    "tf_efficientnet_b0": (309, 32, (1280, 320)),
    "tf_efficientnet_b1": (437, 32, (1280, 320)),
    "tf_efficientnet_b2": (437, 32, (1408, 352)),
    "tf_efficientnet_b3": (494, 40, (1536, 384)),
    "tf_efficientnet_b4": (608, 48, (1792, 448)),
    "tf_efficientnet_b5": (736, 48, (2048, 512)),
    "tf_efficientnet_b6": (850, 56, (2304, 576)),
    "tf_efficientnet_b7": (1035, 64, (2560, 640)),
    "tf_efficientnet_b8": (1149, 72, (2816, 704)),
    "tf_efficientnet_l2": (1652, 136, (5504, 1376)),
    "tf_efficientnet_lite0": (245, 32, (1280, 320)),
    "tf_efficientnet_lite1": (320, 32, (1280, 320)),
    "tf_efficientnet_lite2": (320, 32, (1280, 352)),
    "tf_efficientnet_lite3": (365, 32, (1280, 384)),
    "tf_efficientnet_lite4": (455, 32, (1280, 448)),
    "tf_efficientnet_es": (245, 32, (1280, 192)),
    "tf_efficientnet_em": (320, 32, (1280, 192)),
    "tf_efficientnet_el": (360, 40, (1536, 232)),
}
"""timm's TensorFlow-ported EfficientNets, which an encoder is recognised among. Building one
to compare with, even on the meta device, takes seconds on a busy CPU, so candidates are picked
by this signature first and only those are built."""
TF_EFFICIENTNETS = tuple(SIGNATURES)
COUNTER = "num_batches_tracked"
"""A BatchNorm's step counter: only training reads it, and some checkpoints lack it."""


_SCALAR = importlib.import_module("numpy._core.multiarray").scalar
_NUMPY_SCALARS: list[Any] = [
    # Training scripts of 2020 saved metrics such as `bce_best` as numpy scalars: a dtype and
    # the value's bytes, no code. NumPy 1 pickled them under `numpy.core`, NumPy 2 `numpy._core`.
    (_SCALAR, "numpy.core.multiarray.scalar"),
    _SCALAR,
    np.dtype,
    *(type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDG"),
]


def read_checkpoint(path: Path) -> Any:
    """The object a `torch.save` file holds, loaded with `weights_only=True` on the CPU."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path} does not exist or is not a file")
    try:
        with torch.serialization.safe_globals(_NUMPY_SCALARS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        named = next((line for line in lines if "GLOBAL" in line or "nsupported" in line), None)
        raise ModelError(
            f"{path} is refused: it holds more than tensors, containers and numbers, and "
            f"loading it would run code it names ({named or lines[0] if lines else error}); "
            "dfdetect reads checkpoints with torch.load(weights_only=True) only"
        ) from error
    except Exception as error:  # torch raises RuntimeError, EOFError, ... for a damaged file
        raise ModelError(
            f"{path} is not a readable PyTorch checkpoint (truncated or not a torch.save "
            f"file): {type(error).__name__}: {error}"
        ) from error


def state_dict_in(checkpoint: Any, path: Path, keys: Iterable[str], *, bare: bool) -> State:
    """The tensors under the first of `keys` the checkpoint has (or the checkpoint itself when
    `bare` and it is a flat dict of tensors), with a leading `module.` (DataParallel) removed."""
    found: Any = None
    if isinstance(checkpoint, Mapping):
        found = next((checkpoint[key] for key in keys if key in checkpoint), None)
        if found is None and bare:
            found = checkpoint
    if not isinstance(found, Mapping) or not found:
        wanted = " or ".join(f"{{{key!r}: state dict}}" for key in keys)
        raise ModelError(
            f"{path} holds {_describe(checkpoint)}, not {wanted}{' or a state dict' * bare}"
        )
    state: State = {}
    for key, value in found.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise ModelError(f"{path}: key {key!r} does not fit: {_describe(value)}, not a tensor")
        state[re.sub(r"^module\.", "", key)] = value
    return state


def _describe(value: Any) -> str:
    if isinstance(value, Mapping):
        return f"a dict with keys {sorted(map(str, value))[:5]}"
    return f"a {type(value).__name__}"


@cache
def meta_backbone(name: str) -> State:
    """The state dict of a headless timm backbone built on the meta device: keys, shapes and
    dtypes, no memory (a B7 takes a fraction of a second)."""
    with torch.device("meta"):
        model = timm.create_model(name, pretrained=False, num_classes=0, global_pool="avg")
    return dict(model.state_dict())


def _meta_state(name: str) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Key -> (shape, dtype) of `meta_backbone(name)`."""
    return {k: (tuple(v.shape), v.dtype) for k, v in meta_backbone(name).items()}


def meta_classifier(kind: str, backbone: str) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    """Key -> (shape, dtype) of a registered classifier kind, built on the meta device."""
    with torch.device("meta"):
        module = build_classifier(kind, backbone)
    return {k: (tuple(v.shape), v.dtype) for k, v in module.state_dict().items()}


def materialise(state: Mapping[str, torch.Tensor]) -> State:
    """Meta tensors (counters a source lacked, taken from a meta target) as CPU zeros."""
    return {k: torch.zeros(v.shape, dtype=v.dtype) if v.is_meta else v for k, v in state.items()}


def first_misfit(
    source: Mapping[str, torch.Tensor], target: Mapping[str, tuple[tuple[int, ...], Any]]
) -> tuple[str, str] | None:
    """The first key that does not fit and why; None when keys and shapes match exactly.

    Target keys in order first (missing, or another shape), then source keys it lacks.
    """
    for key, (shape, _) in target.items():
        if key not in source:
            return key, "is missing"
        if tuple(source[key].shape) != shape:
            return key, f"has shape {tuple(source[key].shape)}, expected {shape}"
    extra = next((key for key in source if key not in target), None)
    return None if extra is None else (extra, "is not expected")


def signature(encoder: Mapping[str, torch.Tensor]) -> tuple[int, int, tuple[int, int]] | None:
    """A headless backbone's (tensors less counters, stem channels, head conv (out, in))."""
    stem, head = encoder.get("conv_stem.weight"), encoder.get("conv_head.weight")
    if stem is None or head is None or stem.ndim != 4 or head.ndim != 4:
        return None
    count = sum(1 for key in encoder if not key.endswith(COUNTER))
    return count, int(stem.shape[0]), (int(head.shape[0]), int(head.shape[1]))


def _closeness(name: str, found: tuple[int, int, tuple[int, int]] | None) -> tuple[int, ...]:
    """How near a candidate's signature is (smaller is nearer): head, then stem, then count."""
    count, stem, head = SIGNATURES[name]
    if found is None:
        return (2, 2, count)
    return (head != found[2], stem != found[1], abs(count - found[0]))


def without_counters(state: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in state.items() if not k.endswith(COUNTER)}


def with_counters(state: Mapping[str, torch.Tensor], target: Mapping[str, Any]) -> State:
    """`state` with a zero counter for each BatchNorm of `target` whose counter it lacks."""
    filled = dict(state)
    for key in target:
        if key.endswith(COUNTER) and key not in filled:
            filled[key] = torch.zeros((), dtype=torch.long)
    return filled


def recognise_encoder(
    encoder: Mapping[str, torch.Tensor],
    path: Path,
    *,
    rename: Callable[[str], str] = str,
    describe: str = "a timm tf_efficientnet",
) -> str:
    """The timm EfficientNet whose headless state dict `encoder` is, key for key and shape for
    shape (BatchNorm counters may be absent); else a ModelError naming the first key that does
    not fit the closest one. `rename` maps a timm key back to its name in the file.
    """
    found = signature(encoder)
    for name in (n for n in TF_EFFICIENTNETS if SIGNATURES[n] == found):
        if first_misfit(without_counters(encoder), without_counters(_meta_state(name))) is None:
            return name
    name = min(TF_EFFICIENTNETS, key=lambda n: _closeness(n, found))
    target = without_counters(_meta_state(name))
    misfit = first_misfit(without_counters(encoder), target)
    assert misfit is not None
    key, reason = misfit
    raise ModelError(
        f"{path} is not {describe} checkpoint: key {rename(key)!r} {reason} (compared with "
        f"the closest network, {name})"
    )


def as_float32(state: Mapping[str, torch.Tensor]) -> State:
    """Floating tensors as contiguous float32 on the CPU (checkpoints saved in fp16 too)."""
    return {
        k: (v.float() if v.is_floating_point() else v).detach().cpu().contiguous()
        for k, v in state.items()
    }


def build_loaded(
    kind: str, backbone: str, state: Mapping[str, torch.Tensor], path: Path
) -> Classifier:
    """A classifier of `kind` holding exactly `state` (strict: every key, every shape)."""
    with torch.device("meta"):
        module = build_classifier(kind, backbone)
    try:
        module.load_state_dict(as_float32(state), strict=True, assign=True)
    except RuntimeError as error:
        raise ModelError(f"{path} does not fit a {kind} member on {backbone}: {error}") from error
    return module.eval()


def provenance(path: Path, **fields: str) -> Provenance:
    """The provenance record of a member imported from `path` (name and SHA-256 of its bytes)."""
    return Provenance(source_file=Path(path).name, source_sha256=file_sha256(path), **fields)


@dataclass
class ImportedMember:
    """A member ready to write: its spec (the checkpoint's SHA-256 not known yet) and network."""

    spec: MemberSpec
    module: Classifier
    head_only: bool = False


PLACEHOLDER_SHA256 = "0" * 64
"""The spec's sha256 until the checkpoint is written."""


def write_model_dir(out: Path, members: Iterable[ImportedMember], **manifest: Any) -> Manifest:
    """Write checkpoints and manifest into a temporary sibling of `out`, then rename it to `out`.

    `members` may be a generator: each member is written and let go before the next is read
    (seven B7s need not fit in memory at once). `out` must not exist, or be an empty
    directory: an import never mixes with other files.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ModelError(f"{out} exists and is not an empty directory; choose a new --out")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    try:
        specs = []
        for member in members:
            sha256 = save_checkpoint(
                member.module, staging / member.spec.checkpoint, head_only=member.head_only
            )
            specs.append(member.spec.model_copy(update={"sha256": sha256}))
        result = Manifest.model_validate({**manifest, "members": [s.model_dump() for s in specs]})
        save_manifest(staging, result)
        staging.chmod(0o755)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result
