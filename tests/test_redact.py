"""Tests for pipeline/redact/: the corpus in redaction_corpus.py, then the API's edges."""

from __future__ import annotations

import random
import re
from dataclasses import fields, replace

import pydantic
import pytest

from pipeline.redact import (
    KINDS,
    TAGS,
    Redaction,
    RedactionConfig,
    audio_spans,
    redact_text,
    redact_words,
)
from pipeline.types import Word
from tests.redaction_corpus import CORPUS, LabelledCall, labelled_call, labelled_corpus

CALLS = labelled_corpus()
SENSITIVE = [call for call in CALLS if not call.is_near_miss]
NEAR_MISSES = [call for call in CALLS if call.is_near_miss]


def _ids(calls: list[LabelledCall]) -> list[str]:
    return [call.item.name for call in calls]


def _words(*turns: tuple[str, str]) -> list[Word]:
    words, time_s = [], 0.0
    for speaker, text in turns:
        for token in text.split():
            words.append(Word(time_s, time_s + 0.3, " " + token, 0.8, speaker))
            time_s += 0.4
        time_s += 0.6
    return words


def _text(words: list[Word]) -> str:
    return " ".join(word.word.strip() for word in words)


# An independent, deliberately simple reading of digits in text, to check that no value
# survives: written digits, digits said one by one, "oh", teens, "twenty seven", double/triple.
_NUMBER_WORDS = (
    "zero oh o one two three four five six seven eight nine "
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"
)
_VALUES = dict(zip(_NUMBER_WORDS.split(" "), [0, 0, 0, *range(1, 20)], strict=True))
_UNITS = {word: str(value) for word, value in _VALUES.items() if value < 10}
_TEENS = {word: value for word, value in _VALUES.items() if value >= 10}
_TENS_WORDS = "twenty thirty forty fifty sixty seventy eighty ninety"
_TENS = dict(zip(_TENS_WORDS.split(" "), range(20, 100, 10), strict=True))


def _digit_chunks(words: list[Word]) -> list[str]:
    """Digits of each stretch of consecutive number words that were not redacted."""
    tokens: list[str | None] = []
    for word in words:
        text = word.word.strip()
        if text in TAGS.values():
            tokens.append(None)
            continue
        for sub in re.split(r"[-/,.?!:\s]+", text.lower()):
            if sub:
                tokens.append(sub)
    chunks, current, i = [], "", 0
    while i < len(tokens):
        token = tokens[i]
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        if token is not None and token.isdigit():
            current += token
        elif token in _UNITS:
            current += _UNITS[token]
        elif token in _TEENS:
            current += str(_TEENS[token])
        elif token in _TENS:
            if following in _UNITS and _UNITS[following] != "0":
                current += str(_TENS[token] + int(_UNITS[following]))
                i += 1
            else:
                current += str(_TENS[token])
        elif token in ("double", "triple") and following in _UNITS:
            current += _UNITS[following] * (2 if token == "double" else 3)
            i += 1
        else:
            if current:
                chunks.append(current)
            current = ""
        i += 1
    if current:
        chunks.append(current)
    return chunks


# --- the corpus -------------------------------------------------------------------------------


def test_corpus_is_large_enough_and_has_every_kind() -> None:
    assert len(CORPUS) >= 40
    assert len(NEAR_MISSES) >= 15
    kinds = {kind for call in CALLS for kind in call.kinds if kind}
    assert kinds == {"card", "cvv", "expiry", "account", "routing", "ssn", "dob", "payment"}
    for call in SENSITIVE:
        assert call.item.secrets, f"{call.item.name}: a sensitive item needs its secrets"


@pytest.mark.parametrize("call", SENSITIVE, ids=_ids(SENSITIVE))
def test_every_sensitive_word_gets_its_tag(call: LabelledCall) -> None:
    redacted, _ = redact_words(call.words)
    for original, word, kind in zip(call.words, redacted, call.kinds, strict=True):
        if kind is not None:
            assert word.word.strip() == TAGS[kind], (
                f"{call.item.name}: {original.word.strip()!r} should be {TAGS[kind]}\n"
                f"  got: {_text(redacted)}"
            )


@pytest.mark.parametrize("call", SENSITIVE, ids=_ids(SENSITIVE))
def test_words_around_the_values_are_kept(call: LabelledCall) -> None:
    redacted, _ = redact_words(call.words)
    for original, word, kind in zip(call.words, redacted, call.kinds, strict=True):
        if kind is None:
            assert word == original, f"{call.item.name}: changed: {_text(redacted)}"


@pytest.mark.parametrize("call", SENSITIVE, ids=_ids(SENSITIVE))
def test_no_secret_digits_survive(call: LabelledCall) -> None:
    redacted, _ = redact_words(call.words)
    chunks = _digit_chunks(redacted)
    for secret in call.item.secrets:
        assert not any(secret in chunk for chunk in chunks), (
            f"{call.item.name}: {secret} survives in {_text(redacted)}"
        )


# Forms the simple reader above does not read ("four hundred and twelve", "march", "for",
# "oh four slash twenty six").
_UNREADABLE = {
    "cvv_hundred_and",
    "expiry_month_name",
    "card_spoken_with_homophone_for",
    "expiry_valid_until_slash_word",
}


def test_the_digit_reader_sees_the_secrets_before_redaction() -> None:
    """Otherwise the check above would pass for the wrong reason."""
    for call in SENSITIVE:
        if call.item.name in _UNREADABLE:
            continue
        chunks = _digit_chunks(call.words)
        assert any(secret in chunk for secret in call.item.secrets for chunk in chunks), (
            f"{call.item.name}: none of {call.item.secrets} in {chunks}"
        )


@pytest.mark.parametrize("call", SENSITIVE, ids=_ids(SENSITIVE))
def test_redaction_spans_cover_the_sensitive_words(call: LabelledCall) -> None:
    _, redactions = redact_words(call.words)
    for word, kind in zip(call.words, call.kinds, strict=True):
        if kind is None:
            continue
        assert any(
            r.kind == kind and r.start_s <= word.start_s and word.end_s <= r.end_s
            for r in redactions
        ), f"{call.item.name}: no {kind} span covers {word}"


@pytest.mark.parametrize("call", NEAR_MISSES, ids=_ids(NEAR_MISSES))
def test_near_misses_are_unchanged(call: LabelledCall) -> None:
    redacted, redactions = redact_words(call.words)
    assert redacted == call.words, f"{call.item.name}: {_text(redacted)}"
    assert redactions == []


# --- spoken-number forms, one at a time -------------------------------------------------------


@pytest.mark.parametrize(
    "spoken",
    [
        "4111111111111111",
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "4111, 1111, 1111, 1111.",
        "four one one one one one one one one one one one one one one one",
        "four one one one, double one double one, triple one one, one one one one",
        "forty one eleven eleven eleven eleven eleven eleven eleven",
        "4111 one one one one 1111 eleven eleven",
        "4-1-1-1 1-1-1-1 1-1-1-1 1-1-1-1",
    ],
)
def test_card_forms_without_any_cue(spoken: str) -> None:
    words = _words(("customer", spoken))
    redacted, redactions = redact_words(words)
    digit_words = [w for w in redacted if w.word.strip() not in (",", ".")]
    assert all(w.word.strip() == "[CARD]" for w in digit_words), _text(redacted)
    assert [r.kind for r in redactions] == ["card"]


def test_card_read_back_without_speaker_labels() -> None:
    """Diarization failed: every word is ``unknown``; the read-back is found by the pause."""
    words = _words(("unknown", "4111 1111"), ("unknown", "4111 1111"), ("unknown", "1111 1111"))
    redacted, _ = redact_words(words)
    assert _text(redacted) == " ".join(["[CARD]"] * 6)


def test_words_may_come_in_any_order() -> None:
    words = _words(
        ("agent", "what's the card number"),
        ("customer", "4111 1111"),
        ("agent", "okay"),
        ("customer", "1111 1111 and the security code is 123"),
    )
    shuffled = words[:]
    random.Random(7).shuffle(shuffled)
    redacted, redactions = redact_words(shuffled)
    by_time = sorted(redacted, key=lambda w: w.start_s)
    assert _text(by_time) == (
        "what's the card number [CARD] [CARD] okay [CARD] [CARD] and the security code is [CVV]"
    )
    # the agent's "okay" between the two halves is silenced with them
    assert [r.kind for r in redactions] == ["card", "payment", "card", "cvv"]


def test_tags_keep_time_speaker_probability_and_leading_space() -> None:
    words = [Word(1.0, 1.5, " 4111111111111111", 0.42, "customer")]
    redacted, redactions = redact_words(words)
    assert redacted == [replace(words[0], word=" [CARD]")]
    assert redactions == [Redaction("card", 1.0, 1.5)]


def test_redaction_holds_no_value() -> None:
    assert [f.name for f in fields(Redaction)] == ["kind", "start_s", "end_s"]


def test_nothing_in_nothing_out() -> None:
    assert redact_words([]) == ([], [])


# --- configuration ----------------------------------------------------------------------------


def test_defaults_switch_on_all_but_email() -> None:
    assert {"pin", "dob", "iban", "payment"} <= RedactionConfig().enabled_kinds()
    assert RedactionConfig().enabled_kinds() == frozenset(KINDS) - {"email"}
    assert RedactionConfig().margin_s == 0.25


def test_a_kind_switched_off_is_left_alone() -> None:
    words = _words(("customer", "card number 4111 1111 1111 1111 security code 123"))
    redacted, _ = redact_words(words, RedactionConfig(card=False, payment=False))
    assert _text(redacted) == "card number 4111 1111 1111 1111 security code [CVV]"
    # inside a payment exchange every number is redacted, whatever the kinds switched on
    redacted, _ = redact_words(words, RedactionConfig(card=False))
    assert _text(redacted) == "card number " + "[PAYMENT] " * 4 + "security code [CVV]"


def test_email_is_off_by_default_and_found_when_on() -> None:
    words = _words(("customer", "it's john dot smith at gmail dot com or jane.doe@example.com ok"))
    assert redact_words(words)[0] == words
    redacted, _ = redact_words(words, RedactionConfig(email=True))
    assert _text(redacted) == "it's " + " ".join(["[EMAIL]"] * 7) + " or [EMAIL] ok"


def test_config_rejects_unknown_settings() -> None:
    with pytest.raises(pydantic.ValidationError, match="crad"):
        RedactionConfig(crad=True)
    with pytest.raises(pydantic.ValidationError, match="margin_s"):
        RedactionConfig(margin_s=-1.0)


# --- free text and audio spans ----------------------------------------------------------------


def test_redact_text_keeps_whitespace_and_other_words() -> None:
    text = "payment failed:\tcard 4111111111111111  exp 12/27 cvv 123\nfor order 1234567890123"
    assert redact_text(text) == (
        "payment failed:\tcard [CARD]  exp [EXPIRY] cvv [CVV]\nfor order 1234567890123"
    )


def test_redact_text_leaves_money_and_dates() -> None:
    text = "charged $49.99 on 12/27 at 3:30, call 555-123-4567"
    assert redact_text(text) == text


def test_audio_spans_widen_merge_and_clip() -> None:
    redactions = [
        Redaction("card", 0.1, 1.0),
        Redaction("card", 1.4, 2.0),
        Redaction("cvv", 5.0, 5.5),
        Redaction("expiry", 9.9, 10.2),
    ]
    assert audio_spans(redactions, margin_s=0.25, duration_s=10.0) == [
        (0.0, 2.25),
        (4.75, 5.75),
        (9.65, 10.0),
    ]


def test_audio_spans_of_nothing_and_bad_margin() -> None:
    assert audio_spans([], margin_s=0.25, duration_s=10.0) == []
    with pytest.raises(ValueError, match="margin_s"):
        audio_spans([Redaction("card", 1.0, 2.0)], margin_s=-0.1, duration_s=10.0)


def test_labelled_call_marks_continued_entities() -> None:
    call = labelled_call(CORPUS[[item.name for item in CORPUS].index("card_split_agent_okay")])
    assert [k for k in call.kinds if k] == ["card"] * 4
    assert len({e for e in call.entities if e is not None}) == 1
