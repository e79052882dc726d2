"""Which words are numbers, as fail-closed redaction reads them: digits anywhere in a word,
number words, and the words ASR writes for digits ("oh", "for", "free", "ate", "MO9") when said
with other digits; and which numbers are plainly not card data (an amount with its currency, a
count with its unit, a year after "since", a day said as an ordinal, "ending in 4444" alone)."""

from __future__ import annotations

import re

from pipeline import timeline
from pipeline.redact.lexicon import (
    CURRENCY_WORDS,
    FILLERS,
    HOMOPHONES,
    MONTHS,
    MULTIPLIERS,
    NOT_CARD_UNITS,
    OH_WORDS,
    ORDINAL_WORDS,
    parse_groups,
)
from pipeline.redact.options import EXPIRY, RedactionConfig
from pipeline.redact.runs import Call, in_line, next_by_speaker
from pipeline.types import UNKNOWN, Segment

_CURRENCY_SIGNS = "$£€¥"
_ORDINAL_LITERAL = re.compile(r"^\d+(?:st|nd|rd|th)$")
# "at 10:30": a time of day (a bare "12:28" may be an expiry as ASR writes it)
_CLOCK = re.compile(r"^(?:[01]?\d|2[0-3]):[0-5]\d$")
# Words that may sit next to digits and be digits themselves: "oh", "double", "for"...
# ... and "one", which lexing takes for a pronoun after "that" ("that one"): "That's one too too five."
_AMBIGUOUS = OH_WORDS | frozenset(MULTIPLIERS) | frozenset(HOMOPHONES) | frozenset(MONTHS) | {"one"}
_SOUNDS_LIKE_DIGITS = OH_WORDS | frozenset(HOMOPHONES)
# Ambiguous words read with the words said next to them by anyone, not only by their speaker.
_ACROSS_SPEAKERS = _SOUNDS_LIKE_DIGITS | frozenset(MONTHS) | frozenset(MULTIPLIERS)
# Words between two parts of one number: "six not for", "oh ate slash 27", "oh nine of 28".
_JOINERS = frozenset({"not", "no", "or", "slash", "dash", "stroke", "hyphen", "of", "and"})
_CENTS = frozenset({"cent", "cents", "pence", "p"})
_PRICE = re.compile(r"^[$£€¥]\d[\d,]*\.\d\d[.,?!]*$")
_SIGNED = re.compile(r"^[$£€¥]\d[\d,]*(\.\d\d)?[.,?!]*$")
_WAITING = frozenset({"moment", "sec", "second", "minute", "tick"})
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
        # "$62", "7th", "10%" too: ASR writes digits that way ("$62 $9 $909" for a card); an
        # amount, a day or a rate said alone is let go (plainly_not_card)
        numeric[p] = call.classes[p] == "num" or _has_digit(norm)
    changed = True
    while changed:  # "free for ate, 2 9": settle from the digits outwards
        changed = False
        for p, norm in enumerate(call.norms):
            if numeric[p] or call.classes[p] == "cue":
                continue
            maybe = norm in _AMBIGUOUS or norm in ORDINAL_WORDS or _ORDINAL_LITERAL.match(norm)
            # not next to "$49.99" or "25th": "for March 25th" is a date, "for $5" an amount
            if maybe and any(
                numeric[q] and not _signed(call, q) and not _ORDINAL_LITERAL.match(call.norms[q])
                for q in neighbours(call, p, pause_s)
            ):
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


def _signed(call: Call, p: int) -> bool:
    return call.words[p].word.strip()[:1] in _CURRENCY_SIGNS


def _trailing_digit(call: Call, numeric: list[bool], p: int, pause_s: float, gap_s: float) -> bool:
    """ "... 7970?" "Yep, oh": an "oh" (or "won", "free"...) that ends its speaker's breath,
    soon after a number, or is a breath of its own ("That's right." "Won."); "to" and "too"
    ending a sentence ("heaven, too."), but "you too" and "me too"."""
    ends_sentence = call.words[p].word.rstrip()[-1:] in ".?!"
    if next_by_speaker(call, p, 1, pause_s) is not None and not ends_sentence:
        return False  # "oh, okay", "oh I see"
    before = next_by_speaker(call, p, -1, pause_s)
    if before is None:
        return True
    if call.norms[p] in ("to", "too") and ends_sentence:
        return call.norms[before] not in ("you", "me", "it", "that", "up", "go", "have", "want")
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
    "oh ate slash 27"; for a word that sounds like a digit, a month, "double" or "triple", also
    the words said straight before and after it by anyone (a mono call's diarization may split
    one breath: "triple" given to the customer, "five seven" to the agent)."""
    found = []
    for step in (-1, 1):
        q = next_by_speaker(call, p, step, pause_s)
        if q is not None and call.norms[q] in _JOINERS:
            q = next_by_speaker(call, q, step, pause_s)
        found += [next_by_speaker(call, p, step, pause_s), q]
        if call.norms[p] in _ACROSS_SPEAKERS:
            r = _next_in_time(call, p, step, pause_s)
            if r is not None and call.norms[r] in _JOINERS:  # "free not | seven."
                found.append(_next_in_time(call, r, step, pause_s))
            found.append(r)
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


def said_next(call: Call, p: int, pause_s: float) -> list[int]:
    """The words that may come next in ``p``'s breath whoever diarization says spoke them: the
    word said straight after it, or one said while other words were still being said (those are
    another person's, talking over it, whatever speaker a mono call gave them); in order."""
    word = call.words[p]
    found = []
    for q in range(p + 1, min(len(call.words), p + 2 + _INTERLEAVED)):
        start_s = call.words[q].start_s
        if start_s - word.end_s >= pause_s:
            break
        if all(call.words[m].end_s > start_s + _OVERLAP_S for m in range(p + 1, q)):
            found.append(q)
    return found


def joins_a_number(norm: str) -> bool:
    """A word that may sit between the parts of one number: "six not for", "um", "sorry"."""
    return norm in _JOINERS or norm in FILLERS


def breaths(call: Call, pause_s: float) -> list[int]:
    """Per position, which breath it belongs to: one speaker's words without a pause of
    ``pause_s`` or more (words of another speaker in between do not break it)."""
    ids = [0] * len(call.words)
    last: dict[str, tuple[int, float]] = {}  # speaker -> (breath, end of their last word)
    count = 0
    for p, word in enumerate(call.words):
        speaker = word.speaker
        previous = last.get(speaker)
        if previous is None or word.start_s - previous[1] >= pause_s:
            count += 1
            previous = (count, word.end_s)
        ids[p] = previous[0]
        last[speaker] = (previous[0], max(previous[1], word.end_s))
    return ids


def sounds_like_digit(norm: str) -> bool:
    """ "for", "to", "won", "ate", "free", "oh" (and Whisper's "-for")."""
    return norm.lstrip("-") in _SOUNDS_LIKE_DIGITS


# A number said as one: its number-like positions, in time order.
NumberGroup = tuple[int, ...]


def number_groups(call: Call, numeric: list[bool]) -> list[NumberGroup]:
    """Runs of number-like positions said one after the other, as a transcript writes them: the
    other side's words said over the end of a number do not cut it ("since 2 0 1 | So | 8")."""
    groups: list[NumberGroup] = []
    grouped = [False] * len(numeric)
    for p, number in enumerate(numeric):
        if not number or grouped[p]:
            continue
        group = [p]
        grouped[p] = True
        while True:
            straight = group[-1] + 1
            said_on = straight < len(numeric) and numeric[straight]
            q = straight if said_on else in_line(call, group[-1], 1)
            if q is None or not numeric[q] or grouped[q]:
                break
            group.append(q)
            grouped[q] = True
        groups.append(tuple(group))
    return groups


def _before_in_line(call: Call, group: NumberGroup, words: int = 1) -> tuple[str, ...]:
    """The ``words`` words said before the group in its speaker's line, in order."""
    before: list[str] = []
    p = in_line(call, group[0], -1)
    while p is not None and len(before) < words:
        before.insert(0, call.norms[p])
        p = in_line(call, p, -1)
    return tuple(before)


def plainly_not_card(
    call: Call,
    numeric: list[bool],
    config: RedactionConfig,
    dates: bool = True,
    counts: bool = True,
) -> set[int]:
    """Positions of number-like words that are plainly something else, wherever they are; with
    ``dates`` false, days and years are not among them (they make a date of birth); with
    ``counts`` false, counts are not ("four times" in a payment may be an expiry misheard)."""
    kept: set[int] = set()
    groups = number_groups(call, numeric)
    forms = [_form(call, group) for group in groups]
    for index, group in enumerate(groups):
        before = _before_in_line(call, group)
        # Said alone: "$49.99", "forty nine dollars (and ninety nine cents)", "three times",
        # "the 28th", "10%". In a row they are digits ASR wrote so: "$62 $9 $909", "seven
        # times four times two", "7th. 8th."
        alone = forms[index] is not None and _alone(call, groups, forms, index, config)
        if (
            (forms[index] in ("amount", "rate") and alone)
            or (counts and forms[index] == "count" and alone)
            or (dates and forms[index] == "ordinal" and alone)  # "the 28th"
            or _one_moment(call, group)
            or (before == ("at",) and len(group) == 1 and _CLOCK.match(call.norms[group[0]]))
            or (dates and _said_as_year(call, group, config.cue_window_words))
            or _last_four_alone(call, groups, index, config)
        ):
            kept.update(group)
    return kept


def _said_as_year(call: Call, group: NumberGroup, window: int) -> bool:
    """ "since twenty nineteen", "back in 2005": a year, unless an expiry was just asked for
    ("it expires in 2028"). A bare "in 2025" is not enough: "year in 20 .25" is an expiry."""
    before = _before_in_line(call, group, 2)
    if not (before[-1:] == ("since",) or before == ("back", "in")) or not year_digits(call, group):
        return False
    asked = range(max(0, group[0] - window), group[0])
    return not any(call.cue_kinds[p] == EXPIRY for p in asked)


def group_digits(call: Call, group: NumberGroup) -> str:
    """The digits a run of number-like words says (for "MO9" and the like, the digits in it)."""
    items = [item for p in group for item in call.items[p]]
    read = "".join(g.digits for g in parse_groups(items))
    return read or "".join(c for p in group for c in call.norms[p] if "0" <= c <= "9")


def year_digits(call: Call, group: NumberGroup) -> bool:
    """The group is a year: 19xx or 20xx, in digits or words (or Whisper's "2 .16" for
    "twenty sixteen", the point an "oh")."""
    items = [item for p in group for item in call.items[p]]
    readings = [""]
    for digit_group in parse_groups(items):
        readings = [r + option for r in readings for option in digit_group.readings()]
    return any(len(r) == 4 and r[:2] in ("19", "20") for r in readings)


def _one_moment(call: Call, group: NumberGroup) -> bool:
    """ "one moment", "one sec": asking to wait, wherever it is said."""
    return [call.norms[p] for p in group] == ["one"] and _unit_after(call, group) in _WAITING


def _unit_after(call: Call, group: NumberGroup) -> str:
    """The word said after the group in its speaker's line ("9 | You | months": "months")."""
    after = in_line(call, group[-1], 1)
    return call.norms[after] if after is not None else ""


# The most digits an amount or a count said alone has: more are digits ASR wrote that way.
_AMOUNT_DIGITS, _COUNT_DIGITS = 7, 4


def _form(call: Call, group: NumberGroup) -> str | None:
    """What a group says it is: an amount, a count (with its unit), a day, a rate; or None."""
    norms = [call.norms[p] for p in group]
    digits = len(group_digits(call, group))
    unit = _unit_after(call, group)
    # "$49.99" in one word; "$62 .02" and "$909" are as likely digits ASR wrote that way
    signed = len(group) == 1 and _PRICE.match(call.words[group[0]].word.strip()) is not None
    if (unit in CURRENCY_WORDS or signed) and digits <= _AMOUNT_DIGITS:
        return "amount"
    if unit in _CENTS and digits <= 2:
        return "amount"
    if unit in NOT_CARD_UNITS and digits <= _COUNT_DIGITS:
        return "count"
    if all(_ORDINAL_LITERAL.match(n) or n in ORDINAL_WORDS for n in norms):
        return "ordinal"
    if len(group) == 1 and call.words[group[0]].word.strip().rstrip(".,?!").endswith("%"):
        return "rate"
    return None


def currency_signed(call: Call, p: int) -> bool:
    """The word is a number written with a currency sign ("$135", "£20.50"), of no more digits
    than an amount has."""
    word = call.words[p].word.strip()
    digits = sum("0" <= c <= "9" for c in word)
    return _SIGNED.match(word) is not None and digits <= _AMOUNT_DIGITS


def amount_form(call: Call, group: NumberGroup) -> bool:
    """The group is written or said as an amount of money."""
    return _form(call, group) == "amount"


def _alone(
    call: Call,
    groups: list[NumberGroup],
    forms: list[str | None],
    index: int,
    config: RedactionConfig,
) -> bool:
    """No number of the same form said by the same speaker within ``stretch_gap_s`` of it:
    "seven times, four times" and "7th. 8th." are not alone; "great, that's forty nine dollars"
    after the customer's card number, "forty nine dollars and ninety nine cents" and "back in
    2005 we paid 40 dollars" are."""
    words = call.words
    group = groups[index]
    speaker = words[group[0]].speaker
    start_s, end_s = words[group[0]].start_s, max(words[p].end_s for p in group)
    for other in (index - 1, index + 1):
        if not 0 <= other < len(groups):
            continue
        said_by = words[groups[other][0]].speaker
        if said_by != speaker and UNKNOWN not in (said_by, speaker):
            continue
        other_start_s = words[groups[other][0]].start_s
        other_end_s = max(words[p].end_s for p in groups[other])
        gap_s = other_start_s - end_s if other > index else start_s - other_end_s
        if (
            forms[other] == "amount"
            and forms[index] == "amount"
            and _cents_after(call, groups, index, other)
        ):
            continue  # "forty nine dollars and ninety nine cents"
        if gap_s <= config.stretch_gap_s and forms[other] == forms[index]:
            return False
    return True


def _cents_after(call: Call, groups: list[NumberGroup], index: int, other: int) -> bool:
    first, second = sorted((index, other))
    return (
        _unit_after(call, groups[second]) in _CENTS
        and _unit_after(call, groups[first]) in CURRENCY_WORDS
    )


def _last_four_alone(
    call: Call, groups: list[NumberGroup], index: int, config: RedactionConfig
) -> bool:
    """ "the card ending in 4444": four digits after "ending in" / "last four", with no other
    number said just before or after."""
    group = groups[index]
    if len(group_digits(call, group)) != 4:
        return False
    cue_end = group[0]
    while cue_end > 0 and call.norms[cue_end - 1] in ("digits", "the", "is", "are", "of"):
        cue_end -= 1
    if tuple(call.norms[max(0, cue_end - 2) : cue_end]) not in _LAST_FOUR:
        return False
    words = call.words
    start_s, end_s = words[group[0]].start_s, max(words[p].end_s for p in group)
    before = (
        index > 0
        and start_s - max(words[p].end_s for p in groups[index - 1]) <= config.stretch_gap_s
    )
    after = (
        index + 1 < len(groups)
        and words[groups[index + 1][0]].start_s - end_s <= config.stretch_gap_s
    )
    return not before and not after


def stretches(call: Call, positions: list[int], gap_s: float) -> list[tuple[float, float]]:
    """The time spans of words said within ``gap_s`` of each other, in time order."""
    spans = (Segment(call.words[p].start_s, call.words[p].end_s) for p in positions)
    return [(s.start_s, s.end_s) for s in timeline.merge(spans, bridge_s=gap_s)]
