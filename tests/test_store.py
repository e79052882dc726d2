"""pipeline/store/store.py: what a call, a failure and a rubric look like once stored, atomically."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.call import CallFailure, CallResult
from pipeline.features import extract_features
from pipeline.judge import Judgement
from pipeline.queue import QueueDecision, QueueReason
from pipeline.redact import Redaction
from pipeline.rubric import DEFAULT_RUBRIC_PATH, load_rubric
from pipeline.scoring import CallScore, CriterionScore
from pipeline.store.store import Store
from pipeline.types import Turn, Word

TURNS = (
    Turn("agent", 0.0, 2.0, "hello there", channel=0),
    Turn("customer", 2.5, 4.0, "hi", channel=1),
)
WORDS = (
    Word(0.1, 0.5, "hello", 0.9, "agent", 0),
    Word(0.6, 1.0, "there", 0.7, "agent", 0),
    Word(2.6, 3.0, "hi", 0.8, "customer", 1),
)


def result(call_id: str = "c0ffee0000000001", queue: QueueDecision | None = None) -> CallResult:
    features, events = extract_features(TURNS, WORDS, 5.0)
    criterion = CriterionScore("greeting", 0.0, 10.0, "fail", "not said", 0.0, 2.0, "opening")
    score = CallScore("rubric", 1, 0.0, False, False, 0.8, (criterion,))
    return CallResult(
        call_id=call_id, source_path="/calls/a.wav", sha256=call_id * 4, duration_s=5.0, sample_rate=8000,
        channels=2, asr_model="whisper-base", diarizer="channel-map", num_speakers=2, diarization_confidence=1.0,
        role_confidence=1.0, turns=TURNS, words=WORDS, redactions=(Redaction("card", 3.0, 3.5),),
        judgement=Judgement(features, tuple(events), score, queue), processing_s=1.5,
    )  # fmt: skip


def rows(db, sql: str, params=()) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def test_a_done_call_is_stored_with_its_derived_columns(tmp_path):
    db = tmp_path / "calls.duckdb"
    queue = QueueDecision(2, (QueueReason("below_pass_mark", "score 0 below pass mark 80"),))
    with Store(db) as store:
        store.write_call(result(queue=queue))
    (call,) = rows(
        db,
        "SELECT status, speech_s, word_count, round(mean_word_probability, 6), processing_s FROM calls",
    )
    assert call == ("done", 3.5, 3, 0.8, 1.5)
    assert rows(db, "SELECT turn_idx, speaker, text FROM turns ORDER BY 1") == [
        (0, "agent", "hello there"),
        (1, "customer", "hi"),
    ]
    assert rows(db, "SELECT count(*) FROM words") == [(3,)]
    assert rows(db, "SELECT kind, start_s, end_s FROM redactions") == [("card", 3.0, 3.5)]
    assert rows(db, "SELECT priority, reasons, reason_kinds FROM review_queue") == [
        (2, "score 0 below pass mark 80", ["below_pass_mark"])
    ]


def test_a_rewritten_call_replaces_its_rows_and_a_failure_keeps_only_the_reason(tmp_path):
    db = tmp_path / "calls.duckdb"
    with Store(db) as store:
        store.write_call(result())
        store.write_call(result())
    assert rows(db, "SELECT count(*) FROM turns") == [(2,)]
    with Store(db) as store:
        store.write_call(
            CallFailure("c0ffee0000000001", "/calls/a.wav", None, "/calls/a.wav: empty file")
        )
    assert rows(db, "SELECT status, error, word_count FROM calls") == [
        ("failed", "/calls/a.wav: empty file", None)
    ]
    assert rows(db, "SELECT count(*) FROM turns") == [(0,)]


def test_a_write_that_fails_half_way_leaves_the_call_as_it_was(tmp_path):
    db = tmp_path / "calls.duckdb"
    with Store(db) as store:
        store.write_call(result())
        broken = result()
        object.__setattr__(
            broken, "words", (*WORDS, Word(4.0, 4.2, None, 0.5, "agent"))
        )  # NOT NULL word
        with pytest.raises(duckdb.Error):
            store.write_call(broken)
    assert rows(db, "SELECT count(*) FROM words") == [(3,)]
    assert rows(db, "SELECT count(*) FROM turns") == [(2,)]


def test_a_rubric_is_stored_as_validated_criteria_and_a_changed_text_needs_a_new_version(tmp_path):
    db = tmp_path / "calls.duckdb"
    rubric = load_rubric(DEFAULT_RUBRIC_PATH)
    text = DEFAULT_RUBRIC_PATH.read_text()
    with Store(db) as store:
        store.register_rubric(rubric, str(DEFAULT_RUBRIC_PATH), text)
        store.register_rubric(
            rubric, str(DEFAULT_RUBRIC_PATH), text
        )  # the same again: nothing added
        with pytest.raises(ValueError, match="give the changed rubric a new version number"):
            store.register_rubric(rubric, str(DEFAULT_RUBRIC_PATH), text + "\n# edited\n")
    stored = rows(
        db,
        "SELECT criterion_id, weight, auto_fail, min_similarity FROM rubric_criteria ORDER BY position",
    )
    expected = [
        (c.id, float(c.weight), c.auto_fail,
         (c.min_similarity if c.min_similarity is not None else rubric.min_similarity) if hasattr(c, "min_similarity") else None)
        for _, c in rubric.criteria()
    ]  # fmt: skip
    assert stored == expected
    assert (
        "greeting",
        10.0,
        False,
        80.0,
    ) in stored  # the rubric's default bar where the criterion sets none


def test_an_older_database_gets_criteria_rows_and_reason_kinds_when_opened(tmp_path):
    db = tmp_path / "calls.duckdb"
    queue = QueueDecision(
        1,
        (
            QueueReason("auto_fail", "auto-fail: greeting"),
            QueueReason("low_confidence", "low confidence: x"),
        ),
    )
    with Store(db) as store:
        store.register_rubric(
            load_rubric(DEFAULT_RUBRIC_PATH), "default.yaml", DEFAULT_RUBRIC_PATH.read_text()
        )
        store.write_call(result(queue=queue))
    with duckdb.connect(str(db)) as con:  # as a database written before these columns existed
        con.execute("DELETE FROM rubric_criteria")
        con.execute("UPDATE review_queue SET reason_kinds = NULL")
    with Store(db):
        pass
    assert rows(db, "SELECT count(*) FROM rubric_criteria") == [
        (len(list(load_rubric(DEFAULT_RUBRIC_PATH).criteria())),)
    ]
    assert rows(db, "SELECT reason_kinds FROM review_queue") == [(["auto_fail", "low_confidence"],)]
