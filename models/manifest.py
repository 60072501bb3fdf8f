"""A model directory: `manifest.json` describing the ensemble, plus one safetensors file per member.

Checksums are verified at load: the bytes hashed are the bytes loaded, and a mismatch is an
error that names the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from safetensors import SafetensorError
from safetensors.torch import load as load_safetensors
from safetensors.torch import save_file
from torch import nn

from contract.calibration import Calibration
from contract.digest import file_sha256
from contract.errors import ModelError
from contract.pipeline import IMAGENET_MEAN, IMAGENET_STD, Rgb
from contract.recipes import DEFAULT_RECIPE, CropRule, RecipeName, recipe_with
from models import dfdc_networks  # noqa: F401  (registers the 15th-place sequence kinds)
from models.batching import Resize
from models.networks import Classifier, build_classifier, classifier_input, classifier_kinds
from models.postprocess import PostprocessSpec
from models.provenance import Provenance

MANIFEST_FILE = "manifest.json"
"""The manifest's file name inside a model directory."""
FORMAT_VERSION = 1
"""The manifest format this code reads and writes."""
SCAFFOLD_HINT = "write one with `dfdetect models scaffold --out DIR` or point --model-dir at one"

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class MemberSpec(BaseModel):
    """One ensemble member: its network, weights file and post-processing."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    kind: str = Field(description="A registered classifier kind (models/networks.py).")
    backbone: str = Field(description="timm model name, e.g. tf_efficientnet_b6.")
    crop: CropRule | None = Field(
        None,
        description="How its faces are cut from the frame: margin (15th place) or thirds (1st "
        "place); None: the recipe's rule. A member keeps the crops it was trained on whatever "
        "recipe runs it.",
    )
    image_size: int = Field(gt=0, description="Square crop side the member was trained on.")
    mean: Rgb = Field(IMAGENET_MEAN, description="Per-channel mean (RGB, 0-1) of its inputs.")
    std: Rgb = Field(IMAGENET_STD, description="Per-channel std (RGB, 0-1) of its inputs.")
    resize: Resize = Field(
        "square_area",
        description="How a crop becomes image_size x image_size: square_area (15th place) or "
        "isotropic_pad (1st place: the longer side to image_size, zero-padded, centred).",
    )
    checkpoint: str = Field(description="safetensors file name inside the model directory.")
    sha256: str
    trained: bool
    postprocess: PostprocessSpec = PostprocessSpec()
    sequence_length: int | None = Field(default=None, ge=1)
    encoder: str | None = Field(
        default=None, description="Frame member whose backbone this one froze."
    )
    head_only: bool = Field(
        False,
        description="The checkpoint holds the head only; the frozen encoder is the `encoder` "
        "member's backbone, loaded from that member's checkpoint (no duplicated bytes).",
    )
    training: dict[str, Any] | None = None
    provenance: Provenance | None = Field(
        None, description="Where imported weights came from (`dfdetect models import`)."
    )

    @field_validator("checkpoint")
    @classmethod
    def _plain_file_name(cls, value: str) -> str:
        if not value or Path(value).name != value or value in {".", ".."}:
            raise ValueError(f"checkpoint must be a file name inside the model dir, got {value!r}")
        return value

    @field_validator("sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise ValueError(f"sha256 must be 64 lowercase hex digits, got {value!r}")
        return value

    @field_validator("kind")
    @classmethod
    def _registered_kind(cls, value: str) -> str:
        if value not in classifier_kinds():
            raise ValueError(f"kind {value!r} is not registered; known: {classifier_kinds()}")
        return value

    @model_validator(mode="after")
    def _sequence_fields(self) -> MemberSpec:
        reads = classifier_input(self.kind)
        if reads == "sequence" and self.sequence_length is None:
            raise ValueError(f"sequence member {self.name!r} needs sequence_length")
        if reads == "frame" and (self.sequence_length is not None or self.encoder):
            raise ValueError(f"frame member {self.name!r} takes no sequence_length or encoder")
        if self.head_only and not self.encoder:
            raise ValueError(f"member {self.name!r} is head_only but names no encoder member")
        return self


class Manifest(BaseModel):
    """The ensemble a model directory holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format_version: int = FORMAT_VERSION
    name: str | None = Field(None, description="What the ensemble is called in every result.")
    version: str | None = None
    note: str | None = Field(
        None, description="What the scores rest on, in words: shown with every result."
    )
    recipe: RecipeName = Field(
        DEFAULT_RECIPE, description="The recipe (contract/recipes.py) the members were made for."
    )
    recipe_overrides: dict[str, Any] = Field(
        default_factory=dict,
        description="Fields of that recipe this model replaces (e.g. min_face_px, video_score); "
        "explicit settings still win, and another recipe named by them drops these.",
    )
    members: list[MemberSpec] = Field(min_length=1)
    calibration: Calibration | None = Field(
        None,
        description="The temperature the video and person scores are divided by "
        "(`dfdetect calibrate`); null: the members' combined score as it is.",
    )

    @model_validator(mode="after")
    def _overrides_make_a_recipe(self) -> Manifest:
        try:
            recipe_with(self.recipe, self.recipe_overrides)
        except ValidationError as error:
            problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in error.errors())
            why = f"recipe_overrides do not make a {self.recipe} recipe: {problems}"
            raise ValueError(why) from error
        return self

    @field_validator("format_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != FORMAT_VERSION:
            raise ValueError(f"format_version {value} is not supported (this code reads 1)")
        return value

    @model_validator(mode="after")
    def _consistent_members(self) -> Manifest:
        names = [member.name for member in self.members]
        if len(set(names)) != len(names):
            raise ValueError(f"member names must be unique: {names}")
        frames = {m.name for m in self.members if classifier_input(m.kind) == "frame"}
        for member in self.members:
            if member.encoder is not None and member.encoder not in frames:
                raise ValueError(
                    f"member {member.name!r} names encoder {member.encoder!r}, "
                    f"which is not a frame member ({sorted(frames)})"
                )
        return self

    @property
    def trained(self) -> bool:
        """True when every member has trained weights."""
        return all(member.trained for member in self.members)


def load_manifest(model_dir: Path) -> Manifest:
    """Read and validate `model_dir/manifest.json`; any problem is a ModelError saying which."""
    path = Path(model_dir) / MANIFEST_FILE
    if not Path(model_dir).is_dir():
        raise ModelError(f"model directory {model_dir} does not exist; {SCAFFOLD_HINT}")
    if not path.is_file():
        raise ModelError(f"{path} not found: {model_dir} is not a model directory; {SCAFFOLD_HINT}")
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'manifest'}: {item['msg']}"
            for item in error.errors()
        )
        raise ModelError(f"{path} is not a valid manifest: {problems}") from error
    except OSError as error:
        raise ModelError(f"cannot read {path}: {error}") from error


def save_manifest(model_dir: Path, manifest: Manifest) -> None:
    """Write `model_dir/manifest.json` atomically (a reader never sees half a file)."""
    path = Path(model_dir) / MANIFEST_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest.model_dump(mode="json"), indent=2) + "\n"
    partial = path.with_suffix(".json.partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)


ENCODER_PREFIX = "encoder."
"""State-dict prefix of a member's backbone (models/networks.py keeps it as `encoder`)."""


def save_checkpoint(module: nn.Module, path: Path, *, head_only: bool = False) -> str:
    """Save a module's state dict as safetensors (without the encoder's tensors when
    `head_only`); returns the file's SHA-256."""
    state = {
        name: tensor.detach().cpu().contiguous()
        for name, tensor in module.state_dict().items()
        if not (head_only and name.startswith(ENCODER_PREFIX))
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path), metadata={"format": "pt"})
    # safetensors writes 0600; a model volume is read by a worker running as another user.
    path.chmod(0o644)
    return file_sha256(path)


def read_verified(model_dir: Path, spec: MemberSpec) -> bytes:
    """The member's checkpoint bytes, after checking they hash to the manifest's SHA-256."""
    path = Path(model_dir) / spec.checkpoint
    if not path.is_file():
        raise ModelError(
            f"checkpoint {path} of member {spec.name!r} is missing; copy it into the model "
            "directory or fix `checkpoint` in the manifest"
        )
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != spec.sha256:
        raise ModelError(
            f"checkpoint {path} of member {spec.name!r} fails its checksum: manifest expects "
            f"sha256 {spec.sha256}, file has {actual}; the file is corrupt or was replaced "
            "without updating the manifest"
        )
    return data


def create_classifier(spec: MemberSpec, pretrained: bool = False) -> Classifier:
    """Build the network a manifest member describes (like timm's create_model)."""
    return build_classifier(spec.kind, spec.backbone, pretrained=pretrained)


def _encoder_state(model_dir: Path, spec: MemberSpec) -> dict[str, torch.Tensor]:
    """The backbone tensors of the member a head-only member froze, from its verified file."""
    members = {member.name: member for member in load_manifest(model_dir).members}
    owner = members.get(spec.encoder or "")
    if owner is None or owner.head_only:
        raise ModelError(f"member {spec.name!r} needs encoder member {spec.encoder!r} with weights")
    trained_on = (spec.training or {}).get("encoder_sha256")
    if trained_on and trained_on != owner.sha256:
        raise ModelError(
            f"member {spec.name!r} was trained on encoder {owner.name!r} with sha256 "
            f"{trained_on}, which is now {owner.sha256}: retrain the head on the new encoder"
        )
    try:
        state = load_safetensors(read_verified(model_dir, owner))
    except SafetensorError as error:
        raise ModelError(f"checkpoint of member {owner.name!r} is unreadable: {error}") from error
    return {k: v for k, v in state.items() if k.startswith(ENCODER_PREFIX)}


def load_member(model_dir: Path, spec: MemberSpec, device: torch.device) -> Classifier:
    """Build a member's network, load its verified weights, move it to `device`, in eval mode.

    A head-only member's encoder comes from its encoder member's checkpoint: the backbone
    the ensemble then shares between the two is the same tensors by construction.
    """
    data = read_verified(model_dir, spec)
    path = Path(model_dir) / spec.checkpoint
    try:
        module = create_classifier(spec)
    except (KeyError, RuntimeError) as error:
        raise ModelError(
            f"member {spec.name!r}: cannot build {spec.backbone!r}: {error}"
        ) from error
    try:
        state = load_safetensors(data)
        if spec.head_only:
            state.update(_encoder_state(model_dir, spec))
        module.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError) as error:
        raise ModelError(
            f"checkpoint {path} does not fit member {spec.name!r} ({spec.kind}, "
            f"{spec.backbone}): {error}"
        ) from error
    return module.to(device).eval()
