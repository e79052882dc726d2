"""Values that are not runs of digits: a date of birth after its cue ("the ninth of May,
nineteen seventy two") and an IBAN, spelled out after its cue ("G B eight two, W E S T...") or
written over several words ("GB82 WEST 1234 5698 7654 32")."""

from __future__ import annotations

import re

from pipeline.redact.checks import iban_ok
from pipeline.redact.lexicon import (
    DIGIT_WORDS,
    HOMOPHONES,
    MONTHS,
    MULTIPLIERS,
    OH_WORDS,
    ORDINAL_WORDS,
    STRIP,
    TEENS,
    TENS,
)
from pipeline.redact.numberlike import said_next
from pipeline.redact.options import DOB, IBAN, NEGATIVE, RedactionConfig
from pipeline.redact.runs import Call, Finding, cue_end, cue_start, next_by_speaker

_NUMBER_WORDS = (
    frozenset(DIGIT_WORDS) | OH_WORDS | frozenset(TEENS) | frozenset(TENS) | frozenset(MULTIPLIERS)
) | {"hundred", "thousand"}
_ORDINAL_LITERAL = re.compile(r"^\d{1,2}(?:st|nd|rd|th)$")
# Words that may sit between the parts of a date without ending it.
_DATE_JOINERS = frozenset({"the", "of", "and"})
# A date written as one word: 05/09/1972, 9-5-72, 1972-05-09.
_DATE_LITERAL = re.compile(r"^\d{1,4}[/.-]\d{1,2}[/.-]\d{2,4}$")
_NATO_TEXT = """alpha alfa bravo charlie delta echo foxtrot golf hotel india juliet juliett kilo lima mike
    november oscar papa quebec romeo sierra tango uniform victor whiskey whisky x-ray xray yankee
    zulu"""
_NATO = frozenset(_NATO_TEXT.split())
_IBAN_PIECE = re.compile(r"^[A-Z0-9]{1,34}$")
_IBAN_START = re.compile(r"^[A-Z]{2}(?:\d{1,2})?[A-Z0-9]*$")
_IBAN_MAX = 34


def identity_findings(
    call: Call, config: RedactionConfig, enabled: frozenset[str]
) -> list[Finding]:
    findings: list[Finding] = []
    for p in range(len(call.words)):
        kind = cue_start(call, p)
        if kind == DOB and DOB in enabled:
            found = _date_after(call, p, config.cue_window_words)
        elif kind == IBAN and IBAN in enabled:
            found = _spelled_after(call, p, config.cue_window_words, config.stretch_gap_s)
        else:
            continue
        if found is not None:
            findings.append(found)
    if IBAN in enabled:
        findings.extend(_written_ibans(call))
    return findings


def _is_date_word(norm: str) -> bool:
    return (
        any(char.isdigit() for char in norm)
        or norm in _NUMBER_WORDS
        or norm in ORDINAL_WORDS
        or norm in MONTHS
    )


def _date_after(call: Call, cue: int, window: int) -> Finding | None:
    """The first date said within ``window`` words after a birth-date cue: its numbers,
    ordinals and month names (not "the" or "of")."""
    n = len(call.norms)
    start = cue_end(call, cue)
    for p in range(start, min(n, start + window)):
        if call.cue_kinds[p] == NEGATIVE:
            return None  # another question came first
        if not _is_date_word(call.norms[p]):
            continue
        if call.norms[p] in OH_WORDS and not (p + 1 < n and _is_date_word(call.norms[p + 1])):
            continue  # "oh, it's..."
        positions = []
        q = p
        while q < n and (_is_date_word(call.norms[q]) or call.norms[q] in _DATE_JOINERS):
            if _is_date_word(call.norms[q]):
                positions.append(q)
            q += 1
        if len(positions) >= 2 or _DATE_LITERAL.match(call.norms[positions[0]]):
            return Finding(DOB, frozenset(positions), "")
        if len(positions) == 1 and re.fullmatch(r"(19|20)\d\d", call.norms[positions[0]]):
            return Finding(DOB, frozenset(positions), "")  # the year alone
    return None


def _raw(call: Call, p: int) -> str:
    return call.words[p].word.strip().strip(STRIP)


def _spelled_after(call: Call, cue: int, window: int, pause_s: float) -> Finding | None:
    """An IBAN read out after its cue: letters, digits, number words, "G for golf", pieces
    written together ("GB82", "WEST"), up to the first other word; ten characters at least.
    It starts with a character, not with a "for" (no character in "G for golf"; before any
    letter, the question going on: "the IBAN for the account?", whatever is said over it)."""
    n = len(call.norms)
    start = cue_end(call, cue)
    for p in range(start, min(n, start + window)):
        if not _iban_word(call, p) or call.norms[p] == "for":
            continue
        positions: list[int] = []
        characters = 0
        q: int | None = p
        while q is not None and (_iban_word(call, q) or _spelled_letter_aid(call, q)):
            positions.append(q)
            raw = _raw(call, q)
            if call.norms[q] in _NUMBER_WORDS:
                characters += 1
            elif call.norms[q] not in _NATO and call.norms[q] != "for":
                characters += len(re.sub(r"[^A-Za-z0-9]", "", raw))
            # the speller's next word, past anything the other side says over it (on a mono
            # call the next word even if it was put down to the other speaker, or said over by
            # the other side put down to the same)
            q = next(
                (
                    r
                    for r in (next_by_speaker(call, q, 1, pause_s), *said_next(call, q, pause_s))
                    if r is not None
                    and r < n
                    and (_iban_word(call, r) or _spelled_letter_aid(call, r))
                ),
                None,
            )
        if characters >= 10:
            return Finding(IBAN, frozenset(positions), "")
    return None


def _iban_word(call: Call, p: int) -> bool:
    raw = _raw(call, p).replace("-", "")
    norm = call.norms[p]
    if norm in _NUMBER_WORDS or norm in OH_WORDS or norm in HOMOPHONES:
        return True
    if len(raw) == 1 and raw.isalnum():
        return True
    return bool(raw) and _IBAN_PIECE.match(raw) is not None and any(c.isdigit() for c in raw)


def _spelled_letter_aid(call: Call, p: int) -> bool:
    """ "for golf" in "G for golf", or the spelling word alone."""
    norm = call.norms[p]
    if norm in _NATO:
        return True
    return norm == "for" and p + 1 < len(call.norms) and call.norms[p + 1] in _NATO


def _written_ibans(call: Call) -> list[Finding]:
    """An IBAN written over several words ("GB82 WEST 1234 5698 7654 32") that passes its
    check digits."""
    findings: list[Finding] = []
    n = len(call.words)
    p = 0
    while p < n:
        raw = _raw(call, p)
        if not _IBAN_START.match(raw):
            p += 1
            continue
        text, found_end = "", None
        q = p
        while q < n:
            piece = _raw(call, q)
            if not re.fullmatch(r"[A-Z0-9]+", piece) or len(text + piece) > _IBAN_MAX:
                break
            text += piece
            q += 1
            if len(text) >= 15 and iban_ok(text):
                found_end = q
        if found_end is not None and found_end - p > 1:
            findings.append(Finding(IBAN, frozenset(range(p, found_end)), text))
            p = found_end
        else:
            p += 1
    return findings
