"""pipeline/store/queue_listing.py: after every write that touches the queue, its call or its score,
the queue listing holds exactly what a full recompute from the base tables gives."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import duckdb
import pytest

from pipeline.metadata import CallMetadata
from pipeline.queue import QueueDecision, QueueReason
from pipeline.scoring import CallScore, CriterionScore
from pipeline.store.deletion import delete_calls
from pipeline.store.queue_listing import LISTING, listing_select
from pipeline.store.review_store import ReviewStore, ReviewSubmission, User
from pipeline.store.shards import ShardWriter, save_shard
from pipeline.store.store import Store
from tests.test_store import result

QUEUED = QueueDecision(2, (QueueReason("below_pass_mark", "score 0 below pass mark 80"),))
AUTO_FAIL = QueueDecision(1, (QueueReason("auto_fail", "auto-fail: greeting"),))
LEAD = User("lead", "qa_lead")
IDS = [f"c0ffee000000000{i}" for i in range(1, 6)]


def call(call_id: str, queue: QueueDecision | None = QUEUED, score: float = 0.0):
    """A done call with its own file name and one failed criterion at a time of its own."""
    stored = result(call_id, queue)
    criteria = (
        CriterionScore(
            "greeting", 0.0, 10.0, "fail", "not said", 1.5 + int(call_id[-1]), 2.0, "opening"
        ),
        CriterionScore("closing", 0.0, 10.0, "fail", "not said", 0.5, 1.0, "closing"),
    )
    judgement = dataclasses.replace(
        stored.judgement, score=CallScore("rubric", 1, score, False, False, 0.8, criteria)
    )
    return dataclasses.replace(stored, source_path=f"/calls/{call_id}.wav", judgement=judgement)


def listing_and_recompute(db) -> tuple[list[tuple], list[tuple]]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = [row[0] for row in con.execute(f"DESCRIBE {LISTING}").fetchall()]
        columns = ", ".join(names)
        stored = con.execute(f"SELECT {columns} FROM {LISTING} ORDER BY ALL").fetchall()
        fresh = con.execute(f"SELECT {columns} FROM ({listing_select()}) ORDER BY ALL").fetchall()
    return stored, fresh


def assert_in_step(db) -> None:
    stored, fresh = listing_and_recompute(db)
    assert stored == fresh
    assert fresh  # not trivially equal


@pytest.fixture
def db(tmp_path):
    db = tmp_path / "calls.duckdb"
    with Store(db) as store:
        store.write_calls([call(IDS[0]), call(IDS[1], AUTO_FAIL), call(IDS[2]), call(IDS[3], None)])
    assert_in_step(db)
    return db


def test_storing_calls_again_and_from_shards_keeps_the_listing_in_step(db, tmp_path):
    with Store(db) as store:
        store.write_calls([call(IDS[0], AUTO_FAIL, 50.0), call(IDS[4])])
    assert_in_step(db)
    shard = save_shard(tmp_path / "shards", IDS[1], ShardWriter().files(call(IDS[1], QUEUED, 70.0)))
    with Store(db) as store:
        store.load_shards([shard])
    assert_in_step(db)


def test_rescoring_keeps_the_listing_in_step_also_for_a_call_under_review(db):
    review = ReviewStore(str(db))
    with review.open() as rdb:
        rdb.claim(LEAD, IDS[2])
    with Store(db) as store:
        store.write_judgement(IDS[0], call(IDS[0], AUTO_FAIL, 40.0).judgement)
        store.write_judgement(
            IDS[2], call(IDS[2], QUEUED, 60.0).judgement
        )  # in review: score changes
        store.write_judgement(IDS[3], call(IDS[3], QUEUED, 10.0).judgement)  # newly queued
    assert_in_step(db)


def test_metadata_import_keeps_the_listing_in_step(db):
    rows = [CallMetadata(f"{IDS[0]}.wav", "a7", "team1", "billing", datetime(2026, 8, 1, 9, 30))]
    with Store(db) as store:
        assert store.import_metadata(rows, "sidecar.csv") == 1
    assert_in_step(db)


def test_claim_release_submit_and_a_manual_claim_keep_the_listing_in_step(db):
    review = ReviewStore(str(db))
    with review.open() as rdb:
        rdb.claim(LEAD, IDS[0])
        rdb.claim(LEAD, IDS[1])
        rdb.release(LEAD, IDS[1])
        rdb.submit_review(LEAD, ReviewSubmission(IDS[0], grades=[], human_score=90.0))
        rdb.claim(LEAD, IDS[3])  # not queued: a manual entry
    assert_in_step(db)
    with duckdb.connect(str(db), read_only=True) as con:
        assert sorted(con.execute(f"SELECT call_id, status FROM {LISTING}").fetchall()) == [
            (IDS[0], "done"), (IDS[1], "pending"), (IDS[2], "pending"), (IDS[3], "in_review"),
        ]  # fmt: skip


def test_deleting_a_call_removes_its_listing_rows(db):
    delete_calls(db, [IDS[1]], by="admin", reason="asked to")
    assert_in_step(db)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(
            f"SELECT count(*) FROM {LISTING} WHERE call_id = ?", [IDS[1]]
        ).fetchone() == (0,)


def test_opening_rebuilds_a_listing_out_of_step_and_refreshes_filled_reason_kinds(db):
    with duckdb.connect(str(db)) as con:  # as a database written by a version without the listing
        con.execute(f"DELETE FROM {LISTING} WHERE call_id = ?", [IDS[0]])
        con.execute("UPDATE calls SET team = 'team9'")
    with Store(db):
        pass
    assert_in_step(db)
    with duckdb.connect(str(db)) as con:  # queue rows from before reason kinds were stored
        con.execute("UPDATE review_queue SET reason_kinds = NULL")
        con.execute(f"UPDATE {LISTING} SET reason_kinds = NULL")
    with Store(db):
        pass
    assert_in_step(db)
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(
            f"SELECT count(*) FROM {LISTING} WHERE reason_kinds IS NULL"
        ).fetchone() == (0,)


def test_callqa_queue_reads_a_database_whose_listing_is_missing(db):
    with Store(db) as store:
        expected = store.queue_rows()
    with duckdb.connect(str(db)) as con:
        con.execute(f"DROP TABLE {LISTING}")
    with Store(db, read_only=True) as store:
        assert store.queue_rows() == expected
    assert [row["call_id"] for row in expected] == [IDS[1], IDS[0], IDS[2]]
    assert expected[0]["listen_at"] == "closing 0.5s, greeting 3.5s"
