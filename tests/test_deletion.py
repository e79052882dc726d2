"""Deleting a call everywhere (pipeline/store/deletion.py): `callqa delete`, `callqa retention`,
the review app's admin page, and the next run leaving the deleted recording alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from pipeline.batch import plan
from pipeline.review.app import AppOptions, create_app
from pipeline.store.deletion import DeletionError, delete_calls
from pipeline.store.store import Store
from tests.conftest import PROJECT
from tests.review_fixtures import SECRET_KEY, build_review_db, csrf_from, login


@pytest.fixture
def fx(tmp_path):
    """A review database of its own (deleting removes its audio files) with an exported file."""
    fixture = build_review_db(tmp_path / "db")
    call_id = fixture.calls["flagged"]
    export = tmp_path / "exports" / f"{call_id}.rttm"
    export.parent.mkdir()
    export.write_text(f"SPEAKER {call_id} 1 0.500 2.000 <NA> <NA> agent <NA> <NA>\n")
    with Store(fixture.db) as store:
        store.record_exports([(call_id, "rttm", str(export))])
    # a human review with a comment, and the audit trail of grading it
    fixture.query(
        "INSERT INTO reviews (review_id, call_id, reviewer, source, submitted_at)"
        " VALUES ('r1', ?, 'sue', 'app', now())",
        [call_id],
    )
    fixture.query("INSERT INTO human_grades VALUES ('r1', 'greeting', 'fail', 0, 'no greeting')")
    fixture.query(
        "INSERT INTO audit_log VALUES (now(), 'sue', 'submit_review', ?, NULL, '{\"comment\": \"x\"}')",
        [call_id],
    )
    return fixture


def _cli(*args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pipeline.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=PROJECT, check=False)


def _rows_naming(db: Path, call_id: str) -> dict[str, int]:
    """Rows of every table that hold the call id in any column, whatever its name."""
    found: dict[str, int] = {}
    # read-write, like the app: an app in this process may keep the file open between requests,
    # and DuckDB refuses a second connection with another configuration in the same process
    with duckdb.connect(str(db)) as con:
        tables = [
            t
            for (t,) in con.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = 'main' AND table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        for table in tables:
            columns = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                    [table],
                ).fetchall()
            ]
            condition = " OR ".join(f'CAST("{c}" AS VARCHAR) LIKE ?' for c in columns)
            count = con.execute(
                f'SELECT count(*) FROM "{table}" WHERE {condition}', [f"%{call_id}%"] * len(columns)
            ).fetchone()[0]
            if count:
                found[table] = count
    return found


def test_delete_removes_the_call_from_every_table_and_its_files(fx):
    call_id = fx.calls["flagged"]
    other = fx.calls["low"]
    before = _rows_naming(fx.db, call_id)
    assert {"calls", "turns", "words", "redactions", "reviews", "exported_files"} <= set(before)
    redacted = fx.audio["flagged"]
    original = fx.sources["flagged"]
    result = _cli("delete", call_id, "--db", str(fx.db), "--reason", "customer asked, ref 12345")
    assert result.returncode == 0, result.stderr
    # only the record of the deletion names the call: who, when, why
    assert _rows_naming(fx.db, call_id) == {"deleted_calls": 1, "audit_log": 1}
    (audit,) = fx.query(
        "SELECT username, action, object, after FROM audit_log WHERE object = ?", [call_id]
    )
    assert (
        audit[0].startswith("cli:") and audit[1] == "delete_call" and "customer asked" in audit[3]
    )
    assert not redacted.exists()
    assert not any(call_id in p.name for p in redacted.parent.iterdir())
    assert not (fx.db.parent.parent / "exports" / f"{call_id}.rttm").exists()
    assert original.exists()  # the recording stays unless --original
    assert fx.query("SELECT count(*) FROM human_grades WHERE review_id = 'r1'") == [(0,)]
    assert fx.query("SELECT count(*) FROM call_metadata WHERE file_name = ?", [original.name]) == [
        (0,)
    ]
    # nothing of the other calls went
    assert fx.query("SELECT count(*) FROM calls WHERE call_id = ?", [other]) == [(1,)]
    assert fx.audio["low"].exists()


def test_delete_with_original_removes_the_recording(fx):
    call_id = fx.calls["low"]
    result = _cli("delete", call_id, "--db", str(fx.db), "--reason", "test", "--original")
    assert result.returncode == 0, result.stderr
    assert not fx.sources["low"].exists()
    (after,) = fx.query("SELECT after FROM audit_log WHERE object = ?", [call_id])[0]
    assert '"recording_deleted": true' in after


def test_delete_needs_a_reason_and_a_known_call(fx):
    call_id = fx.calls["low"]
    with pytest.raises(DeletionError, match="reason"):
        delete_calls(fx.db, [call_id], "t", "  ")
    with pytest.raises(DeletionError, match="no stored call"):
        delete_calls(fx.db, ["ffffffffffffffff"], "t", "test")
    result = _cli("delete", "nosuchcall", "--db", str(fx.db), "--reason", "x")
    assert result.returncode == 2 and "no stored call" in result.stderr
    assert fx.query("SELECT count(*) FROM calls WHERE call_id = ?", [call_id]) == [(1,)]


def test_the_reason_is_stored_redacted(fx):
    call_id = fx.calls["low"]
    delete_calls(fx.db, [call_id], "ada", "read out card 4111 1111 1111 1111 by mistake")
    (after,) = fx.query("SELECT after FROM audit_log WHERE object = ?", [call_id])[0]
    assert "4111" not in after and "[CARD]" in after


def test_retention_deletes_what_is_older_than_the_age(fx):
    old, recent = fx.calls["flagged"], fx.calls["low"]
    fx.query("UPDATE calls SET started_at = now() - INTERVAL 400 DAY WHERE call_id = ?", [old])
    fx.query("UPDATE calls SET started_at = now() - INTERVAL 10 DAY WHERE call_id = ?", [recent])
    dry = _cli("retention", "--older-than", "365d", "--db", str(fx.db), "--dry-run")
    assert dry.returncode == 0 and old in dry.stderr and recent not in dry.stderr
    assert fx.query("SELECT count(*) FROM calls WHERE call_id = ?", [old]) == [(1,)]
    result = _cli("retention", "--older-than", "52w", "--db", str(fx.db))
    assert result.returncode == 0, result.stderr
    assert fx.query("SELECT count(*) FROM calls WHERE call_id = ?", [old]) == [(0,)]
    assert fx.query("SELECT count(*) FROM calls WHERE call_id = ?", [recent]) == [(1,)]
    (reason,) = fx.query("SELECT after FROM audit_log WHERE object = ?", [old])[0]
    assert "retention: older than 52w" in reason
    bad = _cli("retention", "--older-than", "a year", "--db", str(fx.db))
    assert bad.returncode == 2 and "365d" in bad.stderr


def test_the_next_run_leaves_a_deleted_recording_alone_unless_asked(fx, tmp_path):
    recording = tmp_path / "call.wav"
    recording.write_bytes(b"RIFF....WAVEfmt fake bytes for hashing")
    from pipeline.audio import file_sha256

    sha256 = file_sha256(recording)
    planned, skipped = plan([str(recording)], {}, set(), deleted={sha256})
    assert planned == [] and skipped == 1
    planned, skipped = plan([str(recording)], {}, set(), deleted=set())
    assert [call.sha256 for call in planned] == [sha256] and skipped == 0


# --- the review app's admin page --------------------------------------------------------------


def _client(fx, username: str) -> TestClient:
    app = create_app(AppOptions(db_path=str(fx.db), secret_key=SECRET_KEY))
    client = TestClient(app, follow_redirects=False)
    assert login(client, username).status_code == 303
    return client


def test_only_an_admin_deletes_and_needs_a_reason(fx):
    call_id = fx.calls["low"]
    sue = _client(fx, "sue")
    assert sue.get("/admin/delete").status_code == 403
    token = csrf_from(sue.get("/queue").text)
    refused = sue.post(
        "/admin/delete", data={"call_id": call_id, "reason": "x", "csrf_token": token}
    )
    assert refused.status_code == 403
    ada = _client(fx, "ada")
    page = ada.get("/admin/delete")
    assert page.status_code == 200 and 'name="reason"' in page.text
    token = csrf_from(page.text)
    no_csrf = ada.post("/admin/delete", data={"call_id": call_id, "reason": "x"})
    assert no_csrf.status_code == 403
    no_reason = ada.post(
        "/admin/delete", data={"call_id": call_id, "reason": " ", "csrf_token": token}
    )
    assert no_reason.status_code == 400 and "reason" in no_reason.text
    assert fx.query("SELECT count(*) FROM calls WHERE call_id = ?", [call_id]) == [(1,)]
    done = ada.post(
        "/admin/delete",
        data={"call_id": call_id, "reason": "duplicate upload", "csrf_token": token},
    )
    assert done.status_code == 200 and f"Deleted {call_id}" in done.text
    assert _rows_naming(fx.db, call_id) == {"deleted_calls": 1, "audit_log": 1}
    (by,) = fx.query("SELECT username FROM audit_log WHERE object = ?", [call_id])[0]
    assert by == "ada"
