"""features/__init__.py: extract_features on one hand-made call, every field exact."""

import pytest

from pipeline.features import FeatureOptions, extract_features
from pipeline.types import Turn, Word

TURNS = [
    Turn("agent", 0.0, 6.0, "Thank you for calling Acme Telecom, my name is Sarah."),
    Turn("customer", 7.0, 12.0, "Hi, I have a question about my bill."),
    Turn("agent", 13.0, 20.0, "Sure, can I place you on a brief hold while I check?"),
    Turn("customer", 20.5, 21.0, "Sure."),
    # 21.0-51.0: on hold
    Turn("agent", 51.0, 60.0, "Thank you for holding. I found the issue with your bill."),
    Turn("customer", 58.0, 64.0, "Oh good, so what was it?"),  # cuts in at 58.0
    Turn("agent", 64.5, 70.0, "You were charged twice; I've applied a credit."),
    Turn("customer", 66.0, 66.5, "Mm-hm."),  # back-channel
    # 70.0-78.0: dead air
    Turn("customer", 78.0, 82.0, "Okay thanks, that's all."),
    Turn("agent", 82.5, 88.0, "Thanks for calling, goodbye."),
]
DURATION_S = 90.0


def words_of(turns):
    """Each turn's words, spread evenly over the turn."""
    words = []
    for turn in turns:
        texts = turn.text.split()
        step = turn.duration_s / len(texts)
        for i, text in enumerate(texts):
            start_s = turn.start_s + i * step
            words.append(Word(start_s, start_s + step, text, 0.9, turn.speaker))
    return words


def test_every_feature_of_a_hand_made_call():
    features, _ = extract_features(TURNS, words_of(TURNS), DURATION_S, FeatureOptions())
    expected = {
        "handle_time_s": 90.0,
        "agent_talk_s": 33.0,
        "customer_talk_s": 16.0,
        "agent_talk_ratio": 33.0 / 49.0,
        "silence_total_s": 41.5,
        "longest_silence_s": 30.0,
        "dead_air_events": 1,
        "hold_events": 1,
        "hold_total_s": 30.0,
        "talkover_events": 2,
        "talkover_total_s": 2.5,
        "agent_interruptions": 0,
        "customer_interruptions": 1,
        "agent_wpm": 45 / 33.0 * 60,
        "customer_wpm": 20 / 16.0 * 60,
        "longest_agent_monologue_s": 9.0,
        "mean_response_latency_s": 11.5 / 6,
    }
    for name, value in expected.items():
        assert getattr(features, name) == pytest.approx(value, abs=1e-9), name


def test_events_of_a_hand_made_call_in_time_order():
    _, events = extract_features(TURNS, words_of(TURNS), DURATION_S)
    assert [(e.kind, e.start_s, e.end_s, e.speaker) for e in events] == [
        ("hold", 21.0, 51.0, "agent"),
        ("interruption", 58.0, 60.0, "customer"),
        ("talkover", 58.0, 60.0, "customer"),
        ("backchannel", 66.0, 66.5, "customer"),
        ("talkover", 66.0, 66.5, "customer"),
        ("dead_air", 70.0, 78.0, ""),
    ]
    assert events[0].detail == "announced at 13.00 s"


def test_options_change_the_thresholds():
    options = FeatureOptions(dead_air_min_s=10.0, backchannel_max_s=0.0, backchannel_words=())
    features, events = extract_features(TURNS, words_of(TURNS), DURATION_S, options)
    assert features.dead_air_events == 0
    assert features.customer_interruptions == 2
    assert "backchannel" not in {e.kind for e in events}


def test_options_reject_unknown_and_bad_values():
    with pytest.raises(ValueError):
        FeatureOptions(dead_air_min_s=-1.0)
    with pytest.raises(ValueError):
        FeatureOptions(dead_air_seconds=5.0)


def test_an_empty_call():
    features, events = extract_features([], [], 0.0)
    assert events == []
    assert features.agent_talk_ratio == 0.0
    assert features.mean_response_latency_s == 0.0
