"""Find payment-card and personal data in transcribed words and replace it with typed tags.

Runs between transcription and storage, so that no unredacted value reaches the database.
Pure: words in, redacted words and the spans that were redacted out; nothing is read or written.

How it works:

1. Lex (``lexicon.py``): each word (in time order, all speakers together) is classed as part of
   a number, a cue ("card number", "security code", "phone number"...), a break (money, units,
   times: "dollars", "$49.99", "3:30", "years"), a filler ("okay", "mm-hm") or other.
2. Numbers (``lexicon.py``, ``runs.py``): adjacent number words of one speaker are read as digit
   groups that remember their words ("double one" -> "11", "twenty seven" -> "27", "oh" -> "0",
   "4111-1111" -> "4111", "1111"). The groups said back to back by one speaker form a segment.
3. Runs (``runs.py``): segments joined across short gaps (an "okay", "sorry", a read-back by the
   other speaker), in two views: all speakers in time order, and each speaker alone. A run is
   cut where a (card) number is asked for after a number that answered another question, such as
   the phone number before "go ahead with the card number".
4. Detectors (``detectors.py``, with the digit-string checks in ``checks.py``): Luhn-valid card
   numbers with a known brand prefix anywhere; after a card cue (or a bare "number" asked for)
   also long numbers that fail the checksum, as ASR gets a digit wrong; the rest of the digits
   said in the same breath, and the expiry and security code said straight after; cue-led values
   (security code, expiry, account, routing / sort code, SSN) in the first run after the cue
   that has the right shape; literal SSNs (123-45-6789), IBANs and, when switched on, e-mail
   addresses.
5. Follow-on (``detectors.py``): the card's speaker's next numbers, in order, as the rest of a
   short card number, the expiry and the security code, when their cues were misheard; then
   read-backs of a found value said nearby by either speaker.

Real ASR output is the target, not tidy text: Whisper writes "four oh one" as "4 .1",
"one two" as "1 -2,", "two" as "to" or "four" as "for" next to digits, and mishears cues.

A value is never kept: a ``Redaction`` holds only its kind and time span. The kinds, the
options (``RedactionConfig``) and ``Redaction`` live in ``options.py``; this module is the API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace

from pipeline.redact.detectors import find_tags, redaction_spans
from pipeline.redact.options import (
    ACCOUNT,
    CARD,
    CVV,
    EMAIL,
    EXPIRY,
    KINDS,
    ROUTING,
    SSN,
    TAGS,
    Redaction,
    RedactionConfig,
)
from pipeline.redact.runs import build_call
from pipeline.types import UNKNOWN, Word

__all__ = [
    "ACCOUNT",
    "CARD",
    "CVV",
    "EMAIL",
    "EXPIRY",
    "KINDS",
    "ROUTING",
    "SSN",
    "TAGS",
    "Redaction",
    "RedactionConfig",
    "audio_spans",
    "redact_text",
    "redact_words",
]


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
    call = build_call(words, config)
    tags = find_tags(call, config)
    redacted = list(words)
    for position, kind in tags.items():
        original = call.order[position]
        word = words[original]
        leading = word.word[: len(word.word) - len(word.word.lstrip())]
        redacted[original] = replace(word, word=leading + TAGS[kind])
    return redacted, redaction_spans(call, tags)


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
