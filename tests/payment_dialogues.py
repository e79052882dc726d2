"""Card-payment dialogues for the redaction tests, the benchmark and the audio card calls.

Each dialogue is a random phone call in which a customer pays by card (now and then by bank
transfer): a greeting, identity checks (date of birth, PIN, the last four of the social, a zip
code, a phone number, an address), small talk with numbers in it, the amount, the card number
of a random brand and length (Luhn-valid), its expiry and security code, read-backs,
corrections, pauses while the customer finds the card, and what follows the payment
(a confirmation number, an appointment, a call-back number). Every word that carries a value
that must be redacted is labelled with that value; every word of a number that must be kept
(phone, zip, street number, amount, order / ticket / confirmation number, appointment date
and time, year, count) is labelled as kept.

Two layers, so that the same calls serve the audio set and the text benchmark:

- ``make_dialogue`` writes the call as people say it: spoken words only ("four oh one two,
  double eight"), which espeak-ng can read aloud.
- ``asr_dialogue`` writes it the way an ASR transcribes such speech: digits ("4012"), Whisper's
  dashes and points ("4 -0 -1 -2", "4 .1"), homophones ("for", "to", "ate"), letter-digit mixes
  ("MO9"), misheard digits, dropped digits, repetition loops, misheard cues ("the current
  number", "the Atari 8", "the free digits on the Mac of the card"), and digits of an answer to
  a PIN, SSN, account, routing or birth-date question written as other words ("time" for
  "nine", a stray "mirror" for one or two digits).

``dialogues(seed, count)`` gives ``count`` ASR-style dialogues, each from its own random stream,
so a dialogue depends only on the seed and its index. Nothing here reads the redaction code: the
labels come from how the call was written, never from the detector they are used to check.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from pipeline.types import UNKNOWN, Word

AGENT, CUSTOMER = "agent", "customer"
SENSITIVE_KINDS = ("card", "cvv", "expiry", "pin", "dob", "iban", "ssn", "account", "routing")
KEPT_KINDS = (
    "phone", "zip", "street", "amount", "order", "ticket", "confirmation", "appointment",
    "year", "count",
)  # fmt: skip


@dataclass(frozen=True)
class Token:
    """One word as written in the transcript, with what it carries."""

    text: str
    value: int | None = None  # index of the sensitive value it belongs to
    kept: int | None = None  # index of the number that must be kept
    cue: int | None = None  # index of the cue phrase it belongs to (ASR may mishear it)
    digits: str = ""  # the digits this word stands for inside its number ("double" -> "8")


@dataclass(frozen=True)
class Utterance:
    speaker: str
    tokens: tuple[Token, ...]
    pause_s: float  # silence before it; negative: it starts over the end of the one before


@dataclass(frozen=True)
class Labelled:
    """A value that must be redacted, or a number that must be kept."""

    kind: str
    digits: str


@dataclass(frozen=True)
class Cue:
    kind: str  # card, expiry, cvv, pin, routing...
    text: str


@dataclass(frozen=True)
class Dialogue:
    name: str
    utterances: tuple[Utterance, ...]
    values: tuple[Labelled, ...]
    kept: tuple[Labelled, ...]
    cues: tuple[Cue, ...] = ()

    def tokens(self) -> list[Token]:
        """Every word, in the order said."""
        return [token for utterance in self.utterances for token in utterance.tokens]

    def text(self) -> str:
        """One line per utterance, words separated by single spaces (no speaker names)."""
        return "\n".join(" ".join(t.text for t in u.tokens) for u in self.utterances)

    def lines(self) -> list[tuple[str, str]]:
        """(speaker, text) per utterance: what a text-to-speech voice reads."""
        return [(u.speaker, " ".join(t.text for t in u.tokens)) for u in self.utterances]

    def words(self, speakers: str = "exact", seed: int = 0) -> list[Word]:
        """The dialogue as timed ASR words, in the order of ``tokens()``.

        ``speakers``: "exact" (a dual-channel call), "unknown" (diarization gave up) or "noisy"
        (a mono call: about one utterance in six goes to the wrong speaker, and now and then
        an utterance is split between both).
        """
        rng = random.Random(f"{self.name}:words:{seed}")
        words: list[Word] = []
        clock_s = 0.5
        end_s = clock_s
        for utterance in self.utterances:
            start_s = max(0.0, end_s + utterance.pause_s)
            speaker = utterance.speaker
            if speakers == "unknown":
                speaker = UNKNOWN
            elif speakers == "noisy" and rng.random() < 0.17:
                speaker = AGENT if speaker == CUSTOMER else CUSTOMER
            split_at = (
                rng.randrange(1, len(utterance.tokens))
                if speakers == "noisy" and len(utterance.tokens) > 3 and rng.random() < 0.08
                else None
            )
            clock_s = start_s
            for index, token in enumerate(utterance.tokens):
                said_by = speaker
                if split_at is not None and index >= split_at:
                    said_by = AGENT if speaker == CUSTOMER else CUSTOMER
                duration_s = min(0.7, 0.12 + 0.045 * len(token.text.strip(",.?!")))
                if rng.random() < 0.03:  # Whisper gives some words no duration at all
                    duration_s = 0.0
                words.append(Word(clock_s, clock_s + duration_s, " " + token.text, 0.9, said_by))
                clock_s += duration_s + rng.uniform(0.03, 0.12)
            end_s = max(end_s, clock_s)
        return words


# ---------------------------------------------------------------------------------------------
# Numbers as people say them


def _word_list(text: str) -> list[str]:
    return text.split()


ONES = _word_list("zero one two three four five six seven eight nine")
TEENS = _word_list(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
)
TENS = _word_list("twenty thirty forty fifty sixty seventy eighty ninety")
MONTHS = _word_list(
    "January February March April May June July August September October November December"
)
ORDINALS = _word_list(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
)
NATO = {
    "A": "alpha", "B": "bravo", "C": "charlie", "D": "delta", "E": "echo", "F": "foxtrot",
    "G": "golf", "H": "hotel", "I": "india", "J": "juliet", "K": "kilo", "L": "lima", "M": "mike",
    "N": "november", "O": "oscar", "P": "papa", "Q": "quebec", "R": "romeo", "S": "sierra",
    "T": "tango", "U": "uniform", "V": "victor", "W": "whiskey", "X": "x-ray", "Y": "yankee",
    "Z": "zulu",
}  # fmt: skip

Spoken = list[tuple[str, str]]  # (word, the digits it stands for)
# Words said between the parts of a value that carry none of it.
CONNECTORS = frozenset({"month", "year", "is", "of", "slash", "and"})


def _zero_word(rng: random.Random) -> str:
    return "oh" if rng.random() < 0.65 else "zero"


def say_digits(
    digits: str, rng: random.Random, zero: str | None = None, runs: bool = True
) -> Spoken:
    """Digit by digit, with "double" / "triple" for repeats when ``runs``."""
    zero = zero or _zero_word(rng)
    words: Spoken = []
    i = 0
    while i < len(digits):
        digit = digits[i]
        repeat = 1
        while i + repeat < len(digits) and digits[i + repeat] == digit and repeat < 3:
            repeat += 1
        name = zero if digit == "0" else ONES[int(digit)]
        if runs and repeat >= 2 and rng.random() < 0.6:
            multiplier = "double" if repeat == 2 else "triple"
            words += [(multiplier, digit * (repeat - 1)), (name, digit)]
            i += repeat
            continue
        words.append((name, digit))
        i += 1
    return words


def say_pair(pair: str, rng: random.Random) -> Spoken:
    """Two digits as a number: "41" -> forty one, "11" -> eleven, "05" -> oh five."""
    tens, ones = int(pair[0]), int(pair[1])
    if tens == 0:
        return [(_zero_word(rng), "0"), (ONES[ones], pair[1])]
    if tens == 1:
        return [(TEENS[ones], pair)]
    if ones == 0:
        return [(TENS[tens - 2], pair)]
    return [(TENS[tens - 2], pair[0]), (ONES[ones], pair[1])]


def say_group(group: str, rng: random.Random, style: str) -> Spoken:
    if style == "pairs" and len(group) % 2 == 0:
        return [word for i in range(0, len(group), 2) for word in say_pair(group[i : i + 2], rng)]
    if style == "hundreds" and len(group) == 3 and group[0] != "0" and group[1:] != "00":
        tail = say_pair(group[1:], rng) if group[1] != "0" else [(ONES[int(group[2])], group[2])]
        middle = [("hundred", "0" if group[1] == "0" else "")]
        if rng.random() < 0.5:
            middle.append(("and", ""))
        return [(ONES[int(group[0])], group[0]), *middle, *tail]
    return say_digits(group, rng)


def say_number(digits: str, groups: list[int], rng: random.Random, pairs: float = 0.15) -> Spoken:
    """In groups of the given sizes, a comma after each group but the last."""
    words: Spoken = []
    start = 0
    for size in groups:
        group = digits[start : start + size]
        start += size
        style = "pairs" if rng.random() < pairs else "digits"
        said = say_group(group, rng, style)
        if start < len(digits):
            word, value = said[-1]
            said[-1] = (word + ",", value)
        words += said
    return words


def random_groups(length: int, rng: random.Random) -> list[int]:
    groups: list[int] = []
    while sum(groups) < length:
        groups.append(min(rng.choice((2, 3, 3, 4, 4, 4, 5)), length - sum(groups)))
    return groups


# Card brands: (name, prefixes, lengths, standard grouping by length)
CARD_BRANDS = (
    ("visa", ("4",), (13, 16, 19)),
    ("mastercard", ("51", "52", "53", "54", "55", "2221", "2720", "23", "26"), (16,)),
    ("amex", ("34", "37"), (15,)),
    ("discover", ("6011", "644", "649", "65"), (16, 19)),
    ("diners", ("300", "305", "36", "38"), (14, 16)),
    ("jcb", ("3528", "3589", "35"), (16, 19)),
    ("unionpay", ("62",), (16, 17, 19)),
    ("maestro", ("50", "56", "58", "63", "67"), (13, 16, 19)),
)
STANDARD_GROUPS = {13: [4, 3, 3, 3], 14: [4, 6, 4], 15: [4, 6, 5], 16: [4, 4, 4, 4],
                   17: [4, 4, 4, 5], 19: [4, 4, 4, 4, 3]}  # fmt: skip


def luhn_check_digit(body: str) -> str:
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def random_card(rng: random.Random) -> tuple[str, str]:
    """(brand, a Luhn-valid number of one of the brand's lengths)."""
    brand, prefixes, lengths = rng.choice(CARD_BRANDS)
    if brand == "jcb" and rng.random() < 0.5:
        prefix = str(rng.randint(3528, 3589))
    elif brand == "mastercard" and rng.random() < 0.3:
        prefix = str(rng.randint(2221, 2720))
    else:
        prefix = rng.choice(prefixes)
    length = rng.choice(lengths)
    body = prefix + "".join(rng.choice("0123456789") for _ in range(length - len(prefix) - 1))
    return brand, body + luhn_check_digit(body)


def random_digits(length: int, rng: random.Random, first: str = "123456789") -> str:
    return rng.choice(first) + "".join(rng.choice("0123456789") for _ in range(length - 1))


def iban_check(country: str, rest: str) -> str:
    moved = rest + country + "00"
    number = int("".join(str(int(char, 36)) for char in moved))
    return f"{98 - number % 97:02d}"


def random_iban(rng: random.Random) -> str:
    country, bank_letters, digits = rng.choice(
        (("GB", 4, 14), ("IE", 4, 14), ("DE", 0, 18), ("NL", 4, 10), ("FR", 0, 23), ("ES", 0, 20))
    )
    bank = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(bank_letters))
    rest = bank + "".join(rng.choice("0123456789") for _ in range(digits))
    return country + iban_check(country, rest) + rest


# ---------------------------------------------------------------------------------------------
# Building a call


class _Builder:
    def __init__(self, name: str, rng: random.Random) -> None:
        self.name = name
        self.rng = rng
        self.utterances: list[Utterance] = []
        self.values: list[Labelled] = []
        self.kept: list[Labelled] = []
        self.cues: list[Cue] = []

    def value(self, kind: str, digits: str, spoken: Spoken) -> list[Token]:
        self.values.append(Labelled(kind, digits))
        return self.more_of_value(len(self.values) - 1, spoken)

    def more_of_value(self, index: int, spoken: Spoken) -> list[Token]:
        """Words that carry (or repeat, or correct) a value; the words between its parts
        ("month is", "of", "slash") carry nothing and are not labelled."""
        return [
            Token(word) if word.rstrip(",.?") in CONNECTORS else Token(word, value=index, digits=d)
            for word, d in spoken
        ]

    def keep(self, kind: str, digits: str, spoken: Spoken) -> list[Token]:
        self.kept.append(Labelled(kind, digits))
        index = len(self.kept) - 1
        return [Token(word, kept=index, digits=d) for word, d in spoken]

    def cue(self, kind: str, phrase: str) -> list[Token]:
        self.cues.append(Cue(kind, phrase))
        index = len(self.cues) - 1
        return [Token(word, cue=index) for word in phrase.split()]

    def say(self, speaker: str, *parts: str | list[Token], pause_s: float | None = None) -> None:
        tokens: list[Token] = []
        for part in parts:
            tokens += [Token(word) for word in part.split()] if isinstance(part, str) else part
        if not tokens:
            return
        if pause_s is None:
            pause_s = self.rng.uniform(0.25, 1.1)
            previous = self.utterances[-1].speaker if self.utterances else speaker
            if previous != speaker and self.rng.random() < 0.08:
                pause_s = -0.3  # starts over the other speaker's last words
        self.utterances.append(Utterance(speaker, tuple(tokens), pause_s))

    def dialogue(self) -> Dialogue:
        return Dialogue(
            self.name, tuple(self.utterances), tuple(self.values), tuple(self.kept),
            tuple(self.cues),
        )  # fmt: skip


def _pick(rng: random.Random, *options: str) -> str:
    return rng.choice(options)


def _ending(tokens: list[Token], mark: str) -> list[Token]:
    """The tokens with ``mark`` (".", "?", ",") on the last one."""
    if not tokens:
        return tokens
    last = tokens[-1]
    return [*tokens[:-1], replace(last, text=last.text.rstrip(",.?!") + mark)]


COMPANIES = ("Northwind Energy", "Bluewave Mobile", "Harbor Insurance", "Metro Water",
             "Summit Broadband", "Lakeside Dental")  # fmt: skip
AGENTS = ("Priya", "Daniel", "Grace", "Marcus", "Aisha", "Tom")


def _opening(b: _Builder) -> None:
    rng = b.rng
    company, agent = rng.choice(COMPANIES), rng.choice(AGENTS)
    b.say(
        AGENT,
        _pick(
            rng,
            f"Good morning, {company}, {agent} speaking, how can I help?",
            f"Thanks for calling {company}, you're through to {agent}.",
            f"Hello, {company} billing, this is {agent}, what can I do for you today?",
        ),
    )
    b.say(CUSTOMER, _pick(rng, "Hi, I'd like to pay my bill please.",
                          "Hello, I want to make a payment on my account.",
                          "Hi there, I need to pay the outstanding balance.",
                          "Yeah hi, my card got declined online so I'd like to pay over the phone.",
                          "Hi, I got a letter saying my payment is overdue."))  # fmt: skip


def _year_words(year: int) -> Spoken:
    if year < 2000:
        return say_pair(str(year)[:2], random.Random(year)) + say_pair(
            str(year)[2:], random.Random(year)
        )
    words = [("two", "2"), ("thousand", "000" if year == 2000 else "00")]
    return words + ([("and", ""), (ONES[year % 10], str(year % 10))] if year % 10 else [])


def _day_words(day: int) -> Spoken:
    """An ordinal day: "ninth", "twenty first"."""
    if day <= 20:
        return [(ORDINALS[day - 1], str(day))]
    return [(TENS[day // 10 - 2], str(day // 10)), (ORDINALS[day % 10 - 1], str(day % 10))]


def _date_of_birth(b: _Builder) -> None:
    rng = b.rng
    b.say(AGENT, _pick(rng, "Can I have your date of birth please?", "And your date of birth?",
                       "Could you confirm the date of birth on the account?",
                       "What's your birth date?", "And when were you born?",
                       "Can you confirm your DOB for me?"))  # fmt: skip
    year, month, day = rng.randint(1940, 2004), rng.randint(1, 12), rng.randint(1, 28)
    digits = f"{year}{month:02d}{day:02d}"
    month_name = MONTHS[month - 1]
    form = rng.randrange(4)
    if form == 0:  # the ninth of May, nineteen seventy two
        tokens = [Token("the"), *b.value("dob", digits, _day_words(day)), Token("of")]
        tokens += b.more_of_value(len(b.values) - 1, [(month_name + ",", f"{month:02d}")])
        tokens += b.more_of_value(len(b.values) - 1, _year_words(year))
    elif form == 1:  # May ninth, nineteen seventy two
        spoken = [(month_name, f"{month:02d}"), *_comma_last(_day_words(day)), *_year_words(year)]
        tokens = b.value("dob", digits, spoken)
    elif form == 2:  # oh five, oh nine, seventy two
        spoken = _comma_last(say_pair(f"{month:02d}", rng)) + _comma_last(
            say_pair(f"{day:02d}", rng)
        )
        tokens = b.value("dob", digits, spoken + say_pair(str(year)[2:], rng))
    else:  # nine, five, nineteen seventy two (day first)
        day_said = [(ONES[day], str(day))] if day < 10 else say_pair(str(day), rng)
        month_said = [(ONES[month], str(month))] if month < 10 else say_pair(str(month), rng)
        spoken = _comma_last(day_said) + _comma_last(month_said) + _year_words(year)
        tokens = b.value("dob", digits, spoken)
    b.say(CUSTOMER, _pick(rng, "Sure, it's", "Yes,", "It's", "Um,"), _ending(tokens, "."))


def _comma_last(spoken: Spoken) -> Spoken:
    word, digits = spoken[-1]
    return [*spoken[:-1], (word + ",", digits)]


def _comma_at(spoken: Spoken, index: int) -> Spoken:
    word, digits = spoken[index]
    return [*spoken[:index], (word + ",", digits), *spoken[index + 1 :]]


def _digits_asked(
    b: _Builder, kind: str, questions: tuple[str, ...], lengths: tuple[int, ...],
    leads: tuple[str, ...],
) -> None:  # fmt: skip
    """A question, and its answer read digit by digit."""
    rng = b.rng
    b.say(AGENT, rng.choice(questions))
    digits = random_digits(
        rng.choice(lengths) if len(lengths) > 1 else lengths[0], rng, "0123456789"
    )
    b.say(CUSTOMER, rng.choice(leads), _ending(b.value(kind, digits, say_digits(digits, rng)), "."))


def _ssn_last_four(b: _Builder) -> None:
    questions = ("Can you confirm the last four of your social?",
                 "And the last four digits of your social security number?",
                 "I just need the last four of your SSN.")  # fmt: skip
    _digits_asked(b, "ssn", questions, (4,), ("It's", "Sure,", ""))


def _ssn_full(b: _Builder) -> None:
    rng = b.rng
    b.say(AGENT, _pick(rng, "And your social security number please?", "What's your SSN?"))
    digits = random_digits(3, rng, "1234578") + random_digits(6, rng)
    b.say(
        CUSTOMER,
        _ending(b.value("ssn", digits, say_number(digits, [3, 2, 4], rng, pairs=0.1)), "."),
    )


def _pin(b: _Builder) -> None:
    questions = ("And your four digit telephone PIN?", "Can you give me your account PIN?",
                 "What's the passcode on the account?", "And your security PIN please.",
                 "Could you read me your PIN number?")  # fmt: skip
    _digits_asked(b, "pin", questions, (4, 4, 4, 5, 6), ("It's", "", "Yeah,"))


def _zip(b: _Builder) -> None:
    rng = b.rng
    b.say(AGENT, _pick(rng, "And the zip code on the account?", "Can I get your zip code?",
                       "What's the postcode there?"))  # fmt: skip
    digits = random_digits(5, rng, "0123456789")
    spoken = say_digits(digits, rng, runs=False) if rng.random() < 0.7 else [(digits, digits)]
    b.say(CUSTOMER, _pick(rng, "It's", "", "Uh,"), _ending(b.keep("zip", digits, spoken), "."))


def _phone(b: _Builder, after: bool = False) -> None:
    rng = b.rng
    if after:
        b.say(AGENT, _pick(rng, "And a phone number for the receipt?",
                           "What's a good number to call you back on?",
                           "And is there a contact number in case we need you?"))  # fmt: skip
    else:
        b.say(AGENT, _pick(rng, "What's the best number to reach you on?",
                           "And a phone number for the account?",
                           "Can I take a contact number?",
                           "What's your mobile number?"))  # fmt: skip
    digits = random_digits(3, rng, "2345689") + random_digits(3, rng) + random_digits(4, rng)
    style = rng.random()
    if style < 0.6:
        spoken = say_number(digits, [3, 3, 4], rng, pairs=0.2)
    else:
        spoken = [(digits[:3], digits[:3]), (digits[3:6], digits[3:6]), (digits[6:], digits[6:])]
    b.say(
        CUSTOMER,
        _pick(rng, "It's", "Sure,", "You can get me on"),
        _ending(b.keep("phone", digits, spoken), "."),
    )


def _address(b: _Builder) -> None:
    rng = b.rng
    b.say(AGENT, _pick(rng, "And the first line of the address?", "Can you confirm your address?"))
    number = str(rng.choice((rng.randint(1, 99), rng.randint(100, 999), rng.randint(1000, 9999))))
    if rng.random() < 0.5 or len(number) > 3:
        spoken = [(number, number)]
    elif len(number) == 3:
        spoken = say_group(number, rng, rng.choice(("digits", "hundreds")))
    else:
        spoken = (
            say_pair(number.zfill(2), rng) if len(number) == 2 else [(ONES[int(number)], number)]
        )
    street = _pick(rng, "Elm Street", "Oak Avenue", "Maple Road", "Station Lane", "Park Drive")
    b.say(
        CUSTOMER,
        _pick(rng, "It's", "", "I live at"),
        b.keep("street", number, spoken),
        street + ".",
    )


def _account_number(b: _Builder) -> None:
    rng = b.rng
    b.say(AGENT, _pick(rng, "Can I have your account number?", "And the account number please?"))
    digits = random_digits(rng.randint(8, 10), rng)
    b.say(
        CUSTOMER,
        _ending(
            b.value("account", digits, say_number(digits, random_groups(len(digits), rng), rng)),
            ".",
        ),
    )


def _small_talk(b: _Builder) -> None:
    rng = b.rng
    kind = rng.choice(("year", "count", "order", "ticket", "year_account"))
    if kind in ("year", "year_account"):
        year = rng.randint(1995, 2023)
        spoken = (
            say_pair(str(year)[:2], rng) + say_pair(str(year)[2:], rng)
            if rng.random() < 0.6
            else [(str(year), str(year))]
        )
        lead = (
            "I've had this account since" if kind == "year_account"
            else _pick(rng, "We moved in back in", "I've been with you since", "It's been like that since")
        )  # fmt: skip
        b.say(CUSTOMER, lead, _ending(b.keep("year", str(year), spoken), "."))
    elif kind == "count":
        count = rng.randint(2, 12)
        word = ONES[count] if count < 10 else TEENS[count - 10]
        unit = _pick(rng, "times this month", "weeks", "days now", "months")
        b.say(
            CUSTOMER, "I've called", b.keep("count", str(count), [(word, str(count))]), unit + "."
        )
    else:
        digits = random_digits(rng.randint(6, 10), rng)
        cue = (
            "order number"
            if kind == "order"
            else _pick(rng, "ticket number", "reference number", "case number")
        )
        spoken = say_digits(digits, rng, runs=False) if rng.random() < 0.6 else [(digits, digits)]
        b.say(
            CUSTOMER, f"I have a {cue} from last time,", _ending(b.keep(kind, digits, spoken), ".")
        )
        b.say(AGENT, "Thanks, I've found that.")


def _amount(b: _Builder) -> None:
    rng = b.rng
    dollars, cents = rng.randint(12, 480), rng.choice((0, 50, 99, rng.randint(1, 98)))
    digits = f"{dollars}{cents:02d}"
    form = rng.randrange(3)
    if form == 0:
        spoken = [(f"${dollars}.{cents:02d}", digits)]
    elif form == 1:
        spoken = _words_of_amount(dollars, rng) + [("dollars", "")]
        if cents:
            spoken += [("and", "")] + say_pair(f"{cents:02d}", rng) + [("cents", "")]
    else:
        spoken = [(f"{dollars}.{cents:02d}", digits), ("dollars", "")]
    lead = _pick(rng, "Your balance is", "The amount due today is", "So that's", "You owe")
    b.say(AGENT, lead, _ending(b.keep("amount", digits, spoken), "."))


def _words_of_amount(number: int, rng: random.Random) -> Spoken:
    words: Spoken = []
    if number >= 100:
        words += [(ONES[number // 100], str(number // 100)), ("hundred", "")]
        number %= 100
        if number and rng.random() < 0.6:
            words.append(("and", ""))
    if number:
        words += say_pair(f"{number:02d}", rng) if number >= 10 else [(ONES[number], str(number))]
    return words


CARD_CUES = (
    "Go ahead with the card number.", "Can I take the long number on the card?",
    "What's the card number?", "Could you read me the sixteen digits on the front?",
    "Please read me the card number.", "And the card details please, the number first.",
    "Okay, the number on the card when you're ready.", "Can I get the credit card number?",
)  # fmt: skip
EXPIRY_CUES = (
    "And the expiry date?", "When does it expire?", "What's the expiration date, month and year?",
    "And the valid thru date?", "Expiry?", "And the expiration on that?",
)  # fmt: skip
CVV_CUES = (
    "And the three digit security code on the back?", "And the CVV?", "Security code please.",
    "And the last three digits on the signature strip?", "And the code on the back?",
    "Finally the three digits on the back of the card.",
)  # fmt: skip
AMEX_CVV_CUES = ("And the four digit code on the front?", "And the four digit security code?")


def _card_payment(b: _Builder) -> None:
    rng = b.rng
    brand, number = random_card(rng)
    length = len(number)
    groups = (
        STANDARD_GROUPS.get(length, random_groups(length, rng))
        if rng.random() < 0.7
        else random_groups(length, rng)
    )
    all_three = rng.random() < 0.15
    if all_three:
        b.say(
            AGENT,
            b.cue("card", "Can I take the card number, the expiry date and the security code?"),
        )
    else:
        b.say(AGENT, b.cue("card", rng.choice(CARD_CUES)))
    if rng.random() < 0.2:  # finding the card
        b.say(CUSTOMER, _pick(rng, "Hang on, let me find my card.", "One sec, it's in my bag.",
                              "Oh, let me just grab it."))  # fmt: skip
        if rng.random() < 0.5:
            b.say(AGENT, _pick(rng, "No problem, take your time.", "Sure."))
        pause_s = rng.uniform(8.0, 40.0)
    else:
        pause_s = None
    spoken = say_number(number, groups, rng, pairs=0.12)
    card = b.value("card", number, spoken)
    card_index = len(b.values) - 1
    # where the number is split over turns, and what the agent says between
    group_ends = [i for i, token in enumerate(card) if token.text.endswith(",")]
    pieces: list[list[Token]] = []
    start = 0
    for end in group_ends:
        if rng.random() < 0.25:
            pieces.append(card[start : end + 1])
            start = end + 1
    pieces.append(card[start:])
    lead = _pick(rng, "Sure, it's", "Yes, it's", "Okay,", "Right, it's", "It's", "")
    for index, piece in enumerate(pieces):
        if index == 0:
            b.say(CUSTOMER, lead, piece, pause_s=pause_s)
        else:
            b.say(CUSTOMER, piece)
        if index < len(pieces) - 1:
            if rng.random() < 0.35:  # the agent reads the group back
                last_group = _last_group(piece)
                echo = [(w.text.rstrip(","), w.digits) for w in last_group]
                b.say(AGENT, _ending(b.more_of_value(card_index, echo), "?"))
                b.say(CUSTOMER, _pick(rng, "Yes.", "That's right.", "Yep,"))
            else:
                b.say(
                    AGENT,
                    _pick(rng, "Mm-hm.", "Okay.", "Yep.", "Go on.", "Got it."),
                    pause_s=rng.uniform(0.2, 0.6),
                )
    if rng.random() < 0.12:  # a correction
        wrong = rng.randrange(length)
        said = str((int(number[wrong]) + rng.randint(1, 9)) % 10)
        right = number[wrong]
        b.say(CUSTOMER, _pick(rng, "Sorry, no wait, it's", "Oh sorry, that should be"),
              b.more_of_value(card_index, [(ONES[int(right)], right)]), "not",
              _ending(b.more_of_value(card_index, [(ONES[int(said)], said)]), "."))  # fmt: skip
    if rng.random() < 0.3:  # the agent reads the whole number back
        if rng.random() < 0.6:
            words = [(ONES[int(d)] + ",", d) for d in number]  # "four, nine, one, seven, ..."
        else:
            words = say_number(number, groups, rng, pairs=0.0)
        b.say(AGENT, _pick(rng, "Let me read that back:", "So that's", "Just to confirm,"),
              _ending(b.more_of_value(card_index, words), "?"))  # fmt: skip
        b.say(CUSTOMER, _pick(rng, "That's right.", "Yes.", "Correct."))
    expiry_digits, expiry_spoken = _expiry(rng)
    cvv_digits = random_digits(4 if brand == "amex" else 3, rng, "0123456789")
    cvv_spoken = say_group(cvv_digits, rng, rng.choice(("digits", "digits", "hundreds")))
    if all_three or rng.random() < 0.2:  # expiry and code in one breath
        b.say(CUSTOMER, _pick(rng, "And the expiry is", "Expiry", "", "It runs out"),
              _ending(b.value("expiry", expiry_digits, expiry_spoken), ","),
              _pick(rng, "and the code is", "security code", "", "and the back is"),
              _ending(b.value("cvv", cvv_digits, cvv_spoken), "."))  # fmt: skip
    else:
        b.say(AGENT, b.cue("expiry", rng.choice(EXPIRY_CUES)))
        b.say(
            CUSTOMER,
            _pick(rng, "It's", "", "Um,", "That's"),
            _ending(b.value("expiry", expiry_digits, expiry_spoken), "."),
        )
        if rng.random() < 0.15:
            _zip(b)  # the billing zip code, asked inside the payment
        cue = rng.choice(AMEX_CVV_CUES if brand == "amex" else CVV_CUES)
        b.say(AGENT, b.cue("cvv", cue))
        b.say(
            CUSTOMER,
            _pick(rng, "It's", "", "Okay,", "The code is"),
            _ending(b.value("cvv", cvv_digits, cvv_spoken), "."),
        )
        if rng.random() < 0.2:
            b.say(
                AGENT,
                _ending(
                    b.more_of_value(len(b.values) - 1, say_digits(cvv_digits, rng, runs=False)), "?"
                ),
            )
            b.say(CUSTOMER, "Yes.")
    if rng.random() < 0.3:
        b.say(AGENT, "And the name on the card?")
        b.say(CUSTOMER, _pick(rng, "Thomas Wright.", "It's Anna Kowalski.", "Just J Smith."))


def _last_group(piece: list[Token]) -> list[Token]:
    ends = [i for i, token in enumerate(piece[:-1]) if token.text.endswith(",")]
    return piece[ends[-1] + 1 :] if ends else piece


def _expiry(rng: random.Random) -> tuple[str, Spoken]:
    month, year = rng.randint(1, 12), rng.randint(25, 33)
    digits = f"{month:02d}{year}"
    form = rng.randrange(7)
    if form == 0:  # twelve twenty eight
        spoken = (
            [(ONES[month], f"{month:02d}")] if month < 10 else say_pair(f"{month}", rng)
        ) + say_pair(str(year), rng)
    elif form == 1:  # oh nine twenty eight
        spoken = say_pair(f"{month:02d}", rng) + say_pair(str(year), rng)
    elif form == 2:  # zero nine two eight
        spoken = say_digits(digits, rng, runs=False)
    elif form == 3:  # September twenty twenty eight
        spoken = [(MONTHS[month - 1], f"{month:02d}"), ("twenty", "20")] + say_pair(str(year), rng)
        digits = f"{month:02d}20{year}"
    elif form == 4:  # month is oh nine, year is twenty twenty-eight
        month_words = say_pair(f"{month:02d}", rng)
        spoken = (
            [("month", ""), ("is", "")]
            + _comma_last(month_words)
            + [("year", ""), ("is", ""), ("twenty", "20")]
            + say_pair(str(year), rng)
        )
        digits = f"{month:02d}20{year}"
    elif form == 5:  # oh nine slash twenty eight
        spoken = say_pair(f"{month:02d}", rng) + [("slash", "")] + say_pair(str(year), rng)
    else:  # oh nine of twenty eight
        spoken = say_pair(f"{month:02d}", rng) + [("of", "")] + say_pair(str(year), rng)
    return digits, spoken


def _bank_transfer(b: _Builder) -> None:
    rng = b.rng
    if rng.random() < 0.5:
        b.say(
            AGENT,
            b.cue(
                "iban", _pick(rng, "Can I take your IBAN please?", "And the IBAN for the account?")
            ),
        )
        iban = random_iban(rng)
        spoken: Spoken = []
        for position, char in enumerate(iban):
            if position and position % 4 == 0:  # said in groups of four
                word, value = spoken[-1]
                spoken[-1] = (word + ",", value)
            if char.isdigit():
                spoken.append((ONES[int(char)] if char != "0" else "zero", char))
            elif rng.random() < 0.25:
                spoken += [(char, char), ("for", ""), (NATO[char], "")]
            else:
                spoken.append((char, char))
        b.say(
            CUSTOMER,
            _pick(rng, "Sure, it's", "It's", ""),
            _ending(b.value("iban", iban, spoken), "."),
        )
        return
    b.say(
        AGENT,
        b.cue(
            "routing", _pick(rng, "What's the routing number?", "And the bank's routing number?")
        ),
    )
    routing = random_digits(9, rng, "0123")
    b.say(
        CUSTOMER,
        _ending(b.value("routing", routing, say_number(routing, [3, 3, 3], rng, pairs=0.1)), "."),
    )
    b.say(AGENT, _pick(rng, "And the checking account number?", "And the account number?"))
    account = random_digits(rng.randint(8, 12), rng)
    b.say(
        CUSTOMER,
        _ending(
            b.value("account", account, say_number(account, random_groups(len(account), rng), rng)),
            ".",
        ),
    )


CONFIRMATIONS = (
    "Thank you, that payment has gone through.", "Perfect, that's been processed.",
    "Great, the payment was approved.", "All done, you're all set.",
    "That's gone through now, thank you.", "Okay, the transaction is complete.",
)  # fmt: skip


def _after_payment(b: _Builder) -> None:
    rng = b.rng
    if rng.random() < 0.8:
        b.say(AGENT, rng.choice(CONFIRMATIONS))
    else:
        b.say(AGENT, "Okay, one moment.", pause_s=0.6)
        b.say(AGENT, "Right.", pause_s=rng.uniform(3.0, 12.0))
    if rng.random() < 0.5:
        digits = random_digits(rng.randint(6, 9), rng)
        spoken = say_digits(digits, rng, runs=False) if rng.random() < 0.5 else [(digits, digits)]
        b.say(AGENT, _pick(rng, "Your confirmation number is", "The reference for that is"),
              _ending(b.keep("confirmation", digits, spoken), "."))  # fmt: skip
    if rng.random() < 0.25:
        day = rng.randint(2, 28)
        hour, minute = rng.randint(8, 11), rng.choice((0, 15, 30))
        day_word = (ORDINALS + ["twenty first", "twenty second", "twenty third", "twenty fourth", "twenty fifth", "twenty sixth", "twenty seventh", "twenty eighth"])[day - 1]  # fmt: skip
        if rng.random() < 0.5:
            when = [(w, str(day)) for w in day_word.split()] + [("at", "")]
            when += [(ONES[hour] if hour < 10 else TEENS[hour - 10], str(hour))]
            if minute:
                when += say_pair(str(minute), rng)
            when += [("a.m.", "")]
        else:
            suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(day, "th")
            when = [
                (f"{day}{suffix}", str(day)),
                ("at", ""),
                (f"{hour}:{minute:02d}", f"{hour}{minute:02d}"),
            ]
        b.say(AGENT, "And I've booked the engineer for", rng.choice(MONTHS[:6]),
              _ending(b.keep("appointment", f"{day}{hour}{minute:02d}", when), "."))  # fmt: skip
    if rng.random() < 0.15:
        _phone(b, after=True)
    b.say(AGENT, _pick(rng, "Is there anything else I can help with?", "Anything else today?"))
    b.say(CUSTOMER, _pick(rng, "No, that's everything, thanks.", "No, thank you.", "That's all."))
    b.say(AGENT, _pick(rng, "Thanks for calling, bye now.", "Have a good day."))


def make_dialogue(name: str, rng: random.Random, short: bool = False) -> Dialogue:
    """One call as spoken; ``short`` leaves out most of the identity checks and small talk."""
    b = _Builder(name, rng)
    _opening(b)
    checks = [
        _date_of_birth,
        _ssn_last_four,
        _pin,
        _zip,
        _phone,
        _address,
        _account_number,
        _ssn_full,
    ]
    weights = (0.5, 0.25, 0.2, 0.3, 0.4, 0.25, 0.12, 0.06)
    chosen = [
        check
        for check, weight in zip(checks, weights)
        if rng.random() < weight * (0.5 if short else 1.0)
    ]
    rng.shuffle(chosen)
    for check in chosen:
        check(b)
    for _ in range(rng.choice((0, 0, 1, 1, 2)) if not short else 0):
        _small_talk(b)
    if rng.random() < 0.9:
        _amount(b)
    if rng.random() < 0.12:
        _bank_transfer(b)
    else:
        _card_payment(b)
    _after_payment(b)
    return b.dialogue()


# ---------------------------------------------------------------------------------------------
# As an ASR writes it

MISHEARD_CUES = {
    "card": ("Go ahead with the current number.", "Can I take the long number on the cart?",
             "What's the car number?", "Okay, read me the court number please."),
    "expiry": ("And the Atari 8?", "And the expert date?", "When does it expiring?",
               "And the exploration date?"),
    "cvv": ("And the coat on the bike?", "And the free digits on the Mac of the card?",
            "And the CVB?", "Security coat please.", "And the secure decode on the back?"),
    "iban": ("Can I take your I ban please?",),
    "routing": ("What's your routine number?",),
}  # fmt: skip
HOMOPHONES = {
    "four": ("for",),
    "two": ("to", "too"),
    "eight": ("ate",),
    "one": ("won",),
    "three": ("free",),
}


def asr_dialogue(spoken: Dialogue, rng: random.Random) -> Dialogue:
    """``spoken`` as an ASR might write it; the labels follow the words they came from."""
    # answers' digits misheard as words from a stream of their own, so that adding them left
    # every other word of the seed's dialogues as it was
    misheard = random.Random(f"{spoken.name}:misheard-digits")
    kinds = [value.kind for value in spoken.values]
    utterances = []
    for utterance in spoken.utterances:
        tokens = _mishear_cues(list(utterance.tokens), spoken, rng)
        tokens = _write_numbers(tokens, rng)
        tokens = _mishear_answer_digits(tokens, kinds, misheard)
        utterances.append(replace(utterance, tokens=tuple(t for t in tokens if t.text)))
    return replace(spoken, utterances=tuple(utterances))


def _mishear_cues(tokens: list[Token], spoken: Dialogue, rng: random.Random) -> list[Token]:
    cue_indices = {t.cue for t in tokens if t.cue is not None}
    for cue in cue_indices:
        kind = spoken.cues[cue].kind
        if kind not in MISHEARD_CUES or rng.random() > 0.3:
            continue
        phrase = rng.choice(MISHEARD_CUES[kind])
        positions = [i for i, t in enumerate(tokens) if t.cue == cue]
        misheard = [Token(word, cue=cue) for word in phrase.split()]
        tokens = tokens[: positions[0]] + misheard + tokens[positions[-1] + 1 :]
    return tokens


def _number_runs(tokens: list[Token]) -> list[tuple[int, int]]:
    """(start, end) of each run of consecutive words of one value or one kept number."""
    runs = []
    i = 0
    while i < len(tokens):
        label = _label(tokens[i])
        if label is None:
            i += 1
            continue
        j = i
        while j + 1 < len(tokens) and _label(tokens[j + 1]) == label:
            j += 1
        runs.append((i, j + 1))
        i = j + 1
    return runs


def _label(token: Token) -> tuple[str, int] | None:
    if token.value is not None:
        return ("value", token.value)
    if token.kept is not None:
        return ("kept", token.kept)
    return None


def _write_numbers(tokens: list[Token], rng: random.Random) -> list[Token]:
    out: list[Token] = []
    position = 0
    for start, end in _number_runs(tokens):
        out += tokens[position:start]
        out += _write_run(tokens[start:end], rng)
        position = end
    out += tokens[position:]
    return out


def _groups_of(run: list[Token]) -> list[list[Token]]:
    groups, current = [], []
    for token in run:
        current.append(token)
        if token.text.endswith(","):
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


NUMBER_WORDS = (
    frozenset(ONES)
    | frozenset(TEENS)
    | frozenset(TENS)
    | {"oh", "double", "triple", "hundred", "thousand"}
)
ORDINAL_DAYS = {word: index for index, word in enumerate(ORDINALS, start=1)}


def _bare(token: Token) -> str:
    return token.text.rstrip(",.?!").lower()


def _write_run(run: list[Token], rng: random.Random) -> list[Token]:
    """One number's words, written in one of the ways Whisper writes spoken numbers: each stretch
    of number words as words, digits ("4111"), dashes ("4 -1 -1 -1"), commas ("4, 1, 1, 1,")
    or all in one token; other words (a month, "dollars", a letter) stay as they are, except
    ordinals, which may become "9th"."""
    style = rng.choices(
        ("words", "digits", "dashes", "commas", "one_token", "mixed"),
        weights=(0.25, 0.3, 0.15, 0.1, 0.08, 0.12),
    )[0]
    if style == "words":
        return _corrupt_words(_homophones(run, rng), rng)
    out: list[Token] = []
    piece: list[Token] = []

    def flush() -> None:
        if piece:
            out.extend(_write_piece(list(piece), style, rng))
            piece.clear()

    for token in run:
        bare = _bare(token)
        if bare in NUMBER_WORDS or (bare == "and" and piece and _bare(piece[-1]) == "hundred"):
            piece.append(token)
            if token.text[-1] in ",.?" and style != "one_token":
                flush()
            continue
        flush()
        if bare in ORDINAL_DAYS and rng.random() < 0.5:
            day = ORDINAL_DAYS[bare]
            suffix = {1: "st", 2: "nd", 3: "rd"}.get(day, "th")
            token = replace(
                token, text=f"{day}{suffix}" + token.text[len(token.text.rstrip(",.?")) :]
            )
        out.append(token)
    flush()
    if rng.random() < 0.04 and run[0].value is not None:  # a repetition loop
        loop = out[-3:]
        out += loop * rng.randint(2, 6)
    return out


def _write_piece(piece: list[Token], style: str, rng: random.Random) -> list[Token]:
    template = piece[0]
    mark = piece[-1].text[len(piece[-1].text.rstrip(",.?")) :]
    if style == "mixed":
        style = rng.choice(("words", "digits"))
    if style == "words":
        return _homophones(piece, rng)
    digits = _corrupt_digits("".join(t.digits for t in piece), rng)
    if not digits:
        return piece
    if style == "dashes":
        out = [
            replace(template, text=("-" if i else "") + d, digits=d) for i, d in enumerate(digits)
        ]
        return [*out[:-1], replace(out[-1], text=out[-1].text + mark)]
    if style == "commas":
        return [replace(template, text=d + ",", digits=d) for d in digits[:-1]] + [
            replace(template, text=digits[-1] + mark, digits=digits[-1])
        ]
    if len(digits) >= 3 and "0" in digits[1:-1] and rng.random() < 0.15:
        # "four oh one" as "4 .1": Whisper hears the "oh" as a point
        zero = digits.index("0", 1)
        return [
            replace(template, text=digits[:zero], digits=digits[:zero]),
            replace(template, text="." + digits[zero + 1 :] + mark, digits=digits[zero:]),
        ]
    return [replace(template, text=digits + mark, digits=digits)]


def _corrupt_digits(digits: str, rng: random.Random) -> str:
    if len(digits) >= 2 and rng.random() < 0.08:  # a digit misheard
        i = rng.randrange(len(digits))
        digits = digits[:i] + rng.choice("0123456789") + digits[i + 1 :]
    if len(digits) >= 3 and rng.random() < 0.04:  # a digit lost
        i = rng.randrange(len(digits))
        digits = digits[:i] + digits[i + 1 :]
    return digits


def _corrupt_words(run: list[Token], rng: random.Random) -> list[Token]:
    """Letter-digit mixes ASR makes of short spoken numbers: "oh nine" -> "MO9"."""
    if len(run) >= 2 and _bare(run[0]) == "oh" and run[1].digits.isdigit() and rng.random() < 0.3:
        second = run[1]
        mark = second.text[len(second.text.rstrip(",.?")) :]
        text = rng.choice(("O", "MO", "Oh")) + second.digits + mark
        return [replace(run[0], text=text, digits="0" + second.digits), *run[2:]]
    return run


def _homophones(run: list[Token], rng: random.Random) -> list[Token]:
    out = []
    for token in run:
        bare = token.text.rstrip(",.?!")
        mark = token.text[len(bare) :]
        if bare.lower() in HOMOPHONES and rng.random() < 0.2:
            out.append(replace(token, text=rng.choice(HOMOPHONES[bare.lower()]) + mark))
        else:
            out.append(token)
    return out


# Answers whose digits an ASR may write as other words. A card, its expiry and code are left
# out: a payment exchange takes every number-like word in it, and the generator's card figures
# stay comparable with what was measured before.
MISHEARD_ANSWER_KINDS = frozenset({"ssn", "account", "routing", "pin", "dob"})
# Words that sound like a digit said on its own, as speech recognisers write them.
SOUND_ALIKES = {
    "0": ("hero", "Nero", "zebra", "Sarah"),
    "1": ("when", "want", "Juan", "wine"),
    "2": ("do", "tube", "true", "tune"),
    "3": ("tree", "thee", "tea", "treat"),
    "4": ("floor", "door", "far", "fought"),
    "5": ("fight", "hive", "fine", "fife"),
    "6": ("sex", "sticks", "sits", "fix"),
    "7": ("heaven", "Kevin", "several", "sever"),
    "8": ("hate", "late", "wait", "eat"),
    "9": ("time", "mine", "night", "line"),
}  # fmt: skip
# Words with no sound of a digit that a recogniser may still write over a digit or two.
STRAY_WORDS = (
    "mirror", "Maria", "paper", "river", "table", "window", "summer", "honey", "bottle",
    "castle", "media", "lemon", "Peter", "yellow", "meadow", "Tyler", "Mabel", "ferry",
)  # fmt: skip
_SPOKEN_DIGITS = {word: str(index) for index, word in enumerate(ONES)} | {"oh": "0"}


def _mishear_answer_digits(
    tokens: list[Token], kinds: list[str], rng: random.Random
) -> list[Token]:
    """In about one answer in five of the kinds above, one digit (now and then two, or two
    digits side by side in one word) written as another word: a word that sounds like it or a
    stray word. The word stands for the digits it replaced and keeps the value's label."""
    values = {
        t.value for t in tokens if t.value is not None and kinds[t.value] in MISHEARD_ANSWER_KINDS
    }
    for value in sorted(values):
        if rng.random() >= 0.2:
            continue
        for _ in range(2 if rng.random() < 0.25 else 1):
            tokens = _mishear_one(tokens, value, rng)
    return tokens


def _mishear_one(tokens: list[Token], value: int, rng: random.Random) -> list[Token]:
    """One digit of ``value`` (or two side by side) as another word; a written group of digits
    is split around it ("4597" -> "45 time 7"). Most of the answer stays digits: a recogniser
    that wrote none of it as a number is not modelled (nothing would show it was an answer)."""
    digits_left = sum(
        len(t.digits) for t in tokens if t.value == value and t.digits.isdigit() and _digit_like(t)
    )
    digit_tokens = [
        i for i, t in enumerate(tokens) if t.value == value and _digit_like(t)
    ]  # fmt: skip
    if not digit_tokens:
        return tokens
    i = rng.choice(digit_tokens)
    token = tokens[i]
    bare = token.text.rstrip(",.?!")
    mark = token.text[len(bare) :]
    digits = _SPOKEN_DIGITS.get(bare.lower(), bare.lstrip("-"))
    at = rng.randrange(len(digits))
    width = 2 if at + 1 < len(digits) and rng.random() < 0.2 else 1
    if 2 * (digits_left - width) < digits_left:
        return tokens
    said = digits[at : at + width]
    if width == 1 and rng.random() < 0.7:
        word = rng.choice(SOUND_ALIKES[said])
    else:
        word = rng.choice(STRAY_WORDS)
    before, after = digits[:at], digits[at + width :]
    out = [replace(token, text=before, digits=before)] if before else []
    out.append(replace(token, text=word + ("" if after else mark), digits=said))
    if after:
        out.append(replace(token, text=after + mark, digits=after))
    return tokens[:i] + out + tokens[i + 1 :]


def _digit_like(token: Token) -> bool:
    """A spoken digit ("nine", "oh") or digits as written ("4597", "-4"; not Whisper's ".1")."""
    return _bare(token) in _SPOKEN_DIGITS or token.text.rstrip(",.?!").lstrip("-").isdigit()


def dialogues(seed: int, count: int, short: bool = False, asr: bool = True) -> list[Dialogue]:
    """``count`` dialogues; dialogue ``i`` depends only on ``seed`` and ``i``."""
    out = []
    for index in range(count):
        rng = random.Random(f"{seed}:{index}")
        spoken = make_dialogue(f"s{seed}-{index}", rng, short)
        out.append(asr_dialogue(spoken, rng) if asr else spoken)
    return out


@dataclass
class Outcome:
    """How one redaction of one dialogue went, word by word."""

    redacted: list[bool]  # per token of ``Dialogue.tokens()``
    values_missed: list[int] = field(default_factory=list)  # indices of values not fully redacted
    kept_lost: list[int] = field(default_factory=list)  # indices of kept numbers touched


def outcome(dialogue: Dialogue, redacted: list[bool]) -> Outcome:
    """A value is redacted when every word of it is; a kept number is kept when none of it is."""
    tokens = dialogue.tokens()
    result = Outcome(redacted)
    for index in range(len(dialogue.values)):
        if not all(r for t, r in zip(tokens, redacted) if t.value == index):
            result.values_missed.append(index)
    for index in range(len(dialogue.kept)):
        if any(r for t, r in zip(tokens, redacted) if t.kept == index):
            result.kept_lost.append(index)
    return result
