"""Utterances for the redaction tests and benchmark, with the values that must be redacted.

Two kinds of item. Hand-written ones (``HAND_WRITTEN``) are a short stretch of a call:
``(speaker, text)`` turns. Inside the text a value
that must be redacted is marked ``{kind: words}``; ``{kind+: words}`` continues the last value
of that kind (the second half of a card number said after the agent's "okay", or the agent
reading it back). Everything outside the braces must stay as it was. ``secrets`` are the digit
strings that must not survive anywhere in the redacted words. Items without braces are
near-misses: phone numbers, order numbers, money, dates, times and counts that must not change.
``payment`` marks a number that is no value but is said inside a payment exchange, where
redaction fails closed ("and the Atari {payment: 8?}": the misheard expiry question).

The card numbers are the brands' published test numbers; nothing here is real.

Real ASR output (``ASR_OUTPUT``) is the words faster-whisper gave for the demo call
audio_samples/card_payment (whisper-base and whisper-tiny.en, stereo and mono file), before
redaction, with their own times and speakers: one word a line, ``start_s end_s speaker word``,
and ``-> kind`` after a word that must be redacted. Consecutive words of one kind are one value;
``-> kind+`` continues the last value of that kind across words that stay. Whisper's spellings
are kept as they are ("4 .1", "12 -28,", "$49 .99"), and so are its mishearings ("the Atari 8?"
for "the expiry date?", "the current number" for "the card number"); the secrets are the digits
as Whisper wrote them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.types import Word

WORD_DURATION_S = 0.3
WORD_GAP_S = 0.1
TURN_GAP_S = 0.6


@dataclass(frozen=True)
class TimedWord:
    """One word of real ASR output, with the kind it must be redacted as (``card+`` continues)."""

    start_s: float
    end_s: float
    speaker: str
    word: str
    label: str | None = None


@dataclass(frozen=True)
class CorpusItem:
    name: str
    turns: tuple[tuple[str, str], ...]
    secrets: tuple[str, ...] = ()
    turn_gap_s: float = TURN_GAP_S
    timed_words: tuple[TimedWord, ...] = ()  # real ASR output: used instead of ``turns``


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


HAND_WRITTEN: tuple[CorpusItem, ...] = (
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
        "date_of_birth_spoken",
        (A, "and your date of birth?"),
        (C, "the {dob: ninth} of {dob+: May, 1972}"),
        secrets=("1972",),
    ),
    _item(
        "ssn_last_four",
        (A, "last four of your social?"),
        (C, "{ssn: six seven eight nine}"),
        secrets=("6789",),
    ),
    # --- Whisper's spellings and mishearings (written like its output) ----------------------
    _item(
        "card_whisper_point_for_oh_no_cue",
        (A, "okay, whenever you're ready"),
        (C, "it's {card: 4 .1 2, .0 .0 1 .0, 3 7 1 4, 1 1 1 2}"),
        secrets=("4012001037141112", "412001037141112"),
    ),
    _item(
        "card_misheard_cue_then_long_number_fails_checksum",
        (A, "and go ahead with the current number."),
        (C, "{card: 5 -2 -0, 0 -8 -2, 8 -2, 8 -2 -8 -2, 8 -3 -1 -0.}"),
        secrets=("5200828282828310",),
    ),
    _item(
        "expiry_and_code_after_card_cues_misheard",
        (A, "go ahead with the card number"),
        (C, "{card: 5105 -1051 -0510 -5100}"),
        (A, "and the Atari {payment: 8?}"),
        (C, "{expiry: 11 -27,}"),
        (A, "and the coat on the bike?"),
        (C, "{cvv: 7 -3 -7.}"),
        secrets=("5105105105105100", "1127", "737"),
    ),
    _item(
        "card_continues_after_mm_hm_whisper_dashes",
        (A, "card number please"),
        (C, "{card: 4000 -0566}"),
        (A, "mm-hm."),
        (C, "{card+: 5566 -5556.}"),
        (A, "and the expiry?"),
        (C, "{expiry: 3 -29.}"),
        secrets=("4000056655665556", "329"),
    ),
    _item(
        "cvv_homophone_for_after_cue",
        (A, "and the security code on the back?"),
        (C, "it's {cvv: for 5 6}"),
        secrets=("456", "56"),  # "56": what a reader that does not know "for" sees
    ),
    _item(
        "phone_after_reach_then_card_with_bare_number_request",
        (A, "and the best number to reach you on?"),
        (C, "it's 6 -4 -7, 5 -5 -5, 0 -1 -9 -9."),
        (A, "thanks. and go ahead with the number."),
        (C, "{card: 4035 -5010 -0000 -0008}"),
        secrets=("4035501000000008",),
    ),
    _item(
        "phone_cue_misheard_then_card_number_asked",
        (A, "and the best number to read you on?"),
        (C, "it's 416 -288 -1024,"),
        (A, "thank you. go ahead with the card number."),
        (C, "it's {card: 411 -2, double -8, double -8, triple -8 -8, one -8 -8, one}"),
        secrets=("4112888888881881", "881881"),
    ),
    _item(
        "card_rest_asked_for_by_agent",
        (C, "{card: 3530 -1113}"),
        (A, "and the rest of the card number?"),
        (C, "{card+: 3330 -0000}"),
        secrets=("3530111333300000", "35301113"),
    ),
    _item(
        "card_then_amount_asked_kept",
        (A, "card number please"),
        (C, "{card: 6011 0009 9013 9424}"),
        (A, "and how much would you like to pay today?"),
        (C, "12 50 please"),
        secrets=("6011000990139424",),
    ),
    _item(
        "card_then_contact_number_kept",
        (A, "go ahead with the card number"),
        (C, "{card: 4917 6100 0000 0000}"),
        (A, "and a contact number?"),
        (C, "4 -1 -6, 2 -8 -8, 1 -0 -2 -4."),
        secrets=("4917610000000000",),
    ),
    # --- near-misses: must stay unchanged ---------------------------------------------------
    _item("money_whisper_point", (A, "that's $49 .99 a month, and the best number to reach you?")),
    _item(
        "phone_whisper_dashes_after_reach",
        (A, "and the best number to reach you on?"),
        (C, "it's 4 -1 -6, 2 -8 -8, 1 -0 -2 -4."),
    ),
    _item(
        "phone_call_you_back_on",
        (A, "what number can we call you back on?"),
        (C, "4165550199, or the mobile, 6475550123"),
    ),
    _item(
        "phone_international_after_bare_number",
        (A, "and a good number for you?"),
        (C, "0044 20 7946 0758"),
    ),
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


def _timed_words(text: str) -> tuple[TimedWord, ...]:
    """Parse ``start_s end_s speaker word [-> kind]`` lines."""
    words = []
    for line in text.strip().splitlines():
        fields, _, label = line.partition("->")
        start_s, end_s, speaker, word = fields.split()
        words.append(TimedWord(float(start_s), float(end_s), speaker, word, label.strip() or None))
    return tuple(words)


# --- real ASR output of audio_samples/card_payment ------------------------------------------

ASR_OUTPUT: tuple[CorpusItem, ...] = (
    # whisper-base, stereo file: 'reach' heard as 'read' (no phone cue), the card as
    # '411 -2, double -8, ...', the expiry cue as 'the entire debate', the expiry as '-1228,';
    # the date of birth's 'the ninth of May' as 'but I'm Sunday,' ('Sunday' carries its day)
    CorpusItem(
        "asr_base_card_payment_stereo",
        turns=(),
        secrets=("4112888888881881", "881881", "1228", "421"),
        timed_words=_timed_words(
            """
            0.56 0.74 agent Thank
            0.74 1.00 agent you
            1.00 1.18 agent for
            1.18 1.54 agent calling
            1.54 1.90 agent me
            1.90 2.44 agent Telecom.
            2.76 2.86 agent My
            2.86 3.10 agent name
            3.10 3.24 agent is
            3.24 3.44 agent Emily.
            4.01 4.29 agent Please
            4.29 4.47 agent note
            4.47 4.79 agent this
            4.79 5.01 agent call
            5.01 5.29 agent may
            5.29 5.45 agent be
            5.45 5.81 agent recorded
            5.81 6.17 agent for
            6.17 6.61 agent quality
            6.61 6.97 agent and
            6.97 7.39 agent training
            7.39 7.93 agent purposes.
            8.54 8.64 agent How
            8.64 8.82 agent can
            8.82 8.94 agent I
            8.94 9.24 agent help
            9.24 9.46 agent you
            9.46 9.82 agent convey?
            10.45 10.70 customer Hi,
            10.94 11.24 customer I'd
            11.24 11.42 customer like
            11.42 11.64 customer to
            11.64 11.86 customer pay
            11.86 12.06 customer my
            12.06 12.42 customer bill,
            13.26 13.34 agent Of
            13.34 13.68 agent course.
            14.22 14.33 agent Can
            14.33 14.47 agent I
            14.47 14.73 agent please
            14.73 15.15 agent confirm
            15.15 15.45 agent your
            15.45 15.67 agent full
            15.67 15.97 agent name
            15.97 16.37 agent and
            16.37 16.63 agent date
            16.63 16.79 agent of
            16.79 17.05 agent birth?
            17.67 17.93 customer Thomas
            17.93 18.25 customer Wright,
            18.69 18.69 customer but
            18.69 19.01 customer I'm
            19.01 19.43 customer Sunday, -> dob
            19.85 20.69 customer 1972, -> dob
            21.73 21.93 agent Thank
            21.93 22.25 agent you.
            22.59 22.75 agent Your
            22.75 23.01 agent balance
            23.01 23.27 agent is
            23.27 23.81 agent 49
            23.81 24.29 agent dollars
            24.29 24.71 agent and
            24.71 25.23 agent 99
            25.23 25.91 agent cents.
            26.34 26.50 agent And
            26.50 26.64 agent the
            26.64 26.94 agent best
            26.94 27.26 agent number
            27.26 27.48 agent to
            27.48 27.62 agent read
            27.62 27.88 agent you
            27.88 28.16 agent on.
            28.97 29.25 customer it's
            29.25 30.03 customer 416
            30.67 31.44 customer -288
            31.44 32.58 customer -1024,
            33.67 33.85 agent Thank
            33.85 34.16 agent you.
            34.54 34.68 agent Go
            34.68 34.88 agent ahead
            34.88 35.12 agent with
            35.12 35.30 agent the
            35.30 35.50 agent card
            35.50 36.06 agent number.
            36.48 36.74 customer it's
            36.74 37.42 customer 411 -> card
            37.42 37.88 customer -2, -> card
            38.30 38.48 customer double -> card
            38.48 38.74 customer -8, -> card
            38.92 39.10 customer double -> card
            39.10 39.46 customer -8, -> card
            39.89 40.15 customer triple -> card
            40.15 40.43 customer -8 -> card
            40.43 40.83 customer -8, -> card
            41.09 41.33 customer one -> card
            41.33 41.63 customer -8 -> card
            41.63 41.97 customer -8, -> card
            42.09 42.23 customer one -> card
            43.01 43.15 agent And
            43.15 43.33 agent the
            43.33 43.73 agent entire
            43.73 44.13 agent debate.
            44.85 45.98 customer -1228, -> expiry
            46.61 46.73 agent And
            46.73 46.91 agent the
            46.91 47.15 agent code
            47.15 47.31 agent on
            47.31 47.47 agent the
            47.47 47.71 agent back.
            48.49 48.65 customer the
            48.65 48.95 customer security
            48.95 49.61 customer code
            49.61 49.81 customer is
            49.81 50.59 customer 421, -> cvv
            51.31 51.55 agent Thank
            51.55 51.89 agent you.
            52.07 52.29 agent One
            52.29 52.69 agent moment.
            55.89 56.00 agent I
            56.00 56.66 agent professed
            56.66 56.74 agent my
            56.74 57.02 agent payment
            57.02 57.28 agent on
            57.28 57.40 agent the
            57.40 57.64 agent card
            57.64 57.94 agent and
            57.94 58.10 agent being
            58.10 58.24 agent in
            58.24 58.40 agent one -> card+
            58.40 58.66 agent eight -> card
            58.66 58.94 agent eight -> card
            58.94 59.20 agent one. -> card
            59.54 59.68 agent If
            59.68 59.82 agent there
            59.82 60.20 agent anything
            60.20 60.48 agent else
            60.48 60.66 agent I
            60.66 60.82 agent can
            60.82 61.16 agent help
            61.16 61.38 agent you
            61.38 61.58 agent with
            61.58 61.98 agent today.
            62.65 62.97 customer no,
            63.33 63.65 customer that's
            63.65 63.89 customer all.
            64.69 64.84 agent Thank
            64.84 65.10 agent you
            65.10 65.28 agent for
            65.28 65.60 agent calling
            65.60 65.96 agent Acme
            65.96 66.54 agent Telecom.
            66.86 66.98 agent Have
            66.98 67.10 agent a
            67.10 67.30 agent great
            67.30 67.52 agent day.
            """
        ),
    ),
    # whisper-base, mono file: the card garbled to '411 -2 -28 -28 -28 -28 -1.' (13 digits),
    # the expiry cue heard as 'the Atari 8?', the birth date's 'ninth' as 'Einstein'
    CorpusItem(
        "asr_base_card_payment_mono",
        turns=(),
        secrets=("4112282828281", "1228", "421"),
        timed_words=_timed_words(
            """
            0.56 0.74 spk0 Thank
            0.74 1.00 spk0 you
            1.00 1.18 spk0 for
            1.18 1.52 spk0 calling
            1.52 1.90 spk0 me
            1.90 2.46 spk0 Pelacom.
            2.70 2.84 spk0 My
            2.84 3.08 spk0 name
            3.08 3.24 spk0 is
            3.24 3.44 spk0 Emily.
            4.01 4.23 spk0 Please
            4.23 4.47 spk0 note
            4.47 4.77 spk0 this
            4.77 5.01 spk0 call
            5.01 5.29 spk0 may
            5.29 5.45 spk0 be
            5.45 5.79 spk0 recorded
            5.79 6.17 spk0 for
            6.17 6.61 spk0 quality
            6.61 6.97 spk0 and
            6.97 7.41 spk0 training
            7.41 7.91 spk0 purposes.
            8.49 8.64 spk0 How
            8.64 8.82 spk0 can
            8.82 8.94 spk0 I
            8.94 9.24 spk0 help
            9.24 9.46 spk0 you
            9.46 9.80 spk0 convey?
            10.65 11.21 spk1 I'd
            11.21 11.39 spk1 like
            11.39 11.65 spk1 to
            11.65 11.87 spk1 pay
            11.87 12.05 spk1 my
            12.05 12.41 spk1 real.
            13.24 13.38 spk0 Of
            13.38 13.66 spk0 course.
            14.26 14.34 spk0 Can
            14.34 14.46 spk0 I
            14.46 14.72 spk0 please
            14.72 15.16 spk0 confirm
            15.16 15.44 spk0 your
            15.44 15.68 spk0 full
            15.68 15.96 spk0 name
            15.96 16.36 spk0 and
            16.36 16.60 spk0 date
            16.60 16.78 spk0 of
            16.78 17.06 spk0 birth?
            17.70 17.94 spk1 Thomas
            17.94 18.22 spk1 Wright,
            18.64 18.70 spk1 the
            18.70 18.98 spk1 Einstein -> dob
            18.98 19.48 spk1 May, -> dob
            19.84 20.58 spk1 1972. -> dob
            21.68 21.93 spk0 Thank
            21.93 22.25 spk0 you.
            22.59 22.75 spk0 Your
            22.75 23.03 spk0 balance
            23.03 23.27 spk0 is
            23.27 23.65 spk0 forty
            23.65 23.89 spk0 -nine
            23.89 24.31 spk0 dollars
            24.31 24.71 spk0 and
            24.71 25.07 spk0 ninety
            25.07 25.31 spk0 -nine
            25.31 25.87 spk0 cents.
            26.35 26.47 spk0 And
            26.47 26.65 spk0 the
            26.65 26.93 spk0 best
            26.93 27.23 spk0 number
            27.23 27.47 spk0 to
            27.47 27.63 spk0 reach
            27.63 27.87 spk0 you
            27.87 28.11 spk0 on.
            28.91 29.24 spk1 It's
            29.24 30.02 spk1 416
            30.02 31.44 spk1 -288
            31.44 32.60 spk1 -1024.
            33.61 34.03 spk0 Thanks.
            34.48 34.65 spk0 Go
            34.65 34.85 spk0 ahead
            34.85 35.15 spk0 with
            35.15 35.29 spk0 the
            35.29 35.51 spk0 card
            35.51 36.03 spk0 number.
            36.41 36.73 spk1 It's
            36.73 37.39 spk1 411 -> card
            37.39 37.89 spk1 -2 -> card
            37.89 38.65 spk1 -28 -> card
            38.65 39.41 spk1 -28 -> card
            39.41 40.33 spk1 -28 -> card
            40.33 41.57 spk1 -28 -> card
            41.57 42.19 spk1 -1. -> card
            42.96 43.17 spk0 And
            43.17 43.33 spk0 the
            43.33 43.71 spk0 Atari
            43.71 44.15 spk0 8? -> payment
            45.38 45.98 spk1 1228. -> expiry
            46.55 46.75 spk0 And
            46.75 46.93 spk0 the
            46.93 47.11 spk0 code
            47.11 47.33 spk0 on
            47.33 47.49 spk0 the
            47.49 47.75 spk0 back?
            48.50 48.62 spk1 I
            48.62 48.74 spk1 said
            48.74 48.98 spk1 you
            48.98 49.26 spk1 already
            49.26 49.60 spk1 called
            49.60 49.80 spk1 it
            49.80 50.54 spk1 421. -> cvv
            51.31 51.60 spk0 Thank
            51.60 51.88 spk0 you.
            52.08 52.30 spk0 One
            52.30 52.68 spk0 moment.
            55.89 56.00 spk0 I
            56.00 56.64 spk0 professed
            56.64 56.74 spk0 my
            56.74 57.00 spk0 payment
            57.00 57.26 spk0 on
            57.26 57.40 spk0 the
            57.40 57.64 spk0 card
            57.64 57.92 spk0 and
            57.92 58.10 spk0 being
            58.10 58.22 spk0 in
            58.22 59.16 spk0 1881. -> payment
            59.58 59.70 spk0 If
            59.70 59.82 spk0 there
            59.82 60.20 spk0 anything
            60.20 60.48 spk0 else
            60.48 60.66 spk0 I
            60.66 60.84 spk0 can
            60.84 61.18 spk0 help
            61.18 61.40 spk0 you
            61.40 61.60 spk0 with,
            61.70 61.96 spk0 okay?
            62.67 62.96 spk1 No,
            63.28 63.66 spk1 that's
            63.66 63.84 spk1 all.
            64.65 64.84 spk0 Thank
            64.84 65.08 spk0 you
            65.08 65.28 spk0 for
            65.28 65.60 spk0 calling
            65.60 66.24 spk0 Akmitere.
            66.38 66.54 spk0 Come,
            66.88 66.98 spk0 have
            66.98 67.10 spk0 a
            67.10 67.30 spk0 great
            67.30 67.58 spk0 day.
            """
        ),
    ),
    # whisper-tiny.en, stereo file: 'card' heard as 'current', 'four oh one two' as '4 .1 to',
    # the expiry cue as 'make sure we date', 'four two one' as 'for 2 .1'
    CorpusItem(
        "asr_tiny_en_card_payment_stereo",
        turns=(),
        secrets=("412888888881881", "881881", "1228", "421"),
        timed_words=_timed_words(
            """
            0.56 0.94 agent And
            0.94 1.14 agent you
            1.14 1.38 agent for
            1.38 1.70 agent calling
            1.70 1.90 agent at
            1.90 2.12 agent me
            2.12 2.30 agent tell,
            2.72 2.80 agent come,
            2.84 3.00 agent my
            3.00 3.24 agent name
            3.24 3.36 agent in
            3.36 3.66 agent Emily.
            4.05 4.37 agent Please
            4.37 4.67 agent note,
            4.85 4.91 agent Miss
            4.91 5.17 agent Call
            5.17 5.41 agent may
            5.41 5.63 agent be
            5.63 5.95 agent recorded
            5.95 6.43 agent for
            6.43 6.77 agent quality
            6.77 7.21 agent and
            7.21 7.59 agent training
            7.59 8.09 agent purposes.
            8.74 8.78 agent How
            8.78 8.96 agent can
            8.96 9.12 agent I
            9.12 9.40 agent help
            9.40 9.64 agent you
            9.64 9.82 agent to
            9.82 10.10 agent pay?
            10.45 11.28 customer I'd
            11.28 11.60 customer like
            11.60 11.82 customer to
            11.82 11.98 customer pay
            11.98 12.28 customer my
            12.28 12.59 customer bill,
            13.44 13.56 agent Of
            13.56 13.91 agent course.
            14.35 14.45 agent Can
            14.45 14.65 agent I
            14.65 14.93 agent please
            14.93 15.33 agent confirm
            15.33 15.63 agent your
            15.63 15.89 agent full
            15.89 16.29 agent name
            16.29 16.53 agent and
            16.53 16.77 agent date
            16.77 16.99 agent of
            16.99 17.30 agent birth?
            17.81 18.07 customer Thomas
            18.07 18.63 customer Wright,
            19.03 19.03 customer and
            19.03 19.41 customer I'm
            19.41 19.47 customer from
            19.47 20.79 customer 1972. -> dob
            21.77 22.19 agent And
            22.19 22.83 agent your
            22.83 23.19 agent balance
            23.19 23.53 agent is
            23.53 24.15 agent $49
            24.15 25.35 agent .99.
            26.32 26.64 agent And
            26.64 26.78 agent the
            26.78 27.06 agent best
            27.06 27.36 agent number
            27.36 27.60 agent to
            27.60 27.82 agent reach
            27.82 28.08 agent you
            28.08 28.34 agent on.
            29.29 29.61 customer It's
            29.61 30.19 customer 416
            30.19 30.42 customer to
            30.96 31.86 customer 888.
            31.90 32.10 customer 1
            32.10 32.90 customer .024.
            34.52 34.60 agent And
            34.60 34.78 agent go
            34.78 35.06 agent ahead
            35.06 35.30 agent with
            35.30 35.48 agent the
            35.48 35.78 agent current
            35.78 36.21 agent number.
            36.54 37.14 customer It's
            37.14 37.18 customer 4 -> card
            37.18 37.66 customer .1 -> card
            37.66 38.26 customer to -> card
            38.26 38.66 customer double -> card
            38.66 38.96 customer 8, -> card
            39.00 39.26 customer double -> card
            39.26 39.63 customer 8, -> card
            39.97 40.29 customer triple -> card
            40.29 40.67 customer 8, -> card
            40.93 41.47 customer 8, -> card
            41.47 41.47 customer 1, -> card
            41.65 41.77 customer 8, -> card
            41.99 42.25 customer 8, -> card
            42.25 42.35 customer 1, -> card
            43.05 43.33 agent And
            43.33 43.59 agent make
            43.59 43.81 agent sure
            43.81 43.99 agent we
            43.99 44.37 agent date.
            45.00 45.46 customer 12, -> expiry
            45.46 46.08 customer 28. -> expiry
            46.85 46.89 agent And
            46.89 47.07 agent the
            47.07 47.27 agent code
            47.27 47.43 agent on
            47.43 47.65 agent the
            47.65 47.95 agent back.
            48.59 48.69 customer I
            48.69 48.95 customer think
            48.95 49.25 customer you're
            49.25 49.51 customer really
            49.51 49.89 customer coding
            49.89 50.29 customer for -> cvv
            50.29 50.65 customer 2 -> cvv
            50.65 50.87 customer .1 -> cvv
            51.41 51.81 agent And
            51.81 52.17 agent you
            52.17 52.47 agent won
            52.47 52.85 agent moment.
            55.89 56.28 agent I'm
            56.28 56.62 agent processed
            56.62 56.88 agent from
            56.88 56.96 agent a
            56.96 57.18 agent payment
            57.18 57.40 agent on
            57.40 57.58 agent the
            57.58 57.76 agent car,
            57.84 58.00 agent and
            58.00 58.18 agent being
            58.18 58.40 agent in
            58.40 58.54 agent 1 -> card+
            58.54 58.80 agent -8 -> card
            58.80 59.06 agent -8, -> card
            59.24 59.60 agent 1. -> card
            59.74 59.78 agent Is
            59.78 59.96 agent there
            59.96 60.24 agent anything
            60.24 60.62 agent else
            60.62 60.80 agent I
            60.80 61.02 agent can
            61.02 61.32 agent help
            61.32 61.56 agent you
            61.56 61.70 agent with
            61.70 61.94 agent the
            61.94 62.22 agent pay?
            62.77 63.41 customer .0
            63.41 63.71 customer have
            63.71 64.02 customer solved.
            64.98 65.06 agent Thank
            65.06 65.26 agent you
            65.26 65.46 agent for
            65.46 65.76 agent calling
            65.76 66.08 agent me
            66.08 66.34 agent pay.
            66.44 66.52 agent Look,
            66.86 67.00 agent I
            67.00 67.38 agent haven't
            67.38 67.48 agent made
            67.48 67.72 agent pay.
            """
        ),
    ),
    # whisper-tiny.en, mono file: the card read as '4 -1 -2, double -8, ...', then a repetition
    # loop ('1 -8 -8,' over and over, most of it given to the other diarized speaker) in place of
    # the expiry and the security code, which were never transcribed
    CorpusItem(
        "asr_tiny_en_card_payment_mono",
        turns=(),
        secrets=("412888888881881", "881881"),
        timed_words=_timed_words(
            """
            0.56 0.94 spk0 Thank
            0.94 1.12 spk0 you
            1.12 1.36 spk0 for
            1.36 1.70 spk0 calling
            1.70 1.92 spk0 a
            1.92 2.22 spk0 detail.
            2.76 2.82 spk0 Come,
            2.86 2.98 spk0 my
            2.98 3.22 spk0 name
            3.22 3.36 spk0 is
            3.36 3.68 spk0 Emily.
            4.09 4.39 spk0 Please
            4.39 4.67 spk0 note
            4.67 4.91 spk0 this
            4.91 5.21 spk0 call
            5.21 5.49 spk0 may
            5.49 5.63 spk0 be
            5.63 5.99 spk0 recorded
            5.99 6.43 spk0 for
            6.43 6.83 spk0 quality
            6.83 7.21 spk0 and
            7.21 7.59 spk0 training
            7.59 8.09 spk0 purposes.
            8.76 8.78 spk0 How
            8.78 8.96 spk0 can
            8.96 9.14 spk0 I
            9.14 9.40 spk0 help
            9.40 9.60 spk0 you
            9.60 9.82 spk0 to
            9.82 10.16 spk0 pay?
            10.69 11.29 spk1 I'd
            11.29 11.61 spk1 like
            11.61 11.83 spk1 to
            11.83 11.99 spk1 pay
            11.99 12.29 spk1 my
            12.29 12.63 spk1 bill.
            13.44 13.56 spk0 Of
            13.56 13.94 spk0 course.
            14.46 14.46 spk0 Can
            14.46 14.66 spk0 I
            14.66 14.92 spk0 please
            14.92 15.30 spk0 confirm
            15.30 15.64 spk0 your
            15.64 15.90 spk0 full
            15.90 16.28 spk0 name
            16.28 16.52 spk0 and
            16.52 16.74 spk0 date
            16.74 16.96 spk0 of
            16.96 17.33 spk0 work?
            17.80 18.06 spk1 Thomas
            18.06 18.62 spk1 Wright,
            18.90 19.30 spk1 I'm
            19.30 19.42 spk1 from
            19.42 19.94 spk1 May
            19.94 20.76 spk1 1972.
            21.73 22.17 spk0 Thank
            22.17 22.63 spk0 you.
            22.65 22.87 spk0 Your
            22.87 23.21 spk0 balance
            23.21 23.55 spk0 is
            23.55 24.17 spk0 $49
            24.17 25.51 spk0 .99.
            26.31 26.67 spk0 And
            26.67 26.77 spk0 the
            26.77 27.07 spk0 best
            27.07 27.41 spk0 number
            27.41 27.59 spk0 to
            27.59 27.81 spk0 reach
            27.81 28.03 spk0 you
            28.03 28.27 spk0 on.
            28.91 29.58 spk1 It's
            29.58 29.72 spk1 4
            29.72 30.02 spk1 -1
            30.02 30.66 spk1 -6,
            30.86 30.98 spk1 2
            30.98 31.26 spk1 -8
            31.26 31.82 spk1 -8,
            31.92 32.10 spk1 1
            32.10 32.34 spk1 -0
            32.34 32.64 spk1 -2
            32.64 33.01 spk1 -4.
            34.03 34.19 spk0 And
            34.48 34.77 spk0 go
            34.77 35.05 spk0 ahead
            35.05 35.27 spk0 with
            35.27 35.49 spk0 the
            35.49 35.73 spk0 card
            35.73 36.21 spk0 number.
            36.47 37.07 spk1 It's
            37.07 37.17 spk1 4 -> card
            37.17 37.53 spk1 -1 -> card
            37.53 38.25 spk1 -2, -> card
            38.29 38.65 spk1 double -> card
            38.65 38.93 spk1 -8, -> card
            39.27 39.29 spk1 double -> card
            39.29 39.87 spk1 -8, -> card
            39.91 40.33 spk1 triple -> card
            40.33 40.69 spk1 -8 -> card
            40.69 41.19 spk1 -8, -> card
            41.21 41.49 spk1 1 -> card
            41.49 41.77 spk1 -8 -> card
            41.77 42.09 spk1 -8, -> card
            42.09 42.42 spk1 1 -> card
            42.96 43.93 spk0 -8 -> card
            43.93 43.93 spk0 -8, -> card
            43.93 43.93 spk0 1 -> card
            43.93 43.93 spk0 -8 -> card
            43.93 43.93 spk0 -8, -> card
            43.93 43.93 spk0 1 -> card
            43.93 43.93 spk0 -8 -> card
            43.93 43.99 spk0 -8, -> card
            43.99 43.99 spk0 1 -> card
            43.99 43.99 spk0 -8 -> card
            43.99 44.40 spk0 -8, -> card
            44.92 44.92 spk1 1 -> card
            44.92 44.92 spk1 -8 -> card
            44.92 44.92 spk1 -8, -> card
            44.92 44.92 spk1 1 -> card
            44.92 44.92 spk1 -8 -> card
            44.92 44.92 spk1 -8, -> card
            44.92 44.92 spk1 1 -> card
            44.92 44.92 spk1 -8 -> card
            44.92 44.92 spk1 -8, -> card
            44.92 44.92 spk1 1 -> card
            44.92 44.92 spk1 -8 -> card
            44.92 44.92 spk1 -8, -> card
            44.92 44.92 spk1 1 -> card
            44.92 44.92 spk1 -8 -> card
            44.92 44.92 spk1 -8, -> card
            44.92 44.92 spk1 1 -> card
            44.92 44.92 spk1 -8 -> card
            44.92 44.92 spk1 -8, -> card
            44.92 44.92 spk1 1 -> card
            44.92 44.92 spk1 -8 -> card
            44.92 44.92 spk1 -8, -> card
            44.92 44.92 spk1 1 -> card
            44.92 44.92 spk1 -8 -> card
            44.92 44.92 spk1 -8, -> card
            44.92 44.92 spk1 1 -> card
            44.92 44.92 spk1 -8 -> card
            44.92 44.92 spk1 -8, -> card
            44.92 44.92 spk1 1 -> card
            44.92 44.92 spk1 -8 -> card
            44.92 44.92 spk1 -8, -> card
            45.08 45.08 spk1 1 -> card
            45.08 45.08 spk1 -8 -> card
            45.08 45.08 spk1 -8, -> card
            45.08 45.08 spk1 1 -> card
            45.08 45.08 spk1 -8 -> card
            45.08 45.08 spk1 -8, -> card
            45.08 45.24 spk1 1 -> card
            45.24 45.24 spk1 -8 -> card
            45.24 45.24 spk1 -8, -> card
            45.24 45.24 spk1 1 -> card
            45.24 45.54 spk1 -8 -> card
            45.54 45.54 spk1 -8, -> card
            45.54 45.54 spk1 1 -> card
            45.54 45.94 spk1 -8 -> card
            45.94 46.29 spk1 -8, -> card
            46.59 46.67 spk0 1 -> card
            46.67 46.73 spk0 -8 -> card
            46.73 46.73 spk0 -8, -> card
            46.73 47.07 spk0 1 -> card
            47.07 47.07 spk0 -8 -> card
            47.07 47.17 spk0 -8, -> card
            47.17 47.37 spk0 1 -> card
            47.37 47.81 spk0 -8 -> card
            47.81 47.83 spk0 -8, -> card
            47.83 47.83 spk0 1 -> card
            48.46 48.88 spk1 -8 -> card
            48.88 49.26 spk1 -8, -> card
            49.26 49.26 spk1 1 -> card
            49.26 49.38 spk1 -8 -> card
            49.38 49.66 spk1 -8, -> card
            49.66 49.66 spk1 1 -> card
            49.66 50.93 spk1 -8 -> card
            51.54 51.54 spk0 -8, -> card
            51.54 51.54 spk0 1 -> card
            51.54 52.00 spk0 -8 -> card
            52.00 52.00 spk0 -8, -> card
            52.00 52.00 spk0 1 -> card
            52.00 52.70 spk0 -8 -> card
            52.70 52.70 spk0 -8, -> card
            52.70 52.70 spk0 1 -> card
            55.89 62.23 spk0 -8 -> card
            62.67 63.16 spk1 So,
            63.18 63.18 spk1 -
            63.42 63.76 spk1 that's
            63.76 64.05 spk1 all.
            64.96 65.04 spk0 Thank
            65.04 65.24 spk0 you
            65.24 65.44 spk0 for
            65.44 65.74 spk0 calling
            65.74 66.06 spk0 me
            66.06 66.38 spk0 Taylor.
            66.84 66.98 spk0 Come,
            66.98 67.08 spk0 have
            67.08 67.26 spk0 a
            67.26 67.46 spk0 great
            67.46 67.80 spk0 day.
            """
        ),
    ),
)

CORPUS: tuple[CorpusItem, ...] = HAND_WRITTEN + ASR_OUTPUT


_MARK = re.compile(r"\{(\w+)(\+?):\s*([^}]*)\}")


def labelled_call(item: CorpusItem) -> LabelledCall:
    """Words with made-up times (0.3 s per word, 0.1 s apart, 0.6 s between turns unless the
    item says otherwise), or the item's own timed words."""
    if item.timed_words:
        return _labelled_timed(item)
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


def _labelled_timed(item: CorpusItem) -> LabelledCall:
    words: list[Word] = []
    kinds: list[str | None] = []
    entities: list[int | None] = []
    entity_of_kind: dict[str, int] = {}
    next_entity = 0
    for timed in item.timed_words:
        words.append(Word(timed.start_s, timed.end_s, " " + timed.word, 0.9, timed.speaker))
        kind = timed.label.removesuffix("+") if timed.label else None
        if kind is not None:
            continues = timed.label.endswith("+") or (bool(kinds) and kinds[-1] == kind)
            if not continues or kind not in entity_of_kind:
                entity_of_kind[kind] = next_entity
                next_entity += 1
        kinds.append(kind)
        entities.append(entity_of_kind[kind] if kind is not None else None)
    return LabelledCall(item, words, kinds, entities)


def labelled_corpus() -> list[LabelledCall]:
    return [labelled_call(item) for item in CORPUS]
