"""pipeline/queue.py: which scored calls a supervisor sees first, and why (pure, hand-made scores)."""

from __future__ import annotations

from pipeline.queue import (
    AUTO_FAIL,
    BELOW_PASS_MARK,
    LOW_CONFIDENCE,
    RANDOM_SAMPLE,
    REASON_KINDS,
    CallConfidence,
    QueuePolicy,
    review_decision,
)
from pipeline.scoring import CallScore, CriterionScore

SURE = CallConfidence(mean_word_probability=0.9, diarization_confidence=1.0, role_confidence=1.0)
NO_SAMPLE = QueuePolicy(random_sample_rate=0.0)


def criterion(
    cid: str, status: str, auto_fail: bool = False, start_s: float | None = 3.0
) -> CriterionScore:
    points = 10.0 if status == "pass" else 0.0
    return CriterionScore(cid, points, 10.0, status, "", start_s, start_s, "stage", auto_fail, 0.9)


def score(value: float, *criteria: CriterionScore, confidence: float = 0.9) -> CallScore:
    auto_failed = any(c.auto_fail for c in criteria)
    return CallScore(
        "r", 1, value, value >= 80 and not auto_failed, auto_failed, confidence, criteria
    )


def test_an_auto_failed_call_comes_first_with_where_to_listen():
    decision = review_decision(
        "c1", score(90, criterion("disclosure", "fail", auto_fail=True)), SURE, 80, NO_SAMPLE
    )
    assert decision.priority == AUTO_FAIL
    assert [r.kind for r in decision.reasons] == ["auto_fail"]
    assert decision.text == "auto-fail: disclosure at 3.0 s"


def test_a_low_score_names_the_failed_criteria():
    decision = review_decision(
        "c1",
        score(60, criterion("greeting", "fail"), criterion("closing", "fail")),
        SURE,
        80,
        NO_SAMPLE,
    )
    assert decision.priority == BELOW_PASS_MARK
    assert decision.text == "score 60 below pass mark 80 (greeting, closing)"


def test_doubtful_transcription_or_speakers_queue_a_passing_call():
    doubtful = CallConfidence(
        mean_word_probability=0.4, diarization_confidence=0.3, role_confidence=1.0
    )
    decision = review_decision("c1", score(95), doubtful, 80, NO_SAMPLE)
    assert decision.priority == LOW_CONFIDENCE
    assert decision.kinds == ("low_confidence",)
    assert decision.text == "low confidence: ASR word probability 0.40, diarization confidence 0.30"


def test_every_reason_comes_with_its_kind_and_the_most_urgent_priority_wins():
    doubtful = CallConfidence(mean_word_probability=0.4)
    decision = review_decision(
        "c1", score(50, criterion("disclosure", "fail", auto_fail=True)), doubtful, 80, NO_SAMPLE
    )
    assert decision.priority == AUTO_FAIL
    assert decision.kinds == ("auto_fail", "below_pass_mark", "low_confidence")
    assert set(decision.kinds) <= set(REASON_KINDS)


def test_a_clean_passing_call_is_not_queued_unless_sampled_and_the_sample_is_stable():
    assert review_decision("c1", score(95), SURE, 80, NO_SAMPLE) is None
    everyone = QueuePolicy(random_sample_rate=1.0)
    sampled = review_decision("c1", score(95), SURE, 80, everyone)
    assert sampled.priority == RANDOM_SAMPLE and sampled.kinds == ("random_sample",)
    half = QueuePolicy(random_sample_rate=0.5)
    picks = [review_decision(f"call{i}", score(95), SURE, 80, half) is not None for i in range(400)]
    assert 150 < sum(picks) < 250
    assert picks == [
        review_decision(f"call{i}", score(95), SURE, 80, half) is not None for i in range(400)
    ]


def test_an_escalated_or_unhappy_customer_is_queued_even_when_the_call_scores_well(
    lemmatizer, vader
):
    from dataclasses import replace

    from pipeline.features import extract_features
    from pipeline.features.customer import CustomerOptions, analyse_customer
    from tests.synthetic_calibration import transcript_from_lines

    lines = [
        ("agent", 0.0, 5.0, "Thank you for calling Acme Telecom, my name is Sam."),
        (
            "customer",
            6.0,
            11.0,
            "Hi, I was charged twice on my bill and I want to cancel my contract.",
        ),
        ("agent", 12.0, 15.0, "I'm sorry to hear that, let me look."),
    ]
    turns, words = transcript_from_lines(lines)
    _, events = extract_features(turns, words, 20.0)
    customer = analyse_customer(turns, words, events, lemmatizer, vader, CustomerOptions())
    passing = score(95)
    decision = review_decision("c1", passing, SURE, 80, NO_SAMPLE, customer)
    assert decision.priority == BELOW_PASS_MARK
    # the escalation is also the customer's last turn: they ended unhappy too
    assert [r.kind for r in decision.reasons] == ["customer_escalation", "unhappy_customer"]
    assert decision.text.startswith(
        "customer escalation: 'cancel my contract.' (cancel my contract)"
    )
    assert review_decision("c1", passing, SURE, 80, NO_SAMPLE) is None
    quiet = QueuePolicy(random_sample_rate=0.0, queue_escalations=False, queue_unhappy=False)
    assert review_decision("c1", passing, SURE, 80, quiet, customer) is None
    unhappy_only = replace(
        customer, escalations=0, escalation="", unhappy_reasons=("2 frustrated turns",)
    )
    decision = review_decision("c1", passing, SURE, 80, NO_SAMPLE, unhappy_only)
    assert [(r.kind, r.text) for r in decision.reasons] == [
        ("unhappy_customer", "unhappy customer: 2 frustrated turns")
    ]
    assert {"customer_escalation", "unhappy_customer"} <= set(REASON_KINDS)
