"""The review app through FastAPI's TestClient: sessions, CSRF, roles, team scope, escaping, audio
range requests, atomic claims, grading, amendments and the audit log (security points of issue 5)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time

import duckdb
import pytest
from fastapi.testclient import TestClient

from pipeline.review.app import AppOptions, create_app
from pipeline.review.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    LoginPolicy,
    login_delay_s,
    login_wait_s,
)
from pipeline.store.review_store import ReviewStore, ReviewSubmission, User
from tests.review_fixtures import (
    PASSWORD,
    PROJECT,
    SCRIPT_TAG,
    SECRET_KEY,
    TEAM_A,
    build_review_db,
    csrf_from,
    login,
)

EXTRA_PENDING = 45
PAGE_SIZE = 20
SUE = User("sue", "supervisor", (TEAM_A,))


@pytest.fixture(scope="session")
def review_template(tmp_path_factory):
    return build_review_db(tmp_path_factory.mktemp("review-template"), extra_pending=EXTRA_PENDING)


@pytest.fixture
def fx(review_template, tmp_path):
    return review_template.copy_to(tmp_path)


@pytest.fixture
def app(fx):
    options = AppOptions(
        db_path=str(fx.db),
        secret_key=SECRET_KEY,
        page_size=PAGE_SIZE,
    )
    return create_app(options)


def client_for(app, username: str | None = None) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    if username:
        assert login(client, username).status_code == 303
    return client


def page_csrf(client: TestClient) -> str:
    return csrf_from(client.get("/queue").text)


def queue_ids(html: str) -> set[str]:
    return set(re.findall(r'data-call-id="([^"]+)"', html))


# --- every route needs a session ---------------------------------------------------------------


def test_no_route_answers_without_a_session(app, fx):
    call_id = fx.calls["flagged"]
    checked = 0
    for route in app.state.review.page_routes():
        if route.path == "/login":
            continue
        path = (
            route.path.replace("{call_id}", call_id)
            .replace("{username}", "sue")
            .replace("{action}", "disable")
            .replace("{agent_id}", "agent-7")
            .replace("{session_id}", "0" * 32)
            .replace("{dispute_id}", "0" * 32)
            .replace("{decision}", "upheld")
            .replace("{file_format}", "csv")
        )
        assert "{" not in path, f"no stand-in value for the path parameter of {route.path}"
        for method in route.methods:
            response = TestClient(app, follow_redirects=False).request(
                method, path, data={"csrf_token": "x"}
            )
            checked += 1
            if response.status_code == 303:
                assert response.headers["location"].startswith("/login"), (method, path)
            else:
                assert response.status_code == 401, (method, path, response.status_code)
            assert call_id not in response.text or response.status_code == 303, (method, path)
    assert checked >= 14
    anonymous = TestClient(app, follow_redirects=False)
    assert anonymous.get("/login").status_code == 200
    assert anonymous.get("/static/app.js").status_code == 200
    for hidden in ("/docs", "/openapi.json", "/redoc"):
        assert anonymous.get(hidden).status_code in (303, 401, 404)


def test_logged_out_audio_request_is_refused(app, fx):
    response = TestClient(app).get(
        f"/calls/{fx.calls['flagged']}/audio", headers={"Range": "bytes=0-"}
    )
    assert response.status_code == 401
    assert not response.content.startswith(b"fLaC")


# --- login, passwords, sessions --------------------------------------------------------------


def test_wrong_password_is_refused_and_logged(app, fx):
    client = client_for(app)
    refused = login(client, "sue", "not the password")
    assert refused.status_code == 401 and SESSION_COOKIE not in refused.cookies
    assert "Wrong user name or password" in refused.text
    unknown = login(client, "nobody", PASSWORD)
    assert unknown.status_code == 401 and "Wrong user name or password" in unknown.text
    assert login(client, "sue").status_code == 303
    actions = fx.query(
        "SELECT action, username FROM audit_log WHERE action LIKE 'login%' ORDER BY \"at\""
    )
    assert actions == [("login_failed", "sue"), ("login_failed", "nobody"), ("login", "sue")]


def client_at(app, address: str) -> TestClient:
    """A browser at another network address."""
    return TestClient(app, follow_redirects=False, client=(address, 50000))


def test_failed_logins_make_the_next_try_wait_longer_each_time(fx):
    policy = LoginPolicy(free_failures=3, first_delay_s=1.0)
    app = create_app(AppOptions(db_path=str(fx.db), secret_key=SECRET_KEY, login=policy))
    bob = client_at(app, "10.0.0.7")
    for _ in range(4):  # three free, the fourth sets a 1 s wait
        assert login(bob, "bob", "wrong password!").status_code == 401
    throttled = login(bob, "bob")  # even the right password waits
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "1"
    assert "Too many failed logins for this name: wait 1 seconds" in throttled.text
    time.sleep(1.05)
    assert login(bob, "bob", "wrong again!!").status_code == 401  # fifth: 2 s
    throttled = login(bob, "bob")
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "2"
    assert login(client_at(app, "10.0.0.7"), "sue").status_code == 303  # another name: not slowed
    time.sleep(2.05)
    assert login(bob, "bob").status_code == 303
    actions = [r[0] for r in fx.query("SELECT action FROM audit_log WHERE username = 'bob'")]
    assert actions.count("login_failed") == 5 and actions.count("login_throttled") == 2
    assert actions.count("login") == 1
    # the login cleared the pair's count: a typo later starts from scratch
    assert login(bob, "bob", "typo typo typo").status_code == 401
    assert login(bob, "bob").status_code == 303


def test_attackers_cannot_lock_a_user_out_of_their_usual_address(fx):
    app = create_app(
        AppOptions(db_path=str(fx.db), secret_key=SECRET_KEY, login=LoginPolicy(first_delay_s=60))
    )
    office = "10.0.0.5"
    assert login(client_at(app, office), "sue").status_code == 303  # sue's usual address
    assert login(client_at(app, "10.0.0.6"), "lena").status_code == 303  # and lena's
    # one address guessing sue's password: slowed after its free failures
    attacker = client_at(app, "203.0.113.7")
    answers = [login(attacker, "sue", f"guess {i:04d} xx").status_code for i in range(30)]
    assert answers[:4] == [401] * 4 and set(answers[4:]) == {429}
    # many addresses guessing sue's password: the name is slowed for every unfamiliar address ...
    for host in range(10, 16):
        for i in range(5):
            login(client_at(app, f"198.51.100.{host}"), "sue", f"guess {i:04d} yy")
    assert login(client_at(app, "192.0.2.1"), "sue").status_code == 429
    # ... but sue still gets in from her usual address at once
    assert login(client_at(app, office), "sue").status_code == 303
    # password spraying: one address trying many names is slowed for every name it tries ...
    sprayer = client_at(app, "203.0.113.9")
    sprayed = [login(sprayer, f"user{i}", "guess guess").status_code for i in range(25)]
    assert sprayed[:21] == [401] * 21 and set(sprayed[21:]) == {429}
    assert login(sprayer, "lena").status_code == 429
    # ... and lena's own address is not
    assert login(client_at(app, "10.0.0.6"), "lena").status_code == 303
    # every refused try is in the audit log: 30 + 6 * 5 + 1 + 25 + 1
    refused = fx.query(
        "SELECT count(*) FROM audit_log WHERE action IN ('login_failed', 'login_throttled')"
    )
    assert refused == [(87,)]


def test_login_delay_doubles_past_the_free_failures_up_to_the_cap():
    policy = LoginPolicy(first_delay_s=2.0, max_delay_s=60.0)
    assert [login_delay_s(n, 3, policy) for n in range(9)] == [0, 0, 0, 0, 2, 4, 8, 16, 32]
    assert login_delay_s(40, 3, policy) == 60.0
    # the longest wait of the counts that apply, less the time since their last failure
    assert login_wait_s({"pair": (5, 1.0), "name": (2, 0.0)}, policy) == 3.0
    assert login_wait_s({"pair": (40, policy.forget_after_s)}, policy) == 0.0


def test_passwords_are_stored_as_argon2_hashes(fx):
    for username, password_hash in fx.query("SELECT username, password_hash FROM users"):
        assert password_hash.startswith("$argon2id$"), username
        assert PASSWORD not in password_hash


def test_session_cookie_is_signed_httponly_samesite_and_ends_at_logout(app):
    client = client_for(app)
    response = login(client, "sue")
    cookie = next(
        h for h in response.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    value = client.cookies.get(SESSION_COOKIE)
    assert client.get("/queue").status_code == 200
    # a tampered signature is refused
    tampered = TestClient(app, follow_redirects=False)
    tampered.cookies.set(
        SESSION_COOKIE, value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    )
    assert tampered.get("/queue").status_code == 303
    # logout ends the session on the server: the old cookie no longer works
    assert client.post("/logout", data={"csrf_token": page_csrf(client)}).status_code == 303
    replay = TestClient(app, follow_redirects=False)
    replay.cookies.set(SESSION_COOKIE, value)
    assert replay.get("/queue").status_code == 303
    assert replay.get("/api/queue").status_code == 401


def test_disabling_a_user_ends_their_session(app):
    sue = client_for(app, "sue")
    admin = client_for(app, "ada")
    assert (
        admin.post("/admin/users/sue/disable", data={"csrf_token": page_csrf(admin)}).status_code
        == 303
    )
    assert sue.get("/queue").status_code == 303
    assert login(client_for(app), "sue").status_code == 401


def test_login_redirect_stays_on_this_site(app):
    client = client_for(app)
    page = client.get("/login")
    for target, expected in (
        ("//evil.example/x", "/queue"),
        ("https://evil.example/", "/queue"),
        ("/calls/x", "/calls/x"),
    ):
        client.cookies.clear()
        page = client.get("/login")
        response = client.post(
            "/login",
            data={
                "username": "sue",
                "password": PASSWORD,
                "csrf_token": csrf_from(page.text),
                "next": target,
            },
        )
        assert response.status_code == 303 and response.headers["location"] == expected


def test_pages_carry_security_headers(app):
    response = client_for(app, "sue").get("/queue")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["cache-control"] == "no-store"


# --- CSRF ------------------------------------------------------------------------------------


def test_every_form_post_needs_the_csrf_token(app, fx):
    sue = client_for(app, "sue")
    call_id = fx.calls["flagged"]
    for token in (
        None,
        "forged",
        csrf_from(client_for(app, "bob").get("/queue").text),
    ):  # none, made up, someone else's
        data = {} if token is None else {"csrf_token": token}
        assert sue.post(f"/calls/{call_id}/claim", data=data).status_code == 403
        assert sue.post(f"/calls/{call_id}/review", data=data).status_code == 403
        assert sue.post("/logout", data=data).status_code == 403
    assert fx.query("SELECT status FROM review_queue WHERE call_id = ?", [call_id]) == [
        ("pending",)
    ]
    admin = client_for(app, "ada")
    response = admin.post(
        "/admin/users", data={"username": "eve", "role": "admin", "password": "x" * 12}
    )
    assert response.status_code == 403
    assert fx.query("SELECT count(*) FROM users WHERE username = 'eve'")[0][0] == 0
    # the login form has its own token, bound to a cookie
    anonymous = client_for(app)
    assert (
        anonymous.post("/login", data={"username": "sue", "password": PASSWORD}).status_code == 403
    )
    anonymous.get("/login")
    anonymous.cookies.delete(LOGIN_COOKIE, path="/login")
    assert (
        anonymous.post(
            "/login", data={"username": "sue", "password": PASSWORD, "csrf_token": "x"}
        ).status_code
        == 403
    )


# --- roles -----------------------------------------------------------------------------------


def test_supervisor_cannot_reach_user_admin_or_audit(app):
    sue = client_for(app, "sue")
    assert sue.get("/admin/users").status_code == 403
    assert sue.get("/audit").status_code == 403
    response = sue.post(
        "/admin/users",
        data={
            "username": "eve",
            "role": "admin",
            "password": "y" * 12,
            "csrf_token": page_csrf(sue),
        },
    )
    assert response.status_code == 403
    lead = client_for(app, "lena")
    assert lead.get("/audit").status_code == 200
    assert lead.get("/admin/users").status_code == 403
    admin = client_for(app, "ada")
    assert admin.get("/admin/users").status_code == 200
    created = admin.post(
        "/admin/users",
        data={
            "username": "newsup",
            "role": "supervisor",
            "teams": "billing",
            "password": "z" * 12,
            "csrf_token": page_csrf(admin),
        },
    )
    assert created.status_code == 200 and "Created newsup" in created.text
    assert login(client_for(app), "newsup", "z" * 12).status_code == 303


# --- team scope ------------------------------------------------------------------------------


def test_supervisor_sees_only_their_teams_calls(app, fx):
    sue = client_for(app, "sue")
    seen: set[str] = set()
    for page in (1, 2, 3, 4):
        seen |= queue_ids(sue.get(f"/queue?page={page}").text)
    billing = {fx.calls["flagged"], fx.calls["low"], *fx.extra_pending}
    assert seen == billing
    api = sue.get("/api/queue").json()
    assert api["total"] == len(billing)
    sam = client_for(app, "sam")
    assert queue_ids(sam.get("/queue").text) == {fx.calls["other_team"]}
    lead_total = client_for(app, "lena").get("/api/queue").json()["total"]
    assert lead_total == len(billing) + 2  # the other team's call and the unassigned one


def test_other_teams_call_answers_404_everywhere(app, fx):
    sue = client_for(app, "sue")
    other, missing = fx.calls["other_team"], "0000000000000000"
    csrf = page_csrf(sue)
    for call_id in (other, missing, fx.calls["unassigned"]):
        assert sue.get(f"/calls/{call_id}").status_code == 404
        assert sue.get(f"/api/calls/{call_id}").status_code == 404
        assert sue.get(f"/calls/{call_id}/audio", headers={"Range": "bytes=0-"}).status_code == 404
        assert sue.post(f"/calls/{call_id}/claim", data={"csrf_token": csrf}).status_code == 404
        assert sue.post(f"/calls/{call_id}/review", data={"csrf_token": csrf}).status_code == 404
    # a call of another team and a call that does not exist cannot be told apart
    assert sue.get(f"/api/calls/{other}").json() == sue.get(f"/api/calls/{missing}").json()
    assert fx.query("SELECT status FROM review_queue WHERE call_id = ?", [other]) == [("pending",)]
    # search: the other team's transcript text finds nothing for sue, and finds the call for sam
    assert other not in sue.get("/search?q=alert").text
    assert other in client_for(app, "sam").get("/search?q=alert").text
    assert client_for(app, "sam").get(f"/calls/{other}/audio").status_code == 200


def test_unassigned_call_is_shown_as_unassigned_to_qa_leads(app, fx):
    lead = client_for(app, "lena")
    page = lead.get(f"/calls/{fx.calls['unassigned']}")
    assert page.status_code == 200 and "unassigned" in page.text
    rows = lead.get("/api/queue?agent=unassigned").json()["rows"]
    assert [row["call_id"] for row in rows] == [fx.calls["unassigned"]]


# --- escaping, audio -------------------------------------------------------------------------


def test_transcript_text_is_escaped(app, fx):
    html = client_for(app, "sam").get(f"/calls/{fx.calls['other_team']}").text
    assert SCRIPT_TAG not in html
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in html


def test_audio_is_served_with_range_requests(app, fx):
    sue = client_for(app, "sue")
    url = f"/calls/{fx.calls['flagged']}/audio"
    data = fx.audio["flagged"].read_bytes()
    full = sue.get(url)
    assert full.status_code == 200 and full.content == data
    assert full.headers["content-type"] == "audio/flac" and full.headers["accept-ranges"] == "bytes"
    part = sue.get(url, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == data[100:1100]
    assert part.headers["content-range"] == f"bytes 100-1099/{len(data)}"
    tail = sue.get(url, headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.content == data[-500:]
    rest = sue.get(url, headers={"Range": f"bytes={len(data) - 10}-"})
    assert rest.status_code == 206 and rest.content == data[-10:]
    beyond = sue.get(url, headers={"Range": f"bytes={len(data) + 10}-{len(data) + 20}"})
    assert beyond.status_code == 416


def test_only_the_redacted_copy_is_ever_served(app, fx):
    sue = client_for(app, "sue")
    call_id = fx.calls["flagged"]
    served = sue.get(f"/calls/{call_id}/audio").content
    assert served == fx.audio["flagged"].read_bytes() != fx.sources["flagged"].read_bytes()
    # a database row pointing at another file (e.g. the original) is refused: the hash must match
    with duckdb.connect(str(fx.db)) as con:
        con.execute(
            "UPDATE calls SET redacted_audio_path = source_path WHERE call_id = ?", [call_id]
        )
    assert sue.get(f"/calls/{call_id}/audio").status_code == 404
    with duckdb.connect(str(fx.db)) as con:
        con.execute("UPDATE calls SET redacted_audio_path = NULL WHERE call_id = ?", [call_id])
    assert sue.get(f"/calls/{call_id}/audio").status_code == 404
    # the path in the URL is never a file path
    assert sue.get("/calls/..%2F..%2Fetc%2Fpasswd/audio").status_code == 404


# --- claims, grades, amendments, audit -------------------------------------------------------


def test_claiming_is_atomic(app, fx):
    call_id = fx.calls["low"]
    clients = [client_for(app, name) for name in ("sue", "bob")]
    tokens = [page_csrf(c) for c in clients]
    barrier = threading.Barrier(len(clients))
    results: list[int] = [0] * len(clients)

    def claim(i: int) -> None:
        barrier.wait()
        results[i] = (
            clients[i].post(f"/calls/{call_id}/claim", data={"csrf_token": tokens[i]}).status_code
        )

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [303, 409]
    rows = fx.query("SELECT status, assigned_to FROM review_queue WHERE call_id = ?", [call_id])
    assert len(rows) == 1 and rows[0][0] == "in_review" and rows[0][1] in ("sue", "bob")
    assert (
        fx.query("SELECT count(*) FROM audit_log WHERE action = 'claim' AND object = ?", [call_id])[
            0
        ][0]
        == 1
    )


def _grade_form(csrf: str, override: str | None = None) -> dict:
    form = {
        "csrf_token": csrf,
        "overall_comment": "Good call overall.",
        "coaching_notes": "Disclose recording first.",
    }
    for criterion in ("greeting", "recording_disclosure", "verification", "closing"):
        form[f"mode__{criterion}"] = "agree"
    if override:
        form |= {
            f"mode__{override}": "override",
            f"status__{override}": "pass",
            f"points__{override}": "20",
            f"comment__{override}": "said at 3.1 s",
        }
    return form


def test_grade_then_amend_keeps_both_and_logs_both(app, fx):
    sue = client_for(app, "sue")
    call_id = fx.calls["flagged"]
    csrf = page_csrf(sue)
    not_claimed = sue.post(f"/calls/{call_id}/review", data=_grade_form(csrf))
    assert not_claimed.status_code == 409
    assert sue.post(f"/calls/{call_id}/claim", data={"csrf_token": csrf}).status_code == 303
    page = sue.get(f"/calls/{call_id}").text
    assert 'id="grade-form"' in page and "needs human" in page
    bad = sue.post(
        f"/calls/{call_id}/review",
        data=_grade_form(csrf, "recording_disclosure") | {"points__recording_disclosure": "99"},
    )
    assert bad.status_code == 400
    assert fx.query("SELECT count(*) FROM reviews")[0][0] == 0
    done = sue.post(f"/calls/{call_id}/review", data=_grade_form(csrf, "recording_disclosure"))
    assert done.status_code == 303
    review_id = done.headers["location"].split("submitted=")[1]
    assert fx.query(
        "SELECT reviewer, human_score, amends_review_id, overall_comment FROM reviews"
    ) == [("sue", 95.0, None, "Good call overall.")]
    grades = {
        r[0]: r[1:]
        for r in fx.query(
            "SELECT criterion_id, status, points, comment FROM human_grades WHERE review_id = ?",
            [review_id],
        )
    }
    assert grades["recording_disclosure"] == ("pass", 20.0, "said at 3.1 s")
    assert grades["greeting"] == ("pass", 25.0, None) and len(grades) == 4
    assert fx.query("SELECT status FROM review_queue WHERE call_id = ?", [call_id]) == [("done",)]

    # amend: a new row pointing at the old one; the old one stays as it was
    amend_page = sue.get(f"/calls/{call_id}?amend={review_id}").text
    assert f'name="amends_review_id" value="{review_id}"' in amend_page
    no_reason = sue.post(
        f"/calls/{call_id}/review",
        data=_grade_form(csrf, "closing")
        | {"amends_review_id": review_id, "overall_comment": "Amended."},
        headers={"accept": "text/html"},
    )
    assert no_reason.status_code == 400 and "Reason for the amendment" in no_reason.text
    assert 'id="grade-form"' in no_reason.text and "Amended." in no_reason.text  # kept, not lost
    amended = sue.post(
        f"/calls/{call_id}/review",
        data=_grade_form(csrf, "closing")
        | {"amends_review_id": review_id, "overall_comment": "Amended.", "amend_reason": "x"},
    )
    assert amended.status_code == 303
    rows = fx.query(
        "SELECT review_id, amends_review_id, overall_comment FROM reviews ORDER BY submitted_at"
    )
    assert rows[0] == (review_id, None, "Good call overall.") and rows[1][1:] == (
        review_id,
        "Amended.",
    )
    again = sue.post(
        f"/calls/{call_id}/review",
        data=_grade_form(csrf) | {"amends_review_id": review_id, "amend_reason": "again"},
    )
    assert again.status_code == 409  # only the latest version can be amended
    assert client_for(app, "bob").post(
        f"/calls/{call_id}/review",
        data=_grade_form(page_csrf(client_for(app, "bob")))
        | {"amends_review_id": rows[1][0], "amend_reason": "not mine"},
    ).status_code in (403, 409)  # someone else's review
    actions = [
        r[0]
        for r in fx.query('SELECT action FROM audit_log WHERE object = ? ORDER BY "at"', [call_id])
    ]
    assert actions == ["claim", "grade", "amend"]
    audit_page = client_for(app, "lena").get(f"/audit?call={call_id}").text
    assert "grade" in audit_page and "amend" in audit_page and review_id in audit_page
    history = sue.get(f"/calls/{call_id}").text
    assert "amended later" in history and "Amended." in history


def test_release_puts_the_call_back(app, fx):
    sue = client_for(app, "sue")
    call_id = fx.calls["flagged"]
    csrf = page_csrf(sue)
    sue.post(f"/calls/{call_id}/claim", data={"csrf_token": csrf})
    assert (
        client_for(app, "bob")
        .post(f"/calls/{call_id}/release", data={"csrf_token": page_csrf(client_for(app, "bob"))})
        .status_code
        == 403
    )
    assert sue.post(f"/calls/{call_id}/release", data={"csrf_token": csrf}).status_code == 303
    assert fx.query(
        "SELECT status, assigned_to FROM review_queue WHERE call_id = ?", [call_id]
    ) == [("pending", None)]


def test_unqueued_call_can_be_reviewed_by_claiming_it(app, fx):
    sue = client_for(app, "sue")
    call_id = fx.calls["not_queued"]
    assert (
        sue.post(f"/calls/{call_id}/claim", data={"csrf_token": page_csrf(sue)}).status_code == 303
    )
    assert fx.query(
        "SELECT status, reasons, assigned_to FROM review_queue WHERE call_id = ?", [call_id]
    ) == [("in_review", "manual review", "sue")]


# --- queue filters and paging ----------------------------------------------------------------


def test_queue_filters_and_paging(app, fx):
    sue = client_for(app, "sue")
    first = sue.get("/api/queue").json()
    assert (
        first["total"] == EXTRA_PENDING + 2
        and first["pages"] == 3
        and len(first["rows"]) == PAGE_SIZE
    )
    assert first["rows"][0]["call_id"] == fx.calls["flagged"]  # priority 1 first
    assert [r["priority"] for r in first["rows"]] == sorted(r["priority"] for r in first["rows"])
    last = sue.get("/api/queue?page=3").json()
    assert len(last["rows"]) == EXTRA_PENDING + 2 - 2 * PAGE_SIZE
    assert [r["call_id"] for r in sue.get("/api/queue?reason=auto-fail").json()["rows"]] == [
        fx.calls["flagged"]
    ]
    assert [r["call_id"] for r in sue.get("/api/queue?agent=a104").json()["rows"]] == [
        fx.calls["low"]
    ]
    by_score = sue.get("/api/queue?score_min=70&score_max=76").json()
    assert by_score["total"] == EXTRA_PENDING + 1 and all(
        70 <= r["score"] <= 76 for r in by_score["rows"]
    )
    by_date = sue.get("/api/queue?date_from=2026-11-02&date_to=2026-11-03").json()
    assert {r["call_id"] for r in by_date["rows"]} == {fx.calls["flagged"], fx.calls["low"]}
    assert sue.get("/api/queue?date_from=yesterday").json()["problems"]
    html = sue.get("/queue?page=2").text
    assert "page 2 of 3" in html and 'rel="next"' in html and 'rel="prev"' in html


def test_call_data_never_carries_file_paths(app, fx):
    sue = client_for(app, "sue")
    call_id = fx.calls["flagged"]
    data = sue.get(f"/api/calls/{call_id}")
    assert data.status_code == 200 and data.json()["call"]["call_id"] == call_id
    assert (
        len(data.json()["turns"]) == 8 and data.json()["criteria"][0]["criterion_id"] == "greeting"
    )
    for text in (data.text, sue.get(f"/calls/{call_id}").text, sue.get("/queue").text):
        assert str(fx.db.parent) not in text and "original.wav" not in text and ".flac" not in text


# --- accounts from the command line ----------------------------------------------------------


def test_cli_users_add_takes_the_password_from_env_or_prompt_never_a_flag(fx, monkeypatch):
    from typer.testing import CliRunner

    from pipeline.cli import app as cli_app

    runner = CliRunner()
    db = ["--db", str(fx.db)]
    monkeypatch.setenv("CALLQA_PASSWORD", "from the environment")
    added = runner.invoke(
        cli_app,
        [
            "users",
            "add",
            "carol",
            "--role",
            "supervisor",
            "--team",
            "billing",
            "--team",
            "support",
            *db,
        ],
    )
    assert added.exit_code == 0, added.output
    monkeypatch.delenv("CALLQA_PASSWORD")
    prompted = runner.invoke(
        cli_app,
        ["users", "add", "dave", "--role", "qa_lead", *db],
        input="typed at the prompt\ntyped at the prompt\n",
    )
    assert prompted.exit_code == 0, prompted.output
    users = {
        r[0]: r[1:] for r in fx.query("SELECT username, role, teams, password_hash FROM users")
    }
    assert users["carol"][:2] == ("supervisor", ["billing", "support"]) and users["carol"][
        2
    ].startswith("$argon2id$")
    assert users["dave"][0] == "qa_lead" and "typed" not in users["dave"][2]
    assert (
        runner.invoke(
            cli_app, ["users", "add", "eve", "--role", "admin", "--password", "x" * 12, *db]
        ).exit_code
        == 2
    )
    assert (
        runner.invoke(
            cli_app,
            ["users", "add", "erin", "--role", "supervisor", *db],
            env={"CALLQA_PASSWORD": "y" * 12},
        ).exit_code
        == 2
    )
    assert (
        runner.invoke(
            cli_app,
            ["users", "add", "fay", "--role", "admin", *db],
            env={"CALLQA_PASSWORD": "short"},
        ).exit_code
        == 2
    )
    assert (
        runner.invoke(
            cli_app,
            ["users", "add", "carol", "--role", "admin", *db],
            env={"CALLQA_PASSWORD": "z" * 12},
        ).exit_code
        == 1
    )
    assert (
        fx.query(
            "SELECT count(*) FROM audit_log WHERE action = 'user_add' AND object IN ('carol', 'dave')"
        )[0][0]
        == 2
    )


def test_a_request_that_cannot_get_the_database_answers_503(fx):
    app = create_app(AppOptions(db_path=str(fx.db), secret_key=SECRET_KEY, lock_timeout_s=0.3))
    sue = client_for(app, "sue")  # the app now keeps the file open: the holder asks for it in turn
    hold = (
        "import time; from pipeline.store.connection import connect_with_retry;"
        f" c = connect_with_retry({str(fx.db)!r}, False); print('held', flush=True); time.sleep(2)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True, cwd=PROJECT,
        env=os.environ | {"PYTHONPATH": str(PROJECT)},
    )  # fmt: skip
    assert holder.stdout.readline().strip() == "held"
    busy = sue.get("/api/queue")
    assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
    holder.wait(10)
    assert sue.get("/api/queue").status_code == 200


# --- the database kept open between requests ---------------------------------------------------

GRADE_IN_ANOTHER_PROCESS = """
import sys, time
from pipeline.store.review_store import ReviewStore, ReviewSubmission, User
db, call_id, team = sys.argv[1:]
sue = User("sue", "supervisor", (team,))
started = time.monotonic()
with ReviewStore(db).open() as review_db:
    print(f"waited {time.monotonic() - started:.3f}", flush=True)
    review_db.claim(sue, call_id)
    review_db.submit_review(sue, ReviewSubmission(call_id, grades=[], human_score=90.0))
"""


def queue_totals(client: TestClient) -> tuple[int, int]:
    pending, done = (client.get(f"/api/queue?status={s}").json() for s in ("pending", "done"))
    return pending["total"], done["total"]


def test_a_review_saved_meanwhile_shows_on_the_next_queue_page(app, fx):
    """The app keeps the database open between requests; a review saved on another connection
    in this process is on the very next page load, nothing cached."""
    sue = client_for(app, "sue")
    call_id = min(queue_ids(sue.get("/queue").text) & set(fx.extra_pending))
    pending, done = queue_totals(sue)
    assert app.state.review.store.holds_file  # kept open: the next page does not reopen it
    elsewhere = ReviewStore(str(fx.db))  # closes after each use, like `callqa` commands
    with elsewhere.open() as review_db:
        review_db.claim(SUE, call_id)
        review_db.submit_review(SUE, ReviewSubmission(call_id, grades=[], human_score=90.0))
    assert call_id not in queue_ids(sue.get("/queue").text)
    assert queue_totals(sue) == (pending - 1, done + 1)
    done_ids = {
        r["call_id"] for r in sue.get("/api/queue?status=done&sort=date&dir=desc").json()["rows"]
    }
    assert call_id in done_ids


def test_another_process_gets_the_kept_open_database_at_once_and_its_writes_show(app, fx):
    sue = client_for(app, "sue")
    call_id = min(queue_ids(sue.get("/queue").text) & set(fx.extra_pending))
    assert app.state.review.store.holds_file
    graded = subprocess.run(
        [sys.executable, "-c", GRADE_IN_ANOTHER_PROCESS, str(fx.db), call_id, TEAM_A],
        check=False, capture_output=True, text=True, timeout=60, cwd=PROJECT, env=os.environ | {"PYTHONPATH": str(PROJECT)},
    )  # fmt: skip
    assert graded.returncode == 0, graded.stderr
    waited_s = float(graded.stdout.split()[1])
    assert waited_s < 2.0  # the app lets go within a fraction of a second, not after keep_open_s
    assert call_id not in queue_ids(sue.get("/queue").text)
    assert call_id in {
        r["call_id"] for r in sue.get("/api/queue?status=done&sort=date&dir=desc").json()["rows"]
    }


def test_the_database_is_closed_once_idle_for_keep_open_s(fx):
    app = create_app(AppOptions(db_path=str(fx.db), secret_key=SECRET_KEY, keep_open_s=0.2))
    sue = client_for(app, "sue")
    assert sue.get("/queue").status_code == 200
    assert app.state.review.store.holds_file
    deadline = time.monotonic() + 5
    while app.state.review.store.holds_file and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not app.state.review.store.holds_file
    with duckdb.connect(str(fx.db), read_only=True) as con:  # another configuration: free again
        assert con.execute("SELECT count(*) FROM users").fetchone()[0] > 0
    assert sue.get("/queue").status_code == 200  # and opened again on the next request
