"""Which diarized speaker is the agent: evidence from what each one says, and how sure that is."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from rapidfuzz import fuzz

from pipeline.types import AGENT, CUSTOMER, UNKNOWN, Turn, Word

# Things agents say and customers rarely do (greeting, disclosure, verification, closing).
AGENT_CUES = (
    "thank you for calling", "thanks for calling", "my name is", "how can i help", "how may i help",
    "you're speaking with", "this call may be recorded", "recorded for quality", "for training purposes",
    "can i confirm", "can you confirm", "date of birth", "for security", "verify your", "let me check",
    "place you on hold", "thank you for holding", "thanks for holding", "anything else i can help",
    "is there anything else", "have a great day", "have a nice day", "i can help you with that",
    "i'm sorry to hear", "i understand how frustrating", "would you like", "shall i go ahead",
    "it's on the way", "i'll send you",
)  # fmt: skip
CUSTOMER_CUES = (
    "i'm calling about", "i am calling about", "i'm calling because", "i'm calling to", "my bill",
    "i was charged", "i want to cancel", "i would like to", "i need help", "can you help me",
    "it's not working", "i've been waiting", "my account number is", "my card number", "i'd like to",
    "i want to buy", "i'd like to buy", "i ordered",
)  # fmt: skip
MATCH_SCORE = 88  # rapidfuzz partial_ratio: tolerates an ASR slip inside a cue
OPENING_S = 20.0  # a greeting here is strong evidence, later it may be a transfer
# A cue counts when the text holds nearly all of it: a short turn ("Thank you so") only begins a
# cue ("thank you for calling"), and says nothing of who is speaking.
CUE_MIN_LENGTH = 0.9


@dataclass(frozen=True)
class RoleAssignment:
    roles: dict[str, str]  # diarized label -> agent / customer / unknown
    confidence: float  # 0 = no evidence either way, near 1 = clear
    evidence: dict[str, float] = field(default_factory=dict)  # label -> agent score


def _cue_hits(text: str, cues: tuple[str, ...] | list[str]) -> int:
    return sum(
        1
        for cue in cues
        if len(text) >= CUE_MIN_LENGTH * len(cue) and fuzz.partial_ratio(cue, text) >= MATCH_SCORE
    )


def assign_roles(turns: list[Turn], extra_agent_phrases: list[str] | tuple[str, ...] = ()) -> RoleAssignment:
    """Score each label: agent cues (doubled in the opening), minus customer cues, plus a little for
    speaking first; the best-scoring label is the agent. ``extra_agent_phrases`` come from the rubric."""
    labels = list(dict.fromkeys(turn.speaker for turn in turns))
    if not labels:
        return RoleAssignment({}, 0.0)
    agent_cues = tuple(AGENT_CUES) + tuple(p.lower() for p in extra_agent_phrases)
    scores: dict[str, float] = {label: 0.0 for label in labels}
    for turn in turns:
        text = turn.text.lower()
        if not text:
            continue
        weight = 2.0 if turn.start_s < OPENING_S else 1.0
        scores[turn.speaker] += weight * _cue_hits(text, agent_cues) - _cue_hits(text, CUSTOMER_CUES)
    scores[labels[0]] += 0.5  # inbound calls usually open with the agent
    ranked = sorted(labels, key=lambda label: scores[label], reverse=True)
    if len(ranked) == 1:
        only = ranked[0]
        role = AGENT if scores[only] >= 2 else UNKNOWN
        return RoleAssignment({only: role}, round(1 - math.exp(-abs(scores[only]) / 2), 3) if role == AGENT else 0.0, scores)
    margin = scores[ranked[0]] - scores[ranked[1]]
    roles = {ranked[0]: AGENT, ranked[1]: CUSTOMER}
    for extra in ranked[2:]:
        roles[extra] = UNKNOWN
    return RoleAssignment(roles, round(1 - math.exp(-max(margin, 0.0) / 2), 3), scores)


def apply_roles(turns: list[Turn], words: list[Word], roles: dict[str, str]) -> tuple[list[Turn], list[Word]]:
    return (
        [replace(turn, speaker=roles.get(turn.speaker, UNKNOWN)) for turn in turns],
        [replace(word, speaker=roles.get(word.speaker, UNKNOWN)) for word in words],
    )
