"""The ensemble that ships with the package: the starter, served when no model directory is set."""

from __future__ import annotations

from pathlib import Path

from models.manifest import MANIFEST_FILE

STARTER_DIR = Path(__file__).resolve().parent / "starter"
"""`dfdetect train starter` publishes here; the wheel and the worker image carry it."""


def starter_dir() -> Path | None:
    """The shipped starter ensemble's directory, or None when this install lacks it."""
    return STARTER_DIR if (STARTER_DIR / MANIFEST_FILE).is_file() else None
