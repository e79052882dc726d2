"""One call's verdict from its transcript: features -> the customer's signals and call reasons ->
rubric score -> review-queue decision.

The run, ``rescore`` and calibration's threshold tuning all judge calls through ``judge_call``,
so a stored call is always judged the same way whether it was just transcribed or read back.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from pipeline.categories import CallCategories
from pipeline.features import FeatureOptions, extract_features
from pipeline.features.customer import CustomerSignals
from pipeline.queue import CallConfidence, QueueDecision, QueuePolicy, review_decision
from pipeline.rubric import Rubric
from pipeline.scoring import CallScore, score_call
from pipeline.script import Lemmatizer
from pipeline.signals import SignalStage, call_signals
from pipeline.types import Event, Features, Turn, Word


@dataclass(frozen=True)
class Judgement:
    """What the pure stages say about one call: its measures, events (the customer's too), score,
    queue entry, the customer's side and the call reasons (None where not analysed)."""

    features: Features
    events: tuple[Event, ...]
    score: CallScore
    queue: QueueDecision | None
    customer: CustomerSignals | None = None
    categories: CallCategories | None = None


def mean_word_probability(words: Sequence[Word]) -> float | None:
    """Mean Whisper probability of the call's words; None when nothing was transcribed."""
    return sum(word.probability for word in words) / len(words) if words else None


def judge_call(
    call_id: str,
    turns: Sequence[Turn],
    words: Sequence[Word],
    duration_s: float,
    rubric: Rubric,
    nlp: Lemmatizer,
    *,
    diarization_confidence: float | None,
    role_confidence: float | None,
    feature_options: FeatureOptions,
    queue_policy: QueuePolicy,
    signal_stage: SignalStage,
    untrusted: Collection[str] = frozenset(),
) -> Judgement:
    """Features, the customer's signals and call reasons, the score under ``rubric`` (criteria in
    ``untrusted`` never auto-fail) and the queue decision, from the call's roles-assigned turns and
    words."""
    features, feature_events = extract_features(turns, words, duration_s, feature_options)
    signals = call_signals(features, feature_events, turns, words, nlp, signal_stage)
    events = signals.events
    score = score_call(features, events, turns, words, rubric, nlp, untrusted)
    confidence = CallConfidence(
        mean_word_probability=mean_word_probability(words),
        diarization_confidence=diarization_confidence,
        role_confidence=role_confidence,
    )
    decision = review_decision(call_id, score, confidence, rubric.pass_mark, queue_policy, signals.customer)
    return Judgement(features, tuple(events), score, decision, signals.customer, signals.categories)
