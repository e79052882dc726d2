"""The customer's signals and the call reasons of one call, from its features (pure).

Runs inside ``judge_call`` after ``extract_features`` and before scoring, so the run, rescore and
tuning judge alike: the customer's events (escalation, frustration, ...) join the feature events,
so rubric criteria and categories can use them, and the queue policy reads the customer's verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.categories import CallCategories, CategorySet, categorise
from pipeline.features.customer import (
    CustomerOptions,
    CustomerSignals,
    SentimentAnalyzer,
    analyse_customer,
)
from pipeline.script import Lemmatizer
from pipeline.types import Event, Features, Turn, Word


@dataclass(frozen=True)
class SignalStage:
    """What the stage needs, built once per process: the sentiment model (``Models.sentiment()``),
    the customer options and the validated call reasons."""

    sentiment: SentimentAnalyzer
    options: CustomerOptions
    categories: CategorySet


@dataclass(frozen=True)
class CallSignals:
    events: tuple[Event, ...]  # the feature events and the customer's, in time order
    customer: CustomerSignals
    categories: CallCategories


def call_signals(
    features: Features,
    events: Sequence[Event],
    turns: Sequence[Turn],
    words: Sequence[Word],
    lemmatizer: Lemmatizer,
    stage: SignalStage,
) -> CallSignals:
    """The customer's signals, every event in time order, and the categories that apply."""
    customer = analyse_customer(turns, words, events, lemmatizer, stage.sentiment, stage.options)
    merged = tuple(sorted([*events, *customer.events], key=lambda e: (e.start_s, e.end_s, e.kind)))
    reasons = categorise(features, merged, turns, words, customer, lemmatizer, stage.categories)
    return CallSignals(merged, customer, reasons)
