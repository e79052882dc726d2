"""The review app in a real browser (Chromium through Playwright): a supervisor logs in, sees only
their team's queue, claims a flagged call, plays the redacted audio, jumps to evidence, grades with
one override and submits; the review and the audit rows land in the database. Second pass (issue
15): a draft survives a logout, a second review is an amendment with a reason, audio plays from a
server started elsewhere, the human verdict comes first, every flag seeks the player, the keys.

Set CALLQA_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/ (otherwise they go to a temp folder).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from tests.browser import CHROMIUM, chromium, log_in, screenshot_dir, served
from tests.review_fixtures import PASSWORD, build_review_db, server_process

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


# --- second pass (issue 15) --------------------------------------------------------------------


def open_call(page, server: str, call_id: str) -> None:
    page.goto(f"{server}/calls/{call_id}")
    page.wait_for_function(
        "() => document.getElementById('player').readyState >= 1", timeout=10_000
    )


def claim_and_open(page, server: str, call_id: str) -> None:
    page.goto(f"{server}/calls/{call_id}")
    page.click("#claim")
    page.wait_for_selector("#grade-form")


def agree_everywhere(page) -> None:
    for radio in page.query_selector_all("#grade-form input[type=radio][value=agree]"):
        radio.check()


def test_a_draft_survives_a_logout_and_an_expired_session_on_submit(browser, server, fx):
    call_id = fx.calls["low"]
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    log_in(page, server, "sue")
    page.wait_for_url("**/queue")
    claim_and_open(page, server, call_id)
    agree_everywhere(page)
    page.check("#crit-greeting input[value='override']")
    page.select_option("select[name='status__greeting']", "pass")
    page.fill("input[name='points__greeting']", "20")
    page.fill("input[name='comment__greeting']", "Said the company name, late.")
    page.fill("textarea[name='overall_comment']", "Calm and correct.")
    page.wait_for_selector("#draft-status:has-text('Draft saved')", timeout=10_000)

    # logged out in another tab: the draft is on the server, and comes back after a new login
    other = context.new_page()
    other.goto(f"{server}/queue")
    other.click("form[action='/logout'] button")
    other.wait_for_url("**/login")
    log_in(other, server, "sue")
    other.goto(f"{server}/calls/{call_id}")
    other.wait_for_selector("#draft-restored")
    assert other.input_value("textarea[name='overall_comment']") == "Calm and correct."
    assert other.input_value("input[name='comment__greeting']") == "Said the company name, late."
    assert other.is_checked("#crit-greeting input[value='override']")
    other.click("form[action='/logout'] button")  # the session ends again
    other.wait_for_url("**/login")

    # the first tab keeps typing after its session ended, then presses Submit
    page.fill("textarea[name='coaching_notes']", "Give the company name in the first sentence.")
    page.wait_for_selector("#draft-status:has-text('session has ended')", timeout=10_000)
    page.click("#submit-review")
    page.wait_for_url("**/login?next=*")
    assert "Wrong" not in page.content() and "login required" not in page.content()
    page.fill("#username", "sue")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"**/calls/{call_id}")
    # back at the filled form: the server's draft plus what was typed after the session ended
    page.wait_for_selector("#draft-status:has-text('Draft saved')", timeout=10_000)
    assert page.input_value("textarea[name='overall_comment']") == "Calm and correct."
    assert (
        page.input_value("textarea[name='coaching_notes']")
        == "Give the company name in the first sentence."
    )
    assert page.input_value("input[name='points__greeting']") == "20"
    page.click("#submit-review")
    page.wait_for_selector("#submitted")
    ((greeting, notes, comment),) = fx.query(
        "SELECT g.points, r.coaching_notes, r.overall_comment FROM reviews r JOIN human_grades g"
        " USING (review_id) WHERE r.call_id = ? AND g.criterion_id = 'greeting'",
        [call_id],
    )
    assert (greeting, notes, comment) == (
        20.0,
        "Give the company name in the first sentence.",
        "Calm and correct.",
    )
    assert fx.query("SELECT count(*) FROM review_drafts WHERE call_id = ?", [call_id]) == [(0,)]
    context.close()


def test_a_second_review_is_an_amendment_with_a_reason(page, server, fx):
    call_id = fx.extra_pending[0]
    log_in(page, server, "sue")
    page.wait_for_url("**/queue")
    claim_and_open(page, server, call_id)
    agree_everywhere(page)
    page.click("#submit-review")
    page.wait_for_selector("#submitted")
    assert page.locator("#claim").count() == 0  # no "Review this call" on a reviewed call
    page.click("#amend-review")
    page.wait_for_selector("#grade-form")
    assert page.inner_text("#submit-review") == "Save amendment"
    page.check("#crit-closing input[value='override']")
    page.select_option("select[name='status__closing']", "pass")
    page.click("#submit-review")  # no reason: the browser stops it
    assert page.eval_on_selector("#amend-reason", "e => e.validity.valueMissing")
    page.fill("#amend-reason", "The closing offer was there at 15 s.")
    page.click("#submit-review")
    page.wait_for_selector("#submitted")
    assert page.locator("#reviews .review").count() == 2
    assert page.locator("#reviews .review.superseded").count() == 1
    assert "The closing offer was there at 15 s." in page.inner_text("#reviews")
    rows = fx.query(
        "SELECT review_id, human_score, amends_review_id, amend_reason FROM reviews WHERE call_id = ?"
        " ORDER BY submitted_at",
        [call_id],
    )
    assert [r[1] for r in rows] == [75.0, 100.0] and rows[1][2] == rows[0][0]
    ((before, after),) = fx.query(
        'SELECT "before", "after" FROM audit_log WHERE action = \'amend\' AND object = ?', [call_id]
    )
    before, after = json.loads(before), json.loads(after)
    assert before["review"]["review_id"] == rows[0][0] and before["review"]["human_score"] == 75.0
    assert before["review"]["grades"]["closing"][:2] == ["fail", 0.0]
    assert after["review"]["review_id"] == rows[1][0] and after["review"]["human_score"] == 100.0
    assert after["review"]["grades"]["closing"][:2] == ["pass", 25.0]


def test_the_human_verdict_comes_first_once_reviewed(page, server, fx):
    call_id = fx.extra_pending[1]  # automatic: 75, failed (closing)
    log_in(page, server, "bob")
    page.wait_for_url("**/queue")
    claim_and_open(page, server, call_id)
    agree_everywhere(page)
    page.check("#crit-closing input[value='override']")
    page.select_option("select[name='status__closing']", "pass")
    page.click("#submit-review")
    page.wait_for_selector("#submitted")
    verdict = page.inner_text("#verdict")
    assert verdict.startswith("100.0") and "passed · human, bob" in verdict
    assert verdict.index("passed · human") < verdict.index("auto 75 · failed")
    page.goto(f"{server}/queue?status=done")
    row = page.locator(f"tr[data-call-id='{call_id}']")
    cells = row.locator("td")
    headers = page.locator("#queue-table thead th").all_inner_texts()
    human, auto = headers.index("Human verdict"), headers.index("Auto score")
    assert human < auto
    assert cells.nth(human).inner_text().startswith("100.0 passed")
    assert cells.nth(auto).inner_text().strip() == "75"


def test_a_long_unbroken_comment_wraps(page, server, fx):
    call_id = fx.extra_pending[2]
    log_in(page, server, "sue")
    page.wait_for_url("**/queue")
    claim_and_open(page, server, call_id)
    agree_everywhere(page)
    page.fill("textarea[name='coaching_notes']", "x" * 4000)
    page.fill("input[name='comment__closing']", "y" * 3000)
    page.click("#submit-review")
    page.wait_for_selector("#submitted")
    assert "x" * 4000 in page.inner_text("#reviews")
    assert page.evaluate("document.documentElement.scrollWidth") <= page.evaluate("innerWidth")


FLAG_KINDS = {
    "missing_step", "auto_fail", "forbidden", "dead_air", "hold", "talkover", "redacted",
    "low_confidence",
}  # fmt: skip


def test_every_kind_of_flag_is_a_mark_that_seeks_the_player(page, server, fx, shots):
    call_id = fx.calls["flags"]
    reasons = (
        "auto-fail: recording_disclosure at 3.0 s; score 40 below pass mark 80 (greeting, no_blame);"
        " needs human: verification (not trusted), auto says pass at 5.5 s;"
        " low confidence: ASR word probability 0.52"
    )
    fx.query(
        "INSERT INTO review_queue (call_id, priority, reasons, rubric_id, rubric_version, status, created_at)"
        " VALUES (?, 1, ?, 'test-rubric', 1, 'pending', now()::TIMESTAMP)",
        [call_id, reasons],
    )
    log_in(page, server, "lena")
    page.wait_for_url("**/queue")
    open_call(page, server, call_id)
    marks = page.locator("#timeline .flag")
    kinds = set(marks.evaluate_all("ms => ms.map(m => m.dataset.kind)"))
    assert kinds == FLAG_KINDS
    for i in range(marks.count()):
        mark = marks.nth(i)
        start = float(mark.get_attribute("data-start"))
        page.evaluate("document.getElementById('player').currentTime = 0.0")
        mark.click()
        page.evaluate("document.getElementById('player').pause()")
        assert abs(player_time(page) - start) <= 0.5, mark.get_attribute("data-kind")
    # the reasons are links; "and 1 more" opens the rest
    assert page.locator("#reasons > li").count() == 3
    assert not page.is_visible("#more-reasons ul")
    page.click("#more-reasons summary")
    assert page.is_visible("#more-reasons ul")
    links = page.locator("#queue-state .reason-link")
    targets = {link.inner_text(): float(link.get_attribute("data-seek")) for link in links.all()}
    assert targets == {
        "recording disclosure": 3.0, "greeting": 0.5, "no blame": 5.5, "verification": 5.5,
        "low confidence: ASR word probability 0.52": 17.5,
    }  # fmt: skip
    for link in links.all():
        page.evaluate("document.getElementById('player').currentTime = 12.0")
        link.click()
        page.evaluate("document.getElementById('player').pause()")
        assert abs(player_time(page) - float(link.get_attribute("data-seek"))) <= 0.5
    page.locator("#queue-state .reason-link", has_text="no blame").click()
    page.evaluate("document.getElementById('player').pause()")
    assert "targeted" in page.get_attribute("#crit-no_blame", "class")
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#timeline .flag[data-kind='forbidden']").click()
    page.evaluate("document.getElementById('player').pause()")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "call-flags.png"))


def test_keyboard_speed_sticky_player_and_skipping_silences(page, server, fx, shots):
    log_in(page, server, "lena")
    page.wait_for_url("**/queue")
    open_call(page, server, fx.calls["flags"])
    page.click("h1")  # focus on the page, not on a control
    flag_starts = sorted(
        float(s)
        for s in page.locator("#timeline .flag").evaluate_all("ms => ms.map(m => m.dataset.start)")
    )
    page.keyboard.press("k")
    assert abs(player_time(page) - flag_starts[0]) < 0.01
    page.keyboard.press("k")
    assert abs(player_time(page) - flag_starts[1]) < 0.01
    page.keyboard.press("k")
    page.keyboard.press("j")
    assert abs(player_time(page) - flag_starts[1]) < 0.01
    page.click("h1")
    page.keyboard.press("ArrowRight")
    assert abs(player_time(page) - (flag_starts[1] + 5)) < 0.01
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    assert abs(player_time(page) - max(0.0, flag_starts[1] - 5)) < 0.01
    page.keyboard.press(" ")
    page.wait_for_function("() => !document.getElementById('player').paused")
    page.keyboard.press(" ")
    page.wait_for_function("() => document.getElementById('player').paused")
    rate = "document.getElementById('player').playbackRate"
    for key, expected in (("2", 1.5), ("3", 2.0), ("1", 1.0)):
        page.keyboard.press(key)
        assert page.evaluate(rate) == expected
        pressed = page.locator(".speed-button[aria-pressed='true']").inner_text()
        assert pressed == f"{expected:g}×"
    page.click(".speed-button[data-rate='1.5']")  # the visible control
    assert page.evaluate(rate) == 1.5
    page.fill("#skip-silence-s", "0.4")  # typing digits into a field is not a speed key
    assert page.evaluate(rate) == 1.5
    # skip silences longer than 0.4 s: the 2.5-3.0 s gap between two turns is jumped
    page.check("#skip-silence")
    page.evaluate("document.getElementById('player').currentTime = 2.3")
    page.click("#play")
    page.wait_for_function("() => document.getElementById('skipped').textContent.length > 0")
    assert page.inner_text("#skipped") == "skipped 0:02.5–0:03.0 (silence)"
    assert player_time(page) >= 3.0
    page.click("#play")
    # the player and the timeline stay on screen while the page scrolls
    page.set_viewport_size({"width": 1400, "height": 620})
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    page.wait_for_timeout(100)
    box = page.locator("#player-panel").bounding_box()
    assert 0 <= box["y"] <= 1 and page.locator("#timeline").is_visible()
    assert page.evaluate("window.scrollY") > 0
    page.screenshot(path=str(shots / "call-sticky.png"))


def test_audio_plays_when_the_server_starts_from_another_directory(browser, fx, tmp_path):
    # a database from before paths were stored absolute: audio paths relative to where it ran
    data = tmp_path / "data"
    data.mkdir()
    db = data / "calls.duckdb"
    shutil.copy(fx.db, db)
    with duckdb.connect(str(db)) as con:
        rows = con.execute(
            "SELECT call_id, redacted_audio_path FROM calls WHERE redacted_audio_path IS NOT NULL"
        ).fetchall()
        for call_id, path in rows:
            shutil.copy(path, data / Path(path).name)
            con.execute(
                "UPDATE calls SET redacted_audio_path = ? WHERE call_id = ?",
                [Path(path).name, call_id],
            )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    with server_process(db, cwd=elsewhere) as (base, _):
        log_in(page, base, "sue")
        page.wait_for_url("**/queue")
        open_call(page, base, fx.calls["flagged"])
        page.click("#play")
        page.wait_for_function(
            "() => document.getElementById('player').currentTime > 0.5", timeout=10_000
        )
        page.click("#play")
        # a recording that is gone says so, instead of a silent 0:00 player
        (data / fx.audio["low"].name).unlink()
        page.goto(f"{base}/calls/{fx.calls['low']}")
        assert page.locator("#player").count() == 0
        assert "The recording of this call cannot be found" in page.inner_text("#audio-problem")
    context.close()
