"""pipeline/store/shards.py: a call's rows as Parquet shards, stored by the one writer exactly as a
local run stores them; a shard left behind by a killed run is stored by the next one."""

from __future__ import annotations

import duckdb

from pipeline.batch import run_batch, shard_dir_for
from pipeline.call import CallFailure
from pipeline.config import load_settings
from pipeline.queue import QueueDecision, QueueReason
from pipeline.store.shards import ShardWriter, finished_shards, save_shard
from pipeline.store.store import Store
from tests.conftest import stored_rows_of
from tests.test_store import result

QUEUED = QueueDecision(2, (QueueReason("below_pass_mark", "score 0 below pass mark 80"),))


def test_a_shard_stores_the_same_rows_as_a_local_write(tmp_path):
    calls = [result("c0ffee0000000001", QUEUED), result("c0ffee0000000002"),
             CallFailure("c0ffee0000000003", "/calls/c.wav", "ab" * 32, "/calls/c.wav: truncated")]  # fmt: skip
    local, sharded = tmp_path / "local.duckdb", tmp_path / "sharded.duckdb"
    with Store(local) as store:
        store.write_calls(calls)
    writer = ShardWriter()
    shards = [save_shard(tmp_path / "shards", call.call_id, writer.files(call)) for call in calls]
    with Store(sharded) as store:
        store.load_shards(shards)
    ids = {call.call_id for call in calls}
    expected = stored_rows_of(local, ids)
    assert stored_rows_of(sharded, ids) == expected
    assert len(expected["words"]) == 6 and len(expected["review_queue"]) == 1  # not trivially equal


def test_storing_a_call_again_replaces_it_and_keeps_a_review_in_progress(tmp_path):
    db = tmp_path / "calls.duckdb"
    with Store(db) as store:
        store.write_calls([result("c0ffee0000000001", QUEUED)])
        store.con.execute("UPDATE review_queue SET status = 'in_review', assigned_to = 'sue'")
    shard = save_shard(tmp_path / "shards", "c0ffee0000000001", ShardWriter().files(result("c0ffee0000000001", QUEUED)))
    with Store(db) as store:
        store.load_shards([shard, shard])  # a retried call's shard arriving twice
        store.write_calls([result("c0ffee0000000001", QUEUED)])
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM calls").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM words").fetchone() == (3,)
        assert con.execute("SELECT status, assigned_to FROM review_queue").fetchall() == [("in_review", "sue")]


def test_the_next_run_stores_what_a_killed_run_left_in_shards(tmp_path):
    db = tmp_path / "calls.duckdb"
    shard_dir = shard_dir_for(db)
    save_shard(shard_dir, "c0ffee0000000001", ShardWriter().files(result("c0ffee0000000001")))
    half = shard_dir / "c0ffee0000000002.partial"  # killed while writing: never stored
    half.mkdir()
    (half / "calls.parquet").write_bytes(b"PAR1 cut off")
    summary = run_batch([], db, load_settings())
    assert summary.done == 0 and not finished_shards(shard_dir) and not shard_dir.exists()
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT call_id, status FROM calls").fetchall() == [("c0ffee0000000001", "done")]
