"""The dialogue generator the redaction tests and benchmark rely on: its labels must be right."""

from __future__ import annotations

import re
from collections import Counter

from tests.payment_dialogues import (
    KEPT_KINDS,
    MISHEARD_ANSWER_KINDS,
    SENSITIVE_KINDS,
    SOUND_ALIKES,
    STRAY_WORDS,
    dialogues,
    luhn_check_digit,
    outcome,
    random_iban,
)

SAMPLE = dialogues(seed=101, count=300)


def _luhn_ok(number: str) -> bool:
    return luhn_check_digit(number[:-1]) == number[-1]


def test_the_same_seed_gives_the_same_dialogues_and_another_seed_others() -> None:
    again = dialogues(seed=101, count=20)
    assert [d.text() for d in again] == [d.text() for d in SAMPLE[:20]]
    assert dialogues(seed=102, count=1)[0].text() != SAMPLE[0].text()


def test_card_numbers_are_luhn_valid_of_every_brand_length() -> None:
    cards = [v.digits for d in SAMPLE for v in d.values if v.kind == "card"]
    assert len(cards) > 200
    assert all(_luhn_ok(card) for card in cards)
    assert {len(card) for card in cards} >= {13, 14, 15, 16, 19}
    assert {card[0] for card in cards} >= {"2", "3", "4", "5", "6"}


def test_luhn_and_iban_checks_match_published_examples() -> None:
    assert luhn_check_digit("401288888888188") == "1"  # Visa test number 4012 8888 8888 1881
    iban = random_iban(__import__("random").Random(3))
    moved = iban[4:] + iban[:4]
    assert int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def test_every_kind_appears_and_every_label_has_words() -> None:
    values = Counter(v.kind for d in SAMPLE for v in d.values)
    kept = Counter(k.kind for d in SAMPLE for k in d.kept)
    assert set(values) == set(SENSITIVE_KINDS)
    assert set(kept) == set(KEPT_KINDS)
    for dialogue in SAMPLE:
        tokens = dialogue.tokens()
        for index in range(len(dialogue.values)):
            assert any(t.value == index for t in tokens), dialogue.name
        for index in range(len(dialogue.kept)):
            assert any(t.kept == index for t in tokens), dialogue.name


def test_asr_writing_has_the_forms_the_issue_names() -> None:
    text = "\n".join(d.text() for d in SAMPLE)
    for form in (r"\b\d -\d\b", r"\b(for|to|ate|free)\b", r"\bM?O\d\b", r"current number",
                 r"Atari 8", r"\bdouble\b", r"\b\d{4},"):  # fmt: skip
        assert re.search(form, text), form
    long_pauses = [u.pause_s for d in SAMPLE for u in d.utterances if u.pause_s > 8.0]
    assert long_pauses


def test_answers_have_digits_written_as_other_words_and_keep_their_labels() -> None:
    misheard = frozenset(w.lower() for words in SOUND_ALIKES.values() for w in words) | {
        w.lower() for w in STRAY_WORDS
    }
    by_kind: Counter[str] = Counter()
    for dialogue in SAMPLE:
        for token in dialogue.tokens():
            if token.value is not None and token.text.rstrip(",.?").lower() in misheard:
                assert token.digits.isdigit() and 1 <= len(token.digits) <= 2, token
                by_kind[dialogue.values[token.value].kind] += 1
    assert set(by_kind) <= MISHEARD_ANSWER_KINDS
    assert {"ssn", "pin", "dob"} <= set(by_kind), by_kind
    answers = sum(1 for d in SAMPLE for v in d.values if v.kind in MISHEARD_ANSWER_KINDS)
    assert 0.1 * answers <= sum(by_kind.values()) <= 0.5 * answers, (by_kind, answers)


def test_words_text_and_tokens_line_up() -> None:
    for dialogue in SAMPLE[:50]:
        tokens = dialogue.tokens()
        assert len(dialogue.text().split()) == len(tokens)
        for speakers in ("exact", "unknown", "noisy"):
            words = dialogue.words(speakers)
            assert [w.word.strip() for w in words] == [t.text for t in tokens]
            assert all(w.end_s >= w.start_s >= 0 for w in words)


def test_outcome_counts_a_value_redacted_only_when_all_its_words_are() -> None:
    dialogue = next(d for d in SAMPLE if any(v.kind == "card" for v in d.values))
    tokens = dialogue.tokens()
    everything = outcome(dialogue, [True] * len(tokens))
    assert everything.values_missed == [] and len(everything.kept_lost) == len(dialogue.kept)
    card = next(i for i, v in enumerate(dialogue.values) if v.kind == "card")
    first_card_word = next(i for i, t in enumerate(tokens) if t.value == card)
    all_but_one = [t.value is not None and i != first_card_word for i, t in enumerate(tokens)]
    partial = outcome(dialogue, all_but_one)
    assert partial.values_missed == [card] and partial.kept_lost == []
