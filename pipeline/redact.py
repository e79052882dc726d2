"""Find payment-card and personal data in transcribed words and replace it with typed tags.

Runs between transcription and storage, so that no unredacted value reaches the database.
Pure: words in, redacted words and the spans that were redacted out; nothing is read or written.

How it works:

1. Lex: each word (in time order, all speakers together) is classed as part of a number,
   a cue ("card number", "security code", "phone number"...), a break (money, units, times:
   "dollars", "$49.99", "3:30", "years"), a filler ("okay", "mm-hm") or other.
2. Numbers: adjacent number words of one speaker are read as digit groups that remember
   their words ("double one" -> "11", "twenty seven" -> "27", "oh" -> "0",
   "4111-1111" -> "4111", "1111"). The groups said back to back by one speaker form a segment.
3. Runs: segments joined across short gaps (an "okay", "sorry", a read-back by the other
   speaker), in two views: all speakers in time order, and each speaker alone. A run is cut
   where a (card) number is asked for after a number that answered another question, such
   as the phone number before "go ahead with the card number".
4. Detectors: Luhn-valid card numbers with a known brand prefix anywhere; after a card cue (or
   a bare "number" asked for) also long numbers that fail the checksum, as ASR gets a digit
   wrong; the rest of the digits said in the same breath, and the expiry and security code
   said straight after; cue-led values (security code, expiry, account, routing / sort code,
   SSN) in the first run after the cue that has the right shape; literal SSNs (123-45-6789),
   IBANs and, when switched on, e-mail addresses.
5. Follow-on: the card's speaker's next numbers, in order, as the rest of a short card number,
   the expiry and the security code, when their cues were misheard; then read-backs of a
   found value said nearby by either speaker.

Real ASR output is the target, not tidy text: Whisper writes "four oh one" as "4 .1",
"one two" as "1 -2,", "two" as "to" or "four" as "for" next to digits, and mishears cues.

A value is never kept: a ``Redaction`` holds only its kind and time span.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from pydantic import BaseModel, ConfigDict, Field

from pipeline.types import UNKNOWN, Word

CARD = "card"
CVV = "cvv"
EXPIRY = "expiry"
ACCOUNT = "account"
ROUTING = "routing"
SSN = "ssn"
EMAIL = "email"

# Priority order when one word is found by two detectors: the first kind wins.
KINDS = (CARD, SSN, ACCOUNT, ROUTING, CVV, EXPIRY, EMAIL)
TAGS = {kind: f"[{kind.upper()}]" for kind in KINDS}

# Cue kinds beyond the entity kinds: NEGATIVE cues announce a number that is not sensitive
# (phone, order, ticket...); NEUTRAL words are not numbers ("last four") but say nothing.
NEGATIVE = "negative"
NEUTRAL = "neutral"
# A bare "go ahead with the number" asks for a value whose cue may have been misheard
# ("the current number" for "the card number").
_NUMBER_REQUESTS = frozenset({"number", "numbers", "digits"})


class RedactionConfig(BaseModel):
    """Which kinds of value to redact, and how far apart the pieces of one number may be."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    card: bool = True
    cvv: bool = True
    expiry: bool = True
    account: bool = True
    routing: bool = True
    ssn: bool = True
    email: bool = False
    margin_s: float = Field(default=0.25, ge=0.0)
    # Non-filler words allowed between two pieces of one number ("sorry, let me check").
    max_gap_words: int = Field(default=5, ge=0)
    # Words of the other speaker skipped when following one speaker's number.
    max_other_speaker_words: int = Field(default=12, ge=0)
    max_gap_s: float = Field(default=20.0, ge=0.0)
    # After a card cue the customer may stop for longer to find the card again.
    max_card_gap_s: float = Field(default=90.0, ge=0.0)
    # A pause this long between two number words starts a new piece, so that a read-back
    # said without a speaker change ("4111 1111 ... 4111 1111 ... 1111 1111") can be skipped.
    segment_pause_s: float = Field(default=0.5, ge=0.0)
    # How many words after a cue ("security code") its value may start.
    cue_window_words: int = Field(default=20, ge=1)
    # How long after a value a read-back of it is still redacted.
    echo_window_s: float = Field(default=60.0, ge=0.0)
    # How near card talk a bare "09/28" must be to count as an expiry date.
    context_window_words: int = Field(default=40, ge=1)
    # After a card number its speaker's next numbers are read as the expiry, then the security
    # code, even when the question was misheard ("the Atari 8?"), if each comes this soon.
    follow_window_s: float = Field(default=15.0, ge=0.0)
    # A card number that is still short goes on in the speaker's next number said this soon,
    # with nothing but fillers between ("4012 8888", "mm-hm", "8888 1881").
    continuation_gap_s: float = Field(default=5.0, ge=0.0)

    def enabled_kinds(self) -> frozenset[str]:
        """The entity kinds switched on."""
        return frozenset(kind for kind in KINDS if getattr(self, kind))


@dataclass(frozen=True)
class Redaction:
    """A stretch of the call where a value of ``kind`` was said; never the value itself."""

    kind: str
    start_s: float
    end_s: float


def redact_words(
    words: list[Word], config: RedactionConfig | None = None
) -> tuple[list[Word], list[Redaction]]:
    """Replace every word that carried a sensitive value by its tag, e.g. ``[CARD]``.

    Returns the words in their input order, with times, speaker and probability kept and
    only ``word`` changed (leading whitespace kept), and one ``Redaction`` per stretch of
    consecutive tagged words of one kind, in time order.
    """
    config = config or RedactionConfig()
    if not words:
        return [], []
    call = _build_call(words, config)
    tags = _find_tags(call, config)
    redacted = list(words)
    for position, kind in tags.items():
        original = call.order[position]
        word = words[original]
        leading = word.word[: len(word.word) - len(word.word.lstrip())]
        redacted[original] = replace(word, word=leading + TAGS[kind])
    return redacted, _spans(call, tags)


def redact_text(text: str, config: RedactionConfig | None = None) -> str:
    """Redact free text (an error message, a turn's text) with the same detectors.

    Whitespace-separated tokens are treated as words of one speaker; a token that carried
    a value is replaced whole by its tag and the whitespace is kept as it was.
    """
    pieces = re.split(r"(\s+)", text)
    token_indices = [i for i, piece in enumerate(pieces) if piece and not piece.isspace()]
    words = [
        Word(start_s=float(n), end_s=n + 0.5, word=pieces[i], probability=1.0, speaker=UNKNOWN)
        for n, i in enumerate(token_indices)
    ]
    redacted, _ = redact_words(words, config)
    for i, word in zip(token_indices, redacted, strict=True):
        pieces[i] = word.word
    return "".join(pieces)


def audio_spans(
    redactions: Iterable[Redaction], margin_s: float, duration_s: float
) -> list[tuple[float, float]]:
    """Time spans to silence: each redaction widened by ``margin_s``, clipped to the call,
    sorted, with overlapping or touching spans merged."""
    if margin_s < 0:
        raise ValueError(f"audio_spans: margin_s must be >= 0, got {margin_s}")
    widened = sorted(
        (max(0.0, r.start_s - margin_s), min(duration_s, r.end_s + margin_s)) for r in redactions
    )
    merged: list[tuple[float, float]] = []
    for start_s, end_s in widened:
        if end_s <= start_s:
            continue
        if merged and start_s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end_s))
        else:
            merged.append((start_s, end_s))
    return merged


# ---------------------------------------------------------------------------------------------
# Vocabulary


def _words(text: str) -> list[str]:
    """A word list written as one string, for the long lists below."""
    return text.split()


_DIGIT_WORDS = {
    word: str(value)
    for value, word in enumerate(_words("zero one two three four five six seven eight nine"))
} | {"nought": "0", "naught": "0", "nil": "0", "niner": "9"}
# "oh" / "o" are zero only next to other numbers; "oh" alone is an interjection.
_OH_WORDS = frozenset({"oh", "o"})
# Homophones Whisper may write for digits said one by one: digits only between two digits.
_HOMOPHONES = {"for": "4", "to": "2", "too": "2", "won": "1", "ate": "8"}
_TEENS = {
    word: str(value)
    for value, word in enumerate(
        _words("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"),
        start=10,
    )
}
_TENS = {
    word: str(value)
    for value, word in enumerate(
        _words("twenty thirty forty fifty sixty seventy eighty ninety"), start=2
    )
} | {"fourty": "4"}
_MULTIPLIERS = {"double": 2, "triple": 3}
_MONTHS = {
    name: f"{number:02d}"
    for number, names in enumerate(
        _words(
            "january,jan february,feb march april may june july august,aug september,sept,sep "
            "october,oct november,nov december,dec"
        ),
        start=1,
    )
    for name in names.split(",")
}
# A number followed by one of these is an amount, a duration, a time or a date, never a value.
_UNIT_WORDS = frozenset(
    _words(
        """
    dollar dollars buck bucks cent cents pound pounds pence quid euro euros percent
    grand year years yr yrs month months week weeks day days hour hours hr hrs minute minutes
    min mins second seconds sec secs am pm a.m p.m a.m. p.m. o'clock oclock times items item
    pieces people kids miles mile kilometers km gb mb tb kg kgs lbs lb feet foot inches inch
    gallons liters litres th st nd rd
    """
    )
)
_ORDINAL_WORDS = frozenset(
    _words(
        """
    first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth
    thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth
    thirtieth
    """
    )
)
# Words that may sit inside a number without counting towards the gap limit.
_FILLERS = frozenset(
    _words(
        """
    okay ok k mm hm mhm mmhm mm-hm uh-huh uh um umm er erm ah ahh oh yes yeah yep yup right
    alright sure and then so sorry got it that thats its is was go ahead correct great
    perfect thanks thank you next uh-uh hmm
    """
    )
)
# "the one on the back": "one" after these is a pronoun unless more digits follow.
_DETERMINERS = frozenset({"the", "that", "this", "which", "a", "no", "each", "every", "any"})
# A date said after these is an appointment, not an expiry.
_DATE_PREPOSITIONS = frozenset({"on", "by", "before", "after", "from", "since", "for"})


def _cue_table() -> dict[tuple[str, ...], str]:
    phrases = {
        CARD: """card | card number | credit card | debit card | long number | visa | mastercard |
            master card | amex | american express | discover | sixteen digit | 16 digit |
            sixteen digits | 16 digits | fifteen digit | 15 digit | number on the card |
            numbers on the front | front of the card""",
        CVV: """security code | security number | cvv | cvv2 | cvc | cvc2 | cv2 | csc | cid |
            card verification | verification code | verification number | three digit code |
            3 digit code | three digits | 3 digits | three digit number | on the back | code |
            back of the card | back of your card | on the back of the card |
            on the back of your card | four digit code on the front""",
        EXPIRY: """expiry | expiry date | expiration | expiration date | expires | expire |
            expiring | exp | valid until | valid till | valid thru | valid through | good thru |
            good through""",
        ACCOUNT: """account | account number | acct | bank account | checking account |
            savings account | iban""",
        ROUTING: """routing | routing number | aba | sort code | transit number | bank code |
            bsb""",
        SSN: """social | social security | social security number | ssn | last four of your
            social""",
        NEGATIVE: """phone | phone number | telephone | mobile | cell | cellphone | call | callback |
            reach | contact number | order | order number | ticket | reference | ref |
            confirmation | case | case number | tracking | invoice | claim | extension | ext |
            zip | zip code | postcode | post code | postal code | address | apartment | apt |
            suite | street | flight | model | serial | version | policy | member | room |
            ticket number | reference number | confirmation number | area code | promo code |
            discount code | confirmation code | access code | voucher code | birth |
            date of birth | dob | born | birthday | appointment | amount | balance | total |
            how much""",
        NEUTRAL: """last four | last 4 | first four | first six | last three | digit | digits |
            number | numbers""",
    }
    table: dict[tuple[str, ...], str] = {}
    for kind, text in phrases.items():
        for phrase in text.split("|"):
            table[tuple(phrase.split())] = kind
    return table


_CUES = _cue_table()
_MAX_CUE_WORDS = max(len(phrase) for phrase in _CUES)
_CUE_FIRST_WORDS = frozenset(phrase[0] for phrase in _CUES)
# Cues of these kinds do not split a number: a card cue inside a card number is still card talk.
_NON_BREAKING_CUES = frozenset({CARD, NEUTRAL})

# (prefix ranges, allowed lengths); a range (low, high) is compared with as many leading
# digits as ``low`` has.
_CARD_BRANDS: tuple[tuple[tuple[tuple[int, int], ...], tuple[int, ...]], ...] = (
    (((4, 4),), (13, 16, 19)),  # Visa
    (((51, 55), (2221, 2720)), (16,)),  # Mastercard
    (((34, 34), (37, 37)), (15,)),  # American Express
    (((6011, 6011), (644, 649), (65, 65)), (16, 17, 18, 19)),  # Discover
    (((300, 305), (36, 36), (38, 39)), (14, 15, 16, 17, 18, 19)),  # Diners Club
    (((3528, 3589),), (16, 17, 18, 19)),  # JCB
    (((62, 62),), (16, 17, 18, 19)),  # UnionPay
    (((2200, 2204),), (16, 17, 18, 19)),  # Mir
    (((50, 50), (56, 69)), (13, 14, 15, 16, 17, 18, 19)),  # Maestro
)

_CARD_FIRST_DIGITS = frozenset("23456")

_CARD_PREFIXES = tuple(
    (len(str(low)), low, high, frozenset(lengths))
    for ranges, lengths in _CARD_BRANDS
    for low, high in ranges
)

_STRIP = " \t\r\n.,!?;:\"'()[]{}<>…#*“”‘’«»"
# Amounts, decimals and ordinals written as one word: "$49.99", "12%", "49.99", "27th", "3pm".
# "4111.1111.1111.1111" is not a decimal: only one to two digits after a single point are.
_MONEY = re.compile(r"^[$£€¥]|%$|^\d[\d,]*\.\d{1,2}$|^\d+(?:st|nd|rd|th|am|pm|k|s)$")
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d)")
_SEPARATORS = re.compile(r"[-/_=;,|+~.:\s]+")
_CLOCK = re.compile(r"^\d{1,2}:\d{2}(?:am|pm)?$")
_SSN_LITERAL = re.compile(r"^(\d{3})-(\d{2})-(\d{4})$")
_IBAN = re.compile(r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")
_EMAIL_LITERAL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_EMAIL_TLDS = frozenset({"com", "net", "org", "edu", "gov", "co", "uk", "io", "us", "ca", "de"})
_EMAIL_CONNECTORS = frozenset({"dot", "underscore", "dash", "hyphen", "period"})


# ---------------------------------------------------------------------------------------------
# Lexing: one class per word, digit items for number words


@dataclass(frozen=True)
class _Item:
    """One numeric piece of a word: ``kind`` is d, oh, homo, lit, teen, tens, hundred,
    thousand, mult, month or and."""

    kind: str
    value: str
    position: int
    # Another reading of a written number: "4 .1" may be "four oh one" (Whisper writes "oh"
    # as a point) or "four one".
    alternative: str = ""


@dataclass(frozen=True)
class _Group:
    """Digits read from one or a few adjacent words ("double one" -> "11")."""

    digits: str
    positions: tuple[int, ...]
    from_oh: bool = False
    alternative: str = ""

    def readings(self) -> tuple[str, ...]:
        return (self.digits, self.alternative) if self.alternative else (self.digits,)


@dataclass
class _Segment:
    """Groups said back to back by one speaker."""

    groups: list[_Group]
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


@dataclass
class _Call:
    """The call's words in time order, with what lexing made of them."""

    order: list[int]  # position -> index in the caller's list
    words: list[Word]  # in time order
    norms: list[str]
    classes: list[str]  # num, cue, break, filler, other
    cue_kinds: list[str | None]
    items: list[list[_Item]]
    segments: list[_Segment] = field(default_factory=list)
    segment_firsts: list[int] = field(default_factory=list)  # first position of each segment


@dataclass(frozen=True)
class _Finding:
    kind: str
    positions: frozenset[int]
    digits: str


def _normalise(text: str) -> str:
    norm = text.strip().lower().replace("’", "'").strip(_STRIP)
    return norm.removesuffix("'s")


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # "²".isdigit() is True, int("²") fails


def _item(sub: str, position: int) -> _Item | None:
    if _is_ascii_digits(sub):
        return _Item("lit", sub, position)
    if sub in _DIGIT_WORDS:
        return _Item("d", _DIGIT_WORDS[sub], position)
    if sub in _OH_WORDS:
        return _Item("oh", "0", position)
    if sub in _TEENS:
        return _Item("teen", _TEENS[sub], position)
    if sub in _TENS:
        return _Item("tens", _TENS[sub], position)
    if sub == "hundred":
        return _Item("hundred", "", position)
    if sub == "thousand":
        return _Item("thousand", "", position)
    if sub in _MULTIPLIERS:
        return _Item("mult", str(_MULTIPLIERS[sub]), position)
    if sub in _HOMOPHONES:
        return _Item("homo", _HOMOPHONES[sub], position)
    if sub in _MONTHS:
        return _Item("month", _MONTHS[sub], position)
    return None


_AMBIGUOUS = frozenset({"oh", "homo", "month", "mult"})


def _lex(norm: str, position: int) -> tuple[str, list[_Item]]:
    """Class of one normalised word and, for number words, its items."""
    if not norm:
        return "filler", []
    if norm in _UNIT_WORDS or norm in _ORDINAL_WORDS:
        return "break", []
    if norm.isalpha() or _is_ascii_digits(norm):  # most words: nothing to split
        subs = [norm]
    else:
        if _MONEY.search(norm) or _CLOCK.match(norm):
            return "break", []
        if "@" in norm:
            return "other", []
        # Commas between digits group thousands or digits ("4,111"); other separators split.
        joined = _DIGIT_COMMA.sub("", norm)
        subs = [sub.strip(_STRIP) for sub in _SEPARATORS.split(joined)]
        subs = [sub for sub in subs if sub]
        if not subs:
            return "filler", []
        if any(sub in _UNIT_WORDS or sub in _ORDINAL_WORDS for sub in subs):
            return "break", []
    items = [_item(sub, position) for sub in subs]
    numeric = [item for item in items if item is not None]
    if any(item.kind == "lit" for item in numeric):
        return "num", numeric
    if numeric and len(numeric) == len(items):
        if all(item.kind in _AMBIGUOUS for item in numeric):
            return "maybe", numeric
        return "num", numeric
    if norm in _FILLERS:
        return "filler", []
    return "other", []


def _build_call(words: list[Word], config: RedactionConfig) -> _Call:
    order = sorted(range(len(words)), key=lambda i: (words[i].start_s, i))
    timed = [words[i] for i in order]
    norms = [_normalise(word.word) for word in timed]
    classes: list[str] = []
    items: list[list[_Item]] = []
    for position, norm in enumerate(norms):
        word_class, word_items = _lex(norm, position)
        classes.append(word_class)
        items.append(word_items)
    cue_kinds = _mark_cues(norms, classes)
    call = _Call(order, timed, norms, classes, cue_kinds, items)
    _read_points(call)
    _resolve_ambiguous(call)
    call.segments = _segments(call, config.segment_pause_s)
    call.segment_firsts = [segment.first for segment in call.segments]
    return call


def _mark_cues(norms: list[str], classes: list[str]) -> list[str | None]:
    """Find cue phrases, longest first; their words stop being numbers ("three digit code")."""
    cue_kinds: list[str | None] = [None] * len(norms)
    position = 0
    while position < len(norms):
        if norms[position] not in _CUE_FIRST_WORDS:
            position += 1
            continue
        for length in range(min(_MAX_CUE_WORDS, len(norms) - position), 0, -1):
            kind = _CUES.get(tuple(norms[position : position + length]))
            if kind is not None:
                for p in range(position, position + length):
                    cue_kinds[p] = kind
                    classes[p] = "cue"
                position += length
                break
        else:
            position += 1
    return cue_kinds


def _read_points(call: _Call) -> None:
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


def _adjacent(call: _Call, position: int, step: int) -> int | None:
    """The neighbouring position in time order if the same speaker said it, else None."""
    other = position + step
    if 0 <= other < len(call.words) and call.words[other].speaker == call.words[position].speaker:
        return other
    return None


def _is_num(call: _Call, position: int | None) -> bool:
    return position is not None and call.classes[position] == "num"


def _single_digit(item: _Item) -> bool:
    return item.kind in ("d", "oh", "homo") or (item.kind == "lit" and len(item.value) == 1)


def _resolve_ambiguous(call: _Call) -> None:
    """Decide, from the neighbours, whether "oh", "double", "for", "may"... are numbers."""
    n = len(call.words)
    for p in range(n):  # "double" / "triple" only before a digit
        if call.classes[p] == "maybe" and call.items[p][0].kind == "mult":
            after = _adjacent(call, p, 1)
            if after is not None and call.items[after] and _single_digit(call.items[after][0]):
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
                        all(_single_digit(i) for i in call.items[q])
                        or (q == after and call.items[q][0].kind == "mult")
                    )
                    for q in (before, after)
                ):
                    call.classes[p] = "num"
            elif kind == "month" and _is_num(call, after):
                call.classes[p] = "num"
    for p in range(n):
        if call.classes[p] == "maybe":
            call.classes[p] = "filler" if call.norms[p] in _FILLERS else "other"
        elif call.classes[p] == "num" and call.norms[p] == "one":
            before, after = _adjacent(call, p, -1), _adjacent(call, p, 1)
            if (
                before is not None
                and call.norms[before] in _DETERMINERS
                and not _is_num(call, after)
            ):
                call.classes[p] = "other"
        elif call.classes[p] == "filler" and call.norms[p] == "and":
            # "four hundred and twelve"
            before, after = _adjacent(call, p, -1), _adjacent(call, p, 1)
            if (
                _is_num(call, before)
                and call.items[before][-1].kind in ("hundred", "thousand")
                and _is_num(call, after)
            ):
                call.classes[p] = "num"
                call.items[p] = [_Item("and", "", p)]


# ---------------------------------------------------------------------------------------------
# Numbers: digit groups and segments


def _below_hundred(items: list[_Item], i: int) -> tuple[int, int] | None:
    """Value of a spoken number under 100 starting at ``i``, and the index after it."""
    item = items[i]
    if item.kind in ("d", "oh", "homo") or (item.kind == "lit" and len(item.value) <= 2):
        return int(item.value), i + 1
    if item.kind == "teen":
        return int(item.value), i + 1
    if item.kind == "tens":
        tens = int(item.value) * 10
        if i + 1 < len(items) and items[i + 1].kind in ("d", "homo") and items[i + 1].value != "0":
            return tens + int(items[i + 1].value), i + 2
        return tens, i + 1
    return None


def _cardinal(items: list[_Item], i: int) -> tuple[str, int] | None:
    """Read "twenty seven", "four hundred and twelve", "two thousand nine" from ``i``."""
    n = len(items)
    if items[i].kind in ("hundred", "thousand"):
        value, j = 1, i
    else:
        start = _below_hundred(items, i)
        if start is None:
            return None
        value, j = start
    if j < n and items[j].kind == "thousand":
        value, j = value * 1000, j + 1
        if j < n and items[j].kind == "and":
            j += 1
        if j < n and items[j].kind not in ("lit", "mult", "month"):
            rest = _below_hundred(items, j)
            if rest is not None:
                hundreds, k = rest
                if k < n and items[k].kind == "hundred":
                    value, j = value + hundreds * 100, k + 1
                    if j < n and items[j].kind == "and":
                        j += 1
                    tail = _below_hundred(items, j) if j < n else None
                    if tail is not None:
                        value, j = value + tail[0], tail[1]
                else:
                    value, j = value + hundreds, k
        return str(value), j
    if j < n and items[j].kind == "hundred":
        value, j = value * 100, j + 1
        if j < n and items[j].kind == "and":
            j += 1
        if j < n and items[j].kind not in ("lit", "mult", "month"):
            rest = _below_hundred(items, j)
            if rest is not None:
                value, j = value + rest[0], rest[1]
        return str(value), j
    text = items[i].value if items[i].kind == "lit" else str(value)
    return text, j


def _parse_groups(items: list[_Item]) -> list[_Group]:
    groups: list[_Group] = []
    i = 0
    while i < len(items):
        item = items[i]
        if item.kind == "mult":
            if i + 1 < len(items) and _single_digit(items[i + 1]):
                digit = items[i + 1].value
                groups.append(
                    _Group(digit * int(item.value), (item.position, items[i + 1].position))
                )
                i += 2
            else:
                i += 1
            continue
        if item.kind == "month":
            groups.append(_Group(item.value, (item.position,)))
            i += 1
            continue
        if item.kind == "lit" and not (
            len(item.value) <= 2
            and i + 1 < len(items)
            and items[i + 1].kind in ("hundred", "thousand")
        ):
            groups.append(_Group(item.value, (item.position,), alternative=item.alternative))
            i += 1
            continue
        read = _cardinal(items, i)
        if read is None:
            i += 1
            continue
        digits, j = read
        positions = tuple(dict.fromkeys(items[k].position for k in range(i, j)))
        groups.append(_Group(digits, positions, from_oh=item.kind == "oh" and j == i + 1))
        i = j
    return groups


def _segments(call: _Call, pause_s: float) -> list[_Segment]:
    segments: list[_Segment] = []
    n = len(call.words)
    p = 0
    while p < n:
        if call.classes[p] != "num":
            p += 1
            continue
        last = p
        while (
            last + 1 < n
            and _adjacent(call, last, 1) is not None
            and _is_num(call, last + 1)
            and call.words[last + 1].start_s - call.words[last].end_s < pause_s
        ):
            last += 1
        items = [item for q in range(p, last + 1) for item in call.items[q]]
        groups = _parse_groups(items)
        if groups:
            segments.append(
                _Segment(
                    groups=groups,
                    speaker=call.words[p].speaker,
                    first=p,
                    last=last,
                    start_s=call.words[p].start_s,
                    end_s=max(call.words[q].end_s for q in range(p, last + 1)),
                    is_quantity=_followed_by_unit(call, last),
                    lead=_lead_homophone(call, p, groups[0], pause_s),
                )
            )
        p = last + 1
    return segments


def _lead_homophone(
    call: _Call, first: int, group: _Group, pause_s: float
) -> tuple[int, str] | None:
    """(position, digit) of "for" / "to" / "won" / "ate" said straight before a number that
    starts with a single digit, by the same speaker, after a word that is not a number."""
    before = _adjacent(call, first, -1)
    if before is None or len(group.digits) != 1 or call.norms[before] not in _HOMOPHONES:
        return None
    if call.words[first].start_s - call.words[before].end_s >= pause_s:
        return None
    if _is_num(call, _adjacent(call, before, -1)):
        return None
    return before, _HOMOPHONES[call.norms[before]]


def _followed_by_unit(call: _Call, last: int) -> bool:
    """ "forty nine dollars", "two years", "three thirty pm", "forty nine ninety nine a month"."""
    n = len(call.words)
    if last + 1 < n and call.classes[last + 1] == "break":
        return True
    return (
        last + 2 < n
        and call.norms[last + 1] in ("a", "an", "per", "each")
        and call.classes[last + 2] == "break"
    )


# ---------------------------------------------------------------------------------------------
# Runs: segments of one number joined across short gaps


@dataclass
class _Run:
    segments: list[_Segment]


def _gap_allows(
    call: _Call, run: _Run, right: _Segment, speaker: str | None, config: RedactionConfig
) -> bool:
    left = run.segments[-1]
    pause_s = right.start_s - left.end_s
    if pause_s > config.max_card_gap_s:
        return False
    if pause_s > config.max_gap_s and not _card_talk(
        call, run.segments[0].first, config.cue_window_words
    ):
        return False
    own_words = other_words = 0
    for p in range(left.last + 1, right.first):
        word_class = call.classes[p]
        if word_class == "break":
            return False
        if word_class == "cue" and call.cue_kinds[p] not in _NON_BREAKING_CUES:
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


def _asks_for_a_number(call: _Call, position: int) -> bool:
    """A card cue, or a bare "number" ("go ahead with the current number")."""
    kind = call.cue_kinds[position]
    return kind == CARD or (kind == NEUTRAL and call.norms[position] in _NUMBER_REQUESTS)


def _asked_for_other(call: _Call, run: _Run, config: RedactionConfig) -> bool:
    """The run answers a cue of another kind than a card (a phone number, an account...)."""
    cue = _fresh_cue(call, run.segments[0].first, config.cue_window_words)
    return cue is not None and cue[0] != CARD


def _runs(
    call: _Call, segments: list[_Segment], speaker: str | None, config: RedactionConfig
) -> list[_Run]:
    runs: list[_Run] = []
    for segment in segments:
        if runs and _gap_allows(call, runs[-1], segment, speaker, config):
            runs[-1].segments.append(segment)
        else:
            runs.append(_Run([segment]))
    return [piece for run in runs for piece in _split_at_request(call, run)]


def _split_at_request(call: _Call, run: _Run) -> list[_Run]:
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
            return [*_split_at_request(call, _Run(segments[:index])), _Run(segments[index:])]
    return [run]


def _views(call: _Call, config: RedactionConfig) -> list[list[_Run]]:
    """All speakers in time order, then each speaker alone (where there is more than one)."""
    views = [_runs(call, call.segments, None, config)]
    speakers = sorted({segment.speaker for segment in call.segments})
    if len({word.speaker for word in call.words}) > 1:
        for speaker in speakers:
            own = [segment for segment in call.segments if segment.speaker == speaker]
            views.append(_runs(call, own, speaker, config))
    return views


def _governing_cue(call: _Call, position: int, window: int) -> tuple[str, int] | None:
    """The nearest cue before ``position`` (kind, first word of the cue), within ``window``."""
    for p in range(position - 1, max(-1, position - 1 - window), -1):
        kind = call.cue_kinds[p]
        if kind is not None and kind != NEUTRAL:
            while p > 0 and call.cue_kinds[p - 1] == kind:
                p -= 1
            return kind, p
    return None


def _answered(call: _Call, cue_position: int, position: int) -> bool:
    """A number of three or more digits was said between a cue and ``position``: the cue has
    had its answer ("the best number to reach you on? 416 288 1024. And the card? 4012...")."""
    first = bisect_right(call.segment_firsts, cue_position)
    for segment in call.segments[first:]:
        if segment.first >= position:
            return False
        if segment.last < position and not segment.is_quantity and len(segment.digits) >= 3:
            return True
    return False


def _fresh_cue(call: _Call, position: int, window: int) -> tuple[str, int] | None:
    """The governing cue, unless it is a phone / order cue that was already answered."""
    cue = _governing_cue(call, position, window)
    if cue is not None and cue[0] == NEGATIVE and _answered(call, cue[1], position):
        return None
    return cue


def _number_requested(call: _Call, position: int, window: int) -> bool:
    """The nearest cue before ``position`` is a bare "number" / "digits", not "phone number"
    or "order number", and nothing was said to it yet."""
    for p in range(position - 1, max(-1, position - 1 - window), -1):
        if call.cue_kinds[p] is None:
            continue
        if call.cue_kinds[p] != NEUTRAL or call.norms[p] not in _NUMBER_REQUESTS:
            return False
        if any(call.cue_kinds[q] == NEGATIVE for q in range(max(0, p - 2), p)):
            return False
        return not _answered(call, p, position)
    return False


def _is_echo(segment: _Segment, digits: str, speaker: str) -> bool:
    """A read-back: the other speaker repeating the end of what was just said."""
    said = segment.digits
    if said == digits:
        return True
    known = UNKNOWN not in (speaker, segment.speaker)
    return known and segment.speaker != speaker and len(said) >= 3 and digits.endswith(said)


# ---------------------------------------------------------------------------------------------
# Checks on digit strings


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = ord(char) - 48
        if index % 2:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def _is_card_number(digits: str) -> bool:
    """13-19 digits, Luhn-valid, with a known brand's prefix and length."""
    for width, low, high, lengths in _CARD_PREFIXES:
        if len(digits) in lengths and low <= int(digits[:width]) <= high:
            return _luhn_ok(digits)
    return False


def _is_expiry(digits: str) -> bool:
    """MMYY, MYY, MMYYYY or MYYYY with a real month (and a 20xx year when four digits)."""
    if len(digits) == 4:
        return 1 <= int(digits[:2]) <= 12
    if len(digits) == 3:
        return digits[0] != "0"
    if len(digits) == 6:
        return 1 <= int(digits[:2]) <= 12 and digits[2:4] == "20"
    if len(digits) == 5:
        return digits[0] != "0" and digits[1:3] == "20"
    return False


def _fits(kind: str, digits: str) -> bool:
    if kind == CVV:
        return len(digits) in (3, 4)
    if kind == EXPIRY:
        return _is_expiry(digits)
    if kind == ACCOUNT:
        return 4 <= len(digits) <= 17
    if kind == ROUTING:
        return 5 <= len(digits) <= 9
    if kind == SSN:
        return len(digits) in (4, 9)
    return False


def _ssn_literal_ok(norm: str) -> bool:
    match = _SSN_LITERAL.match(norm) if len(norm) == 11 else None
    if match is None:
        return False
    area, group, serial = match.groups()
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _iban_ok(text: str) -> bool:
    if len(text) < 15 or not _IBAN.match(text):
        return False
    moved = text[4:] + text[:4]
    number = "".join(str(int(char, 36)) for char in moved)
    return int(number) % 97 == 1


# ---------------------------------------------------------------------------------------------
# Detectors


def _find_tags(call: _Call, config: RedactionConfig) -> dict[int, str]:
    enabled = config.enabled_kinds()
    views = _views(call, config)
    findings: list[_Finding] = []
    if CARD in enabled or EXPIRY in enabled or CVV in enabled:
        for runs in views:
            for run in runs:
                findings.extend(_card_findings(call, run, config, enabled))
    # Cue-led values start after what the card detector took: "card number, expiry and
    # security code please" is followed by all three, not by a security code first.
    taken = frozenset(p for finding in findings for p in finding.positions)
    answered: set[int] = set()
    for runs in views:
        findings.extend(_cued_findings(call, runs, config, enabled, taken, answered))
    findings.extend(_literal_findings(call, enabled))
    if EXPIRY in enabled:
        findings.extend(_slash_expiry_findings(call, findings, config))
    if enabled & {CARD, EXPIRY, CVV}:
        findings.extend(_follow_on_findings(call, findings, config, enabled))
    if EMAIL in enabled:
        findings.extend(_email_findings(call))
    findings.extend(_echo_findings(call, findings, config))
    priority = {kind: rank for rank, kind in enumerate(KINDS)}
    tags: dict[int, str] = {}
    for finding in findings:
        if finding.kind not in enabled:
            continue
        for position in finding.positions:
            current = tags.get(position)
            if current is None or priority[finding.kind] < priority[current]:
                tags[position] = finding.kind
    return tags


@dataclass(frozen=True)
class _Window:
    digits: str
    positions: tuple[int, ...]
    start: tuple[int, int]  # (segment index, group index) of the first group
    end: tuple[int, int]  # and of the last


# How freely a card number may sit inside a run, by what was said before it.
_LOOSE = "loose"  # after a card cue: start and end at any group
_STRICT = "strict"  # no cue: start where a segment starts; end where one ends, or before
# the expiry and security code said in the same breath
_WHOLE = "whole"  # after a phone / order / reference cue: only the whole run


def _card_windows(run: _Run, mode: str) -> list[_Window]:
    """Luhn-valid card numbers with a brand prefix in a run, read-backs skipped."""
    segments = run.segments
    found: list[_Window] = []
    for first_segment, segment in enumerate(segments):
        if segment.is_quantity:
            continue
        if mode == _LOOSE:
            starts = range(len(segment.groups))
        elif segment.groups[0].from_oh and len(segment.groups) > 1:
            starts = range(2)  # "oh, four one one one": the "oh" may be an interjection
        else:
            starts = range(1)
        for first_group in starts:
            start = (first_segment, first_group)
            stack = [(first_segment, first_group, "", ())]
            while stack:
                s, g, before, positions = stack.pop()
                groups = segments[s].groups
                positions += groups[g].positions
                at_end = g == len(groups) - 1
                for reading in groups[g].readings():
                    digits = before + reading
                    if len(digits) > 19:
                        continue
                    if (
                        len(digits) >= 13
                        and _is_card_number(digits)
                        and (
                            mode == _LOOSE
                            or (
                                mode == _STRICT and (at_end or _is_expiry_and_code(groups[g + 1 :]))
                            )
                            or (at_end and s == len(segments) - 1)
                        )
                    ):
                        found.append(_Window(digits, positions, start, (s, g)))
                    if not at_end:
                        stack.append((s, g + 1, digits, positions))
                        continue
                    following = s + 1
                    speaker = segments[s].speaker
                    skipped = positions
                    while following < len(segments) and not segments[following].is_quantity:
                        stack.append((following, 0, digits, skipped))
                        if not _is_echo(segments[following], digits, speaker):
                            break
                        skipped += segments[following].positions  # read-back: redact, skip
                        following += 1
        if mode == _WHOLE:
            break
    return found


def _is_expiry_and_code(groups: list[_Group]) -> bool:
    """The groups are an expiry date, optionally followed by a 3-4 digit security code."""
    for end in range(1, len(groups) + 1):
        if _expiry_groups_ok(groups[:end]):
            rest = len(_joined(groups[end:]))
            if rest == 0 or rest in (3, 4):
                return True
    return False


def _card_fallback(call: _Call, run: _Run, config: RedactionConfig) -> _Window | None:
    """After a card cue: the first 13-19 digits of the run even if the checksum fails. Once
    there are 13, a later segment counts only if it goes straight on: after a question from
    the other side it is the expiry ("... one 8 -8, one" / "the expiry?" / "12 -28,")."""
    digits, positions = "", ()
    start = end = (0, 0)
    previous: _Segment | None = None
    for s, segment in enumerate(run.segments):
        if segment.is_quantity:
            if digits:
                break
            continue
        if not digits:
            start = (s, 0)
        if digits and s > 0 and _is_echo(segment, digits, run.segments[s - 1].speaker):
            positions += segment.positions
            continue
        if len(digits) >= 13 and previous and not _straight_on(call, previous, segment, config):
            break
        previous = segment
        for g, group in enumerate(segment.groups):
            if len(digits) + len(group.digits) > 19:
                return _Window(digits, positions, start, end) if len(digits) >= 13 else None
            digits += group.digits
            positions += group.positions
            end = (s, g)
    return _Window(digits, positions, start, end) if len(digits) >= 13 else None


def _card_talk(call: _Call, position: int, window: int) -> bool:
    """A card cue within ``window`` words before ``position``, with no phone / order cue
    nearer ("card number, expiry and security code please" still counts)."""
    for p in range(position - 1, max(-1, position - 1 - window), -1):
        if call.cue_kinds[p] == NEGATIVE:
            return False
        if call.cue_kinds[p] == CARD:
            return True
    return False


def _card_findings(
    call: _Call, run: _Run, config: RedactionConfig, enabled: frozenset[str]
) -> list[_Finding]:
    first, last = run.segments[0].first, run.segments[-1].last
    card_talk = _card_talk(call, first, config.cue_window_words) or any(
        call.cue_kinds[p] == CARD for p in range(first, last + 1)
    )
    # A number asked for without a card cue ("the current number") may also fail the checksum.
    requested = card_talk
    if card_talk:
        mode = _LOOSE
    else:
        cue = _fresh_cue(call, first, config.cue_window_words)
        mode = _WHOLE if cue is not None and cue[0] == NEGATIVE else _STRICT
        requested = mode == _STRICT and _number_requested(call, first, config.cue_window_words)
    windows = _card_windows(run, mode)
    if not windows and requested:
        fallback = _card_fallback(call, run, config)
        # Without a card cue, only what starts like a card (2-6; "0044 20 ..." is a phone).
        if fallback is not None and (card_talk or fallback.digits[0] in _CARD_FIRST_DIGITS):
            windows = [fallback]
    if not windows:
        return []
    findings = [_Finding(CARD, frozenset(w.positions), w.digits) for w in windows]
    if card_talk:
        # False starts before the card number: "4111 1112, sorry, 4111 1111 1111 1111"
        first_segment = min(w.start for w in windows)[0]
        for segment in run.segments[:first_segment]:
            if not segment.is_quantity:
                findings.append(_Finding(CARD, frozenset(segment.positions), segment.digits))
    longest = max(windows, key=lambda w: (w.end, len(w.digits)))
    findings.extend(_after_card(call, run, longest, enabled, config))
    return findings


def _after_card(
    call: _Call, run: _Run, card: _Window, enabled: frozenset[str], config: RedactionConfig
) -> list[_Finding]:
    """What follows a card number in the same run: the expiry and security code, without
    their cues; or, when no expiry comes first, the rest of the digits said in the same breath
    (a checksum that matched too early, a digit too many, an ASR repetition loop) as card."""
    tail: list[_Group] = []
    joined: list[bool] = []  # each tail group goes straight on from the one before
    s, g = card.end
    previous = run.segments[s]
    for index in range(s, len(run.segments)):
        segment = run.segments[index]
        if segment.is_quantity:
            break
        if index == s:
            groups = segment.groups[g + 1 :]
            joined.extend([True] * len(groups))
        else:
            straight_on = _straight_on(call, previous, segment, config)
            read_back = len(segment.digits) >= 3 and segment.digits in card.digits
            if not straight_on and (read_back or _other_speaker(segment, run.segments[s])):
                continue  # a read-back, or the other side's question ("the Atari 8?")
            groups = segment.groups
            joined.extend([straight_on] + [True] * (len(groups) - 1))
            previous = segment
        tail.extend(groups)
    findings: list[_Finding] = []
    start = 0
    if _prefix_fitting(tail, 0, _expiry_groups_ok, preferred=(4, 6, 3, 5)) is None:
        while start < len(tail) and joined[start]:
            start += 1
        if start:
            findings.append(_group_finding(CARD, tail[:start]))
    expiry_end = _prefix_fitting(tail, start, _expiry_groups_ok, preferred=(4, 6, 3, 5))
    if expiry_end is None:
        return findings
    if EXPIRY in enabled:
        findings.append(_group_finding(EXPIRY, tail[start:expiry_end]))
    cvv_end = _prefix_fitting(
        tail, expiry_end, lambda groups: _fits(CVV, _joined(groups)), preferred=(3, 4)
    )
    if cvv_end is not None and CVV in enabled:
        findings.append(_group_finding(CVV, tail[expiry_end:cvv_end]))
    return findings


def _other_speaker(segment: _Segment, other: _Segment) -> bool:
    return segment.speaker != other.speaker and UNKNOWN not in (segment.speaker, other.speaker)


def _straight_on(call: _Call, left: _Segment, right: _Segment, config: RedactionConfig) -> bool:
    """``right`` goes straight on from ``left``: soon after, with only fillers between, or
    with nothing at all between when another speaker said it (diarization splits one
    speaker's long number; "thank you, one moment" is not more of it)."""
    if right.start_s - left.end_s > config.continuation_gap_s:
        return False
    if _other_speaker(left, right):
        return right.first == left.last + 1
    return all(call.classes[p] == "filler" for p in range(left.last + 1, right.first))


def _joined(groups: list[_Group]) -> str:
    return "".join(group.digits for group in groups)


def _expiry_groups_ok(groups: list[_Group]) -> bool:
    """An expiry date; three digits only as month + two-digit year ("nine twenty eight"),
    so that a bare "one two three" after a card is read as the security code."""
    digits = _joined(groups)
    if not _is_expiry(digits):
        return False
    return len(digits) != 3 or len(groups[-1].digits) == 2


def _prefix_fitting(groups: list[_Group], start: int, check, preferred: tuple[int, ...]):
    """End index of the prefix of ``groups[start:]`` that passes ``check``, taking the first
    digit count in ``preferred`` that has one."""
    by_length: dict[int, int] = {}
    digits = 0
    for end in range(start, len(groups)):
        digits += len(groups[end].digits)
        if check(groups[start : end + 1]):
            by_length.setdefault(digits, end + 1)
        if digits >= max(preferred):
            break
    for length in preferred:
        if length in by_length:
            return by_length[length]
    return None


def _group_finding(kind: str, groups: list[_Group]) -> _Finding:
    return _Finding(
        kind,
        frozenset(p for group in groups for p in group.positions),
        "".join(group.digits for group in groups),
    )


def _cued_findings(
    call: _Call,
    runs: list[_Run],
    config: RedactionConfig,
    enabled: frozenset[str],
    taken: frozenset[int],
    answered: set[int],
) -> list[_Finding]:
    """For each cue, the first value after it (within the window) that has the right shape,
    among the segments no card detector took; ``answered`` (cue positions) is shared by the
    views, so that a cue answered in one is not answered again in another."""
    findings: list[_Finding] = []
    for run in runs:
        for index, segment in enumerate(run.segments):
            if segment.is_quantity or taken.intersection(segment.positions):
                continue
            cue = _governing_cue(call, segment.first, config.cue_window_words)
            if cue is None or cue[1] in answered:
                continue
            kind = cue[0]
            if kind not in (CVV, EXPIRY, ACCOUNT, ROUTING, SSN) or kind not in enabled:
                continue
            finding = _value_after(run, index, kind, taken)
            if finding is not None:
                findings.append(finding)
                answered.add(cue[1])
    return findings


def _value_after(run: _Run, index: int, kind: str, taken: frozenset[int]) -> _Finding | None:
    """The longest chain of whole segments from ``index`` (read-backs skipped) that fits."""
    digits, positions = "", ()
    best: _Finding | None = None
    speaker = run.segments[index].speaker
    for segment in run.segments[index:]:
        if segment.is_quantity or taken.intersection(segment.positions):
            break
        if digits and _is_echo(segment, digits, speaker):
            positions += segment.positions
            if best is not None:
                best = _Finding(kind, frozenset(positions), best.digits)
            continue
        if segment.speaker != speaker and UNKNOWN not in (speaker, segment.speaker):
            break  # "421," / "Thank you, one moment": the other side's number is not the rest
        digits += segment.digits
        positions += segment.positions
        if len(digits) > 19:
            break
        if _fits(kind, digits):
            best = _Finding(kind, frozenset(positions), digits)
    first = run.segments[index]
    if best is None and first.lead is not None and first.lead[0] not in taken:
        led = _led_value(first, kind)  # "the security code is for 2 1"
        if led is not None:
            best = led
    return best


def _led_value(segment: _Segment, kind: str) -> _Finding | None:
    """The segment read with the homophone before it ("for 2 1" -> "421"), if only that
    reading has the shape of ``kind``."""
    if segment.lead is None or _fits(kind, segment.digits):
        return None
    position, digit = segment.lead
    if not _fits(kind, digit + segment.digits):
        return None
    return _Finding(kind, frozenset((position, *segment.positions)), digit + segment.digits)


@dataclass
class _Following:
    """A card number just given, and what its speaker has said after it so far."""

    speaker: str
    complete: bool  # the checksum passed, or sixteen digits or more were heard
    end_s: float
    last: int
    expiry: bool = False
    cvv: bool = False


# Cues after which the card's speaker is answering another question.
_OTHER_QUESTION_CUES = frozenset({NEGATIVE, ACCOUNT, ROUTING, SSN})


def _follow_on_findings(
    call: _Call, found: list[_Finding], config: RedactionConfig, enabled: frozenset[str]
) -> list[_Finding]:
    """The card's speaker's next numbers, in order: the rest of a card number that is still
    short (said straight on), the expiry, then the security code, each within
    ``follow_window_s`` of the last, when the cue for them was misheard or never said."""
    kinds_at: dict[int, set[str]] = {}
    for finding in found:
        for p in finding.positions:
            kinds_at.setdefault(p, set()).add(finding.kind)
    complete = {
        p
        for finding in found
        if finding.kind == CARD and (_is_card_number(finding.digits) or len(finding.digits) >= 16)
        for p in finding.positions
    }
    findings: list[_Finding] = []
    state: _Following | None = None
    for segment in call.segments:
        kinds = set().union(*(kinds_at.get(p, ()) for p in segment.positions))
        if state is not None and (
            segment.start_s - state.end_s > config.follow_window_s
            or any(
                call.cue_kinds[p] in _OTHER_QUESTION_CUES
                for p in range(state.last + 1, segment.first)
            )
        ):
            state = None
        if CARD in kinds:
            if state is None:
                state = _Following(segment.speaker, False, segment.end_s, segment.last)
            state.complete = state.complete or bool(complete.intersection(segment.positions))
            state.end_s, state.last = max(state.end_s, segment.end_s), segment.last
            continue
        if state is None or segment.speaker != state.speaker or segment.is_quantity:
            continue  # the other side's talk (a question, a read-back) does not end the wait
        if kinds:
            state.expiry = state.expiry or EXPIRY in kinds
            state.cvv = state.cvv or CVV in kinds
        else:
            finding = _next_value(call, state, segment, config)
            if finding is None:
                state = None
                continue
            findings.append(finding)
            state.expiry = state.expiry or finding.kind == EXPIRY
            state.cvv = state.cvv or finding.kind == CVV
        state.end_s, state.last = segment.end_s, segment.last
        if state.expiry and state.cvv:
            state = None
    return [finding for finding in findings if finding.kind in enabled]


def _next_value(
    call: _Call, state: _Following, segment: _Segment, config: RedactionConfig
) -> _Finding | None:
    """What the card's speaker's next number is, by what has been said so far; None when it
    is none of them (the follow-on stops there)."""
    positions = frozenset(segment.positions)
    if (
        not state.complete
        and not state.expiry
        and segment.start_s - state.end_s <= config.continuation_gap_s
        and all(call.classes[p] == "filler" for p in range(state.last + 1, segment.first))
    ):
        return _Finding(CARD, positions, segment.digits)
    said_on_a_date = segment.first > 0 and call.norms[segment.first - 1] in _DATE_PREPOSITIONS
    if not state.expiry and _expiry_groups_ok(segment.groups) and not said_on_a_date:
        return _Finding(EXPIRY, positions, segment.digits)
    if state.expiry and not state.cvv:
        if _fits(CVV, segment.digits):
            return _Finding(CVV, positions, segment.digits)
        return _led_value(segment, CVV)
    return None


def _literal_findings(call: _Call, enabled: frozenset[str]) -> list[_Finding]:
    """Values whose written form says what they are: 123-45-6789, GB82WEST12345698765432."""
    findings: list[_Finding] = []
    for p, word in enumerate(call.words):
        if SSN in enabled and _ssn_literal_ok(call.norms[p]):
            findings.append(_Finding(SSN, frozenset({p}), call.norms[p].replace("-", "")))
        bare = word.word.strip().strip(_STRIP).replace(" ", "")
        if ACCOUNT in enabled and _iban_ok(bare):
            findings.append(_Finding(ACCOUNT, frozenset({p}), bare))
    return findings


def _slash_expiry_findings(
    call: _Call, found: list[_Finding], config: RedactionConfig
) -> list[_Finding]:
    """A bare "09/28" or "twelve/27" near card talk is an expiry date."""
    card_positions = sorted(
        {p for finding in found if finding.kind == CARD for p in finding.positions}
        | {p for p, kind in enumerate(call.cue_kinds) if kind in (CARD, CVV, EXPIRY)}
    )
    findings: list[_Finding] = []
    window = config.context_window_words
    for p, norm in enumerate(call.norms):
        if "/" not in norm or call.classes[p] != "num":
            continue
        halves = norm.split("/")
        if len(halves) != 2:
            continue
        digits = [_parse_groups([i for i in (_item(h, p),) if i is not None]) for h in halves]
        if not all(len(groups) == 1 for groups in digits):
            continue
        month, year = digits[0][0].digits, digits[1][0].digits
        if not (1 <= int(month) <= 12 and (len(year) == 2 or year.startswith("20"))):
            continue
        if p > 0 and call.norms[p - 1] in _DATE_PREPOSITIONS:
            continue
        if any(abs(q - p) <= window for q in card_positions):
            findings.append(_Finding(EXPIRY, frozenset({p}), month + year))
    return findings


def _email_findings(call: _Call) -> list[_Finding]:
    """Written addresses, and spoken ones: "john dot smith at gmail dot com"."""
    findings: list[_Finding] = []
    norms = call.norms
    n = len(norms)
    for p, word in enumerate(call.words):
        if _EMAIL_LITERAL.search(word.word):
            findings.append(_Finding(EMAIL, frozenset({p}), ""))
            continue
        if norms[p] != "at" or p == 0 or p + 1 >= n:
            continue
        # domain: "gmail.com" as one word, or "gmail dot com [dot uk]"
        end = p + 1
        if "." in norms[end] and norms[end].rsplit(".", 1)[-1] in _EMAIL_TLDS:
            pass
        elif end + 2 < n and norms[end + 1] == "dot" and norms[end + 2] in _EMAIL_TLDS:
            end += 2
            while end + 2 < n and norms[end + 1] == "dot" and norms[end + 2] in _EMAIL_TLDS:
                end += 2
        else:
            continue
        start = p - 1
        while start - 2 >= 0 and norms[start - 1] in _EMAIL_CONNECTORS:
            start -= 2
        findings.append(_Finding(EMAIL, frozenset(range(start, end + 1)), ""))
    return findings


def _echo_findings(call: _Call, found: list[_Finding], config: RedactionConfig) -> list[_Finding]:
    """Read-backs: a segment near a found value that repeats it, or four or more of its
    digits, is redacted as that value's kind."""
    taken = {p for finding in found for p in finding.positions}
    starts_s = [segment.start_s for segment in call.segments]  # in time order
    findings: list[_Finding] = []
    for finding in found:
        if len(finding.digits) < 3 or not finding.digits.isdigit():
            continue
        start_s = min(call.words[p].start_s for p in finding.positions)
        end_s = max(call.words[p].end_s for p in finding.positions)
        first = bisect_left(starts_s, start_s - config.echo_window_s)
        last = bisect_right(starts_s, end_s + config.echo_window_s)
        for segment in call.segments[first:last]:
            said = segment.digits
            if said != finding.digits and not (len(said) >= 4 and said in finding.digits):
                continue
            if segment.is_quantity or taken.intersection(segment.positions):
                continue
            cue = _governing_cue(call, segment.first, config.cue_window_words)
            if cue is not None and cue[0] == NEGATIVE:
                continue
            findings.append(_Finding(finding.kind, frozenset(segment.positions), said))
    return findings


def _spans(call: _Call, tags: dict[int, str]) -> list[Redaction]:
    spans: list[Redaction] = []
    current: Redaction | None = None
    for position, word in enumerate(call.words):
        kind = tags.get(position)
        if kind is None:
            current = None
            continue
        if current is not None and current.kind == kind:
            current = Redaction(kind, current.start_s, max(current.end_s, word.end_s))
            spans[-1] = current
        else:
            current = Redaction(kind, word.start_s, word.end_s)
            spans.append(current)
    return spans
