"""Payment exchanges: inside one, every number either speaker says is redacted (fail closed).

ASR output is not exact, so a PCI control cannot depend on reading card numbers right. A payment
exchange opens at a card, expiry or security-code cue by either speaker (or a bare "go ahead with
the number", as cues are misheard), or where a detector found a card number, expiry or code; it
ends when the payment is confirmed ("that's gone through"), when the talk moves on (a question
about another number, "anything else?"), or when no number has been said for a while. Inside it,
every number-like word is redacted: digits of any length, number words, "oh", "double", the
homophones next to them ("for", "to", "free"), letter-digit mixes ("MO9"). Only what is plainly
not card data stays: an amount with its currency, a count with its unit ("three times"), a year
after "since", a day said as an ordinal, "the card ending in 4444" on its own. The numbers close
together are silenced as one stretch of audio, words between them included, as those may be
digits the ASR wrote as other words.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.redact.checks import CARD_MIN_DIGITS
from pipeline.redact.lexicon import (
    NUMBER_REQUESTS,
)
from pipeline.redact.numberlike import (
    amount_form,
    breaths,
    group_digits,
    number_groups,
    sounds_like_digit,
    stretches,
)
from pipeline.redact.options import (
    CARD,
    CVV,
    DONE,
    EXPIRY,
    NEGATIVE,
    NEUTRAL,
    PAYMENT,
    RedactionConfig,
)
from pipeline.redact.runs import (
    Call,
    cue_end,
    cue_start,
    governing_cue,
    next_by_speaker,
    said_over,
)
from pipeline.types import UNKNOWN

OPENING_CUES = frozenset({CARD, CVV, EXPIRY})
# How many words from a digit in the same breath a "for" or "to" is taken for one.
_HOMOPHONE_REACH = 4
_NEGATIONS = frozenset({"not", "never", "declined", "failed", "unable"})
# A card named rather than its data asked for: these card cues open no exchange.
CARD_NAMES = frozenset(
    {("card",), ("credit", "card"), ("debit", "card"), ("visa",), ("mastercard",),
     ("master", "card"), ("amex",), ("american", "express"), ("discover",)}
)  # fmt: skip
# How many words a bare "number" may be from a cue that says whose number it is.
_REQUEST_WORDS = 4


@dataclass(frozen=True)
class PaymentWindow:
    """A payment exchange: from its cue to its end, in seconds; never what was said."""

    start_s: float
    end_s: float


@dataclass(frozen=True)
class _Open:
    first: int  # position of the first word in the window
    last: int  # position after the last word in it
    start_s: float
    end_s: float


@dataclass(frozen=True)
class PaymentRedaction:
    """What fail-closed redaction adds: the windows, the words to tag, the stretches to
    silence."""

    windows: list[PaymentWindow]
    tags: dict[int, str]
    stretches: list[tuple[float, float]]


def payment_redaction(
    call: Call,
    numeric: list[bool],
    said: list[bool],
    found: dict[int, str],
    config: RedactionConfig,
) -> PaymentRedaction:
    """The payment exchanges, and inside them every word of ``said`` (the number-like words of
    ``numeric`` that are not plainly something else); ``found`` (position -> kind, from the
    detectors) opens exchanges where it found card data and gives the words it found their own
    kind."""
    said = _answers_to_card_questions(call, numeric, said, config)
    # a card number found opens the exchange where the words said with it start ("free 5 8...")
    group_of = {p: group for group in number_groups(call, said) for p in group}
    opened_by = {
        group_of[p][0] if p in group_of else p for p, kind in found.items() if kind in OPENING_CUES
    } | _unexplained_digits(call, said, found, config)
    windows, answers = _windows(call, said, opened_by, config)
    breath_of = breaths(call, config.segment_pause_s)
    tags: dict[int, str] = {}
    silenced: list[tuple[float, float]] = []
    for window in windows:
        inside = [p for p in range(window.first, window.last) if said[p] and p not in answers]
        # near the digits of a breath, "for", "to", "free"... are digits ASR wrote as words
        # ("pre -for -nero", "I'm for correct", "time to fix time"), and a "one" lexing read as
        # a pronoun is a digit too (on a mono call "three five two one?" under "That's right."
        # put "That's" first: "that's one")
        digits_at: dict[int, list[int]] = {}
        for p in inside:
            digits_at.setdefault(breath_of[p], []).append(p)
        inside += [
            p
            for p in range(window.first, window.last)
            if not said[p]
            and (sounds_like_digit(call.norms[p]) or call.norms[p] == "one")
            and call.classes[p] != "cue"
            and any(abs(p - q) <= _HOMOPHONE_REACH for q in digits_at.get(breath_of[p], ()))
        ]
        # ... and one said on its own, a sentence of one word: a digit said late ("Yep, | to |
        # And the expiry is")
        inside += [
            p
            for p in range(window.first, window.last)
            if not said[p]
            and p not in inside
            and sounds_like_digit(call.norms[p])
            and call.classes[p] != "cue"
            and _said_alone(call, p, config.segment_pause_s)
        ]
        inside.sort()
        for p in inside:
            tags[p] = found.get(p, PAYMENT)
        silenced += stretches(call, inside, config.stretch_gap_s)
    public = [PaymentWindow(round(w.start_s, 3), round(w.end_s, 3)) for w in windows]
    return PaymentRedaction(public, tags, silenced)


def _said_alone(call: Call, p: int, pause_s: float) -> bool:
    """The word is a sentence of its own: its speaker paused or ended a sentence before it, and
    pauses or starts a new sentence after it."""
    before = next_by_speaker(call, p, -1, pause_s)
    after = next_by_speaker(call, p, 1, pause_s)
    alone_before = before is None or call.words[before].word.rstrip()[-1:] in ".?!"
    new_after = after is None or call.words[after].word.strip()[:1].isupper()
    return alone_before and new_after


def _asks(call: Call, p: int) -> bool:
    """A card-data question starts at ``p`` (or a bare "the number", as cues are misheard)."""
    kind = cue_start(call, p)
    return (kind in OPENING_CUES and _asks_for_card_data(call, p)) or _asks_for_a_number(call, p)


def _answers_to_card_questions(
    call: Call, numeric: list[bool], said: list[bool], config: RedactionConfig
) -> list[bool]:
    """``said``, and the first number said after each card-data question even if it looks like an
    amount: the answer to "the card number?" is card data where ASR wrote it as "$62 .02"."""
    said = list(said)
    group_of = {p: group for group in number_groups(call, numeric) for p in group}
    for p in range(len(call.words)):
        if not _asks(call, p):
            continue
        end = cue_end(call, p)
        for q in range(end, min(len(call.words), end + config.cue_window_words)):
            if call.cue_kinds[q] not in (None, NEUTRAL):
                break  # another question first
            if numeric[q]:
                if amount_form(call, group_of[q]):
                    for r in group_of[q]:
                        said[r] = True
                break
    return said


def _unexplained_digits(
    call: Call, said: list[bool], found: dict[int, str], config: RedactionConfig
) -> set[int]:
    """Where a card's worth of digits starts that nothing explains: numbers said one after
    another (each within ``window_idle_s`` of the last, no question between), neither found as
    another kind (an SSN, a PIN...) nor led by a phone, order, account... cue within
    ``window_list_words``, adding up
    to as many digits as the shortest card number. The card cue may have been lost (an agent's
    question ASR did not hear at all)."""
    openings: set[int] = set()
    first: int | None = None
    digits = last = 0
    last_end_s = 0.0
    for whole in number_groups(call, said):
        # what no detector read as another kind ("[ACCOUNT] x4 four six eight...": the rest)
        free = [p for p in whole if found.get(p) in (None, *OPENING_CUES)]
        cue = governing_cue(call, free[0], config.window_list_words) if free else None
        if not free or (cue is not None and cue[0] not in OPENING_CUES):
            first = None  # explained: a phone number, an order number, an answer
            continue
        group = [p for p in whole if p >= free[0]]
        start_s = call.words[group[0]].start_s
        asked_between = first is not None and any(
            call.cue_kinds[p] is not None for p in range(last, group[0])
        )
        if first is None or asked_between or start_s - last_end_s > config.window_idle_s:
            first, digits = group[0], 0  # a new question, or a while later: a new count
        digits += sum(len(group_digits(call, (p,))) for p in free)
        last, last_end_s = group[-1], max(call.words[p].end_s for p in group)
        if digits >= CARD_MIN_DIGITS:
            openings.add(first)
    return openings


def _asks_for_card_data(call: Call, p: int) -> bool:
    """A card cue that asks for its data ("the card number", "the card details", "the long
    number"), not a card named ("my card got declined", "is it a visa?")."""
    kind = call.cue_kinds[p]
    return kind != CARD or tuple(call.norms[p : cue_end(call, p)]) not in CARD_NAMES


def _asks_for_a_number(call: Call, p: int) -> bool:
    """A bare "number" / "digits" ("go ahead with the current number"), not "number of" and
    not "the number for the account" or "digits of your social"."""
    if call.cue_kinds[p] != NEUTRAL or call.norms[p] not in NUMBER_REQUESTS:
        return False
    after = range(p + 1, min(len(call.norms), p + 1 + _REQUEST_WORDS))
    if p + 1 < len(call.norms) and call.norms[p + 1] == "of":
        return False
    before = next_by_speaker(call, p, -1, float("inf"))  # past an answer said over it
    if before is not None and call.cue_kinds[before] not in (None, NEUTRAL, CARD):
        return False  # "model number", "mobile number" said in two cue phrases
    return not any(call.cue_kinds[q] not in (None, NEUTRAL) for q in after)


def _negated(call: Call, p: int) -> bool:
    """ "it hasn't gone through", "the payment was not approved"."""
    before = call.norms[max(0, p - 3) : p]
    return any(word in _NEGATIONS or word.endswith("n't") for word in before)


def _windows(
    call: Call, said: list[bool], opened_by: set[int], config: RedactionConfig
) -> tuple[list[_Open], set[int]]:
    """The payment exchanges, and the answers to other questions asked inside them ("and the
    billing zip code?"): those answers are kept, and the exchange goes on after them, as the
    security code may still come, its question misheard."""
    pause_s = config.segment_pause_s
    windows: list[_Open] = []
    answers: set[int] = set()
    answer: int | None = None  # the latest word of an answer being given
    first: int | None = None
    start_s = active_s = 0.0
    heard = False
    last_cue: int | None = None  # the latest payment cue, for "card number and a phone number"
    last_number: int | None = None  # the latest number said in the exchange
    question: int | None = None  # another number asked for, not answered yet

    def close(position: int, end_s: float) -> None:
        nonlocal first, question
        windows.append(_Open(first, position, start_s, max(start_s, end_s)))
        first = question = None

    for p, word in enumerate(call.words):
        if first is not None:
            limit_s = config.window_idle_s if heard else config.window_wait_s
            if word.start_s > active_s + limit_s:
                close(p, active_s + limit_s)
        kind = cue_start(call, p)
        asked = _asks(call, p)
        if asked or p in opened_by:
            if first is None:
                first = said_over(call, p)
                start_s, active_s = call.words[first].start_s, word.end_s
                last_number = None
            if asked:  # a new question waits for its answer as long as the first one did
                last_cue, heard, question = p, False, None
            active_s = max(active_s, word.end_s)
        elif first is not None and kind == DONE and not _negated(call, p):
            last = _talked_over(call, p)
            answers |= _answer_going_on(call, answer, said, last, pause_s)
            close(last, max([word.start_s, *(call.words[q].end_s for q in range(p + 1, last))]))
        elif (
            first is not None
            and kind == NEGATIVE
            and _asks_for_another_number(call, p)
            and _new_turn(call, last_number, p, pause_s)
            and not _listed(said, last_cue, p, config)
        ):
            question = p
        if first is None or not said[p]:
            continue
        answering = question is not None and p - question <= config.cue_window_words
        going_on = answer is not None and p == next_by_speaker(call, answer, 1, pause_s)
        if answering or going_on:
            # the answer: this number and what its speaker says with it in the same breath,
            # whatever the other side says over the end of it
            answers.add(p)
            question, answer = None, p
            continue
        question = answer = None
        heard, last_number = True, p
        active_s = max(active_s, word.end_s)
    if first is not None:
        limit_s = config.window_idle_s if heard else config.window_wait_s
        last_end_s = max(word.end_s for word in call.words)
        close(len(call.words), min(last_end_s, active_s + limit_s))
    return windows, answers


def _answer_going_on(
    call: Call, answer: int | None, said: list[bool], last: int, pause_s: float
) -> set[int]:
    """The numbers of the answer being given that its speaker goes on with under the
    confirmation, in the same breath, before ``last`` ("... 8 -4 -2 | Anything | -8."): still
    the answer, as a transcript writes the answer's line before the confirmation."""
    going_on: set[int] = set()
    q = answer
    while q is not None:
        q = next_by_speaker(call, q, 1, pause_s)
        if q is None or q >= last or not said[q]:
            break
        going_on.add(q)
    return going_on


def _talked_over(call: Call, p: int) -> int:
    """The position after the words still being said when the confirmation starting at ``p``
    began ("... six, 9." under "All done"): they belong to what came before. A word that
    starts before the confirmation's phrase is over, whoever diarization says spoke it, is
    one of those: on a mono call the reader of the digits may be given the confirmer's
    speaker, and a word ASR gave no duration ends where it starts."""
    said = call.words[p]
    phrase = call.cue_phrases[p] or [p]
    over_s = max(said.end_s, *(call.words[q].end_s for q in phrase))
    q = p + 1
    while q < len(call.words) and call.words[q].start_s < over_s:
        q += 1
    return q if q > p + 1 else p


# Questions about another number that the exchange lets be answered ("and the billing zip
# code?"); not every other cue, as ASR turns card words into them ("the signature strip" heard
# as "the Signica Street").
_OTHER_NUMBER_QUESTIONS = frozenset(
    {("phone",), ("phone", "number"), ("telephone",), ("mobile",), ("cell",), ("cellphone",),
     ("contact", "number"), ("best", "number"), ("good", "number"), ("number", "to", "reach"),
     ("number", "to", "call"), ("home", "number"), ("work", "number"), ("callback",),
     ("zip",), ("zip", "code"), ("postcode",), ("post", "code"), ("postal", "code"),
     ("address",), ("confirmation", "number"), ("confirmation", "code"), ("confirmation",),
     ("reference", "number"), ("reference",), ("order", "number"), ("order",),
     ("ticket", "number"), ("ticket",),
     ("case", "number"), ("tracking",), ("invoice",), ("amount",), ("balance",), ("total",),
     ("how", "much")}
)  # fmt: skip


def _asks_for_another_number(call: Call, p: int) -> bool:
    return tuple(call.norms[p : cue_end(call, p)]) in _OTHER_NUMBER_QUESTIONS


def _new_turn(call: Call, last_number: int | None, p: int, pause_s: float) -> bool:
    """Someone asks about another number, rather than the card's reader going on ("4111 1111,
    hang on, my phone is ringing, 1111 1111"): another speaker than the one who said the
    latest number, or the same after a pause or a new sentence (not a full stop after a digit:
    Whisper puts those inside numbers)."""
    if last_number is None:
        return True
    said_by, asked_by = call.words[last_number].speaker, call.words[p].speaker
    if UNKNOWN not in (said_by, asked_by) and said_by != asked_by:
        return True
    return any(
        call.words[q + 1].start_s - call.words[q].end_s >= pause_s
        or call.words[q].word.rstrip()[-1:] in "?!"
        or (call.words[q].word.rstrip()[-1:] == "." and not call.norms[q][-1:].isdigit())
        for q in range(last_number, p)
    )


def _listed(numeric: list[bool], last_cue: int | None, p: int, config: RedactionConfig) -> bool:
    """Another number asked for in the same breath as the card, before any digits."""
    if last_cue is None or p - last_cue > config.window_list_words:
        return False
    return not any(numeric[last_cue + 1 : p])
