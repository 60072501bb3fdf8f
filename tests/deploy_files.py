"""Parsers for the deployment files: compose (with !reset/!override and extends), Dockerfile."""

from __future__ import annotations

import copy
import json
import re
import shlex
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import yaml

from contract.settings import Settings

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO_ROOT / "Dockerfile.gpu"
BASE = "docker-compose.yml"
OVERRIDES = ("docker-compose.cpu.yml", "docker-compose.multi-gpu.yml")
ENV_EXAMPLE = REPO_ROOT / ".env.example"
SETTING_VARS = {f"DFDETECT_{name.upper()}" for name in Settings.model_fields}


# --- Compose files: YAML with Compose's !reset / !override tags, merged the Compose way ---


@dataclass
class Tagged:
    """A value under Compose's `!reset` (drop what it overrides) or `!override` (replace it)."""

    tag: str
    value: Any


class ComposeLoader(yaml.SafeLoader):
    """Safe YAML plus the two merge tags of the Compose Specification (13-merge.md)."""


def _construct_tagged(loader: yaml.SafeLoader, node: yaml.Node) -> Tagged:
    value: Any
    if isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node) or None
    return Tagged(node.tag, value)


for _tag in ("!reset", "!override"):
    ComposeLoader.add_constructor(_tag, _construct_tagged)


def plain(value: Any) -> Any:
    """The value as Compose validates it: tags stripped."""
    if isinstance(value, Tagged):
        return plain(value.value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def load(name: str) -> dict[str, Any]:
    """One compose file, its `extends` resolved (each file is resolved before merging)."""
    data: dict[str, Any] = yaml.load((REPO_ROOT / name).read_text(), Loader=ComposeLoader)
    for service_name, service in data.get("services", {}).items():
        if "extends" in service:
            ref = service.pop("extends")
            base = load(ref["file"])["services"][ref["service"]]
            data["services"][service_name] = merge(base, service)
    return data


_REPLACED = {"command", "entrypoint", "test"}
"""Attributes an override replaces instead of appending to (Compose 13-merge.md)."""


def merge(base: Any, over: Any, key: str = "") -> Any:
    """Compose's merge rules, the subset these files use: mappings merge, sequences append."""
    if isinstance(over, Tagged):
        return None if over.tag == "!reset" else copy.deepcopy(over.value)
    if isinstance(base, dict) and isinstance(over, dict):
        merged = copy.deepcopy(base)
        for k, v in over.items():
            value = merge(merged[k], v, k) if k in merged else merge(None, v, k)
            if value is None:
                merged.pop(k, None)
            else:
                merged[k] = value
        return merged
    if isinstance(base, list) and isinstance(over, list) and key not in _REPLACED:
        return copy.deepcopy(base) + plain(over)
    return plain(over)


def project(*overrides: str) -> dict[str, Any]:
    """The model `docker compose -f docker-compose.yml -f <override>...` would run."""
    merged = load(BASE)
    for name in overrides:
        merged = merge(merged, load(name))
    return plain(merged)


def interpolated_vars(text: str) -> set[str]:
    return set(re.findall(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)", text))


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """Volume name -> container path, from short-syntax `volumes`."""
    return dict(v.split(":")[:2] for v in service.get("volumes", []))


# --- Dockerfile.gpu: stages and instructions ---


@dataclass
class Stage:
    name: str
    parent: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse_dockerfile() -> dict[str, Stage]:
    """Stages by name, each with its instructions (continuations joined, comments dropped)."""
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    logical = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        logical += line.rstrip().removesuffix("\\") + " "
        if line.rstrip().endswith("\\") or not logical.strip():
            continue
        keyword, _, rest = logical.strip().partition(" ")
        logical = ""
        if keyword.upper() == "FROM":
            parent, _, name = rest.partition(" AS ")
            current = stages[name.strip()] = Stage(name.strip(), parent.strip())
        elif current is not None:
            current.instructions.append((keyword.upper(), rest.strip()))
    return stages


STAGES = parse_dockerfile()


def lineage(target: str) -> list[Stage]:
    """The stage and the stages it is built FROM, oldest first."""
    chain: list[Stage] = []
    while target in STAGES:
        chain.insert(0, STAGES[target])
        target = STAGES[target].parent
    return chain


def instructions(target: str, keyword: str) -> list[str]:
    return [rest for stage in lineage(target) for kw, rest in stage.instructions if kw == keyword]


def exec_form(text: str) -> list[str]:
    """An exec-form argument list; fails on shell form (no signals reach a shell's child)."""
    assert text.startswith("["), f"shell form, not exec form: {text}"
    argv: list[str] = json.loads(text)
    return argv


def image_env(target: str) -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in instructions(target, "ENV"):
        env.update(item.split("=", 1) for item in shlex.split(rest))  # type: ignore[misc]
    return env


def healthcheck_argv(target: str) -> list[str]:
    checks = instructions(target, "HEALTHCHECK")
    assert checks, f"image {target} has no HEALTHCHECK"
    return exec_form(re.sub(r"^(--\S+\s+)*CMD\s+", "", checks[-1]))


def runtime_targets() -> dict[str, str]:
    """Service name -> Dockerfile.gpu target, for every service built from it."""
    services = project(*OVERRIDES[1:])["services"]
    return {n: s["build"]["target"] for n, s in services.items() if "build" in s}


# --- Fixtures ---


def dockerignored(path: str) -> bool:
    """Docker's rule: the last pattern matching the path or a parent decides."""
    ignored = False
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for line in (REPO_ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").removeprefix("**/")
        if any(fnmatch(c, pattern) or fnmatch(c.rsplit("/", 1)[-1], pattern) for c in candidates):
            ignored = not negate
    return ignored
