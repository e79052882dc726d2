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
EMAIL = "email"

# Priority order when one word is found by two detectors: the first kind wins.
KINDS = (CARD, SSN, ACCOUNT, ROUTING, CVV, EXPIRY, EMAIL)
TAGS = {kind: f"[{kind.upper()}]" for kind in KINDS}

# Cue kinds beyond the entity kinds: NEGATIVE cues announce a number that is not sensitive
# (phone, order, ticket...); NEUTRAL words are not numbers ("last four") but say nothing.
NEGATIVE = "negative"
NEUTRAL = "neutral"


class RedactionConfig(BaseModel):
    """Which kinds of value to redact, and how far apart the pieces of one number may be."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    card: bool = True
    cvv: bool = True
    expiry: bool = True
    account: bool = True
    routing: bool = True
    ssn: bool = True
    email: bool = False
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

    def enabled_kinds(self) -> frozenset[str]:
        """The entity kinds switched on."""
        return frozenset(kind for kind in KINDS if getattr(self, kind))


@dataclass(frozen=True)
class Redaction:
    """A stretch of the call where a value of ``kind`` was said; never the value itself."""

    kind: str
    start_s: float
    end_s: float
