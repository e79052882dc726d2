"""Talk-over: where agent and customer speak at once, who cut in, and which were back-channels.

For each overlapping pair of agent and customer turns the overlap is a ``talkover`` event. The
speaker whose turn started later, while the other's turn was running, is the one who cut in
(the event's ``speaker``; empty when both started at the same instant). A cut-in is an
``interruption`` unless the cutting-in turn is a back-channel — shorter than ``backchannel_max_s``
or made only of back-channel words ("mm-hm", "yeah", "right") — which gives a ``backchannel``
event instead. Back-channels therefore count as talk-over but never as interruptions.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from itertools import accumulate

from pipeline.features._text import normalise_text
from pipeline.types import AGENT, CUSTOMER, Event, Turn


def backchannel_key(text: str) -> str:
    """The form back-channel words are compared in: normalised, hyphens and spaces removed."""
    return normalise_text(text.replace("-", "")).replace(" ", "")


def is_backchannel(
    turn: Turn, backchannel_max_s: float, backchannel_words: Collection[str]
) -> bool:
    """True when ``turn`` is too short to be a real turn or says only back-channel words.

    The words may come in any order and spacing ("uh huh", "uh-huh", "I see,
    yeah"): the turn's words must split into consecutive pieces that each are a back-channel word.
    """
    if turn.duration_s < backchannel_max_s:
        return True
    tokens = normalise_text(turn.text.replace("-", "")).split()
    if not tokens:
        return False
    keys = {backchannel_key(word) for word in backchannel_words}
    longest = max(
        (len(normalise_text(w.replace("-", " ")).split()) for w in backchannel_words), default=1
    )
    # covered[i]: the first i tokens split into back-channel pieces.
    covered = [True] + [False] * len(tokens)
    for end in range(1, len(tokens) + 1):
        covered[end] = any(
            covered[start] and "".join(tokens[start:end]) in keys
            for start in range(max(0, end - longest), end)
        )
    return covered[-1]


def find_talkovers(
    turns: Sequence[Turn],
    *,
    talkover_min_s: float,
    backchannel_max_s: float,
    backchannel_words: Collection[str],
) -> list[Event]:
    """``talkover`` events plus an ``interruption`` or ``backchannel`` per cut-in, in time order.

    Overlaps shorter than ``talkover_min_s`` are ignored: turn boundaries from diarization jitter
    by a few hundred milliseconds, and a tiny overlap at a hand-over is not talking over anyone.
    Every event spans the overlap itself.
    """
    agent_turns = sorted((t for t in turns if t.speaker == AGENT), key=lambda t: t.start_s)
    customer_turns = sorted((t for t in turns if t.speaker == CUSTOMER), key=lambda t: t.start_s)
    # Running maximum of customer turn ends lets the sweep skip turns that are over for good.
    max_end_s = list(accumulate((t.end_s for t in customer_turns), max))
    events: list[Event] = []
    first = 0
    for agent_turn in agent_turns:
        while first < len(customer_turns) and max_end_s[first] <= agent_turn.start_s:
            first += 1
        for customer_turn in customer_turns[first:]:
            if customer_turn.start_s >= agent_turn.end_s:
                break
            start_s = max(agent_turn.start_s, customer_turn.start_s)
            end_s = min(agent_turn.end_s, customer_turn.end_s)
            if end_s - start_s < talkover_min_s:
                continue
            if customer_turn.start_s > agent_turn.start_s:
                cutting_in = customer_turn
            elif agent_turn.start_s > customer_turn.start_s:
                cutting_in = agent_turn
            else:
                events.append(Event("talkover", start_s, end_s, "", "simultaneous start"))
                continue
            kind = (
                "backchannel"
                if is_backchannel(cutting_in, backchannel_max_s, backchannel_words)
                else "interruption"
            )
            events.append(Event("talkover", start_s, end_s, cutting_in.speaker, kind))
            events.append(Event(kind, start_s, end_s, cutting_in.speaker, cutting_in.text))
    return sorted(events, key=lambda e: (e.start_s, e.end_s, e.kind))
