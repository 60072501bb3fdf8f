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


def add_method_options(p: argparse.ArgumentParser, *, video_score_help: str) -> None:
    """--recipe and --video-score, as `detect` and the evaluation commands take them."""
    from typing import get_args

    from contract.recipes import RECIPES, VideoScoreRule

    p.add_argument(
        "--recipe",
        choices=sorted(RECIPES),
        help="Recipe to run (default DFDETECT_RECIPE, else the model directory's).",
    )
    p.add_argument("--video-score", choices=get_args(VideoScoreRule), help=video_score_help)


def existing_file(value: str) -> Path:
    """An argparse type: a path that exists."""
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{value}: no such file")
    return path
