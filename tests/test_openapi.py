"""openapi/openapi.json is what the app serves, and every operation is documented."""

from __future__ import annotations

import json

from cli.serve import openapi_document
from tests.conftest import REPO_ROOT

SPEC_PATH = REPO_ROOT / "openapi" / "openapi.json"


def test_committed_spec_matches_the_app() -> None:
    committed = json.loads(SPEC_PATH.read_text())
    assert committed == openapi_document(), "run `make openapi` and commit openapi/openapi.json"


def test_operation_ids_are_clean() -> None:
    ids = {
        op["operationId"] for path in openapi_document()["paths"].values() for op in path.values()
    }
    assert ids == {
        "detect",
        "get_job",
        "cancel_job",
        "get_face_image",
        "healthz",
        "readyz",
        "metrics",
        "models",
    }


def test_every_operation_has_a_description_and_examples() -> None:
    doc = openapi_document()
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert op.get("summary") or op.get("description"), f"{method} {path}"
    for name, schema in doc["components"]["schemas"].items():
        if name in {"HTTPValidationError", "ValidationError"}:
            continue
        assert schema.get("description") or schema.get("examples"), name
