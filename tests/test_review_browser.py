"""The review app in a real browser (Chromium through Playwright): a supervisor logs in, sees only
their team's queue, claims a flagged call, plays the redacted audio, jumps to evidence, grades with
one override and submits; the review and the audit rows land in the database.

Set CALLQA_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/ (otherwise they go to a temp folder).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import CHROMIUM, chromium, log_in, screenshot_dir, served
from tests.review_fixtures import build_review_db

pytest.importorskip("playwright.sync_api")
pytest.importorskip("uvicorn")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return build_review_db(tmp_path_factory.mktemp("browser"), extra_pending=3)


@pytest.fixture(scope="module")
def server(fx):
    with served(fx.db) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    yield context.new_page()
    context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return screenshot_dir(tmp_path_factory)


def player_time(page) -> float:
    return page.evaluate("document.getElementById('player').currentTime")


def test_wrong_password_is_refused(page, server):
    log_in(page, server, "sue", "not the password")
    assert "/login" in page.url
    assert "Wrong user name or password" in page.inner_text(".error")


def test_supervisor_reviews_a_flagged_call_end_to_end(page, server, fx, shots):
    log_in(page, server, "sue")
    page.wait_for_url("**/queue")
    # only the supervisor's team's calls are listed, most urgent first
    listed = page.eval_on_selector_all(
        "#queue-table tbody tr[data-call-id]", "rows => rows.map(r => r.dataset.callId)"
    )
    billing = {fx.calls["flagged"], fx.calls["low"], *fx.extra_pending}
    assert set(listed) == billing and listed[0] == fx.calls["flagged"]
    assert fx.calls["other_team"] not in page.content()
    page.screenshot(path=str(shots / "queue.png"), full_page=True)

    # claim the flagged call: it opens with the grading form
    page.click(f"tr[data-call-id='{fx.calls['flagged']}'] button.claim")
    page.wait_for_url(f"**/calls/{fx.calls['flagged']}")
    assert page.is_visible("#grade-form")
    assert "in_review · sue" in page.inner_text("#queue-state")
    assert page.is_visible("#crit-verification .needs-human")  # calibration does not trust it

    # press play and see the time advance
    page.wait_for_function(
        "() => document.getElementById('player').readyState >= 1", timeout=10_000
    )
    page.click("#play")
    page.wait_for_function(
        "() => document.getElementById('player').currentTime > 0.6", timeout=10_000
    )
    assert not page.evaluate("document.getElementById('player').paused")
    page.click("#play")  # pause

    # a transcript line plays from its start and is highlighted while spoken
    line = page.locator("#transcript .turn").nth(4)
    line_start = float(line.get_attribute("data-start"))
    line.click()
    page.wait_for_function(
        f"() => document.getElementById('player').currentTime >= {line_start}", timeout=5_000
    )
    page.wait_for_selector("#transcript .turn.speaking")
    assert (
        page.locator("#transcript .turn").nth(4).get_attribute("class").split().count("speaking")
        == 1
    )

    # an evidence link jumps to the evidence's start
    evidence = page.locator("#crit-closing .evidence-link")
    start = float(evidence.get_attribute("data-seek"))
    evidence.click()
    page.wait_for_timeout(150)
    assert abs(player_time(page) - start) <= 0.5
    page.evaluate("document.getElementById('player').pause()")

    # grade: agree everywhere except one override
    page.check("#crit-verification input[value='agree']")  # untrusted: no default, a human decides
    page.check("#crit-recording_disclosure input[value='override']")
    page.select_option("select[name='status__recording_disclosure']", "pass")
    page.fill("input[name='points__recording_disclosure']", "20")
    page.fill("input[name='comment__recording_disclosure']", "Disclosed at 3.1 s, a little late")
    page.fill("textarea[name='overall_comment']", "Polite and efficient.")
    page.fill("textarea[name='coaching_notes']", "Disclose the recording in the first sentence.")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "call.png"), full_page=True)
    page.click("#submit-review")
    page.wait_for_selector("#submitted")
    assert "Polite and efficient." in page.inner_text("#reviews")

    # the records
    ((review_id, reviewer, human_score, comment, coaching),) = fx.query(
        "SELECT review_id, reviewer, human_score, overall_comment, coaching_notes FROM reviews WHERE call_id = ?",
        [fx.calls["flagged"]],
    )
    assert (reviewer, human_score, comment) == ("sue", 95.0, "Polite and efficient.")
    assert coaching == "Disclose the recording in the first sentence."
    grades = {
        r[0]: r[1:]
        for r in fx.query(
            "SELECT criterion_id, status, points, comment FROM human_grades WHERE review_id = ?",
            [review_id],
        )
    }
    assert grades["recording_disclosure"] == ("pass", 20.0, "Disclosed at 3.1 s, a little late")
    assert grades["verification"] == ("pass", 25.0, None) and len(grades) == 4
    assert fx.query(
        "SELECT status, assigned_to FROM review_queue WHERE call_id = ?", [fx.calls["flagged"]]
    ) == [("done", "sue")]
    actions = fx.query(
        "SELECT action, object FROM audit_log WHERE username = 'sue' ORDER BY \"at\""
    )
    assert ("claim", fx.calls["flagged"]) in actions and ("grade", fx.calls["flagged"]) in actions
    assert [a for a, _ in actions if a.startswith("login")][-1] == "login"


def test_supervisor_is_refused_the_admin_page(page, server):
    log_in(page, server, "sam")
    page.wait_for_url("**/queue")
    response = page.goto(f"{server}/admin/users")
    assert response.status == 403
    assert "Users" not in page.inner_text("h1")
    assert page.locator("nav a[href='/admin/users']").count() == 0


def test_logged_out_requests_are_refused(page, server, fx):
    audio = page.request.get(
        f"{server}/calls/{fx.calls['flagged']}/audio", headers={"Range": "bytes=0-"}
    )
    assert audio.status == 401 and not audio.body().startswith(b"fLaC")
    page.goto(f"{server}/calls/{fx.calls['flagged']}")
    assert "/login" in page.url
