"""End to end with the default model: features, rubric verdicts with evidence, queue, show and rescore
on the dual-channel demo calls, checked against each call's ground truth."""

from __future__ import annotations

import json
import subprocess
import sys

import duckdb
import pytest

from tests.conftest import SAMPLES

pytestmark = pytest.mark.slow
TRUTH = {p.name.split(".")[0]: json.loads(p.read_text()) for p in SAMPLES.glob("*.truth.json")}
STEREO = sorted(name for name, truth in TRUTH.items() if "stereo" in truth["files"])
TALK_TOLERANCE = 0.05
EVIDENCE_SLACK_S = 0.5


def cli(*args):
    return subprocess.run([sys.executable, "-m", "pipeline.cli", *map(str, args)], capture_output=True, text=True)


@pytest.fixture(scope="module")
def scored_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("scoring") / "calls.duckdb"
    files = [SAMPLES / TRUTH[name]["files"]["stereo"] for name in STEREO]
    result = cli("run", *files, "--db", db, "-q")  # the default model, as a center would run it
    assert result.returncode == 0, result.stderr
    return db


def query(db, sql, params=()):
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(sql, list(params)).fetchall()


def call_id_of(db, name):
    return query(db, "SELECT call_id FROM calls WHERE source_path LIKE ?", ["%/" + TRUTH[name]["files"]["stereo"]])[0][0]


def union_s(spans):
    total, current = 0.0, None
    for start, end in sorted(spans):
        if current is None or start > current[1]:
            if current:
                total += current[1] - current[0]
            current = [start, end]
        else:
            current[1] = max(current[1], end)
    return total + (current[1] - current[0] if current else 0.0)


@pytest.mark.parametrize("name", STEREO)
def test_call_features_match_truth(scored_db, name):
    truth = TRUTH[name]
    call_id = call_id_of(scored_db, name)
    (row,) = query(
        scored_db,
        "SELECT dead_air_events, hold_events, talkover_events, agent_interruptions, customer_interruptions,"
        " agent_talk_s, customer_talk_s FROM call_features WHERE call_id = ?",
        [call_id],
    )
    dead_air, holds, talkovers, agent_cuts, customer_cuts, agent_talk, customer_talk = row
    overlaps = truth["overlaps"]
    assert dead_air == len(truth["dead_air"])
    assert holds == len(truth["holds"])
    assert talkovers == len(overlaps)
    assert agent_cuts == sum(o["interrupter"] == "agent" and not o["backchannel"] for o in overlaps)
    assert customer_cuts == sum(o["interrupter"] == "customer" and not o["backchannel"] for o in overlaps)
    for speaker, measured in (("agent", agent_talk), ("customer", customer_talk)):
        expected = union_s([(t["start_s"], t["end_s"]) for t in truth["turns"] if t["speaker"] == speaker])
        assert measured == pytest.approx(expected, rel=TALK_TOLERANCE), speaker


@pytest.mark.parametrize("name", ["good_call", "dead_air", "talkover", "rude_call"])
def test_calls_fail_exactly_the_criteria_they_should(scored_db, name):
    call_id = call_id_of(scored_db, name)
    failed = {c for (c,) in query(scored_db, "SELECT criterion_id FROM criterion_scores WHERE call_id = ? AND status = 'fail'", [call_id])}
    assert failed == set(TRUTH[name]["expected_rubric_failures"])
    ((passed, auto_fail),) = query(scored_db, "SELECT passed, auto_fail FROM call_scores WHERE call_id = ?", [call_id])
    if name == "good_call":
        assert passed and not auto_fail
    if name == "rude_call":
        assert auto_fail and not passed


def turn_containing(truth, speaker, words):
    for turn in truth["turns"]:
        if turn["speaker"] == speaker and all(w in turn["text"].lower() for w in words):
            return turn
    raise AssertionError(f"no {speaker} turn says {words}")


def evidence(db, name, criterion):
    return query(
        db,
        "SELECT status, evidence_start_s, evidence_end_s FROM criterion_scores WHERE call_id = ? AND criterion_id = ?",
        [call_id_of(db, name), criterion],
    )[0]


@pytest.mark.parametrize(
    ("criterion", "words"), [("greeting", ["thank", "calling"]), ("recording_disclosure", ["recorded"]), ("closing", ["anything else"])]
)
def test_phrase_evidence_points_at_the_words(scored_db, criterion, words):
    status, start_s, end_s = evidence(scored_db, "good_call", criterion)
    turn = turn_containing(TRUTH["good_call"], "agent", words)
    assert status == "pass"
    # a criterion of several phrase groups (closing: 'anything else' + 'thank you') spans all its quotes
    assert start_s - EVIDENCE_SLACK_S <= turn["end_s"] and turn["start_s"] <= end_s + EVIDENCE_SLACK_S
    assert TRUTH["good_call"]["duration_s"] >= end_s > start_s >= 0


def test_dead_air_and_forbidden_phrase_evidence(scored_db):
    status, start_s, end_s = evidence(scored_db, "dead_air", "no_dead_air_over_10s")
    longest = max(TRUTH["dead_air"]["dead_air"], key=lambda gap: gap["end_s"] - gap["start_s"])
    assert status == "fail" and start_s < longest["end_s"] and end_s > longest["start_s"]
    status, start_s, end_s = evidence(scored_db, "rude_call", "forbidden_phrases")
    inside = [t for t in TRUTH["rude_call"]["turns"] if t["speaker"] == "agent" and t["start_s"] - EVIDENCE_SLACK_S <= start_s <= t["end_s"]]
    assert status == "fail" and inside
    assert any(phrase in inside[0]["text"].lower() for phrase in ("not my problem", "calm down"))


def test_queue_and_show_explain_the_flagged_calls(scored_db):
    result = cli("queue", "--db", scored_db)
    assert result.returncode == 0, result.stderr
    rude, good = call_id_of(scored_db, "rude_call"), call_id_of(scored_db, "good_call")
    queued = dict(query(scored_db, "SELECT call_id, priority FROM review_queue WHERE status = 'pending'"))
    assert queued[rude] == 1  # auto-fail first
    assert queued.get(good, 4) == 4  # a passing call is queued only as part of the random sample
    assert rude in result.stdout and "auto-fail" in result.stdout
    shown = cli("show", rude[:8], "--db", scored_db)
    assert shown.returncode == 0, shown.stderr
    for expected in ("Transcript", "Features", "dead_air_events", "forbidden_phrases", "recording_disclosure", "queued"):
        assert expected in shown.stdout


def test_rescore_under_a_new_version_keeps_the_old_scores(scored_db, tmp_path):
    from pipeline.rubric import DEFAULT_RUBRIC_PATH

    before = query(scored_db, "SELECT call_id, score, passed FROM call_scores WHERE rubric_version = 1 ORDER BY call_id")
    text = DEFAULT_RUBRIC_PATH.read_text().replace("version: 1", "version: 2", 1)
    new_rubric = tmp_path / "rubric_v2.yaml"
    new_rubric.write_text(text)
    result = cli("rescore", "--rubric", new_rubric, "--db", scored_db)
    assert result.returncode == 0, result.stderr
    versions = query(scored_db, "SELECT rubric_version, count(*) FROM call_scores GROUP BY 1 ORDER BY 1")
    assert versions == [(1, len(STEREO)), (2, len(STEREO))]
    assert query(scored_db, "SELECT call_id, score, passed FROM call_scores WHERE rubric_version = 1 ORDER BY call_id") == before
