"""pipeline/engines/ray_cluster.py: `callqa run --engine ray` on a two-node Ray cluster on loopback.

The calls spread over both nodes; a worker killed mid-call has its call handed to the other node
and stored once; the rows equal a local run's. Without Ray installed the run stops with a message
that says how to get it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import psutil
import pytest

from tests.conftest import PROJECT, SAMPLES, stored_rows_of

CALLS = ["rude_call.stereo.flac", "good_call.stereo.flac", "rude_call.mono.wav", "dead_air.stereo.flac"]


def test_without_ray_the_run_says_how_to_get_it(tmp_path):
    # as an environment without the extra: `import ray` fails
    blocker = tmp_path / "no_ray"
    blocker.mkdir()
    (blocker / "ray.py").write_text("raise ImportError('No module named ray')\n")
    env = {**os.environ, "PYTHONPATH": f"{blocker}{os.pathsep}{PROJECT}"}
    db = tmp_path / "calls.duckdb"
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "run", str(SAMPLES / CALLS[0]), "--db", str(db), "--engine", "ray", "-q"],
        capture_output=True, text=True, env=env, cwd=PROJECT, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    message = " ".join(result.stderr.split())
    assert "needs Ray" in message and "pip install 'callqa[ray]'" in message
    summary = json.loads((tmp_path / "calls.duckdb.run.json").read_text())
    assert summary["status"] == "error" and "needs Ray" in summary["error"]


def _ray_workers_in_a_call() -> list[psutil.Process]:
    """This test's cluster's actor processes busy in ``CallWorker.process`` (Ray names a worker
    process after the task it runs)."""
    busy = []
    for process in psutil.Process().children(recursive=True):
        try:
            if " ".join(process.cmdline()).startswith("ray::CallWorker.process"):
                busy.append(process)
        except psutil.Error:
            continue  # gone meanwhile
    return busy


@pytest.mark.slow
def test_two_node_cluster_spreads_calls_retries_a_killed_worker_and_stores_the_local_rows(
    tmp_path, tiny_samples_db, monkeypatch
):
    pytest.importorskip("ray", reason="the Ray tests need ray (requirements.lock, or pip install 'callqa[ray]')")
    from ray.cluster_utils import Cluster

    db, log = tmp_path / "calls.duckdb", tmp_path / "run.jsonl"
    # Ray gives each worker OMP_NUM_THREADS = its CPUs unless the node sets it; the math libraries'
    # thread count moves Whisper's int8 results a little, so the nodes get the local run's count.
    monkeypatch.setenv("OMP_NUM_THREADS", str(len(os.sched_getaffinity(0))))
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    try:
        # one call per worker at a time, so a worker in CallWorker.process is in the middle of one
        env = {**os.environ, "CALLQA_ENGINE__CALLS_PER_WORKER": "1", "CALLQA_ENGINE__CPUS_PER_WORKER": "1"}
        command = [
            sys.executable, "-m", "pipeline.cli", "run", *(str(SAMPLES / name) for name in CALLS), "--db", str(db),
            "--model", "whisper-tiny.en", "--engine", "ray", "--address", cluster.address, "--workers", "2",
            "--log", str(log), "--metadata", str(SAMPLES / "metadata.csv"), "-q",
        ]  # fmt: skip  (the sidecar the folder run of tiny_samples_db picks up: the calls rows match in full)
        run = subprocess.Popen(command, cwd=PROJECT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        killed = None
        deadline = time.monotonic() + 600
        while killed is None and run.poll() is None and time.monotonic() < deadline:
            busy = _ray_workers_in_a_call()
            if busy:
                time.sleep(1.0)  # well into the call (decoding, models loading)
                killed = busy[0].pid
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.2)
        _, stderr = run.communicate(timeout=900)
    finally:
        cluster.shutdown()
    assert killed is not None, "no Ray worker was ever seen in a call"
    assert run.returncode == 0, stderr

    events = [json.loads(line) for line in log.read_text().splitlines()]
    retries = [event for event in events if event["event"] == "retry"]
    assert retries and "died" in retries[0]["reason"]
    stored = [event for event in events if event["event"] == "call"]
    assert sorted(os.path.basename(event["file"]) for event in stored) == sorted(CALLS)  # each once
    nodes = {event["worker"].split("node ")[1].split()[0] for event in stored}
    assert len(nodes) == 2, f"calls ran on {nodes}"
    with duckdb.connect(str(db), read_only=True) as con:
        call_ids = {row[0] for row in con.execute("SELECT call_id FROM calls WHERE status = 'done'").fetchall()}
        assert con.execute("SELECT count(*) FROM calls").fetchone()[0] == len(CALLS) == len(call_ids)
    assert not (tmp_path / "calls.duckdb.shards").exists()  # every shard stored and removed
    assert stored_rows_of(db, call_ids) == stored_rows_of(tiny_samples_db, call_ids)
