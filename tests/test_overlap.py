"""features/overlap.py: talk-over spans, who cut in, back-channels versus interruptions."""

import pytest

from pipeline.features import DEFAULT_BACKCHANNEL_WORDS
from pipeline.features.overlap import find_talkovers, is_backchannel
from pipeline.types import Turn


def talkovers(turns, talkover_min_s=0.25, backchannel_max_s=1.0):
    events = find_talkovers(
        turns,
        talkover_min_s=talkover_min_s,
        backchannel_max_s=backchannel_max_s,
        backchannel_words=DEFAULT_BACKCHANNEL_WORDS,
    )
    return [(e.kind, e.start_s, e.end_s, e.speaker) for e in events]


def test_customer_cutting_in_is_a_customer_interruption():
    turns = [
        Turn("agent", 0.0, 10.0, "So the plan includes unlimited calls and texts and"),
        Turn("customer", 8.0, 12.0, "Wait, that is not what I asked about"),
    ]
    assert talkovers(turns) == [
        ("interruption", 8.0, 10.0, "customer"),
        ("talkover", 8.0, 10.0, "customer"),
    ]


def test_agent_cutting_in_is_an_agent_interruption():
    turns = [
        Turn("customer", 20.0, 30.0, "I have been trying to pay this bill for weeks"),
        Turn("agent", 25.0, 28.0, "Let me stop you there sir"),
    ]
    assert talkovers(turns) == [
        ("interruption", 25.0, 28.0, "agent"),
        ("talkover", 25.0, 28.0, "agent"),
    ]


def test_short_cut_in_is_a_backchannel_not_an_interruption():
    turns = [
        Turn("agent", 0.0, 10.0, "Your new plan starts on the first of the month"),
        Turn("customer", 5.0, 5.6, "Mm-hm."),
    ]
    assert talkovers(turns) == [
        ("backchannel", 5.0, 5.6, "customer"),
        ("talkover", 5.0, 5.6, "customer"),
    ]


def test_backchannel_words_count_as_backchannel_however_long():
    turns = [
        Turn("agent", 0.0, 10.0, "And then you will get a confirmation email"),
        Turn("customer", 4.0, 6.0, "Yeah, okay, right, uh-huh."),
    ]
    assert [kind for kind, *_ in talkovers(turns)] == ["backchannel", "talkover"]


def test_overlap_shorter_than_the_minimum_is_ignored():
    turns = [
        Turn("agent", 0.0, 5.0, "How can I help you today"),
        Turn("customer", 4.9, 8.0, "I want to cancel my contract"),
    ]
    assert talkovers(turns) == []
    assert talkovers(turns, talkover_min_s=0.0)[0][0] == "interruption"


def test_simultaneous_start_is_talkover_without_culprit():
    turns = [
        Turn("agent", 3.0, 5.0, "So what I can do"),
        Turn("customer", 3.0, 4.0, "Can you just tell me"),
    ]
    assert talkovers(turns) == [("talkover", 3.0, 4.0, "")]


def test_unknown_speaker_never_talks_over():
    turns = [Turn("agent", 0.0, 5.0, "hello"), Turn("unknown", 1.0, 4.0, "music")]
    assert talkovers(turns) == []


def test_one_agent_turn_overlapping_two_customer_turns():
    turns = [
        Turn("customer", 0.0, 3.0, "My internet keeps dropping out"),
        Turn("agent", 2.0, 9.0, "I see, let me run a line test for you now"),
        Turn("customer", 6.0, 6.5, "Okay."),
        Turn("customer", 8.0, 12.0, "It happens every evening around seven"),
    ]
    assert talkovers(turns) == [
        ("interruption", 2.0, 3.0, "agent"),
        ("talkover", 2.0, 3.0, "agent"),
        ("backchannel", 6.0, 6.5, "customer"),
        ("talkover", 6.0, 6.5, "customer"),
        ("interruption", 8.0, 9.0, "customer"),
        ("talkover", 8.0, 9.0, "customer"),
    ]


def test_a_long_customer_turn_is_not_skipped_by_the_sweep():
    turns = [
        Turn("customer", 0.0, 30.0, "A very long complaint about everything that went wrong"),
        Turn("customer", 1.0, 2.0, "um"),
        Turn("agent", 20.0, 22.0, "I understand, and I will fix that"),
    ]
    assert talkovers(turns) == [
        ("interruption", 20.0, 22.0, "agent"),
        ("talkover", 20.0, 22.0, "agent"),
    ]


@pytest.mark.parametrize(
    ("text", "duration_s", "expected"),
    [
        ("mm-hmm", 1.5, True),
        ("Uh huh", 1.5, True),
        ("I see.", 1.2, True),
        ("no, that is wrong", 1.5, False),
        ("wait", 0.5, True),  # too short to be a turn of its own
        ("", 1.5, False),
    ],
)
def test_is_backchannel(text, duration_s, expected):
    turn = Turn("customer", 0.0, duration_s, text)
    assert is_backchannel(turn, 1.0, DEFAULT_BACKCHANNEL_WORDS) is expected
