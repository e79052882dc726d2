"""pipeline/operations.py and the run's operational side: the deadline, the run summary a cron job
reads, exit codes, the JSON-lines log."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from pipeline.operations import CallTimeEstimator, RunLog, may_start, parse_deadline, run_deadline
from tests.conftest import PROJECT, SAMPLES

EVENING = datetime(2026, 11, 23, 22, 0)


def test_a_clock_deadline_is_the_next_such_time():
    assert parse_deadline("06:00", EVENING) == datetime(2026, 11, 24, 6, 0)  # the night's run
    assert parse_deadline("23:30", EVENING) == datetime(2026, 11, 23, 23, 30)
    assert parse_deadline("2026-11-24T05:45", EVENING) == datetime(2026, 11, 24, 5, 45)
    with pytest.raises(ValueError, match="HH:MM"):
        parse_deadline("6am", EVENING)


def test_the_earlier_of_deadline_and_max_hours_wins():
    assert run_deadline("06:00", 2.0, EVENING) == EVENING + timedelta(hours=2)
    assert run_deadline("23:00", 2.0, EVENING) == datetime(2026, 11, 23, 23, 0)
    assert run_deadline(None, None, EVENING) is None
    with pytest.raises(ValueError, match="more than 0"):
        run_deadline(None, 0, EVENING)


def test_a_call_starts_only_if_it_is_expected_to_be_stored_before_the_deadline():
    estimate = CallTimeEstimator()
    assert estimate.expected_s(1_000_000) is None  # nothing known before the first call
    for size_bytes, wall_s in ((1_000_000, 20.0), (2_000_000, 40.0), (1_000_000, 30.0)):
        estimate.add(size_bytes, wall_s)
    # 90th percentile of seconds per byte (30 s per MB here), times the next file's size
    assert estimate.expected_s(2_000_000) == pytest.approx(60.0)
    deadline = EVENING + timedelta(minutes=1)
    assert may_start(deadline, EVENING, 59.0)
    assert not may_start(deadline, EVENING, 61.0)
    assert may_start(deadline, EVENING, None)  # the first calls of a run start
    assert not may_start(deadline, deadline, None)  # but none once the deadline has passed
    assert may_start(None, EVENING, 1e9)


def test_the_log_is_one_json_object_per_line(tmp_path):
    log = RunLog(tmp_path / "logs" / "run.jsonl")
    log.event("call", call_id="abc", stage_s={"transcribe": 1.5})
    log.event("run_end", done=1)
    log.close()
    lines = [json.loads(line) for line in (tmp_path / "logs" / "run.jsonl").read_text().splitlines()]
    assert [line["event"] for line in lines] == ["call", "run_end"]
    assert lines[0]["stage_s"] == {"transcribe": 1.5} and "at" in lines[0]
    RunLog(None).event("call")  # no --log: nothing written, nothing fails


def test_a_run_past_its_deadline_starts_nothing_and_says_so(tmp_path):
    db = tmp_path / "calls.duckdb"
    summary_file = tmp_path / "cron" / "night.json"
    command = [
        sys.executable, "-m", "pipeline.cli", "run", str(SAMPLES), "--db", str(db), "--max-hours", "0.000001",
        "--summary", str(summary_file), "--log", str(tmp_path / "run.jsonl"), "-q",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, cwd=PROJECT, check=False)
    assert result.returncode == 3, result.stderr
    assert "stopped at the deadline" in result.stderr
    summary = json.loads(summary_file.read_text())
    calls = len([path for path in SAMPLES.iterdir() if path.suffix in {".flac", ".wav", ".mp3"}])
    assert summary["status"] == "stopped at deadline" and summary["exit_code"] == 3
    assert summary["not_started"] == calls and summary["done"] == 0
    events = [json.loads(line)["event"] for line in (tmp_path / "run.jsonl").read_text().splitlines()]
    assert events == ["run_start", "deadline", "run_end"]


def test_a_calls_stage_times_count_decoding_as_its_own_work(tiny_settings, monkeypatch):
    """The log's per-stage times and the stored processing time: decoding the file is the call's
    own work ("decode"), not time queued for another call's lane ("waiting")."""
    import time
    from contextlib import contextmanager

    import pipeline.call as call_module
    from pipeline.call import CallProcessor
    from pipeline.digest import file_sha256

    real_decode = call_module.decode_to_spool

    @contextmanager
    def slow_decode(*args, **kwargs):
        time.sleep(0.5)  # a long file takes a while to decode
        with real_decode(*args, **kwargs) as audio:
            yield audio

    monkeypatch.setattr(call_module, "decode_to_spool", slow_decode)
    path = SAMPLES / "rude_call.stereo.flac"
    result = CallProcessor(tiny_settings)(path, file_sha256(path))
    assert result.stage_s["decode"] >= 0.5
    assert result.stage_s["waiting"] < 0.5  # nothing else was in flight
    assert result.processing_s >= result.stage_s["decode"] + result.stage_s["transcribe"]
