"""The browser page (`GET /`): Playwright drives a headless system Chromium against a real
`dfdetect serve` and a real worker (the `stack` fixture of test_e2e), uploads real clips and
reads what the page draws.

Needs the `playwright` package (the `dev` extra) and a Chromium binary (Debian's `chromium`, or
DFDETECT_CHROMIUM); never `playwright install`. Skipped without them, a failure when CI is set.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from service.routes.page import CONTENT_SECURITY_POLICY
from tests import test_e2e

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Request, Route

pytestmark = pytest.mark.slow

stack = test_e2e.stack
"""The API and one worker as processes (test_e2e's fixture, reused)."""

API_KEY = "page-test-key-0123456789"
MARKUP_NAME = "<img src=x onerror=alert(1)>.mp4"
PHONE_WIDTH = 375
RESULT_TIMEOUT_MS = test_e2e.JOB_TIMEOUT_S * 1000

Stack = tuple[str, subprocess.Popen[bytes]]


class Watch:
    """What a page did: every request URL, dialogs, script errors, console errors."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "console",
            lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None,
        )

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def foreign(self, base: str) -> list[str]:
        """Requests that left the server's origin (data: and blob: stay in the page)."""
        return [
            url
            for url in self.requests
            if not (url == base or url.startswith(base + "/") or url.startswith(("data:", "blob:")))
        ]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


def open_page(page: Page, base: str) -> Watch:
    watch = Watch(page)
    response = page.goto(base + "/")
    assert response is not None and response.status == 200
    page.wait_for_selector("body[data-ready=true]")
    return watch


def upload(page: Page, file: str | Path | dict[str, Any]) -> None:
    page.set_input_files("#file-input", file)  # type: ignore[arg-type]
    page.click("#upload-button")


def wait_for_result(page: Page) -> None:
    """Until the result shows; an error shown instead fails at once, with its text."""
    page.wait_for_selector(
        "[data-testid=result]:visible, [data-testid=error]:visible", timeout=RESULT_TIMEOUT_MS
    )
    if page.is_visible("[data-testid=error]"):
        raise AssertionError(f"the page shows an error: {page.text_content('[data-testid=error]')}")


def job_json(base: str, page: Page, headers: dict[str, str] | None = None) -> dict[str, Any]:
    job_id = page.text_content("[data-testid=job-id]") or ""
    response = httpx.get(f"{base}/jobs/{job_id}", headers=headers or {}, timeout=10)
    assert response.status_code == 200, response.text
    job: dict[str, Any] = response.json()
    return job


def scored_faces(result: dict[str, Any]) -> list[tuple[int, int, float]]:
    return [
        (frame["index"], n, face["fake_probability"])
        for frame in result["frames"]
        for n, face in enumerate(frame["faces"])
    ]


def assert_face_images_shown(page: Page, count: int) -> None:
    """One <img> per face (the worker's JPEGs); the first and the last (lazy: once scrolled
    to) load."""
    images = page.locator("figure[data-testid=face-thumb] img")
    assert images.count() == count
    for image in (images.first, images.last):
        image.scroll_into_view_if_needed()
        image.evaluate("i => i.decode()")  # resolves once loaded and decodable
        assert image.evaluate("i => i.naturalWidth") > 0


def test_result_page_draws_every_scored_face(
    stack: Stack, videos_dir: Path, page: Page, artifacts: Path
) -> None:
    base, _ = stack
    watch = open_page(page, base)
    headers = httpx.get(base + "/", timeout=10).headers
    assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert headers["x-content-type-options"] == "nosniff"
    assert httpx.get(base + "/ui/config", timeout=10).json()["auth_required"] is False
    assert page.is_hidden("#key-row")

    clip = videos_dir / "abqwwspghj.mp4"
    upload(page, clip)
    page.wait_for_selector("[data-testid=status]:text-matches('^(Queued|Running)')")
    wait_for_result(page)
    job = job_json(base, page)
    assert job["status"] == "finished"
    result = job["result"]
    faces = scored_faces(result)
    assert faces, "the DFDC clip has a face in every frame"

    # Verdict and honesty notes.
    assert (page.text_content("[data-testid=verdict]") or "").startswith(result["label"])
    assert (
        page.text_content("[data-testid=fake-probability]") == f"{result['fake_probability']:.3f}"
    )
    warnings = page.locator("[data-testid=warning]").all_text_contents()
    assert warnings == result["warnings"] and any("untrained" in w for w in warnings)
    assert page.is_visible("[data-testid=untrained]")
    assert page.is_hidden("[data-testid=no-face]")

    # The chart: one point per scored face, at its frame time and score; bands; threshold.
    points = page.locator("[data-testid=face-point]")
    assert points.count() == len(faces)
    drawn = sorted(
        (int(p["frame"]), int(p["face"]), round(float(p["p"]), 6))
        for p in points.evaluate_all("els => els.map(e => ({...e.dataset}))")
    )
    assert drawn == sorted((f, n, round(p, 6)) for f, n, p in faces)
    assert page.locator("[data-testid=sequence-band]").count() == len(result["sequences"])
    assert page.locator("[data-testid=threshold]").get_attribute("data-p") == "0.5"
    # The strip: one figure per face, with its score.
    thumbs = page.locator("figure[data-testid=face-thumb]")
    assert thumbs.count() == len(faces)
    assert f"{faces[0][2]:.3f}" in (thumbs.first.text_content() or "")
    # Members, video facts, scripting.
    assert page.locator("[data-testid=model-row]").count() == len(result["models"])
    assert str(result["video"]["frame_count"]) in (page.text_content("#video-facts") or "")
    assert page.get_attribute("[data-testid=json-link]", "href") == f"/jobs/{job['job_id']}"
    curl = page.text_content("[data-testid=curl]") or ""
    assert curl.startswith("curl -s -F 'file=@abqwwspghj.mp4'") and f"{base}/detect" in curl
    assert "Authorization" not in curl

    page.screenshot(path=str(artifacts / "result-page.png"), full_page=True)
    page.set_viewport_size({"width": 1200, "height": 900})
    page.wait_for_timeout(400)  # the chart redraws for the new width
    page.screenshot(path=str(artifacts / "result-page-1200.png"), full_page=True)
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 800})
    page.wait_for_timeout(400)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
    assert float(page.get_attribute("[data-testid=timeline]", "width") or 0) <= PHONE_WIDTH
    assert page.locator("[data-testid=face-point]").count() == len(faces)
    page.screenshot(path=str(artifacts / "result-page-375.png"), full_page=True)

    # Every face shows its image from the API; a reload follows the job from the URL's #job=.
    assert_face_images_shown(page, len(faces))
    srcs = page.locator("figure[data-testid=face-thumb] img").evaluate_all("e => e.map(i => i.src)")
    assert srcs == [f"{base}/jobs/{job['job_id']}/faces/{n}.jpg" for n in range(len(faces))]
    assert (page.text_content("[data-testid=status]") or "").startswith("Finished in ")
    page.reload()
    wait_for_result(page)
    assert_face_images_shown(page, len(faces))
    # Followed from its link, the page did not see it run: no duration it cannot know.
    assert page.text_content("[data-testid=status]") == "Finished."
    assert page.text_content("[data-testid=elapsed]") == "\u2013"  # an en dash
    assert page.is_hidden("[data-testid=model-identity]")  # the test model has no name

    # A named, calibrated model's answer (the API's real JSON with `model` filled in, markup in
    # what it was fitted on): the page says which weights and that the score was calibrated.
    identity = {
        "name": "dfdetect-starter-sbi-lite0",
        "version": "4",
        "calibration": {"temperature": 2.2711, "fitted_on": "<b>38</b> dev clips", "videos": 38},
    }
    page.route(re.compile(rf"/jobs/{job['job_id']}$"), with_model(identity))
    page.reload()
    wait_for_result(page)
    assert page.text_content("[data-testid=model-identity]") == (
        "Model: dfdetect-starter-sbi-lite0 (version 4); score calibrated by a temperature of "
        "2.27, fitted on <b>38</b> dev clips (the members' scores are not)"
    )
    assert page.locator("[data-testid=model-identity] b").count() == 0  # shown, never parsed

    assert watch.foreign(base) == []
    assert watch.dialogs == [] and watch.errors == []


def with_model(model: dict[str, Any]) -> Callable[[Route], None]:
    """A route handler passing the API's job JSON on with its result's `model` replaced."""

    def handle(route: Route) -> None:
        response = route.fetch()
        job = response.json()
        job["result"]["model"] = model
        route.fulfill(response=response, json=job)

    return handle


def test_no_face_markup_name_and_refused_uploads(
    stack: Stack, noise_clip: Path, page: Page, artifacts: Path
) -> None:
    base, _ = stack
    watch = open_page(page, base)

    # A no-face clip under a file name holding markup: shown as text, explained in words.
    payload = {"name": MARKUP_NAME, "mimeType": "video/mp4", "buffer": noise_clip.read_bytes()}
    upload(page, payload)
    wait_for_result(page)
    assert page.text_content("[data-testid=file-name]", timeout=1000) is not None
    assert MARKUP_NAME in (page.text_content("[data-testid=file-name]") or "")
    assert page.text_content("[data-testid=job-file]") == MARKUP_NAME
    assert MARKUP_NAME in (page.text_content("#video-facts") or "")
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    job = job_json(base, page)
    assert job["result"]["fallback"] == "no_face"
    assert page.is_visible("[data-testid=no-face]")
    assert "No face was found" in (page.text_content("[data-testid=no-face]") or "")
    assert page.locator("[data-testid=face-point]").count() == 0
    assert page.locator("[data-testid=face-thumb]").count() == 0
    page.screenshot(path=str(artifacts / "no-face.png"), full_page=True)

    # A text file named x.mp4, dropped on the drop zone: the server's invalid_video, with code.
    drop = page.evaluate_handle(
        """() => {
            const dt = new DataTransfer();
            const text = "just some text, not a video\\n";
            dt.items.add(new File([text], "x.mp4", {type: "video/mp4"}));
            return dt;
        }"""
    )
    page.dispatch_event("[data-testid=drop-zone]", "drop", {"dataTransfer": drop})
    assert "x.mp4" in (page.text_content("[data-testid=file-name]") or "")
    page.click("#upload-button")
    page.wait_for_selector("[data-testid=error]", state="visible")
    assert page.text_content("[data-testid=error-code]") == "invalid_video"
    assert "not a decodable video" in (page.text_content("[data-testid=error-message]") or "")
    assert page.is_hidden("[data-testid=result]")
    page.screenshot(path=str(artifacts / "invalid-video.png"), full_page=True)

    # Refusals the test stack cannot provoke on demand, answered by the browser's router with
    # the API's error body: each shows its code, and Retry-After where given.
    for status, code, extra in [
        (413, "upload_too_large", {}),
        (429, "rate_limited", {"Retry-After": "12"}),
        (503, "queue_unavailable", {"Retry-After": "5"}),
        (401, "unauthorized", {"WWW-Authenticate": "Bearer"}),
    ]:
        body = json.dumps({"error": {"code": code, "message": f"refused: {MARKUP_NAME}"}})
        page.route("**/detect", refusal(status, body, extra))
        page.click("#upload-button")
        page.wait_for_selector(f"[data-testid=error-code]:text-is('{code}')")
        error = page.text_content("[data-testid=error]") or ""
        assert f"HTTP {status}" in error and f"refused: {MARKUP_NAME}" in error
        if "Retry-After" in extra:
            assert f"Retry in {extra['Retry-After']} s" in error
        page.unroute("**/detect")

    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert watch.dialogs == []
    assert [e for e in watch.errors if "status of 4" not in e and "status of 5" not in e] == []
    assert watch.foreign(base) == []


def refusal(status: int, body: str, headers: dict[str, str]) -> Callable[[Route], None]:
    """A route handler answering like the API refusing an upload."""

    def handle(route: Route) -> None:
        route.fulfill(status=status, body=body, content_type="application/json", headers=headers)

    return handle


@pytest.fixture
def api_keys_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """DFDETECT_API_KEYS for the stack started after it (the stack copies os.environ)."""
    monkeypatch.setenv("DFDETECT_API_KEYS", API_KEY)


@pytest.fixture
def keyed_stack(api_keys_env: None, stack: Stack) -> Stack:
    return stack


def test_api_key_field_and_upload_with_a_key(
    keyed_stack: Stack, face_clip: Path, page: Page, artifacts: Path
) -> None:
    base, _ = keyed_stack
    watch = open_page(page, base)
    assert httpx.get(base + "/ui/config", timeout=10).json()["auth_required"] is True
    assert page.is_visible("#key-row") and page.is_visible("#api-key")

    page.fill("#api-key", "not-the-key")
    upload(page, face_clip)
    page.wait_for_selector("[data-testid=error-code]:text-is('unauthorized')")

    page.fill("#api-key", API_KEY)
    page.click("#upload-button")
    wait_for_result(page)
    job = job_json(base, page, {"X-API-Key": API_KEY})
    assert job["status"] == "finished"
    faces = scored_faces(job["result"])
    assert page.locator("[data-testid=face-point]").count() == len(faces)
    assert page.locator("[data-testid=face-thumb]").count() == len(faces)
    curl = page.text_content("[data-testid=curl]") or ""
    assert '-H "Authorization: Bearer $DFDETECT_API_KEY"' in curl and API_KEY not in curl

    # The key lives in sessionStorage only: no cookie, not in the URL.
    assert page.evaluate("sessionStorage.getItem('dfdetect.apiKey')") == API_KEY
    assert page.evaluate("document.cookie") == ""
    assert page.context.cookies() == []
    assert all(API_KEY not in url for url in watch.requests)
    # A reload keeps the key (same tab) and follows the job again from the URL's #job=.
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.input_value("#api-key") == API_KEY
    wait_for_result(page)
    assert page.locator("[data-testid=face-point]").count() == len(faces)
    page.screenshot(path=str(artifacts / "result-page-keyed.png"), full_page=True)
    # Face images need the key too: fetched with the header, shown as blob: URLs.
    assert_face_images_shown(page, len(faces))
    srcs = page.locator("figure[data-testid=face-thumb] img").evaluate_all("e => e.map(i => i.src)")
    assert all(src.startswith("blob:") for src in srcs)

    assert watch.foreign(base) == []
    assert watch.dialogs == []
    assert [e for e in watch.errors if "status of 401" not in e] == []
