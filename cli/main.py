"""`dfdetect`: one console script for every entry point.

Handlers import their room lazily, so `dfdetect serve` (and `--help`) never load torch.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from cli import bench, models, serve, starter, training, worker

Handler = Callable[[argparse.Namespace], int]

COMMAND_MODULES = (serve, worker, models, training, starter, bench)
"""Modules with `register(subparsers)`; each adds its subcommands, importing rooms lazily."""


def build_parser() -> argparse.ArgumentParser:
    """The whole command tree."""
    parser = argparse.ArgumentParser(
        prog="dfdetect",
        description="Deepfake video detection: the 15th-place DFDC method as a REST service.",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING (default INFO).")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        name.register(subparsers)
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    handler: Handler = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
