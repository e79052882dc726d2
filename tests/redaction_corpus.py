"""Utterances for the redaction tests and benchmark, with the values that must be redacted.

Each item is a short stretch of a call: ``(speaker, text)`` turns. Inside the text a value
that must be redacted is marked ``{kind: words}``; ``{kind+: words}`` continues the last value
of that kind (the second half of a card number said after the agent's "okay", or the agent
reading it back). Everything outside the braces must stay as it was. ``secrets`` are the digit
strings that must not survive anywhere in the redacted words. Items without braces are
near-misses: phone numbers, order numbers, money, dates, times and counts that must not change.

The card numbers are the brands' published test numbers; nothing here is real.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.types import Word

WORD_DURATION_S = 0.3
WORD_GAP_S = 0.1
TURN_GAP_S = 0.6


@dataclass(frozen=True)
class CorpusItem:
    name: str
    turns: tuple[tuple[str, str], ...]
    secrets: tuple[str, ...] = ()
    turn_gap_s: float = TURN_GAP_S


@dataclass(frozen=True)
class LabelledCall:
    """An item turned into words, with the kind and entity number each word must get."""

    item: CorpusItem
    words: list[Word]
    kinds: list[str | None]
    entities: list[int | None]

    @property
    def is_near_miss(self) -> bool:
        return all(kind is None for kind in self.kinds)


A, C = "agent", "customer"


def _item(
    name: str,
    *turns: tuple[str, str],
    secrets: tuple[str, ...] = (),
    turn_gap_s: float = TURN_GAP_S,
) -> CorpusItem:
    return CorpusItem(name, tuple(turns), secrets, turn_gap_s)


CORPUS: tuple[CorpusItem, ...] = (
    # --- card numbers: written digits -------------------------------------------------------
    _item(
        "card_digits_grouped",
        (C, "my card number is {card: 4111 1111 1111 1111} okay"),
        secrets=("4111111111111111",),
    ),
    _item(
        "card_digits_one_token_no_cue",
        (C, "sure it's {card: 4539148803436467} thanks"),
        secrets=("4539148803436467",),
    ),
    _item(
        "card_dashes",
        (A, "go ahead"),
        (C, "{card: 5555-5555-5555-4444}"),
        secrets=("5555555555554444",),
    ),
    _item(
        "card_whisper_hyphenated_digits",
        (C, "the visa is {card: 4-0-1-2 8-8-8-8 8-8-8-8 1-8-8-1}"),
        secrets=("4012888888881881",),
    ),
    _item(
        "card_mastercard_2_series",
        (C, "it's a mastercard, {card: 2221 0000 0000 0009}"),
        secrets=("2221000000000009",),
    ),
    _item(
        "card_visa_13_digits",
        (C, "{card: 4222222222222} is the number on the old card"),
        secrets=("4222222222222",),
    ),
    _item(
        "card_jcb",
        (C, "{card: 3530 1113 3330 0000}"),
        secrets=("3530111333300000",),
    ),
    _item(
        "card_diners_14_digits",
        (C, "diners club, {card: 3056 9309 0259 04}"),
        secrets=("30569309025904",),
    ),
    _item(
        "card_amex_4_6_5",
        (C, "it's an amex, {card: 3782 822463 10005}"),
        secrets=("378282246310005",),
    ),
    # --- card numbers: spoken ---------------------------------------------------------------
    _item(
        "card_spoken_digits_after_cue",
        (A, "can I take the long number on the card please"),
        (
            C,
            (
                "yes it's {card: four five three nine one four eight eight zero three four three "
                "six four six seven}"
            ),
        ),
        secrets=("4539148803436467",),
    ),
    _item(
        "card_spoken_digits_no_cue",
        (A, "okay whenever you're ready"),
        (C, "{card: six oh one one, one one one one, one one one one, one one one seven}"),
        secrets=("6011111111111117",),
    ),
    _item(
        "card_spoken_oh_and_double_oh",
        (C, "{card: five one oh five, one oh five one, oh five one oh, five one double oh}"),
        secrets=("5105105105105100",),
    ),
    _item(
        "card_double_and_triple",
        (
            C,
            (
                "{card: triple five five, double five double five, triple five five, "
                "double four double four}"
            ),
        ),
        secrets=("5555555555554444",),
    ),
    _item(
        "card_mixed_digits_and_words",
        (C, "card is {card: 4111 one one one one, 1111 double one one one}"),
        secrets=("4111111111111111",),
    ),
    _item(
        "card_teens_forty_one_eleven",
        (C, "{card: forty one eleven, eleven eleven, eleven eleven, eleven eleven}"),
        secrets=("4111111111111111",),
    ),
    _item(
        "card_amex_spoken_4_6_5",
        (A, "and the card number"),
        (
            C,
            (
                "{card: three seven one four, four nine six three five three, "
                "nine eight four three one}"
            ),
        ),
        secrets=("371449635398431",),
    ),
    _item(
        "card_spoken_with_homophone_for",
        (
            C,
            (
                "{card: four five three nine, one for eight eight, zero three four three, "
                "six four six seven}"
            ),
        ),
        secrets=("4539148803436467",),
    ),
    _item(
        "card_luhn_invalid_after_cue",
        (A, "what's the card number"),
        (C, "{card: 4111 1111 1111 1112}"),
        secrets=("4111111111111112",),
    ),
    _item(
        "card_luhn_invalid_spoken_after_long_number",
        (A, "and the long number on the front of the card?"),
        (
            C,
            "{card: five four one two, seven five one two, three four one two, three four five six}",
        ),
        secrets=("5412751234123456",),
    ),
    # --- card numbers: split across turns ---------------------------------------------------
    _item(
        "card_split_agent_okay",
        (C, "the card is {card: 4111 1111}"),
        (A, "okay"),
        (C, "{card+: 1111 1111}"),
        secrets=("4111111111111111", "41111111"),
    ),
    _item(
        "card_split_agent_mm_hm_three_times",
        (A, "go ahead with the card number"),
        (C, "{card: 6011}"),
        (A, "mm-hm"),
        (C, "{card+: 0009}"),
        (A, "yep"),
        (C, "{card+: 9013 9424}"),
        secrets=("6011000990139424", "90139424"),
    ),
    _item(
        "card_split_agent_reads_back_group",
        (C, "{card: 4539 1488}"),
        (A, "{card+: 1488}?"),
        (C, "yes, {card+: 0343 6467}"),
        secrets=("4539148803436467", "45391488", "03436467"),
    ),
    _item(
        "card_split_agent_reads_back_spoken",
        (C, "{card: five five five five, five five five five}"),
        (A, "{card+: five five five five, five five five five}, okay"),
        (C, "{card+: five five five five, four four four four}"),
        secrets=("5555555555554444", "55555555", "55554444"),
    ),
    _item(
        "card_split_spoken_no_cue_sorry",
        (C, "{card: five five oh oh, oh oh five five} sorry let me just"),
        (A, "no problem"),
        (C, "{card+: five five five five, five five five nine}"),
        secrets=("5500005555555559", "55000055", "55555559"),
    ),
    _item(
        "card_false_start_then_correct",
        (A, "card number please"),
        (C, "{card: 4111 1112}, sorry, no, {card+: 4111 1111 1111 1111}"),
        secrets=("41111112", "4111111111111111"),
    ),
    _item(
        "card_split_long_pause_after_cue",
        (A, "card number?"),
        (C, "{card: 4111 1111}"),
        (A, "take your time"),
        (C, "{card+: 1111 1111}"),
        secrets=("41111111", "11111111"),
        turn_gap_s=30.0,
    ),
    _item(
        "card_agent_reads_back_whole",
        (C, "{card: 4000 0566 5566 5556}"),
        (A, "let me read that back, {card+: 4000 0566 5566 5556}, is that right?"),
        (C, "that's right"),
        secrets=("4000056655665556",),
    ),
    _item(
        "card_expiry_cvv_one_breath",
        (A, "card number expiry and security code please"),
        (C, "{card: 4111 1111 1111 1111}, {expiry: twelve twenty seven}, {cvv: one two three}"),
        secrets=("4111111111111111", "1227", "123"),
    ),
    _item(
        "card_then_phone_number_kept",
        (C, "{card: 6011 0000 0000 0004}"),
        (A, "thanks, and a phone number for the receipt?"),
        (C, "555 867 5309"),
        secrets=("6011000000000004",),
    ),
    _item(
        "card_then_amount_kept",
        (C, "{card: 5500 0055 5555 5559}"),
        (A, "great, that's forty nine dollars charged today"),
        secrets=("5500005555555559",),
    ),
    _item(
        "card_expiry_and_code_with_their_cues",
        (
            C,
            (
                "the card is {card: four one one one one one one one one one one one one one "
                "one one} expiring {expiry: oh nine twenty eight} code {cvv: seven three seven}"
            ),
        ),
        secrets=("4111111111111111", "0928", "737"),
    ),
    # --- security codes ---------------------------------------------------------------------
    _item(
        "cvv_spoken_after_security_code",
        (A, "and the security code on the back?"),
        (C, "{cvv: one two three}"),
        secrets=("123",),
    ),
    _item(
        "cvv_digits_after_cvv",
        (A, "what's the CVV?"),
        (C, "it's {cvv: 737}"),
        secrets=("737",),
    ),
    _item(
        "cvv_three_digits_on_the_back_with_oh",
        (A, "and the three digits on the back of the card"),
        (C, "{cvv: nine oh four}"),
        secrets=("904",),
    ),
    _item(
        "cvv_amex_four_digits",
        (A, "for amex it's the four digit code on the front"),
        (C, "{cvv: seven three seven three}"),
        secrets=("7373",),
    ),
    _item(
        "cvv_agent_reads_back",
        (A, "security code please"),
        (C, "{cvv: four five six}"),
        (A, "{cvv+: four five six}, thank you"),
        secrets=("456",),
    ),
    _item(
        "cvv_hundred_and",
        (C, "the CVC is {cvv: four hundred and twelve}"),
        secrets=("412",),
    ),
    _item(
        "cvv_agent_says_the_one_on_the_back",
        (A, "what's the security code, the one on the back?"),
        (C, "uh {cvv: eight two one}"),
        secrets=("821",),
    ),
    _item(
        "cvv_double",
        (A, "and the cvv"),
        (C, "{cvv: double seven nine}"),
        secrets=("779",),
    ),
    # --- expiry dates -----------------------------------------------------------------------
    _item(
        "expiry_teens_tens",
        (A, "expiry date?"),
        (C, "{expiry: twelve twenty seven}"),
        secrets=("1227",),
    ),
    _item(
        "expiry_oh_nine",
        (A, "and when does it expire?"),
        (C, "{expiry: oh nine twenty eight}"),
        secrets=("0928",),
    ),
    _item(
        "expiry_slash_after_cue",
        (C, "expiration is {expiry: 09/28}"),
        secrets=("0928",),
    ),
    _item(
        "expiry_slash_near_card_no_cue",
        (C, "{card: 4111 1111 1111 1111} and the date on it is {expiry: 12/27}"),
        secrets=("4111111111111111", "1227"),
    ),
    _item(
        "expiry_month_name",
        (A, "expiration date?"),
        (C, "{expiry: march twenty twenty nine}"),
        secrets=("032029",),
    ),
    _item(
        "expiry_valid_until_slash_word",
        (C, "valid until {expiry: oh four} slash {expiry+: twenty six}"),
        secrets=("0426",),
    ),
    _item(
        "expiry_spoken_slash_token",
        (A, "expiry?"),
        (C, "{expiry: twelve/27}"),
        secrets=("1227",),
    ),
    # --- bank accounts, routing and sort codes, SSN -----------------------------------------
    _item(
        "account_digits",
        (A, "can I get the account number"),
        (C, "{account: 12345678}"),
        secrets=("12345678",),
    ),
    _item(
        "account_spoken",
        (
            C,
            "my checking account number is {account: nine eight seven six five four three two one}",
        ),
        secrets=("987654321",),
    ),
    _item(
        "routing_digits",
        (C, "routing number {routing: 021000021}"),
        secrets=("021000021",),
    ),
    _item(
        "routing_spoken",
        (C, "the routing number is {routing: oh two one oh oh oh oh two one}"),
        secrets=("021000021",),
    ),
    _item(
        "sort_code_tens",
        (C, "sort code {routing: twelve thirty four fifty six}"),
        secrets=("123456",),
    ),
    _item(
        "sort_code_and_account",
        (C, "sort code {routing: 20-00-00}, account number {account: 55779911}"),
        secrets=("200000", "55779911"),
    ),
    _item(
        "account_split_okay",
        (A, "bank account number?"),
        (C, "{account: 4455 6677}"),
        (A, "okay"),
        (C, "{account+: 88}"),
        secrets=("4455667788", "44556677"),
    ),
    _item(
        "ssn_spoken_after_cue",
        (A, "can you verify your social security number"),
        (C, "{ssn: one two three, four five, six seven eight nine}"),
        secrets=("123456789",),
    ),
    _item(
        "ssn_literal_after_cue",
        (C, "my SSN is {ssn: 123-45-6789}"),
        secrets=("123456789",),
    ),
    _item(
        "ssn_literal_no_cue",
        (C, "it's {ssn: 219-09-9999} I think"),
        secrets=("219099999",),
    ),
    _item(
        "ssn_last_four",
        (A, "last four of your social?"),
        (C, "{ssn: six seven eight nine}"),
        secrets=("6789",),
    ),
    # --- near-misses: must stay unchanged ---------------------------------------------------
    _item(
        "phone_spoken", (C, "my phone number is five five five, one two three, four five six seven")
    ),
    _item("phone_digits", (C, "you can reach me at 555-123-4567")),
    _item(
        "phone_uk_call_back",
        (C, "call me back on oh two oh seven nine four six oh seven five eight"),
    ),
    _item("phone_no_cue", (C, "it's 212 555 0199 if we get cut off")),
    _item("order_number_spoken", (C, "my order number is 4 5 8 2 9 1 7 7 3")),
    _item("order_number_long", (C, "the order number is 1234 5678 9012 3456")),
    _item("ticket_number", (A, "your ticket number is seven seven four two one nine")),
    _item(
        "reference_number_13_digits",
        (A, "reference number is one two three four five six seven eight nine zero one two three"),
    ),
    _item("case_number", (A, "your case number is 4 1 1 1 2 2")),
    _item("money_spoken", (A, "that'll be forty nine dollars and ninety nine cents")),
    _item("money_literal", (A, "the charge was $49.99 on the twelfth")),
    _item("money_per_month", (A, "it's forty nine ninety nine a month")),
    _item("money_thousands", (C, "I was charged 1,299 dollars on 03/15")),
    _item(
        "appointment_spoken", (A, "the appointment is on march twenty seventh at three thirty pm")
    ),
    _item("appointment_slash", (A, "your appointment is on 12/27 at 3:30")),
    _item("time_range", (C, "I'm free between two and four tomorrow")),
    _item("counts", (C, "I've been a customer for two years and I have three kids")),
    _item("years", (C, "since twenty nineteen, maybe twenty twenty")),
    _item("oh_interjection", (C, "oh, okay, oh I see, four of them")),
    _item("zip_code", (C, "my zip code is nine oh two one oh")),
    _item("double_check", (A, "I'll double check that for you, one moment")),
    _item("extension", (A, "this call may be recorded, extension four four one two")),
    _item("street_address", (C, "I live at 4111 Elm street apartment 12")),
    _item("card_last_four_only", (A, "the card ending in four four four four?"), (C, "yes")),
    _item("year_spoken", (C, "it's two thousand twenty four now")),
    _item("the_one_on_the_back", (A, "is it the one on the back?"), (C, "no the other one")),
    _item("model_number", (C, "model number 4111 dash 22")),
    _item("area_code", (C, "the area code is four one five")),
    _item("promo_code", (C, "I have a promo code, 4 5 6 7")),
)


_MARK = re.compile(r"\{(\w+)(\+?):\s*([^}]*)\}")


def labelled_call(item: CorpusItem) -> LabelledCall:
    """Words with made-up times (0.3 s per word, 0.1 s apart, 0.6 s between turns unless the
    item says otherwise)."""
    words: list[Word] = []
    kinds: list[str | None] = []
    entities: list[int | None] = []
    entity_of_kind: dict[str, int] = {}
    next_entity = 0
    time_s = 0.0
    for speaker, text in item.turns:
        position = 0
        pieces: list[tuple[str, str | None, int | None]] = []
        for match in _MARK.finditer(text):
            pieces.extend((token, None, None) for token in text[position : match.start()].split())
            kind, continues, marked = match.groups()
            if not continues or kind not in entity_of_kind:
                entity_of_kind[kind] = next_entity
                next_entity += 1
            pieces.extend((token, kind, entity_of_kind[kind]) for token in marked.split())
            position = match.end()
        pieces.extend((token, None, None) for token in text[position:].split())
        for token, kind, entity in pieces:
            words.append(Word(time_s, time_s + WORD_DURATION_S, " " + token, 0.9, speaker))
            kinds.append(kind)
            entities.append(entity)
            time_s += WORD_DURATION_S + WORD_GAP_S
        time_s += item.turn_gap_s
    return LabelledCall(item, words, kinds, entities)


def labelled_corpus() -> list[LabelledCall]:
    return [labelled_call(item) for item in CORPUS]
