"""What every command shares: settings read once with a clean exit, argument types."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from contract.settings import Settings


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (command-line overrides win); a bad value exits cleanly."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SystemExit(f"dfdetect: invalid settings: {exc}") from exc


def existing_file(value: str) -> Path:
    """An argparse type: a path that exists."""
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{value}: no such file")
    return path
