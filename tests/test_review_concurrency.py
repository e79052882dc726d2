"""The review app keeps serving and saving grades while the nightly run writes calls into the same
database file: the real ``callqa run`` in a subprocess, grades posted in a loop meanwhile. No grade
and no batch row may be lost, and neither side may fail on the other's lock."""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
import time

import pytest
import soundfile as sf
from fastapi.testclient import TestClient

from pipeline.review.app import AppOptions, create_app
from tests.conftest import SAMPLES
from tests.review_fixtures import SECRET_KEY, TEAM_A, build_review_db, csrf_from, login

pytestmark = pytest.mark.slow
CRITERIA = ("greeting", "recording_disclosure", "verification", "closing")
PAUSE_S = 0.05  # between a reviewer's clicks; the loop is still far busier than real reviewers


def _two_short_samples():
    stereo = sorted(SAMPLES.glob("*.stereo.flac"), key=lambda p: sf.info(p).duration)
    return stereo[:2]


def _grades(csrf: str, amends: str | None = None) -> dict:
    form = {"csrf_token": csrf, "overall_comment": "ok", "coaching_notes": "keep going"}
    form |= {f"mode__{c}": "agree" for c in CRITERIA}
    form |= {"mode__closing": "override", "status__closing": "fail", "points__closing": "0"}
    return form | ({"amends_review_id": amends, "amend_reason": "re-graded"} if amends else {})


def test_grades_and_batch_rows_all_survive_running_at_once(tmp_path):
    fx = build_review_db(tmp_path / "db", extra_pending=30)
    night = tmp_path / "night"
    night.mkdir()
    copies = []
    for i, sample in enumerate(_two_short_samples()):
        copy = night / f"copy{i}_{sample.name}"
        shutil.copy(sample, copy)
        copies.append(copy)
    sidecar = tmp_path / "metadata.csv"
    with sidecar.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["call_file", "agent_id", "team", "queue", "started_at"])
        writer.writerows(
            [[c.name, "a900", TEAM_A, "night_queue", "2026-11-06T08:00:00Z"] for c in copies]
        )

    app = create_app(AppOptions(db_path=str(fx.db), secret_key=SECRET_KEY))
    client = TestClient(app, follow_redirects=False)
    assert login(client, "sue").status_code == 303
    csrf = csrf_from(client.get("/queue").text)

    batch = subprocess.Popen(
        [sys.executable, "-m", "pipeline.cli", "run", str(night), "--db", str(fx.db), "--model", "whisper-tiny.en",
         "--metadata", str(sidecar), "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    saved: list[str] = []
    pending = list(fx.extra_pending)
    slowest_s = 0.0
    deadline = time.monotonic() + 240
    while batch.poll() is None and time.monotonic() < deadline:
        started = time.monotonic()
        if pending:
            call_id = pending.pop(0)
            assert (
                client.post(f"/calls/{call_id}/claim", data={"csrf_token": csrf}).status_code == 303
            )
            response = client.post(f"/calls/{call_id}/review", data=_grades(csrf))
        else:  # every queued call graded: keep writing, as amendments of the latest review
            call_id = fx.extra_pending[-1]
            response = client.post(f"/calls/{call_id}/review", data=_grades(csrf, amends=saved[-1]))
        assert response.status_code == 303, response.text
        saved.append(response.headers["location"].split("submitted=")[1])
        assert client.get("/queue").status_code == 200
        slowest_s = max(slowest_s, time.monotonic() - started)
        time.sleep(PAUSE_S)
    _, err = batch.communicate(timeout=60)
    assert batch.returncode == 0, err
    print(
        f"\n{len(saved)} reviews saved while the batch ran; slowest grade+queue round trip {slowest_s:.2f} s"
    )
    assert len(saved) >= 5

    # every grade is there, with its grades and its audit row
    reviews = fx.query("SELECT review_id, submitted_at FROM reviews")
    assert sorted(r[0] for r in reviews) == sorted(saved)
    assert fx.query("SELECT count(*) FROM human_grades")[0][0] == len(CRITERIA) * len(saved)
    assert fx.query("SELECT count(*) FROM audit_log WHERE action IN ('grade', 'amend')")[0][
        0
    ] == len(saved)
    # every batch call is there, whole, with its owner from the sidecar
    stored = fx.query(
        "SELECT source_path, status, agent_id, team, processed_at, (SELECT count(*) FROM turns t WHERE t.call_id = c.call_id),"
        " (SELECT count(*) FROM words w WHERE w.call_id = c.call_id) FROM calls c WHERE source_path LIKE ?",
        [f"{night}%"],
    )
    assert len(stored) == len(copies)
    for source_path, status, agent_id, team, _, turns, words in stored:
        assert (status, agent_id, team) == ("done", "a900", TEAM_A), source_path
        assert turns > 3 and words > 20, source_path
    # and they really ran at the same time: grades were saved before and after the batch's writes
    submitted = sorted(r[1] for r in reviews)
    processed = sorted(r[4] for r in stored)
    assert submitted[0] < processed[0] and submitted[-1] > processed[0]
