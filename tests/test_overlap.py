"""features/overlap.py: talk-over spans, who cut in, back-channels versus interruptions."""

import pytest

from pipeline.features import DEFAULT_BACKCHANNEL_WORDS
from pipeline.features.overlap import find_talkovers, is_backchannel
from pipeline.types import Turn, Word


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


# --- the rules as a table: what a QA team (and AWS Transcribe Call Analytics) would count --------
#
# Each row is a hand-made pattern of turns (and, where it matters, word timings) and what it is:
# ("interruption", who cut in), ("backchannel", who said it), or ("simultaneous start", "").


def W(speaker, start_s, end_s, word):  # noqa: N802 - reads like the table it builds
    return Word(start_s, end_s, word, 0.9, speaker)


TALKOVER_PATTERNS = [
    pytest.param(
        [Turn("agent", 0.0, 6.0, "So your plan includes unlimited calls and"),
         Turn("customer", 3.0, 7.0, "No, I asked about the data allowance")],
        [], [("interruption", "customer")],
        id="customer cuts in mid-sentence and takes the floor",
    ),
    pytest.param(
        [Turn("customer", 0.0, 8.0, "I have been trying to pay this bill for three weeks now"),
         Turn("agent", 4.0, 5.5, "Let me stop you there")],
        [], [("interruption", "agent")],
        id="agent cuts in and the customer talks on: still the agent's interruption",
    ),
    pytest.param(
        [Turn("agent", 0.0, 8.0, "Your new plan starts on the first of next month"),
         Turn("customer", 3.0, 3.5, "mm-hm")],
        [], [("backchannel", "customer")],
        id="mm-hm inside the agent's turn",
    ),
    pytest.param(
        [Turn("agent", 0.0, 8.0, "And then you will get a confirmation email with the details"),
         Turn("customer", 3.0, 5.0, "Yeah, okay, right, uh-huh.")],
        [], [("backchannel", "customer")],
        id="two seconds of back-channel words are still a back-channel",
    ),
    pytest.param(
        [Turn("agent", 0.0, 6.0, "I have applied the credit to your account, so the bill will"),
         Turn("customer", 5.6, 6.2, "Brilliant,"),
         Turn("customer", 6.7, 8.4, "thank you, that's perfect")],
        [], [("interruption", "customer")],
        id="'Brilliant, - thank you, that's perfect' over the agent is the start of a turn",
    ),
    pytest.param(
        [Turn("agent", 0.0, 6.0, "so that is the whole plan for the next three months"),
         Turn("customer", 5.5, 5.9, "mm-hm"),
         Turn("customer", 7.5, 9.0, "and what about the price")],
        [], [("backchannel", "customer")],
        id="mm-hm, then a new turn after a real pause: the mm-hm stays a back-channel",
    ),
    pytest.param(
        [Turn("customer", 10.0, 11.6, "Are you still there?"),
         Turn("agent", 10.0, 11.4, "Yes. Whatever.")],
        [W("customer", 10.05, 10.25, "Are"), W("customer", 10.25, 10.4, "you"),
         W("customer", 10.4, 10.7, "still"), W("customer", 10.7, 11.5, "there?"),
         W("agent", 10.6, 10.9, "Yes."), W("agent", 11.0, 11.4, "Whatever.")],
        [("interruption", "agent")],
        id="'Yes. Whatever.' said into 'Are you still there?': the words show who cut in",
    ),
    pytest.param(
        [Turn("agent", 20.0, 22.0, "So what I can do is"),
         Turn("customer", 20.1, 21.5, "Can you just tell me")],
        [], [("simultaneous start", "")],
        id="both start together after a silence: nobody's interruption",
    ),
    pytest.param(
        [Turn("agent", 0.0, 5.0, "How can I help you today"),
         Turn("customer", 4.85, 8.0, "I want to cancel my contract")],
        [], [],
        id="a 0.15 s overlap at the hand-over is not talking over anyone",
    ),
    pytest.param(
        [Turn("agent", 0.0, 5.0, "please hold"), Turn("unknown", 1.0, 4.0, "music")],
        [], [],
        id="an unknown speaker never talks over",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("turns", "words", "expected"), TALKOVER_PATTERNS)
def test_talkover_patterns(turns, words, expected):
    from pipeline.features import FeatureOptions

    options = FeatureOptions()
    events = find_talkovers(
        turns,
        talkover_min_s=options.talkover_min_s,
        backchannel_max_s=options.backchannel_max_s,
        backchannel_words=options.backchannel_words,
        simultaneous_start_s=options.simultaneous_start_s,
        turn_continuation_s=options.turn_continuation_s,
        words=words,
    )
    verdicts = [(e.kind, e.speaker) for e in events if e.kind in ("interruption", "backchannel")]
    verdicts += [(e.detail, "") for e in events if e.detail == "simultaneous start"]
    assert verdicts == expected
    # every verdict sits on a talk-over of its own
    assert len([e for e in events if e.kind == "talkover"]) == len(expected)


def test_the_same_turns_without_word_timings_are_a_simultaneous_start():
    """Guards the 'Yes. Whatever.' row: the turns alone start together; only the words tell."""
    turns = [Turn("customer", 10.0, 11.6, "Are you still there?"), Turn("agent", 10.0, 11.4, "Yes. Whatever.")]
    events = find_talkovers(
        turns, talkover_min_s=0.25, backchannel_max_s=1.0,
        backchannel_words=DEFAULT_BACKCHANNEL_WORDS, simultaneous_start_s=0.2,
    )  # fmt: skip
    assert [e.detail for e in events] == ["simultaneous start"]
