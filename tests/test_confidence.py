"""features/confidence.py: runs of low-probability words become low_confidence events."""

from pipeline.features import extract_features
from pipeline.features.confidence import find_low_confidence
from pipeline.types import Event, Turn, Word


def _words(speaker, start_s, probabilities, step_s=0.5):
    return [
        Word(start_s + i * step_s, start_s + i * step_s + 0.4, f"w{i}", p, speaker)
        for i, p in enumerate(probabilities)
    ]


def test_runs_of_unsure_words_per_speaker():
    words = [
        *_words("agent", 0.0, [0.9, 0.3, 0.2, 0.4, 0.95, 0.3, 0.3]),  # one run of 3, one of 2
        *_words("customer", 1.2, [0.1, 0.2, 0.3, 0.1]),  # interleaved in time: still one run
        *_words("customer", 10.0, [0.2, 0.2]) + _words("customer", 13.0, [0.2]),  # 2.6 s gap
    ]
    events = find_low_confidence(words, max_probability=0.5, min_words=3, max_gap_s=1.0)
    assert events == [
        Event("low_confidence", 0.5, 1.9, "agent", "3 words, mean probability 0.30"),
        Event("low_confidence", 1.2, 3.1, "customer", "4 words, mean probability 0.18"),
    ]


def test_a_confident_call_has_no_low_confidence_events():
    turns = [Turn("agent", 0.0, 2.0, "hello there friend"), Turn("customer", 2.5, 4.0, "hi you")]
    words = _words("agent", 0.0, [0.9, 0.8, 0.7]) + _words("customer", 2.5, [0.99, 0.6])
    _, events = extract_features(turns, words, 4.0)
    assert [e for e in events if e.kind == "low_confidence"] == []
    unsure = _words("customer", 2.5, [0.2, 0.1, 0.3])
    _, events = extract_features(turns, words[:3] + unsure, 4.0)
    assert [(e.kind, e.start_s, e.end_s) for e in events if e.kind == "low_confidence"] == [
        ("low_confidence", 2.5, 3.9)
    ]
