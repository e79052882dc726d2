"""Coaching and report pages through FastAPI's TestClient, on the synthetic month: team scope,
figures that link to their calls, coaching sessions and follow-ups, production exports, and the
agent role (own reviewed calls only, acknowledge, dispute; a supervisor accepts or rejects), every
step audited; an accepted dispute is the human grade calibration reads."""

from __future__ import annotations

import csv
import io
import re
import shutil
from datetime import date, timedelta

import duckdb
import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from pipeline.review.app import AppOptions, create_app
from pipeline.store.review_store import ReviewStore
from pipeline.store.store import SCHEMA_PATH, Store
from tests.review_fixtures import PASSWORD, SECRET_KEY, csrf_from, login
from tests.synthetic_month import COACHING_DAY, MONTH_START, WEEKS

MONTH_END = MONTH_START + timedelta(days=WEEKS * 7 - 1)
SPAN = f"from={MONTH_START}&to={MONTH_END}"
USERS = {  # name -> (role, teams, agent id)
    "sue": ("supervisor", ["billing"], None),
    "sam": ("supervisor", ["support"], None),
    "lena": ("qa_lead", [], None),
    "amy": ("agent", [], "a2"),
    "al": ("agent", [], None),  # agent id = user name: no calls
}


@pytest.fixture(scope="module")
def db(synthetic_month, tmp_path_factory):
    path = tmp_path_factory.mktemp("coaching_app") / "month.duckdb"
    shutil.copy(synthetic_month.db, path)
    store = ReviewStore(str(path))
    store.ensure_schema()
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with store.open() as review_db:
        for name, (role, teams, agent_id) in USERS.items():
            review_db.add_user(
                name, cheap.hash(PASSWORD), role, teams, by="tests", agent_id=agent_id
            )
    return path


@pytest.fixture(scope="module")
def app(db):
    return create_app(AppOptions(db_path=str(db), secret_key=SECRET_KEY))


def client(app, username: str) -> TestClient:
    test_client = TestClient(app)
    assert login(test_client, username).status_code == 303
    return test_client


def query(db, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(db)) as con:
        return con.execute(sql, list(params)).fetchall()


def html(test_client: TestClient, url: str):
    return test_client.get(url, headers={"accept": "text/html"})


def calls_of(db, agent_id: str) -> list[str]:
    return [
        r[0]
        for r in query(
            db, "SELECT call_id FROM calls WHERE agent_id = ? ORDER BY call_id", [agent_id]
        )
    ]


def test_a_supervisor_sees_only_their_teams_agents(app, db):
    sue = client(app, "sue")
    listed = re.findall(r'data-agent="([^"]+)"', html(sue, "/agents").text)
    assert listed == ["a1", "a2", "a3"]
    assert html(sue, f"/agents/a4?{SPAN}").status_code == 404
    assert html(sue, "/agents/nobody").status_code == 404
    rows = html(sue, f"/reports/calls?agent=a4&{SPAN}").text
    assert not re.findall(r'data-call-id="', rows)
    production = sue.get(f"/reports/production.csv?by=week&group=agent&{SPAN}")
    assert production.status_code == 200
    assert {row["group"] for row in csv.DictReader(io.StringIO(production.text))} == {
        "a1",
        "a2",
        "a3",
    }
    lead = client(app, "lena")
    assert re.findall(r'data-agent="([^"]+)"', html(lead, "/agents").text) == [
        "a1",
        "a2",
        "a3",
        "a4",
        "a5",
    ]


def test_every_scorecard_figure_links_to_the_calls_behind_it(app, db):
    sue = client(app, "sue")
    page = html(sue, f"/agents/a2?{SPAN}").text
    figures = page[page.index('id="figures"') : page.index('id="criteria"')]
    cells = re.findall(r'<td class="num">(.*?)</td>', figures, re.DOTALL)
    assert cells and all('<a href="/reports/calls?' in cell for cell in cells)
    # the agent's interruptions figure is the mean over exactly the calls its link lists
    row = re.search(r'data-figure="agent_interruptions">.*?</tr>', figures, re.DOTALL).group(0)
    link, shown = re.search(r'<a href="([^"]+)">([^<]+)</a>', row).groups()
    listed = html(sue, link.replace("&amp;", "&")).text
    ids = re.findall(r'data-call-id="([0-9a-f]+)"', listed)
    assert sorted(ids) == calls_of(db, "a2")
    values = [float(v) for v in re.findall(r'<td class="num metric">([^<]+)</td>', listed)]
    assert float(shown) == pytest.approx(sum(values) / len(values), abs=0.05) == 1.0
    # a criterion's failed-calls link lists the calls that failed it
    failed = html(sue, f"/reports/calls?agent=a2&{SPAN}&criterion=interruptions&status=fail").text
    assert len(re.findall(r'data-call-id="', failed)) == 20
    assert page.count('<img class="chart" src="data:image/svg+xml;base64,') == 4


def test_coaching_sessions_are_recorded_checked_and_audited(app, db):
    sue = client(app, "sue")
    page = html(sue, f"/agents/a2?{SPAN}")
    token = csrf_from(page.text)
    form = {"csrf_token": token, "focus": ["agent_interruptions"], "commitment": "Let customers finish",
            "held_on": str(COACHING_DAY), "follow_up_on": "2026-03-27", "notes": "listened to three calls"}  # fmt: skip
    bad_focus = sue.post(
        "/agents/a2/coaching", data=form | {"focus": ["shouting"]}, headers={"accept": "text/html"}
    )
    assert bad_focus.status_code == 400 and "focus" in bad_focus.text
    backwards = sue.post("/agents/a2/coaching", data=form | {"follow_up_on": "2026-03-01"})
    assert backwards.status_code == 400
    assert sue.post("/agents/a2/coaching", data=form | {"csrf_token": "x"}).status_code == 403
    sam = client(app, "sam")
    assert (
        sam.post(
            "/agents/a2/coaching", data=form | {"csrf_token": csrf_from(html(sam, "/agents").text)}
        ).status_code
        == 404
    )
    saved = sue.post("/agents/a2/coaching", data=form, follow_redirects=False)
    assert saved.status_code == 303
    ((session_id, coach, focus),) = query(
        db, "SELECT session_id, coach, focus FROM coaching_sessions WHERE agent_id = 'a2'"
    )
    assert (coach, focus) == ("sue", ["agent_interruptions"])
    assert query(db, "SELECT username, object FROM audit_log WHERE action = 'coaching'") == [
        ("sue", "a2")
    ]
    card = html(sue, f"/agents/a2?{SPAN}&as_of=2026-03-31").text
    session = card[card.index(f'data-session="{session_id}"') :]
    assert re.search(
        r'data-metric="agent_interruptions">.*?0\.0</a>.*?2\.0</a>.*?worse', session, re.DOTALL
    )
    follow_ups = html(sue, "/coaching/follow-ups?as_of=2026-03-31").text
    assert f'data-session="{session_id}"' in follow_ups and "worse" in follow_ups
    assert session_id not in html(sam, "/coaching/follow-ups?as_of=2026-03-31").text
    close = {"csrf_token": token, "outcome": "not_met", "outcome_note": "still cutting in"}
    assert (
        sue.post(f"/coaching/{session_id}/close", data=close, follow_redirects=False).status_code
        == 303
    )
    assert sue.post(f"/coaching/{session_id}/close", data=close).status_code == 409
    assert query(
        db, "SELECT outcome, closed_by FROM coaching_sessions WHERE session_id = ?", [session_id]
    ) == [("not_met", "sue")]
    assert query(db, "SELECT username FROM audit_log WHERE action = 'coaching_follow_up'") == [
        ("sue",)
    ]
    assert session_id not in html(sue, "/coaching/follow-ups?as_of=2026-03-31").text


def test_the_agent_role_sees_only_their_own_reviewed_calls(app, db):
    amy = client(app, "amy")
    listed = re.findall(r'data-call-id="([0-9a-f]+)"', html(amy, "/my").text)
    reviewed = [
        r[0]
        for r in query(
            db,
            "SELECT DISTINCT c.call_id FROM calls c JOIN reviews r USING (call_id) WHERE c.agent_id = 'a2'",
        )
    ]
    assert sorted(listed) == sorted(reviewed) and len(listed) == 20
    unreviewed = min(set(calls_of(db, "a2")) - set(reviewed))
    someone_elses = calls_of(db, "a1")[0]
    for url in (f"/my/calls/{unreviewed}", f"/my/calls/{someone_elses}", f"/my/calls/{someone_elses}/audio",
                f"/calls/{listed[0]}", "/queue", "/agents", f"/agents/a2?{SPAN}", "/disputes", "/audit",
                f"/reports/production?{SPAN}", "/api/queue", f"/api/calls/{listed[0]}", "/search?q=bill"):  # fmt: skip
        assert html(amy, url).status_code == 404, url
    assert html(client(app, "al"), "/my").status_code == 200  # no calls: an empty list
    assert html(client(app, "sue"), "/my").status_code == 404


def test_acknowledge_and_dispute_round_trip_is_audited_and_feeds_calibration(app, db):
    amy = client(app, "amy")
    call_id = re.findall(r'data-call-id="([0-9a-f]+)"', html(amy, "/my").text)[0]
    page = html(amy, f"/my/calls/{call_id}")
    assert page.status_code == 200 and "keep it up" in page.text  # the coaching notes
    token = csrf_from(page.text)
    assert (
        amy.post(
            f"/my/calls/{call_id}/acknowledge", data={"csrf_token": token}, follow_redirects=False
        ).status_code
        == 303
    )
    assert (
        amy.post(f"/my/calls/{call_id}/acknowledge", data={"csrf_token": token}).status_code == 409
    )
    assert (
        amy.post(
            f"/my/calls/{call_id}/dispute", data={"csrf_token": token, "criterion_id": "greeting"}
        ).status_code
        == 400
    )
    dispute = {
        "csrf_token": token,
        "criterion_id": "interruptions",
        "comment": "The customer had finished talking",
    }
    assert (
        amy.post(f"/my/calls/{call_id}/dispute", data=dispute, follow_redirects=False).status_code
        == 303
    )
    assert (
        amy.post(f"/my/calls/{call_id}/dispute", data=dispute).status_code == 409
    )  # one open dispute per criterion
    ((dispute_id, review_id),) = query(
        db, "SELECT dispute_id, review_id FROM disputes WHERE call_id = ?", [call_id]
    )
    (before,) = query(
        db,
        "SELECT status, points FROM human_grades WHERE review_id = ? AND criterion_id = 'interruptions'",
        [review_id],
    )
    assert before == ("fail", 0.0)

    sam = client(app, "sam")  # another team's supervisor neither sees nor decides it
    assert dispute_id not in html(sam, "/disputes").text
    sam_token = csrf_from(html(sam, "/disputes").text)
    decision = {"csrf_token": sam_token, "status": "pass", "reason": "agreed"}
    assert sam.post(f"/disputes/{dispute_id}/accept", data=decision).status_code == 404
    sue = client(app, "sue")
    listing = html(sue, "/disputes").text
    assert dispute_id in listing and "The customer had finished talking" in listing
    sue_token = csrf_from(listing)
    no_reason = sue.post(
        f"/disputes/{dispute_id}/accept", data={"csrf_token": sue_token, "status": "pass"}
    )
    assert no_reason.status_code == 400
    accepted = sue.post(
        f"/disputes/{dispute_id}/accept",
        data=decision | {"csrf_token": sue_token},
        follow_redirects=False,
    )
    assert accepted.status_code == 303
    assert (
        sue.post(
            f"/disputes/{dispute_id}/reject", data={"csrf_token": sue_token, "reason": "x"}
        ).status_code
        == 409
    )

    ((status, resolved_by, amended_id),) = query(
        db, "SELECT status, resolved_by, amended_review_id FROM disputes"
    )
    assert (status, resolved_by) == ("accepted", "sue")
    ((reviewer, source, amends, score),) = query(
        db,
        "SELECT reviewer, source, amends_review_id, human_score FROM reviews WHERE review_id = ?",
        [amended_id],
    )
    assert (reviewer, source, amends) == ("sue", "dispute", review_id)
    grades = dict(
        query(db, "SELECT criterion_id, status FROM human_grades WHERE review_id = ?", [amended_id])
    )
    assert grades["interruptions"] == "pass"
    weights = dict(
        query(
            db, "SELECT criterion_id, max_points FROM criterion_scores WHERE call_id = ?", [call_id]
        )
    )
    applied = [c for c, s in grades.items() if s != "na"]
    assert score == pytest.approx(
        round(
            100
            * sum(weights[c] for c in applied if grades[c] == "pass")
            / sum(weights[c] for c in applied),
            1,
        )
    )
    # not read-only: the app in this process keeps the file open (read-write) between requests
    with Store(db, apply_schema=False) as store:
        reference = store.calibration.reference_grades("contact-center-default", 1)
    human = reference[
        (reference.call_id == call_id) & (reference.criterion_id == "interruptions")
    ].human
    assert human.tolist() == ["pass"]  # calibration reads the accepted dispute as the human grade
    audit = query(
        db, 'SELECT username, action FROM audit_log WHERE object = ? ORDER BY "at"', [call_id]
    )
    assert audit == [
        ("amy", "acknowledge"),
        ("amy", "dispute"),
        ("sue", "amend"),
        ("sue", "dispute_accept"),
    ]
    mine = html(amy, f"/my/calls/{call_id}").text
    assert re.search(
        r'data-dispute="' + dispute_id + r'">interruptions: <b class="dispute-status">accepted',
        mine,
    )
    lead_audit = html(client(app, "lena"), f"/audit?call={call_id}").text
    assert all(
        action in lead_audit for action in ("acknowledge", "dispute", "dispute_accept", "amend")
    )


def test_a_rejected_dispute_keeps_the_grade(app, db):
    amy = client(app, "amy")
    call_id = re.findall(r'data-call-id="([0-9a-f]+)"', html(amy, "/my").text)[1]
    token = csrf_from(html(amy, f"/my/calls/{call_id}").text)
    amy.post(
        f"/my/calls/{call_id}/dispute",
        data={"csrf_token": token, "criterion_id": "closing", "comment": "I did close"},
    )
    (dispute_id,) = query(db, "SELECT dispute_id FROM disputes WHERE call_id = ?", [call_id])[0]
    lead = client(app, "lena")
    token = csrf_from(html(lead, "/disputes").text)
    assert lead.post(f"/disputes/{dispute_id}/reject", data={"csrf_token": token, "reason": "not said in the last minute"},
                     follow_redirects=False).status_code == 303  # fmt: skip
    assert query(
        db,
        "SELECT status, resolution, amended_review_id FROM disputes WHERE dispute_id = ?",
        [dispute_id],
    ) == [("rejected", "not said in the last minute", None)]
    assert query(db, "SELECT count(*) FROM reviews WHERE call_id = ?", [call_id]) == [(1,)]
    assert ("lena", "dispute_reject") in query(
        db, "SELECT username, action FROM audit_log WHERE object = ?", [call_id]
    )


def test_production_exports(app, db):
    sue = client(app, "sue")
    parquet = sue.get(f"/reports/production.parquet?by=day&group=queue&{SPAN}")
    assert parquet.status_code == 200 and parquet.content[:4] == b"PAR1"
    page = sue.get(f"/reports/production.html?by=week&group=reason&{SPAN}")
    assert page.status_code == 200 and "attachment" in page.headers["content-disposition"]
    assert "billing_dispute" in page.text and "technical_fault" not in page.text  # sue's team only
    assert "<script" not in page.text and "https://" not in page.text
    assert html(sue, f"/reports/production?by=month&{SPAN}").status_code == 400


def test_an_old_database_gets_the_agent_role(tmp_path):
    path = tmp_path / "old.duckdb"
    schema = SCHEMA_PATH.read_text()
    old = schema.replace("'admin', 'agent')", "'admin')")
    old = old[: old.index("-- An `agent` account")]
    with duckdb.connect(str(path)) as con:
        con.execute(old)
        con.execute(
            "INSERT INTO users (username, password_hash, role, teams, created_at) VALUES ('sue', 'h', 'supervisor', ['b'], now())"
        )
        with pytest.raises(duckdb.ConstraintException):
            con.execute(
                "INSERT INTO users (username, password_hash, role, created_at) VALUES ('amy', 'h', 'agent', now())"
            )
    store = ReviewStore(str(path))
    store.ensure_schema()
    with store.open() as review_db:
        review_db.add_user("amy", "h", "agent", [], by="tests", agent_id="a101")
        assert [(u.username, u.role) for u in review_db.users()] == [
            ("amy", "agent"),
            ("sue", "supervisor"),
        ]
    assert query(path, "SELECT teams, agent_id FROM users ORDER BY username") == [
        ([], "a101"),
        (["b"], None),
    ]


def test_date_defaults_cover_the_four_weeks_up_to_the_newest_call(app):
    sue = client(app, "sue")
    page = html(sue, "/agents/a2").text
    newest = date(2026, 3, 27)  # the month's last weekday
    assert f'value="{newest}"' in page and f'value="{newest - timedelta(days=27)}"' in page


def test_the_queue_filters_by_call_reason(app, db):
    lead = client(app, "lena")
    page = html(lead, "/queue?status=done&category=escalation").text
    listed = set(re.findall(r'data-call-id="([0-9a-f]+)"', page))
    escalated = {
        r[0]
        for r in query(db, "SELECT call_id FROM call_categories WHERE category_id = 'escalation'")
    }
    done = {r[0] for r in query(db, "SELECT call_id FROM review_queue WHERE status = 'done'")}
    assert listed == escalated & done and listed
    assert 'option value="escalation" selected' in page and "Escalation" in page
    everything = set(
        re.findall(r'data-call-id="([0-9a-f]+)"', html(lead, "/queue?status=done").text)
    )
    assert listed < everything
