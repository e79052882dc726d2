"""scoring.py: verdicts, evidence, N/A renormalisation, auto-fail, on hand-made calls."""

from __future__ import annotations

import textwrap
from dataclasses import replace

import pytest

from tests.synthetic_calibration import transcript_from_lines
from pipeline.features import extract_features
from pipeline.rubric import load_rubric, parse_rubric
from pipeline.scoring import score_call
from pipeline.script import Lemmatizer, load_nlp

GOOD_CALL = [
    ("agent", 0.5, 9.0, ("Thank you for calling Acme Telecom, my name is Sarah. This call may be "
                         "recorded for quality and training purposes. How can I help you today?")),
    ("customer", 9.5, 15.0, "Hi Sarah, I have a question about a charge on my bill."),
    ("agent", 15.5, 21.0, "I can help with that. Can you verify your date of birth for me please?"),
    ("customer", 21.5, 24.0, "Sure, it's the fourth of May 1980."),
    ("agent", 24.5, 33.0, "Thank you. Your last payment was received on the first of the month."),
    ("customer", 33.5, 40.0, "Okay, but there is an extra ten dollar fee this month."),
    ("agent", 40.5, 50.0, ("I see it, that is a late fee that was added by mistake. I've applied a "
                           "credit of ten dollars to your account.")),
    ("customer", 50.5, 53.0, "Great, thank you."),
    ("agent", 53.5, 62.0, ("You will receive a confirmation email today. Is there anything else I "
                           "can help you with?")),
    ("customer", 62.5, 65.0, "No, that's everything."),
    ("agent", 65.5, 70.0, "Thank you for calling Acme Telecom, have a great day."),
]  # fmt: skip
GOOD_DURATION_S = 71.0


@pytest.fixture(scope="module")
def nlp():
    return Lemmatizer(load_nlp())


@pytest.fixture(scope="module")
def rubric():
    return load_rubric()


def build(script, probability=0.9):
    """Turns from ``(speaker, start_s, end_s, text)`` rows; words spread evenly over each turn."""
    return transcript_from_lines(script, probability)


def shifted(script, after_s, by_s):
    """The script with every turn starting at or after ``after_s`` moved ``by_s`` later."""
    return [
        (speaker, start_s + by_s, end_s + by_s, text)
        if start_s >= after_s
        else (speaker, start_s, end_s, text)
        for speaker, start_s, end_s, text in script
    ]


def score(script, duration_s, rubric, nlp, probability=0.9):
    turns, words = build(script, probability)
    features, events = extract_features(turns, words, duration_s)
    return score_call(features, events, turns, words, rubric, nlp)


def by_id(call_score):
    return {c.criterion_id: c for c in call_score.criteria}


def test_good_call_passes_every_criterion_that_applies(rubric, nlp):
    result = score(GOOD_CALL, GOOD_DURATION_S, rubric, nlp)
    statuses = {c.criterion_id: c.status for c in result.criteria}
    assert statuses == {
        "greeting": "pass",
        "recording_disclosure": "pass",
        "verification": "pass",
        "empathy": "na",
        "hold_etiquette": "na",
        "no_dead_air_over_10s": "pass",
        "interruptions": "pass",
        "resolution": "pass",
        "closing": "pass",
        "forbidden_phrases": "pass",
    }
    assert result.score == pytest.approx(100.0, abs=1e-9)
    assert result.passed and not result.auto_failed
    assert (result.rubric_id, result.rubric_version) == ("contact-center-default", 1)
    # Phrase criteria (65 of the 85 points that apply) rest on words said with probability 0.9;
    # the timing criteria (20 points) do not rest on words: confidence 1.0.
    assert result.confidence == pytest.approx((65 * 0.9 + 20 * 1.0) / 85, abs=1e-9)


def test_good_call_evidence_quotes_and_times(rubric, nlp):
    criteria = by_id(score(GOOD_CALL, GOOD_DURATION_S, rubric, nlp))
    greeting = criteria["greeting"]
    assert "'Thank you for calling Acme Telecom,'" in greeting.evidence_text
    assert "'my name is'" in greeting.evidence_text
    assert greeting.evidence_start_s == pytest.approx(0.5, abs=1e-9)
    assert greeting.evidence_end_s < 15.0
    verification = criteria["verification"]
    assert "'Can you verify your'" in verification.evidence_text
    assert "'Your last payment'" in verification.evidence_text
    assert criteria["empathy"].evidence_text == "no cue said"
    assert criteria["hold_etiquette"].evidence_text == "no hold on this call"
    assert (criteria["empathy"].points, criteria["empathy"].max_points) == (0.0, 10.0)


def test_twelve_seconds_of_dead_air_fails_only_that_criterion(rubric, nlp):
    # The agent takes 12 s more to answer the question about the fee: 12.5 s of silence.
    script = shifted(GOOD_CALL, after_s=40.5, by_s=12.0)
    result = score(script, GOOD_DURATION_S + 12.0, rubric, nlp)
    failed = [c for c in result.criteria if c.status == "fail"]
    assert [c.criterion_id for c in failed] == ["no_dead_air_over_10s"]
    dead_air = failed[0]
    assert (dead_air.evidence_start_s, dead_air.evidence_end_s) == (40.0, 52.5)
    assert "1 dead_air events of 10 s or more (max 0)" in dead_air.evidence_text
    assert result.score == pytest.approx(100.0 * 75.0 / 85.0, abs=1e-9)
    assert result.passed  # 88.2 >= 80 and nothing auto-fails


def test_forbidden_phrase_auto_fails_the_call(rubric, nlp):
    script = list(GOOD_CALL)
    script[6] = (
        "agent",
        40.5,
        50.0,
        (
            "Calm down. That is a late fee that was added by mistake. "
            "I've applied a credit of ten dollars to your account."
        ),
    )
    result = score(script, GOOD_DURATION_S, rubric, nlp)
    forbidden = by_id(result)["forbidden_phrases"]
    assert forbidden.status == "fail" and forbidden.auto_fail
    assert forbidden.evidence_text.startswith("forbidden 'calm down': 'Calm down.'")
    assert forbidden.evidence_start_s == pytest.approx(40.5, abs=1e-9)
    assert result.auto_failed and not result.passed
    assert result.score == pytest.approx(100.0 * 80.0 / 85.0, abs=1e-9)


def test_missing_recording_disclosure_auto_fails_with_the_window_searched(rubric, nlp):
    script = list(GOOD_CALL)
    script[0] = (
        "agent",
        0.5,
        9.0,
        ("Thank you for calling Acme Telecom, my name is Sarah. How can I help you today?"),
    )
    script.append(("agent", 66.0, 69.0, "This call may be recorded."))  # too late
    result = score(script, GOOD_DURATION_S, rubric, nlp)
    disclosure = by_id(result)["recording_disclosure"]
    assert disclosure.status == "fail" and disclosure.auto_fail
    assert (disclosure.evidence_start_s, disclosure.evidence_end_s) == (0.0, 15.0)
    assert disclosure.evidence_text.startswith("not said in 0.0-15.0 s:")
    assert result.auto_failed and not result.passed


def test_hold_with_etiquette_passes_and_without_fails(rubric, nlp):
    hold = [
        ("agent", 33.5, 37.0, "Can I place you on hold while I check that fee?"),
        ("customer", 37.5, 38.0, "Sure."),
        ("agent", 98.0, 100.0, "Thank you for holding."),
    ]
    script = shifted(GOOD_CALL, after_s=33.5, by_s=67.0)
    script = sorted([*script, *hold], key=lambda row: row[1])
    result = score(script, GOOD_DURATION_S + 67.0, rubric, nlp)
    assert by_id(result)["hold_etiquette"].status == "pass"
    assert by_id(result)["no_dead_air_over_10s"].status == "pass"  # the hold is not dead air

    rude = [row if row[3] != "Thank you for holding." else (*row[:3], "Okay.") for row in script]
    result = score(rude, GOOD_DURATION_S + 67.0, rubric, nlp)
    hold_etiquette = by_id(result)["hold_etiquette"]
    assert hold_etiquette.status == "fail"
    assert hold_etiquette.evidence_text.startswith(
        "not said in 0.0-138.0 s: 'thank you for holding'"
    )


def test_empathy_after_a_frustration_cue(rubric, nlp):
    script = list(GOOD_CALL)
    script[5] = ("customer", 33.5, 40.0, "This is ridiculous, there is an extra ten dollar fee.")
    script[6] = (
        "agent",
        40.5,
        50.0,
        (
            "I'm sorry to hear that. It is a late fee added by mistake. "
            "I've applied a credit of ten dollars to your account."
        ),
    )
    empathy = by_id(score(script, GOOD_DURATION_S, rubric, nlp))["empathy"]
    assert empathy.status == "pass"
    assert empathy.evidence_text.startswith("cue 'This is ridiculous,'")
    assert "-> 'I'm sorry to hear that.'" in empathy.evidence_text

    script[6] = (
        "agent",
        40.5,
        50.0,
        (
            "It is a late fee added by mistake. I've applied a credit "
            "of ten dollars to your account."
        ),
    )
    result = score(script, GOOD_DURATION_S, rubric, nlp)
    empathy = by_id(result)["empathy"]
    assert empathy.status == "fail"
    assert empathy.evidence_start_s == pytest.approx(33.5, abs=1e-9)
    assert empathy.evidence_end_s == pytest.approx(33.5 + 3 * 6.5 / 10 + 15.0, abs=1e-9)
    assert result.score == pytest.approx(100.0 * 85.0 / 95.0, abs=1e-9)


def test_account_details_before_verification_fail(rubric, nlp):
    script = list(GOOD_CALL)
    script[2] = ("agent", 15.5, 21.0, "I can help with that. Your last payment was on the first.")
    script[4] = ("agent", 24.5, 33.0, "Thank you. Can you verify your date of birth for me?")
    verification = by_id(score(script, GOOD_DURATION_S, rubric, nlp))["verification"]
    assert verification.status == "fail"
    assert verification.evidence_text.startswith("'Your last payment'")
    assert verification.evidence_start_s == pytest.approx(15.5 + 5 * 5.5 / 12, abs=1e-9)


def test_agent_interrupting_twice_fails_with_the_second_interruption(rubric, nlp):
    script = list(GOOD_CALL)
    script[5] = ("customer", 33.5, 42.0, "Okay, but there is an extra ten dollar fee this month.")
    script[7] = ("customer", 50.5, 56.0, "Great, thank you, and one more thing about my plan.")
    result = score(script, GOOD_DURATION_S, rubric, nlp)
    interruptions = by_id(result)["interruptions"]
    assert interruptions.status == "fail"
    assert (interruptions.evidence_start_s, interruptions.evidence_end_s) == (53.5, 56.0)
    assert "2 interruption events by agent (max 1)" in interruptions.evidence_text


def test_low_asr_probability_lowers_confidence(rubric, nlp):
    result = score(GOOD_CALL, GOOD_DURATION_S, rubric, nlp, probability=0.5)
    assert result.confidence == pytest.approx((65 * 0.5 + 20 * 1.0) / 85, abs=1e-9)
    assert by_id(result)["greeting"].confidence == pytest.approx(0.5, abs=1e-9)
    assert by_id(result)["interruptions"].confidence == 1.0


NA_RUBRIC = textwrap.dedent(
    """\
    id: na-test
    version: 3
    pass_mark: 70
    stages:
      - id: all
        criteria:
          - id: greeting
            description: greets
            weight: 50
            type: phrase
            within_first_s: 15
            phrases: [[thank you for calling]]
          - id: hold_etiquette
            description: thanks for holding
            weight: 30
            type: phrase
            na_when: no_hold
            phrases: [[thank you for holding]]
          - id: short_monologues
            description: no monologue over 5 s
            weight: 20
            type: feature_max
            feature: longest_agent_monologue_s
            threshold: 5
    """
)


def test_na_criteria_drop_out_and_the_score_is_renormalised(nlp):
    rubric = parse_rubric(NA_RUBRIC)
    result = score(GOOD_CALL, GOOD_DURATION_S, rubric, nlp)
    statuses = [(c.criterion_id, c.status, c.points, c.max_points) for c in result.criteria]
    assert statuses == [
        ("greeting", "pass", 50.0, 50.0),
        ("hold_etiquette", "na", 0.0, 30.0),
        ("short_monologues", "fail", 0.0, 20.0),
    ]
    assert result.score == pytest.approx(100.0 * 50.0 / 70.0, abs=1e-9)  # 71.43
    assert result.passed  # >= 70


def test_failed_feature_criterion_points_at_the_event_behind_it(nlp):
    rubric = parse_rubric(
        NA_RUBRIC.replace("longest_agent_monologue_s", "longest_silence_s").replace(
            "threshold: 5", "threshold: 4"
        )
    )
    turns, words = build(shifted(GOOD_CALL, after_s=40.5, by_s=6.0))
    features, events = extract_features(turns, words, GOOD_DURATION_S + 6.0)
    feature = by_id(score_call(features, events, turns, words, rubric, nlp))["short_monologues"]
    assert feature.status == "fail"
    assert feature.evidence_text == "longest_silence_s = 6.5 (max 4); longest dead_air 40.0-46.5 s"
    assert (feature.evidence_start_s, feature.evidence_end_s) == (40.0, 46.5)


ONLY_HOLD_RUBRIC = textwrap.dedent(
    """\
    id: only-hold
    version: 1
    pass_mark: 70
    stages:
      - id: hold
        criteria:
          - id: hold_etiquette
            description: thanks for holding
            weight: 100
            type: phrase
            na_when: no_hold
            phrases: [[thank you for holding]]
    """
)


def test_feature_min_and_all_na(nlp):
    rubric = parse_rubric(
        NA_RUBRIC.replace("feature_max", "feature_min").replace("threshold: 5", "threshold: 9")
    )
    turns, words = build(GOOD_CALL)
    features, events = extract_features(turns, words, GOOD_DURATION_S)
    features = replace(features, longest_agent_monologue_s=9.0)
    result = score_call(features, events, turns, words, rubric, nlp)
    assert by_id(result)["short_monologues"].status == "pass"
    assert by_id(result)["short_monologues"].evidence_text == (
        "longest_agent_monologue_s = 9 (min 9)"
    )

    only_hold = parse_rubric(ONLY_HOLD_RUBRIC)
    result = score_call(features, events, turns, words, only_hold, nlp)
    assert [c.status for c in result.criteria] == ["na"]
    assert (result.score, result.passed, result.confidence) == (100.0, True, 1.0)


def test_scoring_accepts_a_bare_spacy_pipeline(rubric):
    result = score(GOOD_CALL, GOOD_DURATION_S, rubric, load_nlp())
    assert result.score == pytest.approx(100.0, abs=1e-9)
