"""`dfdetect`: one console script for every entry point.

Handlers import their room lazily, so `dfdetect serve` (and `--help`) never load torch.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from service.settings import Settings

Handler = Callable[[argparse.Namespace], int]

COMMAND_MODULES = (
    "service.commands",
    "workers.commands",
    "models.commands",
    "workers.bench_commands",
)
"""Modules with `register(subparsers)`; each adds its subcommands."""


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    import importlib

    parser = argparse.ArgumentParser(
        prog="dfdetect",
        description="Deepfake video detection: the 15th-place DFDC method as a REST service.",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO).")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment (command-line overrides win); a bad value exits cleanly."""
    from pydantic import ValidationError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SystemExit(f"dfdetect: invalid settings: {exc}") from exc


def existing_file(value: str) -> Path:
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"{value}: no such file")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
