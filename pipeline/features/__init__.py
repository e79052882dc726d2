"""Conversation features of one call: pure functions from turns and words to features and events.

``extract_features`` is the stage entry point; the modules beside it each own one concern
(``silence``, ``hold``, ``overlap``, ``talk``). Every threshold comes from ``FeatureOptions``.

Event kinds: ``dead_air``, ``hold``, ``talkover``, ``interruption`` (speaker = who cut in) and
``backchannel`` (speaker = who said it). Every cut-in is one ``talkover`` plus either one
``interruption`` or one ``backchannel``; two people starting at once give a ``talkover`` only
(see ``overlap.py`` for the rules). ``low_confidence``: a run of words the transcription is
unsure of (speaker = who said them), for the reviewer to listen to.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from pipeline.features.confidence import find_low_confidence
from pipeline.features.customer import CUSTOMER_EVENT_KINDS
from pipeline.features.hold import find_holds
from pipeline.features.overlap import find_talkovers
from pipeline.features.silence import find_silences, summarize_silence
from pipeline.features.talk import (
    longest_monologue_s,
    mean_response_latency_s,
    talk_ratio,
    talk_time_s,
    words_per_minute,
)
from pipeline.types import AGENT, CUSTOMER, Event, Features, Segment, Turn, Word

# the customer's events (escalation, frustration, ...) come from ``customer.analyse_customer``
EVENT_KINDS = ("dead_air", "hold", "talkover", "interruption", "backchannel", "low_confidence", *CUSTOMER_EVENT_KINDS)

DEFAULT_HOLD_PHRASES = (
    "place you on hold",
    "put you on hold",
    "place you on a brief hold",
    "put you on a brief hold",
    "on a quick hold",
    "on a short hold",
    "hold for a moment",
    "hold for just a moment",
    "hold please",
    "bear with me",
    "one moment while i",
    "give me a moment while i",
)

DEFAULT_BACKCHANNEL_WORDS = (
    "mm",
    "mmm",
    "hm",
    "hmm",
    "mhm",
    "mm-hm",
    "mm-hmm",
    "uh-huh",
    "uh",
    "um",
    "okay",
    "ok",
    "yeah",
    "yes",
    "yep",
    "yup",
    "right",
    "sure",
    "alright",
    "i see",
    "got it",
)


class FeatureOptions(BaseModel):
    """Every threshold the feature functions use; defaults are the project's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    dead_air_min_s: float = Field(5.0, gt=0, description="a silence this long is dead air")
    hold_phrases: tuple[str, ...] = Field(
        DEFAULT_HOLD_PHRASES, min_length=1, description="agent phrases that announce a hold"
    )
    hold_phrase_min_similarity: float = Field(
        90.0, ge=0, le=100, description="rapidfuzz partial_ratio a turn needs to announce a hold"
    )
    hold_min_silence_s: float = Field(
        5.0, gt=0, description="shortest silence after an announcement that counts as a hold"
    )
    hold_announce_window_s: float = Field(
        30.0, ge=0, description="longest time from the announcing turn's end to the silence"
    )
    long_hold_s: float = Field(120.0, gt=0, description="holds this long are flagged long_hold")
    talkover_min_s: float = Field(
        0.25, ge=0, description="shorter overlaps are hand-over jitter, not talk-over"
    )
    backchannel_max_s: float = Field(
        1.0, ge=0, description="a cut-in shorter than this is a back-channel, not an interruption"
    )
    backchannel_words: tuple[str, ...] = Field(
        DEFAULT_BACKCHANNEL_WORDS, description="a cut-in made only of these words is a back-channel"
    )
    simultaneous_start_s: float = Field(
        0.2,
        ge=0,
        description="two people starting this close together started at once (nobody cut in)",
    )
    turn_continuation_s: float = Field(
        0.75,
        ge=0,
        description="a pause shorter than this inside one speaker's speech continues the same utterance",
    )
    monologue_merge_gap_s: float = Field(
        1.0, ge=0, description="agent turns closer than this join one monologue"
    )
    low_confidence_probability: float = Field(
        0.5, ge=0, le=1, description="a word Whisper gives less than this probability is unsure"
    )
    low_confidence_min_words: int = Field(
        3, ge=1, description="this many unsure words in a row make a low_confidence event"
    )
    low_confidence_max_gap_s: float = Field(
        1.0, ge=0, description="unsure words further apart than this start a new run"
    )


def extract_features(
    turns: Sequence[Turn],
    words: Sequence[Word],
    duration_s: float,
    options: FeatureOptions | None = None,
) -> tuple[Features, list[Event]]:
    """Measure one call: ``Features`` plus its events (dead air, holds, talk-overs) in time order.

    ``turns`` carry speakers ``agent``/``customer``/``unknown`` (``unknown`` turns count as speech
    for silence but belong to neither party); ``words`` count towards words-per-minute by their
    own ``speaker``; ``duration_s`` is the call length (the handle time).
    """
    options = options or FeatureOptions()
    silences = find_silences(turns)
    holds = find_holds(
        turns,
        silences,
        options.hold_phrases,
        min_similarity=options.hold_phrase_min_similarity,
        min_silence_s=options.hold_min_silence_s,
        announce_window_s=options.hold_announce_window_s,
        long_hold_s=options.long_hold_s,
    )
    silence = summarize_silence(silences, holds, options.dead_air_min_s)
    overlap_events = find_talkovers(
        turns,
        talkover_min_s=options.talkover_min_s,
        backchannel_max_s=options.backchannel_max_s,
        backchannel_words=options.backchannel_words,
        simultaneous_start_s=options.simultaneous_start_s,
        turn_continuation_s=options.turn_continuation_s,
        words=words,
    )
    talkovers = [e for e in overlap_events if e.kind == "talkover"]
    interruptions = [e for e in overlap_events if e.kind == "interruption"]
    agent_talk_s = talk_time_s(turns, AGENT)
    customer_talk_s = talk_time_s(turns, CUSTOMER)
    hold_spans = [Segment(h.start_s, h.end_s) for h in holds]

    features = Features(
        handle_time_s=duration_s,
        agent_talk_s=agent_talk_s,
        customer_talk_s=customer_talk_s,
        agent_talk_ratio=talk_ratio(agent_talk_s, customer_talk_s),
        silence_total_s=silence.total_s,
        longest_silence_s=silence.longest_s,
        dead_air_events=len(silence.dead_air),
        hold_events=len(holds),
        hold_total_s=sum(h.end_s - h.start_s for h in holds),
        talkover_events=len(talkovers),
        talkover_total_s=sum(e.end_s - e.start_s for e in talkovers),
        agent_interruptions=sum(1 for e in interruptions if e.speaker == AGENT),
        customer_interruptions=sum(1 for e in interruptions if e.speaker == CUSTOMER),
        agent_wpm=words_per_minute(words, AGENT, agent_talk_s),
        customer_wpm=words_per_minute(words, CUSTOMER, customer_talk_s),
        longest_agent_monologue_s=longest_monologue_s(turns, AGENT, options.monologue_merge_gap_s),
        mean_response_latency_s=mean_response_latency_s(turns, exclude=hold_spans),
    )
    unsure = find_low_confidence(
        words,
        max_probability=options.low_confidence_probability,
        min_words=options.low_confidence_min_words,
        max_gap_s=options.low_confidence_max_gap_s,
    )
    events = sorted(
        [*silence.dead_air, *holds, *overlap_events, *unsure],
        key=lambda e: (e.start_s, e.end_s, e.kind),
    )
    return features, events


__all__ = ["EVENT_KINDS", "FeatureOptions", "extract_features"]
