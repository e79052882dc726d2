"""What can be redacted (the kinds and their tags), the options, and the result type."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field

CARD = "card"
CVV = "cvv"
EXPIRY = "expiry"
ACCOUNT = "account"
ROUTING = "routing"
SSN = "ssn"
PIN = "pin"
DOB = "dob"
IBAN = "iban"
EMAIL = "email"
# A number said inside a payment exchange that no detector read as one of the kinds above:
# redacted all the same (fail closed).
PAYMENT = "payment"

# Priority order when one word is found by two detectors: the first kind wins.
KINDS = (CARD, SSN, ACCOUNT, IBAN, ROUTING, CVV, EXPIRY, PIN, DOB, EMAIL, PAYMENT)
TAGS = {kind: f"[{kind.upper()}]" for kind in KINDS}

# Cue kinds beyond the entity kinds: NEGATIVE cues announce a number that is not sensitive
# (phone, order, ticket...); NEUTRAL words are not numbers ("last four") but say nothing;
# DONE says a payment exchange is over ("that's gone through", "anything else?").
NEGATIVE = "negative"
NEUTRAL = "neutral"
DONE = "done"


class RedactionConfig(BaseModel):
    """Which kinds of value to redact, and how far apart the pieces of one number may be."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    card: bool = True
    cvv: bool = True
    expiry: bool = True
    account: bool = True
    routing: bool = True
    ssn: bool = True  # a whole SSN anywhere, or its last four after a cue
    pin: bool = True  # after a PIN / passcode cue
    dob: bool = True  # after a date-of-birth cue
    iban: bool = True  # written, or spoken after an IBAN cue
    email: bool = False
    # Fail closed inside payment exchanges: every number either speaker says from a card,
    # expiry or security-code cue (or a card number) until the payment is confirmed, the talk
    # moves on or no number is said for a while.
    payment: bool = True
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
    # A payment exchange waits this long for its first number after the cue (the customer
    # looks for the card), then ends this long after its last number or cue.
    window_wait_s: float = Field(default=90.0, ge=0.0)
    window_idle_s: float = Field(default=30.0, ge=0.0)
    # A cue for another number ends the exchange unless it is asked in the same breath as the
    # card cue, this many words after it ("the card number and a phone number for the receipt").
    window_list_words: int = Field(default=8, ge=0)
    # Numbers in a payment exchange this close together are silenced as one stretch, with the
    # words between them (which may be digits the ASR wrote as words: "free", "Mac").
    stretch_gap_s: float = Field(default=2.0, ge=0.0)

    def enabled_kinds(self) -> frozenset[str]:
        """The entity kinds switched on."""
        return frozenset(kind for kind in KINDS if getattr(self, kind))


@dataclass(frozen=True)
class Redaction:
    """A stretch of the call where a value of ``kind`` was said; never the value itself."""

    kind: str
    start_s: float
    end_s: float
