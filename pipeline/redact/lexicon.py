"""Words to numbers: the vocabulary, one class per word, and spoken digits read as digit groups."""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.redact.options import (
    ACCOUNT,
    CARD,
    CVV,
    DOB,
    DONE,
    EXPIRY,
    IBAN,
    NEGATIVE,
    NEUTRAL,
    PIN,
    ROUTING,
    SSN,
)

# ---------------------------------------------------------------------------------------------
# Vocabulary


def _words(text: str) -> list[str]:
    """A word list written as one string, for the long lists below."""
    return text.split()


DIGIT_WORDS = {
    word: str(value)
    for value, word in enumerate(_words("zero one two three four five six seven eight nine"))
} | {"nought": "0", "naught": "0", "nil": "0", "niner": "9"}
# "oh" / "o" are zero only next to other numbers; "oh" alone is an interjection.
OH_WORDS = frozenset({"oh", "o"})
# Homophones Whisper may write for digits said one by one: digits only between two digits.
HOMOPHONES = {
    "for": "4", "fore": "4", "to": "2", "too": "2", "won": "1", "ate": "8", "free": "3",
    "tree": "3",
}  # fmt: skip
TEENS = {
    word: str(value)
    for value, word in enumerate(
        _words("ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"),
        start=10,
    )
}
TENS = {
    word: str(value)
    for value, word in enumerate(
        _words("twenty thirty forty fifty sixty seventy eighty ninety"), start=2
    )
} | {"fourty": "4"}
MULTIPLIERS = {"double": 2, "triple": 3}
MONTHS = {
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
UNIT_WORDS = frozenset(
    _words(
        """
    dollar dollars buck bucks cent cents pound pounds pence quid euro euros percent
    grand year years yr yrs month months week weeks day days hour hours hr hrs minute minutes
    min mins second seconds sec secs moment moments am pm a.m p.m a.m. p.m. o'clock oclock
    times items item
    pieces people kids miles mile kilometers km gb mb tb kg kgs lbs lb feet foot inches inch
    gallons liters litres th st nd rd
    """
    )
)
ORDINAL_WORDS = frozenset(
    _words(
        """
    first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth
    thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth
    thirtieth
    """
    )
)
# Units that say a number is plainly not card data even inside a payment exchange; the
# calendar words are left out ("month is oh nine, year is twenty twenty-eight").
CURRENCY_WORDS = frozenset(
    _words("dollar dollars buck bucks cent cents pound pounds pence quid euro euros grand")
)
NOT_CARD_UNITS = CURRENCY_WORDS | frozenset(
    _words(
        """
    percent week weeks day days hour hours hr hrs minute minutes min mins second seconds sec
    secs moment moments am pm a.m p.m o'clock oclock times items item pieces people kids miles mile kilometers km gb mb tb kg kgs lbs lb
    feet foot inches inch gallons liters litres
    """
    )
)
# A four-digit year after these is a year ("since twenty nineteen", "back in 2005").
YEAR_PREPOSITIONS = frozenset({"since", "in", "from", "until", "till"})
# Words that may sit inside a number without counting towards the gap limit.
FILLERS = frozenset(
    _words(
        """
    okay ok k mm hm mhm mmhm mm-hm uh-huh uh um umm er erm ah ahh oh yes yeah yep yup right
    alright sure and then so sorry got it that thats its is was go ahead correct great
    perfect thanks thank you next uh-uh hmm
    """
    )
)
# "the one on the back": "one" after these is a pronoun unless more digits follow.
DETERMINERS = frozenset(
    _words(
        "the that this which a no each every any other another new old same right wrong next only"
    )
)
# A date said after these is an appointment, not an expiry.
DATE_PREPOSITIONS = frozenset({"on", "by", "before", "after", "from", "since", "for"})
# Words that frame an answer without being part of it ("it's", "yeah, my PIN is", "thanks", "from
# 1972"): any other word said straight next to an answer's digits may be a digit ASR wrote as a
# word.
ANSWER_FRAME = (
    FILLERS
    | YEAR_PREPOSITIONS
    | DATE_PREPOSITIONS
    | frozenset(
        _words(
            """
    i i'm im it my me is are am was be the a an of or not no nope please well just let see
    think believe guess hi hello hey bye thanks cheers number numbers digits what's whats
    """
        )
    )
)


def _cue_table() -> dict[tuple[str, ...], str]:
    phrases = {
        CARD: """card | card number | credit card | debit card | long number | visa | mastercard |
            master card | amex | american express | discover | sixteen digit | 16 digit |
            sixteen digits | 16 digits | fifteen digit | 15 digit | number on the card |
            numbers on the front | front of the card | number on your card | card details |
            card information | card info | payment details | digits on the front |
            front of your card | credit card number | debit card number""",
        CVV: """security code | security number | cvv | cvv2 | cvc | cvc2 | cv2 | csc | cid |
            card verification | verification code | verification number | three digit code |
            3 digit code | three digits | 3 digits | three digit number | on the back | code |
            back of the card | back of your card | on the back of the card |
            on the back of your card | four digit code on the front | c v v | c v c | cvb |
            cvn | card security code | signature strip | signature panel""",
        EXPIRY: """expiry | expiry date | expiration | expiration date | expires | expire |
            expiring | exp | valid until | valid till | valid thru | valid through | good thru |
            good through | expiry month | expiration month | month and year | end date |
            valid from | exp date""",
        ACCOUNT: """account | account number | acct | bank account | checking account |
            savings account""",
        IBAN: """iban | i ban | international bank account number | international bank account""",
        ROUTING: """routing | routing number | aba | sort code | transit number | bank code |
            bsb | routine number""",
        SSN: """social | social security | social security number | ssn | last four of your
            social""",
        PIN: """pin | pin number | pin code | passcode | pass code | security pin | access code |
            telephone pin | phone pin | phone banking pin | secret code""",
        DOB: """date of birth | birth date | birthdate | dob | d o b | born | birthday | birth |
            day of birth""",
        NEGATIVE: """phone | phone number | telephone | mobile | cell | cellphone | call | callback |
            reach | contact number | order | order number | ticket | reference | ref |
            confirmation | case | case number | tracking | invoice | claim | extension | ext |
            zip | zip code | postcode | post code | postal code | address | apartment | apt |
            suite | street | flight | model | serial | version | policy | member | room |
            ticket number | reference number | confirmation number | area code | promo code |
            discount code | confirmation code | voucher code | appointment | amount |
            balance | total | how much | best number | good number | number to reach |
            number to call | home number | work number | landline | fax | house | house number |
            customer number | employee number | license | licence | registration | plate |
            booking | membership | loyalty | unit | floor | platform | gate | seat | page""",
        NEUTRAL: """last four | last 4 | first four | first six | last three | digit | digits |
            number | numbers | ending in | ends in | ending with | ends with | two digit |
            three digit | 3 digit |
            four digit | 4 digit | five digit | 5 digit | six digit | 6 digit | eight digit |
            four digits | 4 digits | six digits | 6 digits""",
        DONE: """gone through | went through | been processed | been approved | been accepted |
            been taken | was approved | was accepted | was successful | was processed |
            is approved | is complete | is completed | is processed | all set | all done |
            payment successful | payment complete | payment approved | transaction approved |
            transaction complete | transaction completed | processed successfully |
            anything else""",
    }
    table: dict[tuple[str, ...], str] = {}
    for kind, text in phrases.items():
        for phrase in text.split("|"):
            table[tuple(phrase.split())] = kind
    return table


CUES = _cue_table()
MAX_CUE_WORDS = max(len(phrase) for phrase in CUES)
CUE_FIRST_WORDS = frozenset(phrase[0] for phrase in CUES)
# Cues of these kinds do not split a number: a card cue inside a card number is still card talk.
NON_BREAKING_CUES = frozenset({CARD, NEUTRAL})

STRIP = " \t\r\n.,!?;:\"'()[]{}<>…#*“”‘’«»"
# Amounts, decimals and ordinals written as one word: "$49.99", "12%", "49.99", "27th", "3pm".
# "4111.1111.1111.1111" is not a decimal: only one to two digits after a single point are.
_MONEY = re.compile(r"^[$£€¥]|%$|^\d[\d,]*\.\d{1,2}$|^\d+(?:st|nd|rd|th|am|pm|k|s)$")
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d)")
_SEPARATORS = re.compile(r"[-/_=;,|+~.:\s]+")
_CLOCK = re.compile(r"^\d{1,2}:\d{2}(?:am|pm)?$")
# A bare "go ahead with the number" asks for a value whose cue may have been misheard
# ("the current number" for "the card number").
NUMBER_REQUESTS = frozenset({"number", "numbers", "digits"})
# ---------------------------------------------------------------------------------------------
# Lexing: one class per word, digit items for number words


@dataclass(frozen=True)
class Item:
    """One numeric piece of a word: ``kind`` is d, oh, homo, lit, teen, tens, hundred,
    thousand, mult, month or and."""

    kind: str
    value: str
    position: int
    # Another reading of a written number: "4 .1" may be "four oh one" (Whisper writes "oh"
    # as a point) or "four one".
    alternative: str = ""


@dataclass(frozen=True)
class Group:
    """Digits read from one or a few adjacent words ("double one" -> "11")."""

    digits: str
    positions: tuple[int, ...]
    from_oh: bool = False
    alternative: str = ""

    def readings(self) -> tuple[str, ...]:
        return (self.digits, self.alternative) if self.alternative else (self.digits,)


def normalise(text: str) -> str:
    norm = text.strip().lower().replace("’", "'").strip(STRIP)
    return norm.removesuffix("'s")


def _is_ascii_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()  # "²".isdigit() is True, int("²") fails


def lex_item(sub: str, position: int) -> Item | None:
    if _is_ascii_digits(sub):
        return Item("lit", sub, position)
    if sub in DIGIT_WORDS:
        return Item("d", DIGIT_WORDS[sub], position)
    if sub in OH_WORDS:
        return Item("oh", "0", position)
    if sub in TEENS:
        return Item("teen", TEENS[sub], position)
    if sub in TENS:
        return Item("tens", TENS[sub], position)
    if sub == "hundred":
        return Item("hundred", "", position)
    if sub == "thousand":
        return Item("thousand", "", position)
    if sub in MULTIPLIERS:
        return Item("mult", str(MULTIPLIERS[sub]), position)
    if sub in HOMOPHONES:
        return Item("homo", HOMOPHONES[sub], position)
    if sub in MONTHS:
        return Item("month", MONTHS[sub], position)
    return None


_AMBIGUOUS = frozenset({"oh", "homo", "month", "mult"})


def lex(norm: str, position: int) -> tuple[str, list[Item]]:
    """Class of one normalised word and, for number words, its items."""
    if not norm:
        return "filler", []
    if norm in UNIT_WORDS or norm in ORDINAL_WORDS:
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
        subs = [sub.strip(STRIP) for sub in _SEPARATORS.split(joined)]
        subs = [sub for sub in subs if sub]
        if not subs:
            return "filler", []
        if any(sub in UNIT_WORDS or sub in ORDINAL_WORDS for sub in subs):
            return "break", []
    items = [lex_item(sub, position) for sub in subs]
    numeric = [item for item in items if item is not None]
    if any(item.kind == "lit" for item in numeric):
        return "num", numeric
    if numeric and len(numeric) == len(items):
        if all(item.kind in _AMBIGUOUS for item in numeric):
            return "maybe", numeric
        return "num", numeric
    if norm in FILLERS:
        return "filler", []
    return "other", []


def single_digit(item: Item) -> bool:
    return item.kind in ("d", "oh", "homo") or (item.kind == "lit" and len(item.value) == 1)


# ---------------------------------------------------------------------------------------------
# Numbers: digit groups and segments


def _below_hundred(items: list[Item], i: int) -> tuple[int, int] | None:
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


def _cardinal(items: list[Item], i: int) -> tuple[str, int] | None:
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


def parse_groups(items: list[Item]) -> list[Group]:
    groups: list[Group] = []
    i = 0
    while i < len(items):
        item = items[i]
        if item.kind == "mult":
            if i + 1 < len(items) and single_digit(items[i + 1]):
                digit = items[i + 1].value
                groups.append(
                    Group(digit * int(item.value), (item.position, items[i + 1].position))
                )
                i += 2
            else:
                i += 1
            continue
        if item.kind == "month":
            groups.append(Group(item.value, (item.position,)))
            i += 1
            continue
        if item.kind == "lit" and not (
            len(item.value) <= 2
            and i + 1 < len(items)
            and items[i + 1].kind in ("hundred", "thousand")
        ):
            groups.append(Group(item.value, (item.position,), alternative=item.alternative))
            i += 1
            continue
        read = _cardinal(items, i)
        if read is None:
            i += 1
            continue
        digits, j = read
        positions = tuple(dict.fromkeys(items[k].position for k in range(i, j)))
        groups.append(Group(digits, positions, from_oh=item.kind == "oh" and j == i + 1))
        i = j
    return groups
