"""The review app's grading, second pass (issue 15): one current review per call (a later one is an
amendment with a reason, and the audit log holds the true before and after), drafts kept on the
server as the reviewer types, limits shown and enforced with a message, the human verdict, audio
found wherever the server was started, HEAD on audio."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from pipeline.review.app import AppOptions, create_app
from pipeline.review.review_form import MAX_COMMENT_CHARS
from tests.review_fixtures import SECRET_KEY, build_review_db, csrf_from, login

HTML = {"accept": "text/html"}


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_review_db(tmp_path_factory.mktemp("grading-template"))


@pytest.fixture
def fx(template, tmp_path):
    return template.copy_to(tmp_path)


@pytest.fixture
def app(fx):
    return create_app(AppOptions(db_path=str(fx.db), secret_key=SECRET_KEY))


def client_for(app, username: str) -> TestClient:
    client = TestClient(app, follow_redirects=False)
    assert login(client, username).status_code == 303
    return client


def grades(csrf: str, **extra: str) -> dict:
    form = {"csrf_token": csrf, "overall_comment": "Fine.", "coaching_notes": "Keep it up."}
    for criterion in ("greeting", "recording_disclosure", "verification", "closing"):
        form[f"mode__{criterion}"] = "agree"
    return form | extra


def claimed(app, fx, username: str = "sue", label: str = "flagged") -> tuple[TestClient, str, str]:
    client = client_for(app, username)
    csrf = csrf_from(client.get("/queue").text)
    call_id = fx.calls[label]
    assert client.post(f"/calls/{call_id}/claim", data={"csrf_token": csrf}).status_code == 303
    return client, csrf, call_id


# --- one current review ------------------------------------------------------------------------


def test_a_reviewed_call_takes_only_amendments_with_a_reason(app, fx):
    sue, csrf, call_id = claimed(app, fx)
    first = sue.post(f"/calls/{call_id}/review", data=grades(csrf))
    assert first.status_code == 303
    review_id = first.headers["location"].split("submitted=")[1]
    page = sue.get(f"/calls/{call_id}").text
    assert "Review this call" not in page and 'id="claim"' not in page
    assert f'href="/calls/{call_id}?amend={review_id}"' in page and "Amend the review" in page
    # claiming again, or grading again without amending, is refused: never two current reviews
    again = sue.post(f"/calls/{call_id}/claim", data={"csrf_token": csrf}, headers=HTML)
    assert again.status_code == 409 and "amend that review instead" in again.text
    second = sue.post(f"/calls/{call_id}/review", data=grades(csrf))
    assert second.status_code == 409
    lead = client_for(app, "lena")  # a QA lead neither
    lead_csrf = csrf_from(lead.get("/queue").text)
    assert lead.post(f"/calls/{call_id}/claim", data={"csrf_token": lead_csrf}).status_code == 409
    assert fx.query("SELECT count(*) FROM reviews WHERE call_id = ?", [call_id]) == [(1,)]
    # an amendment needs a reason; the form comes back with what was typed and says so
    amend_page = sue.get(f"/calls/{call_id}?amend={review_id}").text
    assert 'name="amend_reason"' in amend_page and "required" in amend_page
    missing = sue.post(
        f"/calls/{call_id}/review",
        data=grades(csrf, amends_review_id=review_id, coaching_notes="New notes."),
        headers=HTML,
    )
    assert missing.status_code == 400 and "Reason for the amendment" in missing.text
    assert "New notes." in missing.text
    amended = sue.post(
        f"/calls/{call_id}/review",
        data=grades(
            csrf,
            amends_review_id=review_id,
            amend_reason="Listened again: the disclosure was there.",
            mode__recording_disclosure="override",
            status__recording_disclosure="pass",
            points__recording_disclosure="25",
        ),
    )
    assert amended.status_code == 303
    new_id = amended.headers["location"].split("submitted=")[1]
    rows = fx.query(
        "SELECT review_id, amends_review_id, amend_reason, human_score, human_passed FROM reviews"
        " WHERE call_id = ? ORDER BY submitted_at",
        [call_id],
    )
    assert rows == [
        (review_id, None, None, 75.0, False),
        (new_id, review_id, "Listened again: the disclosure was there.", 100.0, True),
    ]
    # the audit log: claim from pending, grade from in_review to done, amend from the first
    # review (as it was) to the second
    audit = {
        action: (json.loads(before) if before else None, json.loads(after))
        for action, before, after in fx.query(
            'SELECT action, "before", "after" FROM audit_log WHERE object = ? ORDER BY "at"',
            [call_id],
        )
    }
    assert audit["claim"] == ({"queue": "pending"}, {"queue": "in_review", "assigned_to": "sue"})
    grade_before, grade_after = audit["grade"]
    assert grade_before == {"queue": "in_review", "assigned_to": "sue", "review": None}
    assert grade_after["queue"] == "done" and grade_after["review"]["review_id"] == review_id
    amend_before, amend_after = audit["amend"]
    assert amend_before["review"]["review_id"] == review_id
    assert amend_before["review"]["human_score"] == 75.0
    assert amend_before["review"]["grades"]["recording_disclosure"] == ["fail", 0.0, None]
    assert amend_after["review"]["grades"]["recording_disclosure"] == ["pass", 25.0, None]
    assert amend_after["review"]["amend_reason"] == "Listened again: the disclosure was there."


def test_a_manual_review_claim_logs_that_the_call_was_not_queued(app, fx):
    _, _, call_id = claimed(app, fx, label="not_queued")
    ((before, after),) = fx.query(
        'SELECT "before", "after" FROM audit_log WHERE action = \'claim\' AND object = ?', [call_id]
    )
    assert json.loads(before) == {"queue": None}
    assert json.loads(after) == {"queue": "in_review", "assigned_to": "sue"}


# --- the human verdict -------------------------------------------------------------------------


def test_the_human_verdict_comes_first_in_the_header_and_the_done_tab(app, fx):
    sue, csrf, call_id = claimed(app, fx, label="low")  # auto: 50, failed
    form = grades(
        csrf,
        mode__greeting="override",
        status__greeting="pass",
        points__greeting="25",
    )
    assert sue.post(f"/calls/{call_id}/review", data=form).status_code == 303
    page = sue.get(f"/calls/{call_id}").text
    verdict = page[page.index('id="verdict"') : page.index('id="queue-state"')]
    assert verdict.index("75.0") < verdict.index("auto 50")
    assert "failed</b> · human, sue" in verdict  # 75 < pass mark 80
    done = sue.get("/api/queue?status=done").json()["rows"]
    assert [(r["call_id"], r["human_score"], r["human_passed"], r["score"]) for r in done] == [
        (call_id, 75.0, False, 50.0)
    ]
    # sorted by it, the verdict is joined to every done row; else looked up for the page's rows
    assert sue.get("/api/queue?status=done&sort=human&dir=desc").json()["rows"] == done
    tab = sue.get("/queue?status=done").text
    assert "Human verdict" in tab and "75.0" in tab and ">failed</span>" in tab


def test_reviews_saved_before_the_verdict_was_kept_get_it_at_start_up(fx):
    app = create_app(AppOptions(db_path=str(fx.db), secret_key=SECRET_KEY))
    sue, csrf, call_id = claimed(app, fx)
    form = grades(
        csrf,
        mode__recording_disclosure="override",
        status__recording_disclosure="pass",
        points__recording_disclosure="25",
    )
    assert sue.post(f"/calls/{call_id}/review", data=form).status_code == 303
    with duckdb.connect(str(fx.db)) as con:
        con.execute("UPDATE reviews SET human_passed = NULL")
    create_app(AppOptions(db_path=str(fx.db), secret_key=SECRET_KEY))
    assert fx.query("SELECT human_score, human_passed FROM reviews") == [(100.0, True)]


# --- drafts ------------------------------------------------------------------------------------


def test_a_draft_is_kept_per_reviewer_and_call_and_restored(app, fx):
    sue, csrf, call_id = claimed(app, fx)
    draft = {
        "csrf_token": csrf,
        "mode__greeting": "override",
        "status__greeting": "fail",
        "comment__greeting": "No company name.",
        "coaching_notes": "Say the company name first.",
        "something_else": "dropped",
    }
    saved = sue.post(f"/calls/{call_id}/draft", data=draft, headers={"accept": "application/json"})
    assert saved.status_code == 200 and "saved_at" in saved.json()
    ((fields,),) = fx.query("SELECT fields FROM review_drafts WHERE username = 'sue'")
    assert json.loads(fields) == {
        k: v for k, v in draft.items() if k not in ("csrf_token", "something_else")
    }
    # a new login (another browser) gets the form back as it was
    page = client_for(app, "sue").get(f"/calls/{call_id}").text
    assert 'id="draft-restored"' in page and "Say the company name first." in page
    assert 'name="mode__greeting" value="override" checked' in page
    assert 'value="No company name."' in page
    # another reviewer does not see it; a call of another team cannot have one
    bob = client_for(app, "bob")
    assert "Say the company name first." not in bob.get(f"/calls/{call_id}").text
    other = fx.calls["other_team"]
    assert sue.post(f"/calls/{other}/draft", data={"csrf_token": csrf}).status_code == 404
    # too long: refused with a message, the saved draft untouched
    long = sue.post(
        f"/calls/{call_id}/draft",
        data=draft | {"coaching_notes": "x" * (MAX_COMMENT_CHARS + 1)},
        headers={"accept": "application/json"},
    )
    assert long.status_code == 400 and "more than the 5,000 allowed" in long.json()["detail"]
    # submitting removes it
    assert sue.post(f"/calls/{call_id}/review", data=grades(csrf)).status_code == 303
    assert fx.query("SELECT count(*) FROM review_drafts") == [(0,)]


def test_a_draft_can_be_discarded_and_an_amendment_draft_waits_for_its_form(app, fx):
    sue, csrf, call_id = claimed(app, fx)
    sue.post(f"/calls/{call_id}/draft", data={"csrf_token": csrf, "overall_comment": "typed"})
    assert sue.post(f"/calls/{call_id}/draft/discard", data={"csrf_token": csrf}).status_code == 303
    assert fx.query("SELECT count(*) FROM review_drafts") == [(0,)]
    review_id = (
        sue.post(f"/calls/{call_id}/review", data=grades(csrf))
        .headers["location"]
        .split("submitted=")[1]
    )
    sue.post(
        f"/calls/{call_id}/draft",
        data={"csrf_token": csrf, "amends_review_id": review_id, "amend_reason": "half-typed"},
    )
    plain = sue.get(f"/calls/{call_id}").text
    assert 'id="draft-elsewhere"' in plain and f"?amend={review_id}" in plain
    amend = sue.get(f"/calls/{call_id}?amend={review_id}").text
    assert 'id="draft-restored"' in amend and "half-typed" in amend


def test_a_refused_submit_keeps_what_was_typed_as_the_draft(app, fx):
    sue, csrf, call_id = claimed(app, fx)
    bad = grades(
        csrf,
        coaching_notes="Keep this.",
        mode__greeting="override",
        status__greeting="pass",
        points__greeting="99",
    )
    response = sue.post(f"/calls/{call_id}/review", data=bad, headers=HTML)
    assert response.status_code == 400 and "points must be between 0 and 25" in response.text
    assert "Keep this." in response.text and 'id="grade-form"' in response.text
    ((fields,),) = fx.query("SELECT fields FROM review_drafts WHERE call_id = ?", [call_id])
    assert json.loads(fields)["coaching_notes"] == "Keep this."


# --- limits ------------------------------------------------------------------------------------


def test_limits_are_shown_and_longer_text_is_refused_with_a_message(app, fx):
    sue, csrf, call_id = claimed(app, fx)
    page = sue.get(f"/calls/{call_id}").text
    assert page.count(f'maxlength="{MAX_COMMENT_CHARS}"') >= 6  # 4 criterion comments + 2 notes
    assert "up to 5,000 characters" in page
    too_long = "word " * 1100  # 5,500 characters
    response = sue.post(
        f"/calls/{call_id}/review", data=grades(csrf, coaching_notes=too_long), headers=HTML
    )
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/html")
    assert "Coaching notes: 5,500 characters, more than the 5,000 allowed" in response.text
    assert too_long.strip() in response.text  # given back to shorten, not cut
    assert fx.query("SELECT count(*) FROM reviews") == [(0,)]
    # a comment of 1.5 MB: a page with the same message, not raw JSON
    huge = sue.post(
        f"/calls/{call_id}/review",
        data=grades(csrf, overall_comment="y" * 1_500_000),
        headers=HTML,
    )
    assert huge.status_code == 400 and "Overall comment: 1,500,000 characters" in huge.text
    # exactly at the limit is saved whole
    at_limit = "z" * MAX_COMMENT_CHARS
    assert (
        sue.post(f"/calls/{call_id}/review", data=grades(csrf, coaching_notes=at_limit)).status_code
        == 303
    )
    assert fx.query("SELECT length(coaching_notes) FROM reviews") == [(MAX_COMMENT_CHARS,)]


# --- audio ------------------------------------------------------------------------------------


def test_head_on_audio_answers_like_get_without_the_body(app, fx):
    sue = client_for(app, "sue")
    url = f"/calls/{fx.calls['flagged']}/audio"
    get, head = sue.get(url), sue.head(url)
    assert head.status_code == get.status_code == 200 and head.content == b""
    for name in ("content-type", "content-length", "accept-ranges", "etag", "last-modified"):
        assert head.headers[name] == get.headers[name], name
    ranged = sue.head(url, headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.headers["content-range"].startswith("bytes 0-99/")
    assert ranged.content == b""
    assert TestClient(app).head(url).status_code == 401


def test_relative_audio_paths_of_older_databases_are_found_beside_the_database(
    fx, tmp_path, monkeypatch
):
    # an older run stored paths relative to where it was started: the database's folder here
    with duckdb.connect(str(fx.db)) as con:
        for call_id, path in con.execute(
            "SELECT call_id, redacted_audio_path FROM calls"
        ).fetchall():
            copy = fx.db.parent / Path(path).name
            shutil.copy(path, copy)
            con.execute(
                "UPDATE calls SET redacted_audio_path = ? WHERE call_id = ?",
                [os.path.relpath(copy, fx.db.parent), call_id],
            )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    app = create_app(AppOptions(db_path=str(fx.db), secret_key=SECRET_KEY))
    sue = client_for(app, "sue")
    call_id = fx.calls["flagged"]
    assert sue.get(f"/calls/{call_id}/audio").content == fx.audio["flagged"].read_bytes()
    assert 'id="player"' in sue.get(f"/calls/{call_id}").text
    # a recording that is gone: the page says so instead of a silent 0:00 player
    (fx.db.parent / fx.audio["flagged"].name).rename(fx.db.parent / "moved.flac")
    page = sue.get(f"/calls/{call_id}").text
    assert 'id="player"' not in page and "The recording of this call cannot be found" in page
    assert sue.get(f"/calls/{call_id}/audio").status_code == 404
