"""The agent role, disputes and the report pages in a real browser (Chromium through Playwright):
an agent sees only their own reviewed call (404 otherwise), plays it, acknowledges the review and
disputes a criterion; their supervisor accepts; the QA lead reads the round trip in the audit log.
The scorecard and production pages render with their charts, and the exported HTML report opens
with the network cut off.

Set CALLQA_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/ (otherwise they go to a temp folder).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from argon2 import PasswordHasher

from pipeline.store.review_store import CriterionGrade, ReviewStore, ReviewSubmission, User
from tests.browser import CHROMIUM, chromium, log_in, screenshot_dir, served
from tests.review_fixtures import PASSWORD, build_review_db, criteria_failing

pytest.importorskip("playwright.sync_api")
pytest.importorskip("uvicorn")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
]
SUE = User("sue", "supervisor", ("billing",))
SPAN = "from=2026-11-01&to=2026-11-30"


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    """The review fixture with an agent account for a101 and a submitted review of a101's flagged call."""
    fixture = build_review_db(tmp_path_factory.mktemp("coaching_browser"))
    store = ReviewStore(str(fixture.db))
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    flagged = fixture.calls["flagged"]
    with store.open() as db:
        db.add_user("amy", cheap.hash(PASSWORD), "agent", [], by="tests", agent_id="a101")
        db.claim(SUE, flagged)
        grades = [
            CriterionGrade(c.criterion_id, c.status, c.points, None, True)
            for c in criteria_failing("recording_disclosure")
        ]
        db.submit_review(
            SUE,
            ReviewSubmission(flagged, grades, "Polite, but no disclosure", "Disclose the recording first",
                             rubric_id="test-rubric", rubric_version=1, human_score=75.0),
        )  # fmt: skip
    return fixture


@pytest.fixture(scope="module")
def server(fx):
    with served(fx.db) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture
def new_page(browser):
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return screenshot_dir(tmp_path_factory)


def charts_drawn(page) -> list[int]:
    page.wait_for_function(
        "() => [...document.querySelectorAll('img.chart')].every(i => i.complete)"
    )
    return page.eval_on_selector_all("img.chart", "imgs => imgs.map(i => i.naturalWidth)")


def test_agent_acknowledges_and_disputes_and_the_round_trip_is_audited(new_page, server, fx, shots):
    flagged, other = fx.calls["flagged"], fx.calls["other_team"]
    agent = new_page()
    log_in(agent, server, "amy")
    agent.wait_for_url("**/my")
    assert agent.eval_on_selector_all(
        "#my-calls tr[data-call-id]", "rows => rows.map(r => r.dataset.callId)"
    ) == [flagged]
    assert agent.locator("nav a[href='/queue']").count() == 0
    # nothing else answers: another agent's call, the supervisor's pages, the API
    for url in (f"/my/calls/{other}", f"/my/calls/{fx.calls['not_queued']}", f"/calls/{flagged}", "/queue",
                f"/api/calls/{flagged}", "/agents", "/disputes"):  # fmt: skip
        assert agent.goto(server + url).status == 404, url
    assert agent.request.get(f"{server}/my/calls/{other}/audio").status == 404

    agent.goto(f"{server}/my/calls/{flagged}")
    assert "Disclose the recording first" in agent.inner_text("#coaching-notes")
    agent.wait_for_function(
        "() => document.getElementById('player').readyState >= 1", timeout=10_000
    )
    agent.click("#play")
    agent.wait_for_function(
        "() => document.getElementById('player').currentTime > 0.5", timeout=10_000
    )
    agent.click("#play")
    agent.click("#acknowledge")
    agent.wait_for_selector("#acknowledged")
    agent.select_option("select[name='criterion_id']", "recording_disclosure")
    agent.fill("textarea[name='comment']", "I disclosed it at 3 s, the customer spoke over me")
    agent.screenshot(path=str(shots / "agent_call.png"), full_page=True)
    agent.click("#send-dispute")
    agent.wait_for_selector("#my-disputes")
    assert agent.inner_text("#my-disputes .dispute-status") == "pending"

    supervisor = new_page()
    log_in(supervisor, server, "sue")
    supervisor.wait_for_url("**/queue")
    supervisor.goto(f"{server}/disputes")
    row = supervisor.locator("#pending-disputes tr[data-dispute]")
    assert row.count() == 1 and "the customer spoke over me" in row.inner_text()
    row.locator("form.accept input[name='reason']").fill("Heard it at 3.1 s")
    row.locator("form.accept button").click()
    supervisor.wait_for_url("**/disputes")
    assert supervisor.locator("#pending-disputes tr[data-dispute]").count() == 0
    assert "accepted" in supervisor.inner_text("#decided-disputes")

    agent.reload()
    assert agent.inner_text("#my-disputes .dispute-status") == "accepted"
    assert agent.inner_text("#grades tr[data-criterion='recording_disclosure'] .badge") == "pass"

    lead = new_page()
    log_in(lead, server, "lena")
    lead.wait_for_url("**/queue")
    lead.goto(f"{server}/audit?call={flagged}")
    actions = lead.eval_on_selector_all(
        "#audit-table tbody tr", "rows => rows.map(r => r.cells[2].innerText)"
    )
    for action in ("acknowledge", "dispute", "amend", "dispute_accept"):
        assert action in actions, actions
    ((source, score),) = fx.query(
        "SELECT source, human_score FROM reviews WHERE call_id = ? AND amends_review_id IS NOT NULL",
        [flagged],
    )
    assert (source, score) == ("dispute", 100.0)


def test_scorecard_and_production_render_with_charts(new_page, server, fx, shots):
    page = new_page()
    log_in(page, server, "sue")
    page.wait_for_url("**/queue")
    page.goto(f"{server}/agents")
    page.click("#agents-table a:text('a101')")
    page.wait_for_selector("#figures")
    page.goto(f"{server}/agents/a101?{SPAN}")
    assert page.inner_text("#agent-name") == "a101"
    assert all(width > 0 for width in charts_drawn(page)) and len(charts_drawn(page)) == 4
    assert page.inner_text("#figures tr[data-figure='calls'] td:nth-child(2)") == "2"
    page.screenshot(path=str(shots / "scorecard.png"), full_page=True)
    page.click("#figures tr[data-figure='calls'] td:nth-child(2) a")
    page.wait_for_selector("#calls-table")
    listed = page.eval_on_selector_all(
        "#calls-table tr[data-call-id]", "rows => rows.map(r => r.dataset.callId)"
    )
    assert sorted(listed) == sorted([fx.calls["flagged"], fx.calls["not_queued"]])
    page.goto(f"{server}/reports/production?by=day&group=agent&{SPAN}")
    assert len(charts_drawn(page)) == 4 and all(width > 0 for width in charts_drawn(page))
    assert "a104" in page.inner_text("#production") and "a102" not in page.inner_text("#production")
    page.screenshot(path=str(shots / "production.png"), full_page=True)


def test_the_html_export_opens_with_no_network(new_page, browser, server, tmp_path):
    page = new_page()
    log_in(page, server, "lena")
    page.wait_for_url("**/queue")
    export = page.request.get(f"{server}/reports/production.html?by=day&group=team&{SPAN}")
    assert export.status == 200
    saved = tmp_path / "production.html"
    saved.write_bytes(export.body())
    context = browser.new_context(offline=True)
    try:
        requests: list[str] = []
        context.on("request", lambda request: requests.append(request.url))
        offline = context.new_page()
        offline.goto(saved.as_uri())
        widths = charts_drawn(offline)
        assert len(widths) == 4 and all(width > 0 for width in widths)
        assert "billing" in offline.inner_text("#production") and "support" in offline.inner_text(
            "#production"
        )
        assert [url for url in requests if not url.startswith(("file:", "data:"))] == []
    finally:
        context.close()
