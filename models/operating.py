"""A model directory's operating-points table (`operating_points.json`, beside manifest.json).

Optional: a directory without one is a model without verdict bands. A file that is there but
unreadable is a ModelError that names it, as a bad manifest is.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contract.errors import ModelError
from contract.operating import OPERATING_POINTS_FILE, OperatingPoints
from models.manifest import Manifest, load_manifest

log = logging.getLogger("dfdetect.models")

FIX_HINT = "rewrite it with `dfdetect evaluate --save-operating-points` or delete it"


def checkpoints(manifest: Manifest) -> list[str]:
    """The members' checkpoint hashes, in manifest order: what a table was measured with."""
    return [member.sha256 for member in manifest.members]


def temperature(manifest: Manifest) -> float | None:
    """The calibration temperature a model's scores come out under: what a table was measured
    with besides the checkpoints."""
    return manifest.calibration.temperature if manifest.calibration else None


def postprocessing(manifest: Manifest) -> list[dict[str, Any]]:
    """Each member's post-processing, as a table records what it was measured under."""
    return [member.postprocess.model_dump(mode="json") for member in manifest.members]


def stamp(table: OperatingPoints, manifest: Manifest) -> OperatingPoints:
    """`table` marked as measured with this manifest's weights, post-processing and calibration."""
    return table.model_copy(
        update={
            "checkpoints": checkpoints(manifest),
            "temperature": temperature(manifest),
            "postprocess": postprocessing(manifest),
        }
    )


def load_operating_points(
    model_dir: Path, manifest: Manifest | None = None
) -> OperatingPoints | None:
    """`model_dir/operating_points.json`, validated; None when the directory has none, or has
    one measured on other weights (retrained since: its bands would not hold). `manifest`:
    the directory's, when the caller has read it already."""
    path = Path(model_dir) / OPERATING_POINTS_FILE
    if not path.is_file():
        return None
    try:
        table = OperatingPoints.model_validate_json(path.read_bytes())
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'table'}: {item['msg']}"
            for item in error.errors()
        )
        raise ModelError(
            f"{path} is not a valid operating-points table: {problems}; {FIX_HINT}"
        ) from error
    except OSError as error:
        raise ModelError(f"cannot read {path}: {error}") from error
    manifest = manifest or load_manifest(model_dir)
    if table.checkpoints != checkpoints(manifest):
        log.warning("%s was measured on other weights: not used (%s)", path, FIX_HINT)
        return None
    if table.temperature != temperature(manifest):
        log.warning("%s was measured under another calibration: not used (%s)", path, FIX_HINT)
        return None
    if table.postprocess is not None and table.postprocess != postprocessing(manifest):
        log.warning("%s was measured under other post-processing: not used (%s)", path, FIX_HINT)
        return None
    return table


def save_operating_points(model_dir: Path, table: OperatingPoints) -> Path:
    """Write `model_dir/operating_points.json` atomically (a reader never sees half a file),
    stamped with the checkpoints of the model directory's members."""
    path = Path(model_dir) / OPERATING_POINTS_FILE
    stamped = stamp(table, load_manifest(model_dir))
    text = json.dumps(stamped.model_dump(mode="json"), indent=2) + "\n"
    handle, partial = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        # mkstemp makes 0600; a model volume is read by a worker running as another user.
        os.chmod(partial, 0o644)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return path
