"""Where an imported member's weights came from: the manifest's per-member provenance record.

Torch-free (pydantic only): `dfdetect models import` writes it, `/models` and a reader of the
manifest can tell an imported DFDC winner's weights from weights trained here.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Provenance(BaseModel):
    """The file a member was imported from, and the solution that trained it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_file: str = Field(description="File name of the imported checkpoint (no directory).")
    source_sha256: str = Field(description="SHA-256 of that file's bytes.")
    solution: str = Field(
        description="Which solution's code trained the weights, e.g. dfdc-1st.",
        examples=["dfdc-1st"],
    )
    repository: str = Field(
        description="Where that code lives.",
        examples=["https://github.com/selimsef/dfdc_deepfake_challenge"],
    )
    licence: str = Field(description="Licence of that code and its weights.", examples=["MIT"])
    recipe: str = Field(description="The recipe the weights were trained for.")
    source_layout: str = Field(
        description="What the file held and which keys were read, in words.",
        examples=["{'state_dict': ...}, keys prefixed module."],
    )

    @field_validator("source_sha256")
    @classmethod
    def _hex_digest(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise ValueError(f"source_sha256 must be 64 lowercase hex digits, got {value!r}")
        return value
