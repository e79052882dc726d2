"""features/silence.py: silences between speech, dead air outside holds."""

import pytest

from pipeline.features.silence import (
    find_dead_air,
    find_silences,
    speech_spans,
    summarize_silence,
)
from pipeline.types import Event, Segment, Turn


def test_speech_spans_merge_every_speaker():
    turns = [
        Turn("agent", 0.0, 5.0),
        Turn("customer", 4.0, 8.0),
        Turn("unknown", 12.5, 13.0),
        Turn("agent", 10.0, 12.0),
    ]
    assert speech_spans(turns) == [Segment(0.0, 8.0), Segment(10.0, 12.0), Segment(12.5, 13.0)]


def test_silences_are_gaps_between_speech_not_before_or_after():
    turns = [Turn("agent", 2.0, 5.0), Turn("customer", 4.0, 8.0), Turn("agent", 10.0, 12.0)]
    assert find_silences(turns) == [Segment(8.0, 10.0)]


def test_turn_inside_another_leaves_no_silence():
    turns = [Turn("agent", 0.0, 10.0), Turn("customer", 3.0, 4.0), Turn("agent", 10.0, 11.0)]
    assert find_silences(turns) == []


def test_no_turns_no_silence():
    stats = summarize_silence(find_silences([]), [], dead_air_min_s=5.0)
    assert (stats.total_s, stats.longest_s, stats.dead_air) == (0.0, 0.0, ())


def test_dead_air_from_the_threshold_up():
    silences = [Segment(1.0, 5.9), Segment(10.0, 15.0), Segment(20.0, 32.5)]
    events = find_dead_air(silences, [], dead_air_min_s=5.0)
    assert [(e.kind, e.start_s, e.end_s) for e in events] == [
        ("dead_air", 10.0, 15.0),
        ("dead_air", 20.0, 32.5),
    ]
    assert events[1].detail == "12.50 s"


def test_silence_inside_a_hold_is_not_dead_air():
    silences = [Segment(14.0, 74.0), Segment(80.0, 90.0)]
    holds = [Event("hold", 14.0, 74.0, "agent")]
    events = find_dead_air(silences, holds, dead_air_min_s=5.0)
    assert [(e.start_s, e.end_s) for e in events] == [(80.0, 90.0)]


def test_summary_counts_every_silence_holds_included():
    turns = [
        Turn("agent", 0.0, 4.0),
        Turn("customer", 5.5, 9.0),  # 1.5 s gap
        Turn("agent", 21.0, 25.0),  # 12 s gap
        Turn("customer", 31.0, 33.0),  # 6 s gap, inside the hold below
    ]
    holds = [Event("hold", 25.0, 31.0, "agent")]
    stats = summarize_silence(find_silences(turns), holds, dead_air_min_s=5.0)
    assert stats.total_s == pytest.approx(19.5, abs=1e-9)
    assert stats.longest_s == pytest.approx(12.0, abs=1e-9)
    assert [(e.start_s, e.end_s) for e in stats.dead_air] == [(9.0, 21.0)]
