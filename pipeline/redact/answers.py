"""Values asked for by name: after a PIN, social security, account, routing / sort code, IBAN or
date-of-birth cue, the answer is redacted as that kind whatever shape ASR gave it ("won for to
3", a digit lost, a repetition loop, "time" for "nine"): the detectors read values exactly, and
ASR output is not exact. The answer starts within ``cue_window_words`` after the cue (or while it
is still being asked, on a call where the answer overlaps the question) and goes on while numbers
follow each other within ``stretch_gap_s`` (the agent's read-back included), until another cue,
a sentence that is not a number, or the other side's turn. Every word of the answerer between its
numbers is redacted, and the words said straight before and after them that do not frame an
answer ("it's", "yeah", "thanks"): ASR writes digits as other words ("4 5 time 2", "mirror 7
0"). The answer's whole stretch, up to the words around it, is silenced in the audio. Amounts,
counts and years ("since twenty nineteen", "back in 2005") are not answers."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.redact.lexicon import ANSWER_FRAME, OH_WORDS, YEAR_PREPOSITIONS
from pipeline.redact.numberlike import (
    currency_signed,
    joins_a_number,
    number_groups,
    plainly_not_card,
    year_digits,
)
from pipeline.redact.options import (
    ACCOUNT,
    DOB,
    IBAN,
    NEGATIVE,
    NEUTRAL,
    PIN,
    ROUTING,
    SSN,
    Redaction,
    RedactionConfig,
)
from pipeline.redact.runs import (
    Call,
    cue_end,
    cue_start,
    in_line,
    next_by_speaker,
    said_over,
)
from pipeline.types import UNKNOWN

ANSWERED = (PIN, SSN, ACCOUNT, ROUTING, IBAN, DOB)
# Words that overlap by more than this are said at once, not one after the other.
_OVERLAP_S = 0.05
# How many words straight before or after an answer's numbers may be digits ASR wrote as words.
_EDGE_WORDS = 2
# A change of speaker with less silence than this between two words, one after the other, is
# one breath that a mono call's diarization split, not a turn ("1" customer, "Mabel 7." agent).
_SPLIT_GAP_S = 0.25


@dataclass(frozen=True)
class CuedAnswers:
    """What the answers to cues add: the words to tag (position -> kind) and each answer's
    stretch to silence, with its kind."""

    tags: dict[int, str]
    stretches: list[Redaction]


def cued_answers(
    call: Call,
    numeric: list[bool],
    kept: set[int],
    enabled: frozenset[str],
    config: RedactionConfig,
) -> CuedAnswers:
    """Every answer to a cue of the kinds above: its words, and its stretch."""
    skipped = _years(call, numeric) | kept
    # a date of birth is made of what is plainly no card data elsewhere: days, years
    skipped_in_dates = plainly_not_card(call, numeric, config, dates=False)
    tags: dict[int, str] = {}
    stretches: list[Redaction] = []
    for p in range(len(call.words)):
        kind = cue_start(call, p)
        if kind not in ANSWERED or kind not in enabled:
            continue
        numbers, between = _answer(
            call, p, numeric, skipped_in_dates if kind == DOB else skipped, config
        )
        if not numbers:
            continue
        edges = _edge_words(call, numbers, cue_end(call, p), numeric, config.segment_pause_s)
        answer = sorted({*numbers, *between, *edges})
        for q in answer:
            tags.setdefault(q, kind)
        stretches.append(_stretch(call, kind, answer, config.segment_pause_s))
    return CuedAnswers(tags, stretches)


def _years(call: Call, numeric: list[bool]) -> set[int]:
    """Positions of years said as years: "since twenty nineteen", "back in 2005"."""
    years: set[int] = set()
    for group in number_groups(call, numeric):
        before = in_line(call, group[0], -1)
        after_preposition = before is not None and call.norms[before] in YEAR_PREPOSITIONS
        if after_preposition and year_digits(call, group):
            years.update(group)
    return years


def _answer(
    call: Call, cue: int, numeric: list[bool], skipped: set[int], config: RedactionConfig
) -> tuple[list[int], list[int]]:
    """The numbers said in answer to the cue at ``cue``, and the answerer's other words between
    them in one breath: from the first number, within ``cue_window_words``, while they follow each other
    within ``stretch_gap_s``, with at most ``max_gap_words`` other words between them said in
    the same breath by the same speaker ("four five six, no wait, seven"); a new turn about
    something else, or a sentence that is not a number, ends it."""
    end = cue_end(call, cue)
    asker = call.words[cue].speaker
    positions: list[int] = []
    between: list[int] = []
    pending: list[int] = []  # the answerer's words since its latest number
    paused = False  # a pause since the latest number: a new breath
    cue = said_over(call, cue) - 1  # an answer may start while the question is being asked
    last_end_s = 0.0
    words_between = 0
    voice = ""  # the answerer: its first number's speaker, then whoever a split breath went on
    latest = -1  # the answerer's latest word
    for q in range(cue + 1, len(call.words)):
        word = call.words[q]
        if positions and word.start_s - last_end_s > config.stretch_gap_s:
            break  # the answer is over
        if (
            q >= end
            and call.cue_kinds[q] not in (None, NEUTRAL)
            and not _misheard_digit_cue(call, q, numeric, skipped, config.segment_pause_s)
        ):
            if positions and _said_over_the_answer(call, latest, q, numeric, skipped):
                continue  # "8 -5 | All | -9.": the answer's line is not over
            break  # another question
        pause_s = config.segment_pause_s
        if positions and word.start_s - call.words[q - 1].end_s >= pause_s:
            paused = True
        if not positions and numeric[q] and _own_amount(call, asker, end, q):
            continue  # the asker goes on about money once the question is answered
        if numeric[q] and q not in skipped:
            if not positions or _split(call, latest, q, pause_s):
                voice = word.speaker
            if not paused:
                between += pending  # words said between numbers in one breath
            positions.append(q)
            latest = q
            pending, paused = [], False
            last_end_s, words_between = max(last_end_s, word.end_s), 0
            continue
        if not positions:
            if q - end >= config.cue_window_words:
                break  # no answer
            continue
        before = call.words[latest]  # the answerer's word before: not a question said over it
        own = _same_speaker(word.speaker, voice)
        if not own and _split(call, latest, q, pause_s):
            own, voice = True, word.speaker
        if own:
            latest = q
        if joins_a_number(call.norms[q]):
            continue  # "six not for", "the ninth of May", "um": no digit
        if not own:
            last_own = pending[-1] if pending else positions[-1]
            allowed = config.max_gap_words - words_between
            if _goes_on_with_a_number(call, last_own, numeric, skipped, pause_s, allowed):
                continue  # the other side talks over the answer
            break
        new_sentence = (
            paused or before.word.rstrip()[-1:] in ".?!" or _sentence_ended(call, positions[-1], q)
        )
        # ... unless it is a word between numbers: "483. mirror 3, 18" (Whisper puts full
        # stops inside numbers)
        if new_sentence and not _goes_on_with_a_number(call, q, numeric, skipped, pause_s, 0):
            break
        words_between += 1
        if words_between > config.max_gap_words:
            break
        if not numeric[q]:
            pending.append(q)
    return positions, between


def _said_over_the_answer(
    call: Call, latest: int, q: int, numeric: list[bool], skipped: set[int]
) -> bool:
    """The other side's word at ``q`` is said over the answer, whose speaker goes on with a
    number in the same line after it: a transcript writes the answer whole, and then what the
    other side said ("All done" under the last digit of an account number)."""
    after = in_line(call, latest, 1)
    return after is not None and after > q and numeric[after] and after not in skipped


def _own_amount(call: Call, asker: str, since: int, q: int) -> bool:
    """The asker states a sum written with its currency sign after the other side has replied:
    "what is the destination account?" "Checking." "So $135 has been transferred": an amount,
    not the answer. Said by the other side, or with no reply between, it may be the answer
    written so, and is not kept."""
    replied = any(not _same_speaker(call.words[r].speaker, asker) for r in range(since, q))
    return call.words[q].speaker == asker != UNKNOWN and replied and currency_signed(call, q)


def _same_speaker(said_by: str, answerer: str) -> bool:
    return said_by == answerer or UNKNOWN in (said_by, answerer)


def _sentence_ended(call: Call, last_number: int, q: int) -> bool:
    """A sentence ended after the latest number, and another began that is no number:
    "nineteen forty three. It's been like that since 2014"."""
    return any(call.words[r].word.rstrip()[-1:] in ".?!" for r in range(last_number, q))


def _edge_words(
    call: Call, numbers: list[int], start: int, numeric: list[bool], pause_s: float
) -> list[int]:
    """The answerer's words said straight before its first number (after the cue, from
    ``start``) and straight after its last, up to ``_EDGE_WORDS`` each side, that are not
    numbers, cues or words that frame an answer: digits the ASR wrote as other words ("It's
    time 4 5 2", "4 5 2 mirror")."""
    found: list[int] = []
    for step, edge in ((-1, numbers[0]), (1, numbers[-1])):
        q = _next_in_breath(call, edge, step, pause_s)
        if step > 0 and call.words[edge].word.rstrip()[-1:] in ".?!":
            continue  # the answer's sentence is over: "... 4 8 1 6. I've been with you since"
        for _ in range(_EDGE_WORDS):
            if (
                q is None
                or q < start
                or numeric[q]
                or not _unframed(call, q, step, numeric, pause_s)
            ):
                break
            if (
                step > 0
                and call.classes[q] == "cue"
                and _goes_on_with_a_number(call, q, numeric, set(), pause_s, _EDGE_WORDS)
            ):
                break  # a cue for what follows: "4 5 6 7, phone 555..."
            if step < 0 and call.words[q].word.rstrip()[-1:] in ".?!":
                break  # the end of the sentence before the answer
            found.append(q)
            if step > 0 and call.words[q].word.rstrip()[-1:] in ".?!":
                break  # the end of the answer's sentence
            q = _next_in_breath(call, q, step, pause_s)
    return found


def _unframed(call: Call, q: int, step: int, numeric: list[bool], pause_s: float) -> bool:
    """A word, not punctuation alone, a unit or a word that frames an answer ("oh" does not:
    next to an answer it is more likely a zero, "It's oh hive, eleven"); before the answer
    not a cue either, unless a digit misheard ("floor, 0, 1, 4" for "four, oh, one, four").
    After it a cue word may be a digit misheard ("7 floor." for "seven four"), unless a number
    follows it."""
    norm = call.norms[q]
    if not norm or call.classes[q] == "break":
        return False
    if norm in ANSWER_FRAME and norm not in OH_WORDS:
        return False
    if step > 0 or call.classes[q] != "cue":
        return True
    return _misheard_digit_cue(call, q, numeric, set(), pause_s)


def _stretch(call: Call, kind: str, answer: list[int], pause_s: float) -> Redaction:
    """The answer's time span, widened into the silence around it (by ``pause_s`` at most,
    never over another word): a digit the ASR left out at either end is silenced too."""
    first_s = min(call.words[p].start_s for p in answer)
    last_s = max(call.words[p].end_s for p in answer)
    inside = set(answer)
    ends_before = [
        w.end_s for p, w in enumerate(call.words) if p not in inside and w.end_s <= first_s
    ]
    starts_after = [
        w.start_s for p, w in enumerate(call.words) if p not in inside and w.start_s >= last_s
    ]
    start_s = max([first_s - pause_s, *ends_before])
    end_s = min([last_s + pause_s, *starts_after])
    return Redaction(kind, max(0.0, start_s), end_s)


def _goes_on_with_a_number(
    call: Call,
    p: int,
    numeric: list[bool],
    skipped: set[int],
    pause_s: float,
    other_words: int,
) -> bool:
    """``p``'s speaker goes on in the same breath with a number (not one of ``skipped``), past
    words that join numbers ("um", "and") and at most ``other_words`` other words."""
    q = _next_in_breath(call, p, 1, pause_s)
    while q is not None and not numeric[q]:
        if not joins_a_number(call.norms[q]):
            if other_words <= 0:
                return False
            other_words -= 1
        q = _next_in_breath(call, q, 1, pause_s)
    return q is not None and q not in skipped


def _split(call: Call, p: int, q: int, pause_s: float) -> bool:
    """``q`` is said straight after ``p`` by another speaker, without a pause between and with
    ``p``'s speaker saying no more in that breath: one breath that a mono call's diarization
    split (not the other side talking over it)."""
    if q != p + 1 or next_by_speaker(call, p, 1, pause_s) is not None:
        return False
    gap_s = call.words[q].start_s - call.words[p].end_s
    return -_OVERLAP_S <= gap_s < _SPLIT_GAP_S


def _next_in_breath(call: Call, p: int, step: int, pause_s: float) -> int | None:
    """The word ``p``'s speaker says next (``step`` 1) or said before (-1) in the same breath, or
    where there is none, the word said straight next to it by another speaker without a pause
    (a breath that a mono call's diarization split)."""
    q = next_by_speaker(call, p, step, pause_s)
    if q is not None:
        return q
    other = p + step
    if not 0 <= other < len(call.words):
        return None
    return other if _split(call, min(p, other), max(p, other), pause_s) else None


def _misheard_digit_cue(
    call: Call, q: int, numeric: list[bool], skipped: set[int], pause_s: float
) -> bool:
    """A one-word cue for a number that is not asked for here ("floor", "unit", "gate") said in
    an answer straight before a number of the same breath: a digit misheard ("two floor 15"
    for "two four one five"), not a question; a question ends with its question mark."""
    phrase = call.cue_phrases[q]
    one_word = phrase is None or len(phrase) == 1
    asked = call.words[q].word.rstrip()[-1:] == "?"
    return (
        one_word
        and not asked
        and call.cue_kinds[q] == NEGATIVE
        and _goes_on_with_a_number(call, q, numeric, skipped, pause_s, 0)
    )
