"""Find payment-card and personal data in transcribed words and replace it with typed tags.

Runs between transcription and storage, so that no unredacted value reaches the database.
Pure: words in, redacted words, the spans that were redacted and the payment exchanges out;
nothing is read or written.

How it works:

1. Lex (``lexicon.py``, ``runs.py``): each word (in time order, all speakers together) is classed
   as part of a number, a cue ("card number", "security code", "phone number", "that's gone
   through"; found in each speaker's own words), a break (money, units, times), a filler or
   other; adjacent number words are read as digit groups ("double one" -> "11", "twenty seven"
   -> "27"), said back to back by one speaker they form a segment, and segments joined across
   short gaps form runs.
2. Detectors (``detectors.py``, ``identity.py``, digit-string checks in ``checks.py``): card
   numbers (Luhn and brand, or any 13-19 digits after a card cue), the expiry and code said after
   them, cue-led values (security code, expiry, account, routing / sort code, SSN, PIN), literal
   SSNs and IBANs, a date of birth and a spelled IBAN after their cues, e-mail addresses when
   switched on, and read-backs of what was found.
3. Fail closed (``numberlike.py``, ``answers.py``, ``windows.py``): ASR output is not exact, so
   exact parsing cannot be the control. Every number-like word ("4111", "four", "oh", "for" and
   "free" next to digits, "MO9") said in answer to a PIN, SSN, account, routing, IBAN or
   birth-date cue is redacted as that kind, with the answerer's words between those numbers and
   the words straight next to them that do not frame an answer ("time" for "nine"); and inside a payment exchange (from a card, expiry
   or security-code cue, or a card found, until the payment is confirmed, the talk moves on or
   no number is said for a while) every number-like word of either speaker is redacted, as
   ``payment`` where no detector named it. Only what is plainly not card data stays: an amount
   with its currency, a count with its unit, "ending in 4444" on its own, the answer to a
   question about another number ("and the billing zip?").
4. Spans: consecutive tagged words of one kind make a ``Redaction``; inside a payment exchange
   the stretch between numbers said close together is a ``payment`` redaction too, and an
   answer to a cue is one redaction of its kind from just before its first word to just after
   its last, so the audio is silenced over digits the ASR wrote as other words or left out.

Real ASR output is the target, not tidy text: Whisper writes "four oh one" as "4 .1",
"one two" as "1 -2,", "two" as "to" or "four" as "for" next to digits, and mishears cues.

A value is never kept: a ``Redaction`` holds only its kind and time span, a ``PaymentWindow``
only its times. The kinds, the options (``RedactionConfig``) and ``Redaction`` live in
``options.py``; this module is the API.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from pipeline import timeline
from pipeline.redact.answers import cued_answers
from pipeline.redact.detectors import find_tags, redaction_spans
from pipeline.redact.numberlike import number_like, plainly_not_card
from pipeline.redact.options import (
    ACCOUNT,
    CARD,
    CVV,
    DOB,
    EMAIL,
    EXPIRY,
    IBAN,
    KINDS,
    PAYMENT,
    PIN,
    ROUTING,
    SSN,
    TAGS,
    Redaction,
    RedactionConfig,
)
from pipeline.redact.runs import build_call
from pipeline.redact.windows import PaymentWindow, payment_redaction
from pipeline.types import UNKNOWN, Segment, Word

__all__ = [
    "ACCOUNT",
    "CARD",
    "CVV",
    "DOB",
    "EMAIL",
    "EXPIRY",
    "IBAN",
    "KINDS",
    "PAYMENT",
    "PIN",
    "ROUTING",
    "SSN",
    "TAGS",
    "PaymentWindow",
    "Redacted",
    "Redaction",
    "RedactionConfig",
    "audio_spans",
    "redact",
    "redact_text",
    "redact_words",
]

# How redact_text times the words of free text: as speech, a line per turn.
TEXT_WORD_S = 0.3
TEXT_WORD_GAP_S = 0.1
TEXT_TURN_GAP_S = 0.6


@dataclass(frozen=True)
class Redacted:
    """What redaction gives back: the words with tags in place of values, the spans that were
    redacted (kind and times), and the payment exchanges (times only)."""

    words: list[Word]
    redactions: list[Redaction]
    payment_windows: list[PaymentWindow]


def redact(words: list[Word], config: RedactionConfig | None = None) -> Redacted:
    """Replace every word that carried a sensitive value by its tag, e.g. ``[CARD]``, and every
    number said inside a payment exchange (``[PAYMENT]`` where no detector read it as a kind).

    The words come back in their input order, with times, speaker and probability kept and only
    ``word`` changed (leading whitespace kept). The redactions are one span per stretch of
    consecutive tagged words of one kind, and, inside payment exchanges, ``payment`` spans over
    what lies between numbers said close together, so that the audio is silenced over the
    whole stretch; in time order.
    """
    config = config or RedactionConfig()
    if not words:
        return Redacted([], [], [])
    call = build_call(words, config)
    numeric = number_like(call, config.segment_pause_s, config.stretch_gap_s)
    kept = plainly_not_card(call, numeric, config)
    # the detectors' kinds first, then the answers to cues, then anything said in a payment
    answers = cued_answers(call, numeric, kept, config.enabled_kinds(), config)
    tags = answers.tags | find_tags(call, config)
    windows: list[PaymentWindow] = []
    stretches = list(answers.stretches)
    if config.payment:
        # in a payment exchange a count is no excuse: "four times" may be an expiry misheard
        in_exchange = plainly_not_card(call, numeric, config, counts=False)
        said = [number and p not in in_exchange for p, number in enumerate(numeric)]
        payment = payment_redaction(call, numeric, said, tags, config)
        tags = payment.tags | tags
        windows = payment.windows
        stretches += [Redaction(PAYMENT, *span) for span in payment.stretches]
    redacted = list(words)
    for position, kind in tags.items():
        original = call.order[position]
        word = words[original]
        leading = word.word[: len(word.word) - len(word.word.lstrip())]
        redacted[original] = replace(word, word=leading + TAGS[kind])
    return Redacted(redacted, _with_stretches(redaction_spans(call, tags), stretches), windows)


def redact_words(
    words: list[Word], config: RedactionConfig | None = None
) -> tuple[list[Word], list[Redaction]]:
    """``redact`` without the payment windows: (redacted words, redactions)."""
    result = redact(words, config)
    return result.words, result.redactions


def redact_text(text: str, config: RedactionConfig | None = None) -> str:
    """Redact free text (a turn's text, a transcript, an error message) with the same detector.

    The text is read as speech: each line a turn, its whitespace-separated tokens words said
    one after another by one speaker. A token that carried a value is replaced whole by its
    tag; the whitespace is kept as it was.
    """
    pieces = re.split(r"(\s+)", text)
    words: list[Word] = []
    indices: list[int] = []
    time_s = 0.0
    for i, piece in enumerate(pieces):
        if not piece:
            continue
        if piece.isspace():
            if "\n" in piece and words:
                time_s += TEXT_TURN_GAP_S
            continue
        words.append(Word(time_s, time_s + TEXT_WORD_S, piece, 1.0, UNKNOWN))
        indices.append(i)
        time_s += TEXT_WORD_S + TEXT_WORD_GAP_S
    redacted = redact(words, config).words
    for i, word in zip(indices, redacted, strict=True):
        pieces[i] = word.word
    return "".join(pieces)


def _with_stretches(redactions: list[Redaction], stretches: list[Redaction]) -> list[Redaction]:
    """The redactions, plus spans over the parts of each stretch (a payment exchange's numbers
    said close together, an answer to a cue) that they leave uncovered, merged with the spans
    of the stretch's kind they touch; in time order. A word ASR gave no duration keeps its own
    (empty) span: the audio margin covers it."""
    covered = [Segment(r.start_s, r.end_s) for r in redactions]
    spans = [r for r in redactions if r.kind not in {s.kind for s in stretches}]
    for kind in dict.fromkeys(s.kind for s in stretches):
        own = (Segment(s.start_s, s.end_s) for s in stretches if s.kind == kind)
        uncovered = timeline.subtract(own, covered)
        covered += uncovered  # a stretch of another kind over the same time adds nothing
        of_kind = [r for r in redactions if r.kind == kind]
        joined = timeline.merge([*(Segment(r.start_s, r.end_s) for r in of_kind), *uncovered])
        spans += [
            r
            for r in of_kind
            if r.end_s <= r.start_s and not any(j.start_s <= r.start_s <= j.end_s for j in joined)
        ]
        spans += [Redaction(kind, segment.start_s, segment.end_s) for segment in joined]
    return sorted(spans, key=lambda r: (r.start_s, r.end_s, r.kind))


def audio_spans(
    redactions: Iterable[Redaction], margin_s: float, duration_s: float
) -> list[tuple[float, float]]:
    """Time spans to silence: each redaction widened by ``margin_s``, clipped to the call,
    sorted, with overlapping or touching spans merged."""
    if margin_s < 0:
        raise ValueError(f"audio_spans: margin_s must be >= 0, got {margin_s}")
    spans = (Segment(r.start_s, r.end_s) for r in redactions)
    return [(s.start_s, s.end_s) for s in timeline.widen(spans, margin_s, 0.0, duration_s)]
