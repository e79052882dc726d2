"""Values asked for by name: after a PIN, social security, account, routing / sort code, IBAN or
date-of-birth cue, the numbers said in answer are redacted as that kind whatever shape ASR gave
them ("won for to 3", a digit lost, a repetition loop): the detectors read values exactly, and
ASR output is not exact. The answer starts within ``cue_window_words`` after the cue (or while it
is still being asked, on a call where the answer overlaps the question) and goes on while numbers
follow each other within ``stretch_gap_s`` (the agent's read-back included), until another cue.
Amounts, counts and years ("since twenty nineteen", "back in 2005") are not answers."""

from __future__ import annotations

from pipeline.redact.lexicon import YEAR_PREPOSITIONS
from pipeline.redact.numberlike import (
    joins_a_number,
    next_by_speaker,
    number_groups,
    plainly_not_card,
    year_digits,
)
from pipeline.redact.options import (
    ACCOUNT,
    DOB,
    IBAN,
    NEUTRAL,
    PIN,
    ROUTING,
    SSN,
    RedactionConfig,
)
from pipeline.redact.runs import Call, cue_end, cue_start, said_over

ANSWERED = (PIN, SSN, ACCOUNT, ROUTING, IBAN, DOB)


def cued_answers(
    call: Call,
    numeric: list[bool],
    kept: set[int],
    enabled: frozenset[str],
    config: RedactionConfig,
) -> dict[int, str]:
    """Position -> kind for every number said in answer to a cue of the kinds above."""
    skipped = _years(call, numeric) | kept
    # a date of birth is made of what is plainly no card data elsewhere: days, years
    skipped_in_dates = plainly_not_card(call, numeric, config, dates=False)
    tags: dict[int, str] = {}
    for p in range(len(call.words)):
        kind = cue_start(call, p)
        if kind not in ANSWERED or kind not in enabled:
            continue
        answer = _answer(call, p, numeric, skipped_in_dates if kind == DOB else skipped, config)
        for q in answer:
            tags.setdefault(q, kind)
    return tags


def _years(call: Call, numeric: list[bool]) -> set[int]:
    """Positions of years said as years: "since twenty nineteen", "back in 2005"."""
    years: set[int] = set()
    for group in number_groups(numeric):
        after_preposition = group[0] > 0 and call.norms[group[0] - 1] in YEAR_PREPOSITIONS
        if after_preposition and year_digits(call, group):
            years.update(group)
    return years


def _answer(
    call: Call, cue: int, numeric: list[bool], skipped: set[int], config: RedactionConfig
) -> list[int]:
    """The numbers said in answer to the cue at ``cue``: from the first one, within
    ``cue_window_words``, while they follow each other within ``stretch_gap_s``, with at most
    ``max_gap_words`` other words between them said in the same breath by the same speaker
    ("four five six, no wait, seven"); a new turn about something else ends it."""
    end = cue_end(call, cue)
    positions: list[int] = []
    cue = said_over(call, cue) - 1  # an answer may start while the question is being asked
    last_end_s = 0.0
    words_between = 0
    for q in range(cue + 1, len(call.words)):
        word = call.words[q]
        if positions and word.start_s - last_end_s > config.stretch_gap_s:
            break  # the answer is over
        if q >= end and call.cue_kinds[q] not in (None, NEUTRAL):
            break  # another question
        if numeric[q] and q not in skipped:
            positions.append(q)
            last_end_s, words_between = max(last_end_s, word.end_s), 0
            continue
        if not positions:
            if q - end >= config.cue_window_words:
                break  # no answer
            continue
        if joins_a_number(call.norms[q]):
            continue
        answerer, before = call.words[positions[0]], call.words[q - 1]
        if word.speaker != answerer.speaker:
            going_on = _next_number_said(call, positions[-1], numeric, config.segment_pause_s)
            if going_on is not None and going_on not in skipped:
                continue  # the other side talks over the end of the answer
        new_turn = (
            word.speaker != answerer.speaker
            or word.start_s - before.end_s >= config.segment_pause_s
            or before.word.rstrip()[-1:] in ".?!"  # a new sentence
        )
        words_between += 1
        if new_turn or words_between > config.max_gap_words:
            break
    return positions


def _next_number_said(call: Call, p: int, numeric: list[bool], pause_s: float) -> int | None:
    """The next number ``p``'s speaker says in the same breath, past words that join numbers
    ("um", "and"), if the breath goes on with one."""
    q = next_by_speaker(call, p, 1, pause_s)
    while q is not None and not numeric[q] and joins_a_number(call.norms[q]):
        q = next_by_speaker(call, q, 1, pause_s)
    return q if q is not None and numeric[q] else None
