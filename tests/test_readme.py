"""README keeps its promises: every setting documented, every command it shows exists."""

from __future__ import annotations

import re

from cli.main import build_parser
from contract.settings import Settings
from tests.conftest import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text()


def test_every_setting_is_in_the_settings_table() -> None:
    missing = [
        f"DFDETECT_{name.upper()}"
        for name in Settings.model_fields
        if f"| `DFDETECT_{name.upper()}` |" not in README
    ]
    assert not missing, f"README's settings table lacks {missing}"


def test_every_documented_setting_exists() -> None:
    documented = set(re.findall(r"\bDFDETECT_([A-Z0-9_]+)", README))
    real = {name.upper() for name in Settings.model_fields} | {"TEST_DATA", "TEST_REDIS_URL"}
    assert documented <= real, documented - real


def test_every_dfdetect_command_shown_exists() -> None:
    parser = build_parser()
    subcommands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    # Commands in code: at a line's start, after `bin/`, or inside backticks.
    shown = set(re.findall(r"(?:`|^\s*|bin/)dfdetect ([a-z][a-z-]+)", README, re.MULTILINE))
    assert {"detect", "run", "serve", "worker"} <= shown
    assert shown <= set(subcommands), shown - set(subcommands)


def test_quick_start_names_the_two_commands() -> None:
    assert "make run" in README and "make test" in README
