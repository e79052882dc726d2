"""Batch semantics: bad files fail with a reason while the batch goes on; reruns skip; a killed run resumes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import duckdb
import numpy as np
import psutil
import pytest
import soundfile as sf

from pipeline.batch import run_batch
from tests.conftest import SAMPLES, stored_rows_of

GOOD = SAMPLES / "rude_call.stereo.flac"


def rows(db, sql):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql).fetchall()


def cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *map(str, args)], capture_output=True, text=True, **kwargs)


@pytest.fixture
def bad_folder(tmp_path):
    folder = tmp_path / "night"
    folder.mkdir()
    (folder / "empty.wav").write_bytes(b"")
    (folder / "corrupt.flac").write_bytes(os.urandom(20_000))
    (folder / "notes.mp3").write_text("not audio at all\n" * 100)
    sf.write(folder / "zero.wav", np.zeros(0, dtype=np.float32), 8000)
    sf.write(folder / "silent.wav", np.zeros(8000 * 20, dtype=np.float32), 8000)
    sf.write(folder / "surround.wav", np.zeros((8000, 3), dtype=np.float32), 8000)
    noise = np.random.default_rng(1).normal(0, 0.001, 8000 * 10).astype(np.float32)
    sf.write(folder / "hiss.wav", noise, 8000)
    sf.write(folder / "cut.wav", np.tile(np.sin(np.arange(8000 * 6) / 3).astype(np.float32), 1) * 0.1, 8000)
    data = (folder / "cut.wav").read_bytes()
    (folder / "cut.wav").write_bytes(data[: len(data) // 3])
    shutil.copy(GOOD, folder / "good.flac")
    return folder


EXPECTED_REASONS = {
    "empty.wav": "empty file",
    "corrupt.flac": "not a decodable audio file",
    "notes.mp3": "not a decodable audio file",
    "zero.wav": "zero length",
    "silent.wav": "all silent",
    "surround.wav": "3 channels",
    "hiss.wav": "no speech detected",
    "cut.wav": "truncated",
}


@pytest.mark.slow
def test_bad_inputs_fail_with_reason_and_the_batch_goes_on(tmp_path, bad_folder):
    db = tmp_path / "calls.duckdb"
    result = cli("run", bad_folder, "--db", db, "--model", "whisper-tiny.en", "-q")
    assert result.returncode == 1, "exit code must say that some calls failed"
    stored = {os.path.basename(path): (status, error) for path, status, error in rows(db, "SELECT source_path, status, error FROM calls")}
    assert stored["good.flac"][0] == "done"
    for name, reason in EXPECTED_REASONS.items():
        status, error = stored[name]
        assert status == "failed", name
        assert reason in error and name in error, f"{name}: {error}"
        assert name in result.stderr  # the operator sees each failure as it happens
    assert "1 done, 8 failed" in result.stderr

    # a rerun skips the good call and does not duplicate anything
    again = cli("run", bad_folder, "--db", db, "--model", "whisper-tiny.en", "-q")
    assert "1 already stored" in again.stderr
    assert rows(db, "SELECT count(*), count(DISTINCT call_id) FROM calls") == [(9, 9)]
    (words,) = rows(db, "SELECT count(*) FROM words")[0]
    (distinct_words,) = rows(db, "SELECT count(*) FROM (SELECT DISTINCT call_id, word_idx FROM words)")[0]
    assert words == distinct_words > 0


def test_unreadable_paths_are_recorded_not_fatal(tmp_path):
    from pipeline.config import load_settings

    db = tmp_path / "calls.duckdb"
    summary = run_batch([str(tmp_path / "missing.wav")], db, load_settings())
    assert summary.failed == 1 and summary.done == 0
    ((status, error),) = rows(db, "SELECT status, error FROM calls")
    assert status == "failed" and "missing.wav" in error and "not found" in error


@pytest.mark.slow
def test_killed_run_resumes_without_duplicates(tmp_path):
    calls = sorted(SAMPLES.glob("*.stereo.flac"))
    folder = tmp_path / "calls"
    folder.mkdir()
    for path in calls:
        shutil.copy(path, folder / path.name)
    db = tmp_path / "calls.duckdb"
    args = [sys.executable, "-m", "pipeline.cli", "run", str(folder), "--db", str(db), "--model", "whisper-tiny.en", "-q"]

    log = tmp_path / "run.jsonl"
    for _attempt in range(3):
        for stale in (db, log):
            stale.unlink(missing_ok=True)
        process = subprocess.Popen(
            [*args, "--log", str(log)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        # the log's "call" line is written once the call is committed: kill right after the
        # first one, however long a loaded machine takes to get there
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and process.poll() is None:
            if log.exists() and '"event": "call"' in log.read_text():
                break
            time.sleep(0.2)
        os.killpg(process.pid, signal.SIGKILL)  # no clean shutdown: as a power cut or OOM kill
        process.wait()
        if db.exists() and 0 < rows(db, "SELECT count(*) FROM calls")[0][0] < len(calls):
            break
    else:
        pytest.fail("could not kill the run part-way through")

    finished_before = rows(db, "SELECT call_id FROM calls WHERE status = 'done'")
    result = subprocess.run(args, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"{len(finished_before)} already stored" in result.stderr
    assert rows(db, "SELECT count(*), count(DISTINCT call_id) FROM calls WHERE status = 'done'") == [(len(calls), len(calls))]
    for table, key in (("turns", "turn_idx"), ("words", "word_idx")):
        total, distinct = rows(db, f"SELECT count(*), count(DISTINCT (call_id, {key})) FROM {table}")[0]
        assert total == distinct > 0, table
    # every call has its turns: nothing half-written survived the kill
    assert rows(db, "SELECT count(*) FROM calls c WHERE NOT EXISTS (SELECT 1 FROM turns t WHERE t.call_id = c.call_id)") == [(0,)]


def _worker_processes(parent: psutil.Process) -> list[psutil.Process]:
    """The run's worker processes (spawned), not multiprocessing's resource tracker."""
    workers = []
    for child in parent.children(recursive=True):
        try:
            cmdline = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "spawn_main" in cmdline and "resource_tracker" not in cmdline:
            workers.append(child)
    return workers


@pytest.mark.slow
def test_two_workers_store_the_rows_of_one_even_when_a_worker_is_killed_mid_call(tmp_path, tiny_samples_db):
    files = [SAMPLES / "rude_call.stereo.flac", SAMPLES / "good_call.stereo.flac", SAMPLES / "rude_call.mono.wav"]
    db, log = tmp_path / "calls.duckdb", tmp_path / "run.jsonl"
    command = [sys.executable, "-m", "pipeline.cli", "run", *map(str, files), "--db", str(db), "--model", "whisper-tiny.en",
               "--workers", "2", "--log", str(log), "--metadata", str(SAMPLES / "metadata.csv"), "-q"]  # fmt: skip
    # the same sidecar the folder run of tiny_samples_db picks up, so the calls rows match in full
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    parent, killed = psutil.Process(run.pid), None
    give_up = time.monotonic() + 300
    while killed is None and run.poll() is None and time.monotonic() < give_up:
        workers = _worker_processes(parent)
        if len(workers) == 2:
            time.sleep(5)  # each holds its calls and is loading models for the first one
            killed = workers[0].pid
            os.kill(killed, signal.SIGKILL)  # as the kernel's OOM killer would
        time.sleep(0.2)
    _, stderr = run.communicate(timeout=900)
    assert killed is not None, "the workers never started"
    assert run.returncode == 0, stderr

    events = [json.loads(line) for line in log.read_text().splitlines()]
    retries = [event for event in events if event["event"] == "retry"]
    assert retries and f"pid {killed}" in retries[0]["reason"]
    assert sorted(event["file"] for event in events if event["event"] == "call") == sorted(map(str, files))
    call_ids = {row[0] for row in rows(db, "SELECT call_id FROM calls")}
    assert len(call_ids) == len(files)
    assert stored_rows_of(db, call_ids) == stored_rows_of(tiny_samples_db, call_ids)
    summary = json.loads((tmp_path / "calls.duckdb.run.json").read_text())
    assert summary["status"] == "complete" and summary["done"] == 3 and summary["retried"] >= 1
