"""Talk time, pace, monologues and response latency per speaker."""

from __future__ import annotations

from collections.abc import Sequence

from pipeline import timeline
from pipeline.types import AGENT, CUSTOMER, Segment, Turn, Word

_PARTIES = (AGENT, CUSTOMER)


def talk_time_s(turns: Sequence[Turn], speaker: str) -> float:
    """Seconds ``speaker`` talks: the union of their turns, so overlapping turns count once."""
    return timeline.total_s(Segment(t.start_s, t.end_s) for t in turns if t.speaker == speaker)


def talk_ratio(agent_talk_s: float, customer_talk_s: float) -> float:
    """Agent share of agent + customer talk, 0-1; 0.0 when neither spoke."""
    both_s = agent_talk_s + customer_talk_s
    return agent_talk_s / both_s if both_s > 0 else 0.0


def words_per_minute(words: Sequence[Word], speaker: str, talk_s: float) -> float:
    """Words said by ``speaker`` (``Word.speaker``) per minute of their talk time; 0 if silent."""
    if talk_s <= 0:
        return 0.0
    count = sum(1 for w in words if w.speaker == speaker and w.word.strip())
    return count / (talk_s / 60.0)


def longest_monologue_s(turns: Sequence[Turn], speaker: str, merge_gap_s: float) -> float:
    """Longest run of ``speaker``'s speech with no other party's turn starting inside it.

    Consecutive turns of ``speaker`` (by start time) join one run when the gap between them is
    shorter than ``merge_gap_s`` and no turn of the other party starts in between. A turn of the
    other party that starts while ``speaker`` is mid-turn does not cut that turn short, but it
    does end the run there. ``unknown`` turns are ignored.
    """
    longest_s = 0.0
    run_start_s = run_end_s = None
    for turn in sorted((t for t in turns if t.speaker in _PARTIES), key=lambda t: t.start_s):
        if turn.speaker != speaker:
            run_start_s = run_end_s = None
            continue
        if run_end_s is not None and turn.start_s - run_end_s < merge_gap_s:
            run_end_s = max(run_end_s, turn.end_s)
        else:
            run_start_s, run_end_s = turn.start_s, turn.end_s
        longest_s = max(longest_s, run_end_s - run_start_s)
    return longest_s


def response_latencies_s(turns: Sequence[Turn], exclude: Sequence[Segment] = ()) -> list[float]:
    """Gaps between one party finishing and the other party starting to answer, in time order.

    A turn is an answer when the other party spoke last (their latest turn end before this turn
    starts is later than this speaker's own) and it starts after that end. Gaps that overlap an
    ``exclude`` span (holds) are left out: waiting on hold is not a slow answer.
    """
    last_end_s = {AGENT: float("-inf"), CUSTOMER: float("-inf")}
    latencies: list[float] = []
    for turn in sorted((t for t in turns if t.speaker in _PARTIES), key=lambda t: t.start_s):
        other = CUSTOMER if turn.speaker == AGENT else AGENT
        heard_end_s = last_end_s[other]
        if heard_end_s > last_end_s[turn.speaker] and turn.start_s > heard_end_s:
            overlaps_excluded = any(
                span.start_s < turn.start_s and heard_end_s < span.end_s for span in exclude
            )
            if not overlaps_excluded:
                latencies.append(turn.start_s - heard_end_s)
        last_end_s[turn.speaker] = max(last_end_s[turn.speaker], turn.end_s)
    return latencies


def mean_response_latency_s(turns: Sequence[Turn], exclude: Sequence[Segment] = ()) -> float:
    """Mean of :func:`response_latencies_s`; 0.0 when nobody answered anybody."""
    latencies = response_latencies_s(turns, exclude)
    return sum(latencies) / len(latencies) if latencies else 0.0
