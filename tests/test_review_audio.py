"""A real `callqa run` with a relative --db stores the redacted copy's path absolute, and the review
app started from another directory serves it (issue 15, point 5)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from fastapi.testclient import TestClient

from pipeline.review.app import AppOptions, create_app
from tests.conftest import PROJECT, SAMPLES
from tests.review_fixtures import PASSWORD, SECRET_KEY, login

pytestmark = pytest.mark.slow


def test_a_run_with_a_relative_db_is_heard_from_anywhere(tmp_path, monkeypatch):
    night = tmp_path / "night"
    night.mkdir()
    sample = SAMPLES / "rude_call.stereo.flac"  # a short stereo call
    shutil.copy(sample, night / sample.name)
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", "night", "--db", "calls.duckdb",
         "--model", "whisper-tiny.en", "-q"],
        check=False, capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT)},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    db = tmp_path / "calls.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        ((call_id, stored),) = con.execute(
            "SELECT call_id, redacted_audio_path FROM calls"
        ).fetchall()
    assert Path(stored).is_absolute() and Path(stored).exists(), stored

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("CALLQA_PASSWORD", PASSWORD)
    from typer.testing import CliRunner

    from pipeline.cli import app as cli_app

    added = CliRunner().invoke(
        cli_app, ["users", "add", "lena", "--role", "qa_lead", "--db", str(db)]
    )
    assert added.exit_code == 0, added.output
    app = create_app(AppOptions(db_path=str(db), secret_key=SECRET_KEY))
    client = TestClient(app, follow_redirects=False)
    assert login(client, "lena").status_code == 303
    audio = client.get(f"/calls/{call_id}/audio")
    assert audio.status_code == 200 and audio.content == Path(stored).read_bytes()
