"""The DFDC folder layout: videos beside a `metadata.json` that maps file name -> label."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from contract.errors import DatasetError

METADATA_FILE = "metadata.json"
"""DFDC: each folder of videos has this file, `{"name.mp4": {"label": "FAKE" | "REAL", ...}}`."""

Label = Literal["FAKE", "REAL"]


@dataclass(frozen=True)
class LabelledVideo:
    """One video file and its DFDC label."""

    path: Path
    label: Label

    @property
    def target(self) -> float:
        """1.0 for FAKE, 0.0 for REAL: the label as the classifiers' target."""
        return 1.0 if self.label == "FAKE" else 0.0


def read_dfdc(data_dir: Path) -> list[LabelledVideo]:
    """The labelled videos of a DFDC-layout folder, sorted by file name."""
    data_dir = Path(data_dir)
    path = data_dir / METADATA_FILE
    if not path.is_file():
        raise DatasetError(
            f"{path} not found: a data folder holds videos beside a metadata.json mapping each "
            'file name to {"label": "FAKE" | "REAL"} (the DFDC layout)'
        )
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path} is not readable JSON: {exc}") from exc
    if not isinstance(entries, dict) or not entries:
        raise DatasetError(f"{path} must be a non-empty JSON object of file name -> entry")
    videos = []
    for name, entry in sorted(entries.items()):
        label = entry.get("label") if isinstance(entry, dict) else None
        if label not in ("FAKE", "REAL"):
            raise DatasetError(f"{path}: {name!r} has label {label!r}; use FAKE or REAL")
        if Path(name).name != name:
            raise DatasetError(f"{path}: {name!r} must be a file name inside {data_dir}")
        videos.append(LabelledVideo(data_dir / name, label))
    return videos


def read_folders(data_dirs: list[Path]) -> list[LabelledVideo]:
    """The labelled videos of several DFDC-layout folders, folder by folder."""
    return [video for data_dir in data_dirs for video in read_dfdc(data_dir)]
