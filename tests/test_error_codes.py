"""Every stable error code is one class in contract/errors.py, documented, typed nowhere else."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from contract.errors import (
    DatasetError,
    DfdetectError,
    JobCanceled,
    ModelError,
    error_classes,
    error_codes,
)
from tests.conftest import REPO_ROOT

ROOMS = ("contract", "models", "workers", "service", "training", "bench", "cli")
ERRORS_MODULE = Path("contract/errors.py")
README = (REPO_ROOT / "README.md").read_text()
OPENAPI = json.loads((REPO_ROOT / "openapi" / "openapi.json").read_text())

NOT_CLIENT_ERRORS: dict[type[DfdetectError], str] = {
    ModelError: "operators: `dfdetect worker` and the training commands refuse to start",
    DatasetError: "operators: the training commands",
    JobCanceled: "a canceled job reports it as its status, with no error",
}
"""Codes no HTTP answer carries as `error.code`; every other code is client-visible."""

ALLOWED_LITERALS: dict[tuple[str, str], str] = {
    ("service/schemas.py", "canceled"): "JobState: the job status JobCanceled's code sets",
    ("service/schemas.py", "not_ready"): "Readiness.status: the status NotReady's code sets",
}
"""`Literal[...]` annotations that must spell a code (a type cannot name `NotReady.code`)."""

ALLOWED_STRINGS: dict[tuple[str, str], str] = {
    ("service/metrics.py", "canceled"): "label of RQ's canceled registry: a job state",
}
"""Other strings equal to a code that mean something else."""


def test_every_code_is_unique() -> None:
    classes = error_classes()
    codes = [cls.code for cls in classes]
    duplicates = {code for code in codes if codes.count(code) > 1}
    assert not duplicates, f"codes shared by several classes: {duplicates}"
    assert error_codes() == {cls.code: cls for cls in classes}
    assert all(re.fullmatch(r"[a-z][a-z_]*[a-z]", code) for code in codes), codes


def test_every_class_defines_its_code_status_and_docstring() -> None:
    for cls in error_classes():
        assert "code" in vars(cls), f"{cls.__name__} inherits its code"
        assert (vars(cls).get("__doc__") or "").strip(), f"{cls.__name__} has no docstring"
        assert 400 <= cls.status < 600, f"{cls.__name__}: status {cls.status}"


def test_the_codes_the_api_and_workers_write_have_classes() -> None:
    codes = error_codes()
    for code in (
        "internal_error",
        "queue_unavailable",
        "not_ready",
        "worker_lost",
        "processing_timeout",
        "processing_failed",
        "invalid_request",
        "not_found",
        "method_not_allowed",
        "http_error",
        "client_disconnected",
        "dataset_error",
    ):
        assert code in codes, code


def test_every_code_is_in_the_readme() -> None:
    backticked = " ".join(re.findall(r"`([^`\n]+)`", README))
    missing = [code for code in error_codes() if not re.search(rf"\b{code}\b", backticked)]
    assert not missing, f"README names no `{missing}`; add each to its error tables"


def test_every_client_visible_code_is_documented_for_clients() -> None:
    start, end = README.index("## Security and limits"), README.index("## Performance")
    section = README[start:end]
    descriptions = " ".join(_descriptions(OPENAPI))
    visible = [code for code, cls in error_codes().items() if cls not in NOT_CLIENT_ERRORS]
    missing = [
        code
        for code in visible
        if not re.search(rf"`[^`\n]*\b{code}\b[^`\n]*`", section)
        and f"`{code}`" not in descriptions
    ]
    assert not missing, f"neither README's Security and limits nor openapi.json name {missing}"


def test_no_code_is_typed_outside_contract_errors() -> None:
    codes = set(error_codes())
    found: list[str] = []
    used: set[tuple[str, str]] = set()
    for path in sorted(p for room in ROOMS for p in (REPO_ROOT / room).rglob("*.py")):
        rel = path.relative_to(REPO_ROOT)
        if rel == ERRORS_MODULE:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(rel))
        literal_args = _literal_annotation_strings(tree)
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Constant) or not isinstance(node.value, str):
                continue
            if id(node) in docstrings:
                continue
            key = (rel.as_posix(), node.value)
            if node.value in codes:
                allowed = ALLOWED_LITERALS if id(node) in literal_args else ALLOWED_STRINGS
                if key in allowed:
                    used.add(key)
                    continue
                found.append(f"{rel}:{node.lineno}: {node.value!r}")
            found.extend(
                f"{rel}:{node.lineno}: `{code}` inside {node.value!r}"
                for code in codes
                if f"`{code}`" in node.value
            )
    assert not found, "use the error class's `.code` instead:\n" + "\n".join(found)
    stale = (set(ALLOWED_LITERALS) | set(ALLOWED_STRINGS)) - used
    assert not stale, f"allowed strings no longer in the source; drop them: {stale}"


def _docstrings(tree: ast.Module) -> set[int]:
    """Ids of every bare string statement: docstrings of modules, classes, functions, names."""
    return {
        id(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def _literal_annotation_strings(tree: ast.Module) -> set[int]:
    """Ids of the strings inside `Literal[...]` (or `typing.Literal[...]`) subscripts."""
    ids = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Subscript):
            continue
        name = node.value
        if (isinstance(name, ast.Name) and name.id == "Literal") or (
            isinstance(name, ast.Attribute) and name.attr == "Literal"
        ):
            ids |= {id(sub) for sub in ast.walk(node.slice) if isinstance(sub, ast.Constant)}
    return ids


def _descriptions(node: object) -> list[str]:
    """Every `description` string anywhere in an OpenAPI document."""
    if isinstance(node, dict):
        found = [v for k, v in node.items() if k == "description" and isinstance(v, str)]
        return found + [d for v in node.values() for d in _descriptions(v)]
    if isinstance(node, list):
        return [d for v in node for d in _descriptions(v)]
    return []
