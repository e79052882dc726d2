"""Trust gating: an untrusted criterion cannot auto-fail a call and sends it to a human where it
decides pass/fail (scoring.py, queue.py), end to end through `callqa calibrate`, `callqa rescore`,
the review queue and `callqa show`."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from pipeline.batch import rescore_calls
from tests import synthetic_calibration as syn
from pipeline.cli import app
from pipeline.config import load_settings
from pipeline.features import extract_features
from pipeline.queue import BELOW_PASS_MARK, CallConfidence, QueuePolicy, review_decision
from pipeline.rubric import load_rubric
from pipeline.scoring import score_call
from pipeline.script import Lemmatizer, load_nlp
from pipeline.store.store import Store

RUBRIC = "contact-center-default"
NO_SAMPLING = QueuePolicy(random_sample_rate=0.0)


@pytest.fixture(scope="module")
def nlp():
    return Lemmatizer(load_nlp())


def scored(call, nlp, untrusted=frozenset()):
    turns, words = syn.scripted_transcript(call)
    features, events = extract_features(turns, words, syn.SCRIPTED_DURATION_S)
    score = score_call(features, events, turns, words, load_rubric(), nlp, untrusted)
    return score, {c.criterion_id: c for c in score.criteria}


def decision(score):
    return review_decision("call", score, CallConfidence(0.9, 1.0, 1.0), 80, NO_SAMPLING)


def test_an_untrusted_auto_fail_criterion_does_not_fail_the_call_and_needs_a_human(nlp):
    call = syn.ScriptedCall(disclosure=False)
    trusted, _ = scored(call, nlp)
    assert trusted.auto_failed and not trusted.passed
    gated, criteria = scored(call, nlp, {"recording_disclosure"})
    disclosure = criteria["recording_disclosure"]
    assert not gated.auto_failed and gated.passed and gated.score == pytest.approx(trusted.score)
    assert disclosure.status == "fail" and not disclosure.auto_fail and not disclosure.trusted
    assert disclosure.decides_outcome
    queued = decision(gated)
    assert queued.priority == BELOW_PASS_MARK
    assert any(
        r.kind == "needs_human"
        and r.text.startswith("needs human: recording_disclosure (not trusted), auto says fail")
        for r in queued.reasons
    )


def test_an_untrusted_criterion_that_changes_nothing_sends_nobody(nlp):
    gated, criteria = scored(syn.ScriptedCall(), nlp, {"greeting", "recording_disclosure"})
    assert gated.passed and not criteria["greeting"].decides_outcome
    assert not criteria["recording_disclosure"].decides_outcome
    assert decision(gated) is None


def test_an_untrusted_points_criterion_that_decides_the_score_needs_a_human(nlp):
    call = syn.ScriptedCall(resolution=False, closing=False)  # 60 of 85 points: fails the pass mark
    gated, criteria = scored(call, nlp, {"resolution"})
    assert not gated.passed
    assert criteria["resolution"].decides_outcome  # without it: 60 of 70 points, a pass
    assert not criteria["closing"].decides_outcome  # trusted
    reasons = decision(gated).reasons
    assert reasons[0].kind == "below_pass_mark" and reasons[0].text.startswith("score 71 below pass mark 80")
    assert any("needs human: resolution (not trusted)" in r.text for r in reasons)


@pytest.fixture(scope="module")
def graded_db(tmp_path_factory):
    """100 scripted calls scored under the default rubric; humans agree with the machine on
    forbidden phrases and only by chance and a bit (κ ≈ 0.3) on the recording disclosure."""
    path = tmp_path_factory.mktemp("gating") / "calls.duckdb"
    rng = np.random.default_rng(4)
    calls = [
        syn.ScriptedCall(disclosure=bool(rng.random() > 0.3), forbidden=bool(rng.random() < 0.25))
        for _ in range(100)
    ]
    with Store(path) as store:
        ids = syn.write_scripted_calls(store, calls)
    rescore_calls(path, load_settings())
    with Store(path) as store:
        reviewers = (
            syn.SyntheticReviewer("ana", error=0.0),
            syn.SyntheticReviewer("ben", error=0.0),
        )
        syn.grade_stored_calls(
            store.calibration, RUBRIC, 1, reviewers, auto_error={"recording_disclosure": 0.33}, seed=4
        )
    return path, dict(zip(ids, calls))


def queue_reasons(path):
    with Store(path, read_only=True) as store:
        return dict(
            store.con.execute(
                "SELECT call_id, reasons FROM review_queue WHERE status = 'pending'"
            ).fetchall()
        )


def call_flags(path):
    with Store(path, read_only=True) as store:
        return {
            call_id: (auto_fail, passed)
            for call_id, auto_fail, passed in store.con.execute(
                "SELECT call_id, auto_fail, passed FROM call_scores WHERE rubric_version = 1"
            ).fetchall()
        }


@pytest.mark.slow
def test_a_noisy_criterion_is_gated_and_stops_auto_failing_after_calibrate(graded_db):
    path, calls = graded_db
    runner = CliRunner()
    missing_only = [
        cid for cid, call in calls.items() if not call.disclosure and not call.forbidden
    ]
    forbidden = [cid for cid, call in calls.items() if call.forbidden]
    assert missing_only and forbidden
    before = call_flags(path)
    assert all(before[cid] == (True, False) for cid in missing_only)

    result = runner.invoke(app, ["calibrate", "--db", str(path), "--resamples", "500"])
    assert result.exit_code == 0, result.output
    assert "recording_disclosure" in result.output and "needs human" in result.output
    with Store(path, read_only=True) as store:
        trust = {
            row[0]: row[1:]
            for row in store.con.execute(
                "SELECT criterion_id, trusted, n_calls, kappa, kappa_low, reason FROM criterion_trust"
                " WHERE rubric_id = ? AND rubric_version = 1",
                [RUBRIC],
            ).fetchall()
        }
    trusted, n_calls, kappa, kappa_low, reason = trust["recording_disclosure"]
    assert not trusted and n_calls == 100 and 0.1 < kappa < 0.5 and kappa_low < 0.6, reason
    assert trust["forbidden_phrases"][0] and trust["forbidden_phrases"][3] >= 0.6

    result = runner.invoke(
        app, ["rescore", "--rubric", str(load_settings().rubric), "--db", str(path)]
    )
    assert result.exit_code == 0, result.output
    after = call_flags(path)
    reasons = queue_reasons(path)
    for cid in missing_only:  # the gated criterion no longer fails the call; a human decides
        assert after[cid] == (False, True)
        assert "needs human: recording_disclosure (not trusted)" in reasons[cid]
        assert "auto-fail" not in reasons[cid]
    for cid in forbidden:  # the trusted criterion still fails it
        assert after[cid][0] is True
        assert "auto-fail: forbidden_phrases" in reasons[cid]
    clean = [cid for cid, call in calls.items() if call.disclosure and not call.forbidden]
    assert not any("needs human: recording_disclosure" in reasons.get(cid, "") for cid in clean)

    shown = runner.invoke(app, ["show", missing_only[0], "--db", str(path)])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "needs human: not trusted (κ" in text and "n=100" in text
    assert "trusted (κ 1.00" in text or "trusted (κ 0.9" in text  # forbidden_phrases


def test_no_write_leaves_the_trust_decisions_alone(graded_db, tmp_path):
    path, _ = graded_db
    with Store(path, read_only=True) as store:
        before = store.con.execute(
            "SELECT count(*), max(decided_at) FROM criterion_trust"
        ).fetchone()
    result = CliRunner().invoke(
        app, ["calibrate", "--db", str(path), "--resamples", "200", "--no-write"]
    )
    assert result.exit_code == 0, result.output
    assert "not stored (--no-write" in result.output
    with Store(path, read_only=True) as store:
        assert (
            store.con.execute("SELECT count(*), max(decided_at) FROM criterion_trust").fetchone()
            == before
        )
