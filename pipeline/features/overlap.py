"""Talk-over: where agent and customer speak at once, who cut in, and which were back-channels.

Counted the way QA teams and AWS Transcribe Call Analytics count interruptions ("one participant
cuts off the other mid-sentence"):

- For each overlapping pair of agent and customer turns the overlap is a ``talkover`` event
  (overlaps shorter than ``talkover_min_s`` are hand-over jitter and ignored).
- Whoever started speaking later, while the other was already talking, cut in (the event's
  ``speaker``). When a speaker's words are known, their first word marks when they started:
  a turn boundary can run early, a word cannot.
- Both started within ``simultaneous_start_s`` of each other: a ``simultaneous start``, nobody's
  interruption.
- A cut-in is a ``backchannel`` when what the speaker says from there on, up to their next
  pause longer than ``turn_continuation_s``, is short (under ``backchannel_max_s``) or only
  back-channel words ("mm-hm", "yeah", "right"); otherwise it is an ``interruption``. So
  "Brilliant, — thank you, that's perfect" starting over the agent is the start of a turn (an
  interruption), and "mm-hm" is not, even when a new turn follows after a real pause.

Every cut-in gives one ``talkover`` plus one ``interruption`` or ``backchannel``; a simultaneous
start gives a ``talkover`` only.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from pipeline.features._text import normalise_text
from pipeline.types import AGENT, CUSTOMER, Event, Turn, Word


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


def utterance_from(turn: Turn, own_turns: Sequence[Turn], turn_continuation_s: float) -> Turn:
    """``turn`` joined with the same speaker's turns that follow it after pauses shorter than
    ``turn_continuation_s``: what the speaker says from there until they really stop."""
    start_s, end_s, texts = turn.start_s, turn.end_s, [turn.text]
    for later in own_turns:
        if later.start_s <= turn.start_s:
            continue
        if later.start_s - end_s > turn_continuation_s:
            break
        end_s = max(end_s, later.end_s)
        texts.append(later.text)
    return Turn(turn.speaker, start_s, end_s, " ".join(t for t in texts if t))


def speech_start_s(turn: Turn, words: Sequence[Word]) -> float:
    """When the turn's speaker starts saying something: their first word inside the turn, or the
    turn's own start when no word is known."""
    starts = [
        w.start_s
        for w in words
        if w.speaker == turn.speaker and turn.start_s <= (w.start_s + w.end_s) / 2 <= turn.end_s
    ]
    return max(turn.start_s, min(starts)) if starts else turn.start_s


def find_talkovers(
    turns: Sequence[Turn],
    *,
    talkover_min_s: float,
    backchannel_max_s: float,
    backchannel_words: Collection[str],
    simultaneous_start_s: float = 0.0,
    turn_continuation_s: float = 0.0,
    words: Sequence[Word] = (),
) -> list[Event]:
    """``talkover`` events plus an ``interruption`` or ``backchannel`` per cut-in, in time order.

    Every event spans the overlap itself; the back-channel/interruption event's ``detail`` is
    what the speaker who cut in said.
    """
    by_speaker = {
        speaker: sorted((t for t in turns if t.speaker == speaker), key=lambda t: t.start_s)
        for speaker in (AGENT, CUSTOMER)
    }
    events: list[Event] = []
    for agent_turn in by_speaker[AGENT]:
        for customer_turn in by_speaker[CUSTOMER]:
            if customer_turn.start_s >= agent_turn.end_s:
                break
            start_s = max(agent_turn.start_s, customer_turn.start_s)
            end_s = min(agent_turn.end_s, customer_turn.end_s)
            if end_s - start_s < talkover_min_s:
                continue
            agent_start = speech_start_s(agent_turn, words)
            customer_start = speech_start_s(customer_turn, words)
            if abs(agent_start - customer_start) <= simultaneous_start_s:
                events.append(Event("talkover", start_s, end_s, "", "simultaneous start"))
                continue
            cutting_in = customer_turn if customer_start > agent_start else agent_turn
            said = utterance_from(cutting_in, by_speaker[cutting_in.speaker], turn_continuation_s)
            kind = (
                "backchannel"
                if is_backchannel(said, backchannel_max_s, backchannel_words)
                else "interruption"
            )
            events.append(Event("talkover", start_s, end_s, cutting_in.speaker, kind))
            events.append(Event(kind, start_s, end_s, cutting_in.speaker, said.text))
    return sorted(events, key=lambda e: (e.start_s, e.end_s, e.kind))
