"""Holds: an agent announces a hold, the line goes quiet, the agent comes back.

A hold starts at a silence that follows an agent's hold announcement and ends when the agent
speaks again.
"""

from __future__ import annotations

from collections.abc import Sequence

from rapidfuzz import fuzz

from pipeline.features._text import normalise_text
from pipeline.types import AGENT, Event, Segment, Turn


def is_hold_announcement(text: str, hold_phrases: Sequence[str], min_similarity: float) -> bool:
    """True when ``text`` contains one of ``hold_phrases`` (fuzzy substring, 0-100 similarity)."""
    normalised = normalise_text(text)
    if not normalised:
        return False
    return any(
        fuzz.partial_ratio(normalise_text(phrase), normalised) >= min_similarity
        for phrase in hold_phrases
    )


def find_holds(
    turns: Sequence[Turn],
    silences: Sequence[Segment],
    hold_phrases: Sequence[str],
    *,
    min_similarity: float,
    min_silence_s: float,
    announce_window_s: float,
    long_hold_s: float,
) -> list[Event]:
    """Announced holds as ``hold`` events (speaker ``agent``), in time order.

    A hold needs an agent turn that matches a hold phrase and ends at most ``announce_window_s``
    before a silence of at least ``min_silence_s`` (the customer may say "sure" in between). The
    hold runs from the start of that silence to the start of the agent's next turn, so a customer's
    "hello?" during the hold does not end it. Holds of ``long_hold_s`` or more say ``long_hold``
    in their detail.
    """
    agent_turns = sorted((t for t in turns if t.speaker == AGENT), key=lambda t: t.start_s)
    holds: list[Event] = []
    last_hold_end_s = float("-inf")
    for silence in silences:
        if silence.duration_s < min_silence_s or silence.start_s < last_hold_end_s:
            continue
        announcement = next(
            (
                turn
                for turn in reversed(agent_turns)
                if turn.start_s >= last_hold_end_s
                and silence.start_s - announce_window_s <= turn.end_s <= silence.start_s
                and is_hold_announcement(turn.text, hold_phrases, min_similarity)
            ),
            None,
        )
        if announcement is None:
            continue
        end_s = next(
            (t.start_s for t in agent_turns if t.start_s >= silence.end_s),
            silence.end_s,
        )
        duration_s = end_s - silence.start_s
        flag = "long_hold; " if duration_s >= long_hold_s else ""
        holds.append(
            Event(
                kind="hold",
                start_s=silence.start_s,
                end_s=end_s,
                speaker=AGENT,
                detail=f"{flag}announced at {announcement.start_s:.2f} s",
            )
        )
        last_hold_end_s = end_s
    return holds
