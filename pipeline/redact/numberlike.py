"""Which words are numbers, as fail-closed redaction reads them: digits anywhere in a word,
number words, and the words ASR writes for digits ("oh", "for", "free", "ate", "MO9") when said
with other digits; and which numbers are plainly not card data (an amount with its currency, a
count with its unit, a year after "since", a day said as an ordinal, "ending in 4444" alone)."""

from __future__ import annotations

import re

from pipeline import timeline
from pipeline.redact.lexicon import (
    FILLERS,
    HOMOPHONES,
    MONTHS,
    MULTIPLIERS,
    NOT_CARD_UNITS,
    OH_WORDS,
    ORDINAL_WORDS,
    parse_groups,
)
from pipeline.redact.options import RedactionConfig
from pipeline.redact.runs import Call
from pipeline.types import UNKNOWN, Segment

_CURRENCY_SIGNS = "$£€¥"
_ORDINAL_LITERAL = re.compile(r"^\d+(?:st|nd|rd|th)$")
# "at 10:30": a time of day (a bare "12:28" may be an expiry as ASR writes it)
_CLOCK = re.compile(r"^(?:[01]?\d|2[0-3]):[0-5]\d$")
# Words that may sit next to digits and be digits themselves: "oh", "double", "for"...
_AMBIGUOUS = OH_WORDS | frozenset(MULTIPLIERS) | frozenset(HOMOPHONES) | frozenset(MONTHS)
_SOUNDS_LIKE_DIGITS = OH_WORDS | frozenset(HOMOPHONES)
# Words between two parts of one number: "six not for", "oh ate slash 27", "oh nine of 28".
_JOINERS = frozenset({"not", "no", "or", "slash", "dash", "stroke", "hyphen", "of", "and"})
_LAST_FOUR = (("last", "four"), ("last", "4"), ("ending", "in"), ("ends", "in"),
              ("ending", "with"), ("ends", "with"))  # fmt: skip


def _has_digit(norm: str) -> bool:
    return any("0" <= char <= "9" for char in norm)


def number_like(call: Call, pause_s: float, gap_s: float) -> list[bool]:
    """Per position: a number, a digit anywhere in the word, or an ambiguous word ("oh",
    "for", "double", "may") or an ordinal said straight next to one of those, or an "oh" or
    "won" said last soon after a number."""
    n = len(call.norms)
    numeric = [False] * n
    for p, norm in enumerate(call.norms):
        if call.classes[p] == "cue":
            continue  # "three digit code", "16 digits", "last four"
        raw = call.words[p].word.strip()
        if raw[:1] in _CURRENCY_SIGNS or raw.rstrip(".,?!").endswith("%"):
            continue
        numeric[p] = call.classes[p] == "num" or (
            _has_digit(norm) and not _ORDINAL_LITERAL.match(norm)
        )
    changed = True
    while changed:  # "free for ate, 2 9": settle from the digits outwards
        changed = False
        for p, norm in enumerate(call.norms):
            if numeric[p] or call.classes[p] == "cue":
                continue
            maybe = norm in _AMBIGUOUS or norm in ORDINAL_WORDS or _ORDINAL_LITERAL.match(norm)
            if maybe and any(numeric[q] for q in neighbours(call, p, pause_s)):
                numeric[p] = changed = True
    for p, norm in enumerate(call.norms):
        if numeric[p] or call.classes[p] == "cue":
            continue
        if norm in _SOUNDS_LIKE_DIGITS and _trailing_digit(call, numeric, p, pause_s, gap_s):
            numeric[p] = True
        elif norm in _SOUNDS_LIKE_DIGITS and any(
            call.norms[q] in _SOUNDS_LIKE_DIGITS for q in neighbours(call, p, pause_s)
        ):
            numeric[p] = True  # "for won won?": digits all written as other words
    return numeric


def _trailing_digit(call: Call, numeric: list[bool], p: int, pause_s: float, gap_s: float) -> bool:
    """ "... 7970?" "Yep, oh": an "oh" (or "won", "free"...) that ends its speaker's breath,
    soon after a number, or is a breath of its own ("That's right." "Won.")."""
    if next_by_speaker(call, p, 1, pause_s) is not None:
        return False  # "oh, okay", "oh I see"
    if next_by_speaker(call, p, -1, pause_s) is None:
        return True
    start_s = call.words[p].start_s
    q = p - 1
    while q >= 0 and start_s - call.words[q].end_s <= gap_s:
        if numeric[q]:
            return True
        q -= 1
    return False


def neighbours(call: Call, p: int, pause_s: float) -> list[int]:
    """The words said in one breath with ``p`` by its speaker, just before and after it
    (another speaker's words in between skipped), and across a joining word: "six not for",
    "oh ate slash 27"; for a word that sounds like a digit and a month, also the words said
    straight before
    and after it by anyone (a mono call's diarization may split one breath)."""
    found = []
    for step in (-1, 1):
        q = next_by_speaker(call, p, step, pause_s)
        if q is not None and call.norms[q] in _JOINERS:
            q = next_by_speaker(call, q, step, pause_s)
        found += [next_by_speaker(call, p, step, pause_s), q]
        if call.norms[p] in _SOUNDS_LIKE_DIGITS or call.norms[p] in MONTHS:
            found.append(_next_in_time(call, p, step, pause_s))
    return [q for q in found if q is not None]


def _next_in_time(call: Call, p: int, step: int, pause_s: float) -> int | None:
    """The word said straight before or after ``p`` by anyone (on a mono call one breath may
    be split between two speakers), words said over it skipped."""
    word = call.words[p]
    q = p + step
    while 0 <= q < len(call.words) and abs(q - p) <= _INTERLEAVED + 1:
        other = call.words[q]
        left, right = (other, word) if step < 0 else (word, other)
        if right.start_s >= left.end_s - _OVERLAP_S:  # one after the other, not at once
            return q if right.start_s - left.end_s < pause_s else None
        q += step
    return None


# How many of another speaker's words may come between two words of one breath.
_INTERLEAVED = 3
# Words that overlap by more than this are said at once (cross-talk), not one after the other.
_OVERLAP_S = 0.05


def next_by_speaker(call: Call, p: int, step: int, pause_s: float) -> int | None:
    speaker = call.words[p].speaker
    q = p + step
    while 0 <= q < len(call.words) and abs(q - p) <= _INTERLEAVED + 1:
        other = call.words[q]
        if other.speaker == speaker or UNKNOWN in (speaker, other.speaker):
            left, right = (call.words[q], call.words[p]) if step < 0 else (call.words[p], other)
            return q if right.start_s - left.end_s < pause_s else None
        q += step
    return None


def joins_a_number(norm: str) -> bool:
    """A word that may sit between the parts of one number: "six not for", "um", "sorry"."""
    return norm in _JOINERS or norm in FILLERS


def number_groups(numeric: list[bool]) -> list[range]:
    """Runs of consecutive number-like positions."""
    groups: list[range] = []
    p = 0
    while p < len(numeric):
        if not numeric[p]:
            p += 1
            continue
        q = p
        while q + 1 < len(numeric) and numeric[q + 1]:
            q += 1
        groups.append(range(p, q + 1))
        p = q + 1
    return groups


def plainly_not_card(
    call: Call, numeric: list[bool], config: RedactionConfig, dates: bool = True
) -> set[int]:
    """Positions of number-like words that are plainly something else, wherever they are; with
    ``dates`` false, days and years are not among them (they make a date of birth)."""
    kept: set[int] = set()
    groups = number_groups(numeric)
    for index, group in enumerate(groups):
        after = group[-1] + 1
        next_word = call.norms[after] if after < len(call.norms) else ""
        before = call.norms[group[0] - 1] if group[0] > 0 else ""
        ordinals = all(
            _ORDINAL_LITERAL.match(call.norms[p]) or call.norms[p] in ORDINAL_WORDS for p in group
        )
        if (
            next_word in NOT_CARD_UNITS  # "forty nine dollars", "three times"
            or (before == "at" and len(group) == 1 and _CLOCK.match(call.norms[group[0]]))
            or (dates and ordinals)  # "the 28th"
            or (dates and before == "since" and year_digits(call, group))
            or _last_four_alone(call, groups, index, config.stretch_gap_s)
        ):
            kept.update(group)
    return kept


def _digits(call: Call, group: range) -> str:
    items = [item for p in group for item in call.items[p]]
    return "".join(g.digits for g in parse_groups(items))


def year_digits(call: Call, group: range) -> bool:
    """The group is a year: 19xx or 20xx, in digits or words."""
    digits = _digits(call, group)
    return len(digits) == 4 and digits[:2] in ("19", "20")


def _last_four_alone(call: Call, groups: list[range], index: int, gap_s: float) -> bool:
    """ "the card ending in 4444": four digits after "ending in" / "last four", with no other
    number said just before or after."""
    group = groups[index]
    if len(_digits(call, group)) != 4:
        return False
    cue_end = group[0]
    while cue_end > 0 and call.norms[cue_end - 1] in ("digits", "the", "is", "are", "of"):
        cue_end -= 1
    if tuple(call.norms[max(0, cue_end - 2) : cue_end]) not in _LAST_FOUR:
        return False
    words = call.words
    start_s, end_s = words[group[0]].start_s, max(words[p].end_s for p in group)
    if index > 0 and start_s - max(words[p].end_s for p in groups[index - 1]) <= gap_s:
        return False
    return index + 1 >= len(groups) or words[groups[index + 1][0]].start_s - end_s > gap_s


def stretches(call: Call, positions: list[int], gap_s: float) -> list[tuple[float, float]]:
    """The time spans of words said within ``gap_s`` of each other, in time order."""
    spans = (Segment(call.words[p].start_s, call.words[p].end_s) for p in positions)
    return [(s.start_s, s.end_s) for s in timeline.merge(spans, bridge_s=gap_s)]
