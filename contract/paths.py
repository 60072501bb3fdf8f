"""Where the shared clips and photos live: the one place that reads DFDETECT_TEST_DATA."""

from __future__ import annotations

import os
from pathlib import Path

SHARED_DATA_ENV = "DFDETECT_TEST_DATA"
"""Environment variable naming the shared data directory (videos/, images/, train_real/)."""
SHARED_DATA_DEFAULT = Path("../shared/data")
"""The shared data beside the checkout, relative to the repository root."""


def shared_data_dir(repo_root: Path | None = None) -> Path:
    """DFDETECT_TEST_DATA, else ../shared/data (from `repo_root`, or the working directory)."""
    value = os.environ.get(SHARED_DATA_ENV)
    if value:
        return Path(value)
    return (repo_root / SHARED_DATA_DEFAULT) if repo_root is not None else SHARED_DATA_DEFAULT
