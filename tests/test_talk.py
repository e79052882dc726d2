"""features/talk.py: talk time, ratio, pace, monologues, response latency."""

import pytest

from pipeline.features.talk import (
    longest_monologue_s,
    mean_response_latency_s,
    response_latencies_s,
    talk_ratio,
    talk_time_s,
    words_per_minute,
)
from pipeline.types import Segment, Turn, Word


def test_talk_time_is_the_union_of_a_speakers_turns():
    turns = [
        Turn("agent", 0.0, 5.0),
        Turn("agent", 4.0, 8.0),
        Turn("agent", 10.0, 11.5),
        Turn("customer", 2.0, 3.0),
    ]
    assert talk_time_s(turns, "agent") == pytest.approx(9.5, abs=1e-9)
    assert talk_time_s(turns, "customer") == pytest.approx(1.0, abs=1e-9)
    assert talk_time_s(turns, "unknown") == 0.0


def test_talk_ratio():
    assert talk_ratio(30.0, 10.0) == pytest.approx(0.75, abs=1e-12)
    assert talk_ratio(0.0, 0.0) == 0.0


def test_words_per_minute_over_talk_time():
    words = [Word(i * 0.4, i * 0.4 + 0.3, f"w{i}", 0.9, "agent") for i in range(30)]
    words += [Word(20.0, 20.5, "yes", 0.9, "customer"), Word(21.0, 21.2, " ", 0.9, "customer")]
    assert words_per_minute(words, "agent", 12.0) == pytest.approx(150.0, abs=1e-9)
    assert words_per_minute(words, "customer", 2.0) == pytest.approx(30.0, abs=1e-9)
    assert words_per_minute(words, "customer", 0.0) == 0.0


def test_monologue_merges_close_agent_turns_until_the_customer_speaks():
    turns = [
        Turn("agent", 0.0, 10.0),
        Turn("agent", 10.5, 20.0),  # 0.5 s gap: same monologue
        Turn("agent", 22.0, 25.0),  # 2 s gap: a new run
        Turn("customer", 26.0, 27.0),
        Turn("agent", 27.5, 40.0),
        Turn("customer", 40.2, 41.0),
        Turn("agent", 41.2, 48.0),  # customer in between: a new run
    ]
    assert longest_monologue_s(turns, "agent", merge_gap_s=1.0) == pytest.approx(20.0, abs=1e-9)
    assert longest_monologue_s(turns, "agent", merge_gap_s=3.0) == pytest.approx(25.0, abs=1e-9)


def test_customer_turn_inside_an_agent_turn_ends_the_run_there():
    turns = [
        Turn("agent", 0.0, 10.0),
        Turn("customer", 5.0, 5.5),
        Turn("agent", 10.2, 18.0),
    ]
    assert longest_monologue_s(turns, "agent", merge_gap_s=1.0) == pytest.approx(10.0, abs=1e-9)


def test_response_latency_only_when_the_other_party_spoke_last():
    turns = [
        Turn("agent", 0.0, 5.0),
        Turn("customer", 6.0, 8.0),  # answers after 1.0 s
        Turn("agent", 9.5, 20.0),  # answers after 1.5 s
        Turn("customer", 12.0, 12.5),  # back-channel inside the agent's turn: not an answer
        Turn("agent", 21.0, 22.0),  # the agent spoke last (until 20.0): not an answer
        Turn("customer", 21.5, 23.0),  # starts before the agent finished: no gap
        Turn("agent", 25.0, 26.0),  # answers after 2.0 s
    ]
    assert response_latencies_s(turns) == pytest.approx([1.0, 1.5, 2.0], abs=1e-9)
    assert mean_response_latency_s(turns) == pytest.approx(1.5, abs=1e-9)


def test_waiting_on_hold_is_not_response_latency():
    turns = [
        Turn("agent", 0.0, 3.0),
        Turn("customer", 3.5, 4.0),  # 0.5 s
        Turn("agent", 64.0, 66.0),  # back from a hold: excluded
        Turn("customer", 67.0, 68.0),  # 1.0 s
    ]
    assert mean_response_latency_s(turns, exclude=[Segment(4.0, 64.0)]) == pytest.approx(
        0.75, abs=1e-9
    )
    assert mean_response_latency_s([]) == 0.0
