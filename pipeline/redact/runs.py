"""The call as the detectors see it: words lexed in time order, cues, digit segments, and runs of
segments joined across short gaps."""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field, replace
from itertools import pairwise

from pipeline.redact.lexicon import (
    CUE_FIRST_WORDS,
    CUES,
    DETERMINERS,
    FILLERS,
    HOMOPHONES,
    MAX_CUE_WORDS,
    NON_BREAKING_CUES,
    NUMBER_REQUESTS,
    YEAR_PREPOSITIONS,
    Group,
    Item,
    lex,
    normalise,
    parse_groups,
    single_digit,
)
from pipeline.redact.options import ACCOUNT, CARD, NEGATIVE, NEUTRAL, RedactionConfig
from pipeline.types import UNKNOWN, Word


@dataclass
class Segment:
    """Groups said back to back by one speaker."""

    groups: list[Group]
    speaker: str
    first: int
    last: int
    start_s: float
    end_s: float
    is_quantity: bool
    # A homophone said just before ("for 2 1" for "four two one"): (position, digit).
    lead: tuple[int, str] | None = None
    digits: str = field(init=False)
    positions: tuple[int, ...] = field(init=False)

    def __post_init__(self) -> None:
        self.digits = "".join(group.digits for group in self.groups)
        self.positions = tuple(p for group in self.groups for p in group.positions)


@dataclass(frozen=True)
class Finding:
    """Words (positions in time order) that carry a value of ``kind``."""

    kind: str
    positions: frozenset[int]
    digits: str


@dataclass
class Call:
    """The call's words in time order, with what lexing made of them."""

    order: list[int]  # position -> index in the caller's list
    words: list[Word]  # in time order
    norms: list[str]
    classes: list[str]  # num, cue, break, filler, other
    cue_kinds: list[str | None]
    items: list[list[Item]]
    # a silence this long ends a breath (``segment_pause_s``): a segment, a line
    pause_s: float
    # per position, the positions of the cue phrase it is part of (one speaker's words, which
    # the other speaker's may interleave in time)
    cue_phrases: list[tuple[int, ...] | None] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    segment_firsts: list[int] = field(default_factory=list)  # first position of each segment


def build_call(words: list[Word], config: RedactionConfig) -> Call:
    order = sorted(range(len(words)), key=lambda i: (words[i].start_s, i))
    timed = [words[i] for i in order]
    norms = [normalise(word.word) for word in timed]
    classes: list[str] = []
    items: list[list[Item]] = []
    for position, norm in enumerate(norms):
        word_class, word_items = lex(norm, position)
        classes.append(word_class)
        items.append(word_items)
    cue_kinds, cue_phrases = _mark_cues(timed, norms, classes, config.segment_pause_s)
    call = Call(order, timed, norms, classes, cue_kinds, items, config.segment_pause_s, cue_phrases)
    _read_points(call)
    _resolve_ambiguous(call)
    call.segments = _segments(call, config.segment_pause_s)
    call.segment_firsts = [segment.first for segment in call.segments]
    return call


def _speaker_sequences(words: list[Word]) -> list[list[int]]:
    """The positions of each speaker's words, in time order (one list where nobody is known):
    a phrase is said by one speaker, whatever the other says over it."""
    sequences: dict[str, list[int]] = {}
    for position, word in enumerate(words):
        sequences.setdefault(word.speaker, []).append(position)
    if UNKNOWN in sequences and len(sequences) > 1:
        return [list(range(len(words)))]
    return list(sequences.values())


def _mark_cues(
    words: list[Word], norms: list[str], classes: list[str], pause_s: float
) -> tuple[list[str | None], list[tuple[int, ...] | None]]:
    """Find cue phrases, longest first, in each speaker's words; their words stop being numbers
    ("three digit code"). A phrase does not go on past a full stop, a question mark, a comma or
    a pause: "the number first. Six five..." holds no "first six". Then the phrases that
    diarization split between two speakers (a mono call's "Can I take your I | ban please?",
    "What's your routine | number?"): words said one after the other, not at once."""
    cue_kinds: list[str | None] = [None] * len(norms)
    phrases: list[tuple[int, ...] | None] = [None] * len(norms)
    for sequence in _speaker_sequences(words):
        breaks = [
            words[p].word.rstrip()[-1:] in ".?!,;" or words[q].start_s - words[p].end_s >= pause_s
            for p, q in pairwise(sequence)
        ] + [True]
        for kind, phrase in _phrases(sequence, breaks, norms):
            for p in phrase:
                cue_kinds[p], phrases[p] = kind, phrase
    everyone = list(range(len(words)))
    breaks = [
        words[p].word.rstrip()[-1:] in ".?!,;"
        or words[q].start_s - words[p].end_s >= pause_s
        or words[q].start_s < words[p].end_s - _AT_ONCE_S
        for p, q in pairwise(everyone)
    ] + [True]
    for kind, phrase in _phrases(everyone, breaks, norms):
        split = len({words[p].speaker for p in phrase}) > 1
        # a word of it may be a bare "number?" in one speaker's words: the whole phrase says more
        free = all(
            cue_kinds[p] is None
            or (cue_kinds[p] == NEUTRAL and set(phrases[p] or ()) <= set(phrase))
            for p in phrase
        )
        if split and free:
            for p in phrase:
                cue_kinds[p], phrases[p] = kind, phrase
    for p, kind in enumerate(cue_kinds):
        if kind is not None:
            classes[p] = "cue"
    _demote_account_modifiers(norms, classes, cue_kinds, phrases)
    # a demoted "account" is no longer part of a phrase
    return cue_kinds, [phrase if cue_kinds[p] else None for p, phrase in enumerate(phrases)]


def _phrases(
    sequence: list[int], breaks: list[bool], norms: list[str]
) -> list[tuple[str, tuple[int, ...]]]:
    """(kind, positions) of the cue phrases in ``sequence``, longest first, none across a break
    (``breaks[i]``: between ``sequence[i]`` and the next)."""
    found: list[tuple[str, tuple[int, ...]]] = []
    i = 0
    while i < len(sequence):
        if norms[sequence[i]] not in CUE_FIRST_WORDS:
            i += 1
            continue
        for length in range(min(MAX_CUE_WORDS, len(sequence) - i), 0, -1):
            if any(breaks[i : i + length - 1]):
                continue
            phrase = tuple(sequence[i : i + length])
            kind = CUES.get(tuple(norms[p] for p in phrase))
            if kind is not None:
                found.append((kind, phrase))
                i += length
                break
        else:
            i += 1
    return found


# How far back another cue makes a bare "account" a modifier of it.
_MODIFIER_WORDS = 4


def _demote_account_modifiers(
    norms: list[str],
    classes: list[str],
    cue_kinds: list[str | None],
    phrases: list[tuple[int, ...] | None],
) -> None:
    """A bare "account" after another cue says whose it is, not what is asked: "the zip code
    on the account", "a phone number for the account", "the date of birth on the account"."""
    for p, norm in enumerate(norms):
        if norm != "account" or cue_kinds[p] != ACCOUNT:
            continue
        if phrases[p] is not None and len(phrases[p]) > 1:
            continue  # "account number", the answer said over it or not
        before = range(max(0, p - _MODIFIER_WORDS), p)
        if any(cue_kinds[q] not in (None, NEUTRAL, ACCOUNT) for q in before):
            cue_kinds[p] = None
            classes[p] = "other"


def _read_points(call: Call) -> None:
    """Whisper's points inside numbers: "$49 .99" is money; "4 .1" is "four one" or
    "four oh one"."""
    for p in range(1, len(call.words)):
        raw = call.words[p].word.strip()
        if call.classes[p] != "num" or raw[:1] not in ".," or not raw[1:2].isdigit():
            continue
        before = _adjacent(call, p, -1)
        if before is None:
            continue
        if call.classes[before] == "break":
            call.classes[p], call.items[p] = "break", []
        elif call.classes[before] == "num" and len(call.items[p]) == 1:
            item = call.items[p][0]
            if item.kind == "lit" and item.value[0] != "0":
                call.items[p] = [replace(item, alternative="0" + item.value)]


def _adjacent(call: Call, position: int, step: int) -> int | None:
    """The neighbouring word in the speaker's line (``in_line``: past the other side's words
    said over it, "2 | Your | .17.") if the same speaker said it, else None."""
    other = in_line(call, position, step)
    if other is not None and call.words[other].speaker == call.words[position].speaker:
        return other
    return None


def next_by_speaker(call: Call, p: int, step: int, pause_s: float) -> int | None:
    """The word ``p``'s speaker says next (``step`` 1) or said before (-1) in the same breath,
    past up to ``_OVERLAP_WORDS`` words of another speaker between them; None after a pause of
    ``pause_s`` or more."""
    speaker = call.words[p].speaker
    q = p + step
    while 0 <= q < len(call.words) and abs(q - p) <= _OVERLAP_WORDS + 1:
        other = call.words[q]
        if other.speaker == speaker or UNKNOWN in (speaker, other.speaker):
            left, right = (call.words[q], call.words[p]) if step < 0 else (call.words[p], other)
            return q if right.start_s - left.end_s < pause_s else None
        q += step
    return None


def in_line(call: Call, position: int, step: int) -> int | None:
    """The word next to ``position`` in its speaker's line, as a transcript writes a turn: the
    speaker's next word (``step`` 1) or word before (-1) in the same breath, past words the
    other side says over the line ("since 2 0 1 | So | 8", "9 | You | months"); after a pause,
    the word said straight next to it, whoever said it (the other side's turn comes between).
    None at either end of the call."""
    straight = position + step
    if not 0 <= straight < len(call.words):
        return None
    own = next_by_speaker(call, position, step, call.pause_s)
    return straight if own is None else own


def _is_num(call: Call, position: int | None) -> bool:
    return position is not None and call.classes[position] == "num"


def _resolve_ambiguous(call: Call) -> None:
    """Decide, from the neighbours, whether "oh", "double", "for", "may"... are numbers."""
    n = len(call.words)
    for p in range(n):  # "double" / "triple" only before a digit
        if call.classes[p] == "maybe" and call.items[p][0].kind == "mult":
            after = _adjacent(call, p, 1)
            if after is not None and call.items[after] and single_digit(call.items[after][0]):
                call.classes[p] = "num"
    for _ in range(3):  # "oh oh seven" settles from the right
        for p in range(n):
            if call.classes[p] != "maybe":
                continue
            kind = call.items[p][0].kind
            before, after = _adjacent(call, p, -1), _adjacent(call, p, 1)
            if kind == "oh":
                trailing = call.words[p].word.rstrip()[-1:]
                if _is_num(call, before) or (_is_num(call, after) and trailing not in ",.!?"):
                    call.classes[p] = "num"
            elif kind == "homo":  # "4 .1 to double 8": a digit before "double" counts
                if all(
                    _is_num(call, q)
                    and (
                        all(single_digit(i) for i in call.items[q])
                        or (q == after and call.items[q][0].kind == "mult")
                    )
                    for q in (before, after)
                ):
                    call.classes[p] = "num"
            elif kind == "month" and _is_num(call, after):
                call.classes[p] = "num"
    for p in range(n):
        if call.classes[p] == "maybe":
            call.classes[p] = "filler" if call.norms[p] in FILLERS else "other"
        elif call.classes[p] == "num" and call.norms[p] == "one":
            before, after = _adjacent(call, p, -1), _adjacent(call, p, 1)
            # "that one", "the one on the back"; not "That's right. | one" (a sentence
            # ended) nor a word said at once with it (on a mono call "two one?" under "That's")
            if (
                before is not None
                and call.norms[before] in DETERMINERS
                and call.words[before].word.rstrip()[-1:] not in ".?!"
                and call.words[before].start_s < call.words[p].start_s - _AT_ONCE_S
                and not _is_num(call, after)
            ):
                call.classes[p] = "other"
        elif call.classes[p] == "filler" and call.norms[p] == "and":
            # "four hundred and twelve", whatever the other side says over its end
            before, after = in_line(call, p, -1), in_line(call, p, 1)
            if (
                _is_num(call, before)
                and call.items[before][-1].kind in ("hundred", "thousand")
                and _is_num(call, after)
            ):
                call.classes[p] = "num"
                call.items[p] = [Item("and", "", p)]


def _segments(call: Call, pause_s: float) -> list[Segment]:
    segments: list[Segment] = []
    n = len(call.words)
    p = 0
    while p < n:
        if call.classes[p] != "num":
            p += 1
            continue
        last = p
        while (
            last + 1 < n
            and _adjacent(call, last, 1) == last + 1
            and _is_num(call, last + 1)
            and call.words[last + 1].start_s - call.words[last].end_s < pause_s
        ):
            last += 1
        items = [item for q in range(p, last + 1) for item in call.items[q]]
        groups = parse_groups(items)
        if groups:
            segments.append(
                Segment(
                    groups=groups,
                    speaker=call.words[p].speaker,
                    first=p,
                    last=last,
                    start_s=call.words[p].start_s,
                    end_s=max(call.words[q].end_s for q in range(p, last + 1)),
                    is_quantity=_is_quantity(call, _number_in_line(call, p, last, pause_s)),
                    lead=_lead_homophone(call, p, groups[0], pause_s),
                )
            )
        p = last + 1
    return segments


def _number_in_line(call: Call, first: int, last: int, pause_s: float) -> list[int]:
    """The positions of the whole number that the segment from ``first`` to ``last`` is part
    of in its speaker's line: the other side's words said over it cut "since 2 0 1 | So | 8"
    into two segments, but it is one year, as a transcript of the turn writes it."""
    number = list(range(first, last + 1))
    speaker = call.words[first].speaker
    for step in (-1, 1):
        edge = first if step < 0 else last
        while True:
            q = in_line(call, edge, step)
            if q is None or not _is_num(call, q):
                break
            said_by = call.words[q].speaker
            left, right = sorted((edge, q))
            if (said_by != speaker and UNKNOWN not in (said_by, speaker)) or (
                call.words[right].start_s - call.words[left].end_s >= pause_s
            ):
                break
            if step < 0:
                number.insert(0, q)
            else:
                number.append(q)
            edge = q
    return number


def _is_quantity(call: Call, number: list[int]) -> bool:
    """The number is a year or has a unit: no value, whatever its digits."""
    groups = parse_groups([item for q in number for item in call.items[q]])
    return bool(groups) and (
        _followed_by_unit(call, number[-1]) or _said_as_year(call, number[0], groups)
    )


def _lead_homophone(call: Call, first: int, group: Group, pause_s: float) -> tuple[int, str] | None:
    """(position, digit) of "for" / "to" / "won" / "ate" said straight before a number that
    starts with a single digit, by the same speaker, after a word that is not a number."""
    before = _adjacent(call, first, -1)
    if before is None or len(group.digits) != 1 or call.norms[before] not in HOMOPHONES:
        return None
    if call.words[first].start_s - call.words[before].end_s >= pause_s:
        return None
    if _is_num(call, _adjacent(call, before, -1)):
        return None
    return before, HOMOPHONES[call.norms[before]]


def _said_as_year(call: Call, first: int, groups: list[Group]) -> bool:
    """ "since twenty nineteen", "back in 2005": a year, not a value."""
    digits = "".join(group.digits for group in groups)
    if len(digits) != 4 or digits[:2] not in ("19", "20"):
        return False
    before = in_line(call, first, -1)
    return before is not None and call.norms[before] in YEAR_PREPOSITIONS


def _followed_by_unit(call: Call, last: int) -> bool:
    """ "forty nine dollars", "two years", "three thirty pm", "forty nine ninety nine a month",
    in the speaker's line ("9 | You | months.": the other side's words said over it skipped);
    a last digit ASR wrote as a word that sounds like it is part of the number ("two hundred
    and fifty won dollars", "for hundred twenty free dollars")."""
    after = in_line(call, last, 1)
    if after is not None and call.norms[after] in HOMOPHONES:
        after = in_line(call, after, 1)
    if after is None:
        return False
    if call.classes[after] == "break":
        return True
    then = in_line(call, after, 1)
    return (
        call.norms[after] in ("a", "an", "per", "each")
        and then is not None
        and call.classes[then] == "break"
    )


# ---------------------------------------------------------------------------------------------
# Runs: segments of one number joined across short gaps


@dataclass
class Run:
    segments: list[Segment]


def _gap_allows(
    call: Call, run: Run, right: Segment, speaker: str | None, config: RedactionConfig
) -> bool:
    left = run.segments[-1]
    pause_s = right.start_s - left.end_s
    if pause_s > config.max_card_gap_s:
        return False
    if pause_s > config.max_gap_s and not is_card_talk(
        call, run.segments[0].first, config.cue_window_words
    ):
        return False
    own_words = other_words = 0
    for p in range(left.last + 1, right.first):
        word_class = call.classes[p]
        if word_class == "break":
            return False
        if word_class == "cue" and call.cue_kinds[p] not in NON_BREAKING_CUES:
            return False
        if _asks_for_a_number(call, p) and _asked_for_other(call, run, config):
            return False  # "... 416 288 1024" / "go ahead with the card number" / "4012 ..."
        if word_class in ("filler", "num"):
            continue
        if speaker is None or call.words[p].speaker == speaker:
            own_words += 1
        else:
            other_words += 1
    return own_words <= config.max_gap_words and other_words <= config.max_other_speaker_words


def _asks_for_a_number(call: Call, position: int) -> bool:
    """A card cue, or a bare "number" ("go ahead with the current number")."""
    kind = call.cue_kinds[position]
    return kind == CARD or (kind == NEUTRAL and call.norms[position] in NUMBER_REQUESTS)


def _asked_for_other(call: Call, run: Run, config: RedactionConfig) -> bool:
    """The run answers a cue of another kind than a card (a phone number, an account...)."""
    cue = fresh_cue(call, run.segments[0].first, config.cue_window_words)
    return cue is not None and cue[0] != CARD


def _runs(
    call: Call, segments: list[Segment], speaker: str | None, config: RedactionConfig
) -> list[Run]:
    runs: list[Run] = []
    for segment in segments:
        if runs and _gap_allows(call, runs[-1], segment, speaker, config):
            runs[-1].segments.append(segment)
        else:
            runs.append(Run([segment]))
    return [piece for run in runs for piece in _split_at_request(call, run)]


def _split_at_request(call: Call, run: Run) -> list[Run]:
    """A run cut where a number is asked for ("go ahead with the card number") when what
    follows is long enough to be a card by itself: what came before answered something else,
    even if its cue was misheard ("the best number to read you on?")."""
    segments = run.segments
    after = 0  # digits from ``index`` to the end
    for index in range(len(segments) - 1, 0, -1):
        if not segments[index].is_quantity:
            after += len(segments[index].digits)
        if after >= 13 and any(
            _asks_for_a_number(call, p)
            for p in range(segments[index - 1].last + 1, segments[index].first)
        ):
            return [*_split_at_request(call, Run(segments[:index])), Run(segments[index:])]
    return [run]


def views_of(call: Call, config: RedactionConfig) -> list[list[Run]]:
    """All speakers in time order, then each speaker alone (where there is more than one)."""
    views = [_runs(call, call.segments, None, config)]
    speakers = sorted({segment.speaker for segment in call.segments})
    if len({word.speaker for word in call.words}) > 1:
        for speaker in speakers:
            own = [segment for segment in call.segments if segment.speaker == speaker]
            views.append(_runs(call, own, speaker, config))
    return views


def governing_cue(call: Call, position: int, window: int) -> tuple[str, int] | None:
    """The nearest cue before ``position`` (kind, first word of the cue), within ``window``;
    a question still being asked when the answer starts ("...the address?" over "3400") counts
    as before it."""
    said = call.words[position]
    for p in range(position + 1, min(len(call.words), position + 1 + _OVERLAP_WORDS)):
        kind, asked = call.cue_kinds[p], call.words[p]
        at_once = asked.start_s < said.end_s + _AT_ONCE_S
        if kind not in (None, NEUTRAL) and asked.speaker != said.speaker and at_once:
            return kind, p
    for p in range(position - 1, max(-1, position - 1 - window), -1):
        kind = call.cue_kinds[p]
        if kind is not None and kind != NEUTRAL:
            while p > 0 and call.cue_kinds[p - 1] == kind:
                p -= 1
            return kind, p
    return None


def _answered(call: Call, cue_position: int, position: int) -> bool:
    """A number of three or more digits was said between a cue and ``position``: the cue has
    had its answer ("the best number to reach you on? 416 288 1024. And the card? 4012...")."""
    first = bisect_right(call.segment_firsts, cue_position)
    for segment in call.segments[first:]:
        if segment.first >= position:
            return False
        if segment.last < position and not segment.is_quantity and len(segment.digits) >= 3:
            return True
    return False


def fresh_cue(call: Call, position: int, window: int) -> tuple[str, int] | None:
    """The governing cue, unless it is a phone / order cue that was already answered."""
    cue = governing_cue(call, position, window)
    if cue is not None and cue[0] == NEGATIVE and _answered(call, cue[1], position):
        return None
    return cue


def number_requested(call: Call, position: int, window: int) -> bool:
    """The nearest cue before ``position`` is a bare "number" / "digits", not "phone number"
    or "order number", and nothing was said to it yet."""
    for p in range(position - 1, max(-1, position - 1 - window), -1):
        if call.cue_kinds[p] is None:
            continue
        if call.cue_kinds[p] != NEUTRAL or call.norms[p] not in NUMBER_REQUESTS:
            return False
        if any(call.cue_kinds[q] == NEGATIVE for q in range(max(0, p - 2), p)):
            return False
        return not _answered(call, p, position)
    return False


def is_echo(segment: Segment, digits: str, speaker: str) -> bool:
    """A read-back: the other speaker repeating the end of what was just said."""
    said = segment.digits
    if said == digits:
        return True
    known = UNKNOWN not in (speaker, segment.speaker)
    return known and segment.speaker != speaker and len(said) >= 3 and digits.endswith(said)


def is_card_talk(call: Call, position: int, window: int) -> bool:
    """A card cue within ``window`` words before ``position``, with no phone / order cue
    nearer ("card number, expiry and security code please" still counts)."""
    for p in range(position - 1, max(-1, position - 1 - window), -1):
        if call.cue_kinds[p] == NEGATIVE:
            return False
        if call.cue_kinds[p] == CARD:
            return True
    return False


def cue_start(call: Call, p: int) -> str | None:
    """The kind of the cue phrase that starts at ``p``; None inside a phrase or elsewhere."""
    phrase = call.cue_phrases[p]
    return call.cue_kinds[p] if phrase is not None and phrase[0] == p else None


def cue_end(call: Call, p: int) -> int:
    """The position after the last word of the cue phrase that ``p`` is in."""
    phrase = call.cue_phrases[p]
    return phrase[-1] + 1 if phrase is not None else p + 1


# How many words before a question may be an answer said over it, and by how much two words
# must overlap to be said at once.
_OVERLAP_WORDS = 3
_AT_ONCE_S = 0.05


def said_over(call: Call, p: int) -> int:
    """The first position of what was said over the question whose cue is at ``p`` (an answer
    that starts before the question is finished), or ``p``. Two words said at once are two
    people's, whatever speakers a mono call's diarization gave them; so are two that start
    together, whatever their lengths (ASR gives some words no duration: a "9," at the start of
    "SSN."). The question is the cue and the asker's words before it in the same breath: a word
    said over "car" whose speaker goes on past the cue in the same breath is said over "What's
    the car number?", though ASR gave "number?" no duration and put it after that word; one
    followed by a pause ends what was said before the question."""
    asked = call.words[p]
    question: set[int] = set()
    r = next_by_speaker(call, p, -1, call.pause_s)
    while r is not None and len(question) < _OVERLAP_WORDS:
        question.add(r)
        r = next_by_speaker(call, r, -1, call.pause_s)
    for q in range(max(0, p - _OVERLAP_WORDS), p):
        said = call.words[q]
        over_cue = said.end_s > asked.start_s + _AT_ONCE_S
        together = asked.start_s - said.start_s < _AT_ONCE_S
        goes_on = next_by_speaker(call, q, 1, call.pause_s)
        over_question = (
            q not in question
            and goes_on is not None
            and goes_on > p  # an answer begun, not the end of the one before ("9 | What's | 6.")
            and any(r < q and call.words[r].end_s > said.start_s + _AT_ONCE_S for r in question)
        )
        if over_cue or together or over_question:
            return q
    return p
