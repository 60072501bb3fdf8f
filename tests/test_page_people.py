"""The page's people view: one timeline row per person (face track), click a face to get that
person's verdict, the verdict bands, reasons and quality beside the score.

Playwright and the system Chromium against a real API and worker (test_page's fixtures), real
clips and photos from the shared data. Skipped without them, a failure when CI is set.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests import test_page
from tests.test_page import (
    MARKUP_NAME,
    RESULT_TIMEOUT_MS,
    Stack,
    job_json,
    open_page,
    wait_for_result,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.slow

stack = test_page.stack
page = test_page.page

STREET_CLIP = "facenet_street_1080p.mp4"
"""1080p, several people walking: five face tracks with the test stack's 15 sampled frames."""
PHOTO = "two_people.jpg"


def _text(page: Page, selector: str) -> str:
    return page.text_content(selector) or ""


RECORD_FORMS = """
window.__appended = [];
const append = FormData.prototype.append;
FormData.prototype.append = function (name, value, fileName) {
  const text = typeof value === "string";
  window.__appended.push([name, text ? value : fileName || value.name, text ? null : value.size]);
  return append.apply(this, arguments);
};
"""
"""Records every FormData field the page sets (Chromium does not show Playwright the body of a
file upload)."""


def _sent_forms(page: Page) -> list[dict[str, Any]]:
    """The forms the page built, each the fields up to and including its `file` (and its size)."""
    forms: list[dict[str, Any]] = [{}]
    for name, value, size in page.evaluate("window.__appended"):
        forms[-1][name] = value
        if name == "file":
            forms[-1]["size"] = size
            forms.append({})
    return forms[:-1]


def _rows(page: Page) -> list[dict[str, str]]:
    rows = page.locator("[data-testid=person-row]")
    found: list[dict[str, str]] = rows.evaluate_all(
        "els => els.map(e => ({person: e.dataset.person, selected: e.dataset.selected,"
        " cls: e.className, text: e.textContent}))"
    )
    return found


def _assert_people_drawn(page: Page, base: str, result: dict[str, Any], job_id: str) -> None:
    """One row per person, in the result's order, each with its own faces and their images."""
    people = result["people"]
    assert [int(r["person"]) for r in _rows(page)] == [p["id"] for p in people]
    assert _text(page, "#people-count") == f"({len(people)})"
    faces_in_order = [face for frame in result["frames"] for face in frame["faces"]]
    for person in people:
        row = page.locator(f"[data-testid=person-row][data-person='{person['id']}']")
        assert _text(page, f"#person-{person['id']}-name") == f"Person {person['id']}"
        score = row.locator("[data-testid=person-score]").text_content() or ""
        assert score == f"{person['fake_probability'] * 100:.1f} %"
        verdict = row.locator("[data-testid=person-verdict]").text_content()
        assert verdict == (person.get("verdict") or "no verdict")
        buttons = row.locator("[data-testid=person-face]")
        drawn = buttons.evaluate_all(
            "els => els.map(e => ({n: +e.dataset.n, person: +e.dataset.person, t: +e.dataset.t,"
            " x: e.getBoundingClientRect().x + e.getBoundingClientRect().width / 2,"
            " src: (e.querySelector('img') || {}).src || null}))"
        )
        assert sorted(d["n"] for d in drawn) == sorted(f["face"] for f in person["faces"])
        assert {d["person"] for d in drawn} == {person["id"]}
        # The face images of this person's faces, from the API (every face here has one).
        for d in drawn:
            assert faces_in_order[d["n"]]["person"] == person["id"]
            assert faces_in_order[d["n"]].get("image_url") is not None
            assert d["src"] == f"{base}/jobs/{job_id}/faces/{d['n']}.jpg"
        # Each face's tick is under its point on the chart: one time axis for both.
        ticks = row.locator(".lane-tick").evaluate_all(
            "els => els.map(e => [+e.dataset.n, e.getBoundingClientRect().x"
            " + e.getBoundingClientRect().width / 2])"
        )
        assert sorted(n for n, _ in ticks) == sorted(d["n"] for d in drawn)
        for n, x in ticks:
            point = page.locator(f"[data-testid=face-point][data-n='{n}']").bounding_box()
            assert point is not None and abs(point["x"] + point["width"] / 2 - x) <= 1.5
        # Thumbnails keep time order: a later face never sits left of an earlier one.
        by_time = sorted(drawn, key=lambda d: (d["t"], d["n"]))
        xs = [d["x"] for d in by_time]
        assert xs == sorted(xs)
        first = row.locator("[data-testid=person-face] img").first
        first.scroll_into_view_if_needed()
        first.evaluate("i => i.decode()")
        assert first.evaluate("i => i.naturalWidth") > 0


def _assert_lanes_on_the_chart_axis(page: Page) -> None:
    """Each row's lane spans exactly the chart's plot area (the shared time axis)."""
    plot = page.locator("[data-testid=timeline] .plot-bg").bounding_box()
    assert plot is not None
    for lane in page.locator("[data-testid=person-lane]").all():
        box = lane.bounding_box()
        assert box is not None
        assert abs(box["x"] - plot["x"]) <= 2 and abs(box["width"] - plot["width"]) <= 2


def _assert_trust_shown(page: Page, result: dict[str, Any]) -> None:
    """The bands' verdict and note, each reason with its code, the quality line."""
    verdict = result["verdict"]
    assert _text(page, "[data-testid=verdict-note]") == verdict["note"]
    band = page.locator("[data-testid=band-verdict]")
    if verdict.get("label") is None:
        assert band.is_hidden()
    else:
        assert band.text_content() == verdict["label"]
    # A band verdict that differs from the 0.5 label greys the big word out and says why.
    big = page.locator("[data-testid=verdict]")
    disagrees = page.locator("[data-testid=verdict-disagrees]")
    if verdict.get("label") not in (None, result["label"]) and result.get("fallback") is None:
        assert "undecided" in (big.get_attribute("class") or "")
        assert disagrees.text_content() == (
            f" (by the 0.5 line; the measured bands say {verdict['label']})"
        )
    else:
        assert disagrees.count() == 0
    reasons = page.locator("[data-testid=reason]").evaluate_all(
        "els => els.map(e => [e.dataset.code, e.textContent])"
    )
    assert reasons == [[r["code"], r["message"]] for r in result["reasons"]]
    quality = result["quality"]
    line = _text(page, "[data-testid=quality]")
    if quality.get("face_px_median") is not None:
        assert f"faces {round(quality['face_px_median'])} px" in line
    if quality.get("bitrate_kbps") is not None:
        assert f"{round(quality['bitrate_kbps'])} kbps" in line
    if result["media"] == "video":
        assert f"{quality['frames_with_face']} of {quality['frames_sampled']} frames" in line
    if quality.get("low_quality_reencode") is not None:
        flag = page.locator("[data-testid=quality] [data-q=low_quality]").text_content()
        expected = (
            "low-quality re-encode" if quality["low_quality_reencode"] else "bit rate not low"
        )
        assert flag == expected


def test_people_rows_and_click_a_face_to_check_that_person(
    stack: Stack, videos_dir: Path, page: Page, artifacts: Path
) -> None:
    base, _ = stack
    page.add_init_script(RECORD_FORMS)
    watch = open_page(page, base)

    # The street clip under a file name holding markup: people, one row each, shown as text.
    clip = (videos_dir / STREET_CLIP).read_bytes()
    payload = {"name": MARKUP_NAME, "mimeType": "video/mp4", "buffer": clip}
    page.set_input_files("#file-input", payload)  # type: ignore[arg-type]
    page.click("#upload-button")
    wait_for_result(page)
    job = job_json(base, page)
    assert job["status"] == "finished"
    result = job["result"]
    people = result["people"]
    assert len(people) >= 2, "the street clip has several people"
    assert result.get("target") is None and page.is_hidden("[data-testid=target-answer]")
    assert _text(page, "[data-testid=verdict-title]") == "Verdict"
    assert _sent_forms(page) == [{"file": MARKUP_NAME, "size": len(clip)}]

    _assert_people_drawn(page, base, result, job["job_id"])
    _assert_lanes_on_the_chart_axis(page)
    _assert_trust_shown(page, result)
    assert all(r["selected"] == "false" for r in _rows(page))
    # The chart's points name their person, as the frames do.
    points = page.locator("[data-testid=face-point]").evaluate_all(
        "els => els.map(e => e.dataset.person)"
    )
    assert points == [str(f.get("person")) for fr in result["frames"] for f in fr["faces"]]
    page.screenshot(path=str(artifacts / "people.png"), full_page=True)

    # Click a face of person 1 (not 0): the same file again, with that face as the target.
    person = next(p for p in people if p["id"] == 1)
    face = min(person["faces"], key=lambda f: (f["timestamp_s"], f["face"]))
    row_1 = page.locator("[data-testid=person-row][data-person='1']")
    thumb = row_1.locator(f"[data-testid=person-face][data-n='{face['face']}']")
    with page.expect_request(lambda r: r.method == "POST" and r.url == f"{base}/detect") as sent:
        thumb.click()
    assert sent.value.headers["content-type"].startswith("multipart/form-data")
    forms = _sent_forms(page)
    assert len(forms) == 2 and forms[1]["file"] == MARKUP_NAME  # the same file again
    assert forms[1]["size"] == len(clip)
    assert json.loads(forms[1]["target"]) == {"t": face["timestamp_s"], "box": face["box"]}
    # Meanwhile the old result stays, its row marked as being checked; the name is text.
    status = _text(page, "[data-testid=people-status]")
    assert status.startswith("Checking person 1 in ") and MARKUP_NAME in status
    assert "pending" in _rows(page)[[p["id"] for p in people].index(1)]["cls"]

    page.wait_for_selector(
        "[data-testid=target-answer]:visible:text-matches('^Answer for person 1: ')",
        timeout=RESULT_TIMEOUT_MS,
    )
    assert page.is_hidden("[data-testid=error]")
    second = job_json(base, page)
    assert second["job_id"] != job["job_id"] and second["status"] == "finished"
    answered = second["result"]
    assert answered["target"]["requested"] == "box" and answered["target"]["person"] == 1
    assert answered["target"]["box"] == {"t": face["timestamp_s"], "box": face["box"]}
    answer = f"Answer for person 1: {answered['target']['why']}"
    assert _text(page, "[data-testid=target-answer]") == answer
    assert _text(page, "[data-testid=verdict-title]") == "Verdict for person 1"
    answered_person = next(p for p in answered["people"] if p["id"] == 1)
    assert answered["fake_probability"] == pytest.approx(answered_person["fake_probability"])
    shown = _text(page, "[data-testid=fake-probability]")
    assert shown == f"{answered['fake_probability']:.3f}"
    # Person 1's row is the selected one; the rows are those of the new result.
    rows = _rows(page)
    assert [int(r["person"]) for r in rows] == [p["id"] for p in answered["people"]]
    assert [r["person"] for r in rows if r["selected"] == "true"] == ["1"]
    selected = page.locator("[data-testid=person-row][data-person='1']")
    assert "selected" in (selected.get_attribute("class") or "")
    assert selected.get_attribute("aria-current") == "true"
    assert selected.locator("[data-testid=person-answered]").is_visible()
    assert page.evaluate(
        "getComputedStyle(document.querySelector('[data-testid=person-row][data-person=\"1\"]'))"
        ".boxShadow"
    ) != page.evaluate(
        "getComputedStyle(document.querySelector('[data-testid=person-row][data-person=\"0\"]'))"
        ".boxShadow"
    )
    _assert_people_drawn(page, base, answered, second["job_id"])
    _assert_trust_shown(page, answered)
    assert "--form-string 'target={" in _text(page, "[data-testid=curl]")
    assert len(_sent_forms(page)) == 2
    page.screenshot(path=str(artifacts / "people-person-1.png"), full_page=True)
    # On a phone the rows redraw for the narrower axis and stay inside the screen.
    page.set_viewport_size({"width": test_page.PHONE_WIDTH, "height": 800})
    page.wait_for_timeout(400)  # the chart and the rows redraw for the new width
    assert page.evaluate("document.documentElement.scrollWidth") <= test_page.PHONE_WIDTH
    _assert_lanes_on_the_chart_axis(page)
    assert page.locator("[data-testid=person-face]").count() == sum(
        len(p["faces"]) for p in answered["people"]
    )
    page.screenshot(path=str(artifacts / "people-375.png"), full_page=True)

    # The markup name stayed text everywhere.
    assert page.evaluate("document.querySelectorAll('[onerror]').length") == 0
    assert watch.dialogs == [] and watch.errors == []
    assert watch.foreign(base) == []


def test_photo_is_one_column_and_a_target_that_matches_nobody(
    stack: Stack, data_dir: Path, page: Page, artifacts: Path
) -> None:
    base, _ = stack
    watch = open_page(page, base)
    photo = data_dir / "images" / PHOTO
    page.set_input_files("#file-input", str(photo))
    page.click("#upload-button")
    wait_for_result(page)
    job = job_json(base, page)
    result = job["result"]
    assert result["media"] == "image" and len(result["people"]) >= 2
    _assert_people_drawn(page, base, result, job["job_id"])
    _assert_lanes_on_the_chart_axis(page)
    _assert_trust_shown(page, result)
    # One column: every point and every face's time tick at the middle of the plot.
    cx = set(
        page.locator("[data-testid=face-point]").evaluate_all(
            "e => e.map(c => c.getAttribute('cx'))"
        )
    )
    assert len(cx) == 1
    plot = page.locator("[data-testid=timeline] .plot-bg").bounding_box()
    assert plot is not None
    middle = plot["x"] + plot["width"] / 2
    ticks = page.locator("[data-testid=person-lane] .lane-tick").all()
    assert len(ticks) == sum(len(p["faces"]) for p in result["people"])
    for tick in ticks:
        box = tick.bounding_box()
        assert box is not None and abs(box["x"] + box["width"] / 2 - middle) <= 2
    assert "the image" in _text(page, "[data-testid=timeline]")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    page.screenshot(path=str(artifacts / "people-photo.png"), full_page=True)

    # A box where nobody is: the API answers target_not_found; the page says so.
    with photo.open("rb") as f:
        accepted = httpx.post(
            f"{base}/detect",
            files={"file": (photo.name, f, "image/jpeg")},
            data={"target": json.dumps({"t": 0, "box": [0, 0, 4, 4]})},
            timeout=60,
        )
    assert accepted.status_code == 202, accepted.text
    page.goto(f"{base}/#job={accepted.json()['job_id']}")
    page.reload()  # a new hash alone does not load the page again
    wait_for_result(page)
    missed = job_json(base, page)["result"]
    assert missed["target"].get("person") is None and missed["fallback"] == "target_not_found"
    answer = _text(page, "[data-testid=target-answer]")
    assert answer == f"No person matched the target: {missed['target']['why']}"
    codes = page.locator("[data-testid=reason]").evaluate_all("e => e.map(r => r.dataset.code)")
    assert "target_not_found" in codes
    assert "target not found" in _text(page, "[data-testid=verdict]")
    assert [r["selected"] for r in _rows(page)] == ["false"] * len(missed["people"])
    # The page was reloaded: it no longer holds the file, so a face click asks for it.
    page.locator("[data-testid=person-face]").first.click()
    page.wait_for_selector("[data-testid=error]:visible")
    assert "Choose the file again" in _text(page, "[data-testid=error]")
    page.screenshot(path=str(artifacts / "people-target-not-found.png"), full_page=True)
    assert watch.dialogs == [] and watch.errors == []
    assert watch.foreign(base) == []
