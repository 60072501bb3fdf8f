"""The page when the model's verdict bands and the 0.5 label disagree: the big word greys out.

A copy of the tiny scaffold with an operating-points table whose bands (REAL below 0.01, FAKE
from 0.99) put every score of its random weights in UNCERTAIN, served by a real API and worker
(test_e2e's `stack`, which reads this module's `tiny_model_dir`), shown in system Chromium.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from contract.operating import operating_points
from models.manifest import load_manifest
from models.operating import checkpoints, save_operating_points
from tests import test_page
from tests.test_page import Stack, job_json, open_page, upload, wait_for_result

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow

stack = test_page.stack
page = test_page.page


@pytest.fixture(scope="module")
def tiny_model_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's tiny scaffold, copied, with bands no random score reaches."""
    out = tmp_path_factory.mktemp("banded") / "tiny"
    shutil.copytree(tiny_model_dir, out)
    # One real at 0.01, fakes at 0.01 and 0.99: FAKE from 0.99, REAL below 0.01.
    table = operating_points([1, 1, 0], [0.01, 0.99, 0.01], "bands for this test")
    assert (table.fake_threshold, table.real_threshold) == (0.99, 0.01)
    table = table.model_copy(update={"checkpoints": checkpoints(load_manifest(out))})
    save_operating_points(out, table)
    return out


def test_an_uncertain_band_greys_out_the_half_way_label(
    stack: Stack, videos_dir: Path, page: Page
) -> None:
    base, _ = stack
    open_page(page, base)
    upload(page, videos_dir / "crop_0_aaqaifqrwn_0_0.mp4")
    wait_for_result(page)
    result = job_json(base, page)["result"]
    assert result.get("fallback") is None and result["label"] in {"REAL", "FAKE"}
    assert result["verdict"]["label"] == "UNCERTAIN", result["verdict"]
    assert page.text_content("[data-testid=band-verdict]") == "UNCERTAIN"
    big = page.locator("[data-testid=verdict]")
    assert big.get_attribute("class") == "verdict undecided"  # not the FAKE red / REAL green
    assert big.text_content() == (
        f"{result['label']} (by the 0.5 line; the measured bands say UNCERTAIN)"
    )
