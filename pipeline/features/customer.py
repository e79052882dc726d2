"""Unhappy customers and escalations: per customer turn, sentiment, complaint cues and escalation
requests; over the call, the frustration trend and the waits the customer sat through unasked.

Pure: turns, words and the call's feature events in, ``CustomerSignals`` out. The two models it
needs come from the caller, built once per process: a lemmatizer for phrase matching (the
rubric's fuzzy lemma matcher, ``pipeline/script.py``) and a sentiment analyser with VADER's
``polarity_scores(text) -> {"compound": -1..1, ...}`` (``Models.sentiment()``).

Each customer turn gets one label:

``escalation``  an escalation phrase is said (a manager or supervisor, cancelling or closing the
                account, leaving for a competitor, a formal complaint, a regulator or lawyer);
``frustrated``  a complaint cue is said ("this is ridiculous", "I've called three times",
                "I'm disappointed"), or a sarcastic opener ("oh great", "wonderful") comes with a
                complaint context word ("another", "again", "still", "wait") in the same turn, or
                VADER's compound is at or below ``negative_compound``;
``satisfied``   compound at or above ``positive_compound``;
``neutral``     everything else.

VADER alone reads "Unbelievable." and sarcasm as praise and "No, that's all." as negative (the
answer "no" is not a feeling), hence the cues, and leading answer particles are dropped before
VADER scores a turn. A cue preceded by a negation ("I'm not upset") does not count.

Events (speaker ``customer``): ``escalation`` and ``frustration`` over the matched words (or the
whole turn when only VADER spoke), detail = the quote and the sentiment; ``frustration_trend``
from the first to the last customer turn when sentiment fell by ``trend_min_drop`` or more;
``unagreed_wait`` for dead air and for holds the customer did not agree to, of at least
``unagreed_wait_min_s``.

The call is *unhappy* when the customer escalated, or had ``unhappy_min_turns`` frustrated turns,
or was frustrated in one of their last ``closing_turns`` turns, or their sentiment fell by
``trend_min_drop`` to below zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field

from pipeline.features._text import normalise_text
from pipeline.script import Lemmatizer, PhraseMatch, WordStream
from pipeline.types import CUSTOMER, Event, Segment, Turn, Word

ESCALATION, FRUSTRATED, SATISFIED, NEUTRAL = "escalation", "frustrated", "satisfied", "neutral"
TURN_LABELS = (ESCALATION, FRUSTRATED, SATISFIED, NEUTRAL)
CUSTOMER_EVENT_KINDS = ("escalation", "frustration", "frustration_trend", "unagreed_wait")

DEFAULT_ESCALATION_PHRASES = (
    # someone above the agent
    "speak to your manager",
    "speak to a manager",
    "talk to a manager",
    "I want a manager",
    "get me a manager",
    "speak to a supervisor",
    "speak to your supervisor",
    "put me through to a supervisor",
    "speak to your team leader",
    "someone more senior",
    "get me someone senior",
    "whoever is in charge",
    "the person in charge",
    "escalate this",
    # leaving
    "cancel my account",
    "close my account",
    "cancel my contract",
    "cancel my subscription",
    "cancel my membership",
    "cancel my service",
    "cancel everything",
    "terminate my contract",
    "end my service",
    "switch to another provider",
    "switching providers",
    "go to another bank",
    "go to a competitor",
    "take my business elsewhere",
    "you've lost a customer",
    # complaints and outside action
    "make a complaint",
    "formal complaint",
    "file a complaint",
    "lodge a complaint",
    "raise a complaint",
    "complaints department",
    "ombudsman",
    "the regulator",
    "report you to",
    "legal action",
    "my lawyer",
    "my solicitor",
    "post about this on social media",
)

DEFAULT_FRUSTRATION_PHRASES = (
    # outbursts and feelings
    "this is ridiculous",
    "ridiculous",
    "absurd",
    "unacceptable",
    "not acceptable",
    "not good enough",
    "unbelievable",
    "you've got to be kidding",
    "fed up",
    "sick and tired",
    "frustrated",
    "frustrating",
    "annoyed",
    "annoying",
    "upset",
    "disappointed",
    "disappointing",
    "not happy",
    "not impressed",
    "losing my patience",
    "end of my tether",
    "waste of my time",
    "it's a joke",
    "a nightmare",
    "worst service",
    "terrible service",
    "useless",
    "makes no sense",
    "you people",
    # repeated contact and broken promises
    "I've called three times",
    "third time I've called",
    "not the first time",
    "how many times",
    "every time I call",
    "I've explained this",
    "I already told you",
    "keeps happening",
    "still hasn't",
    "still isn't",
    "still not working",
    "still nothing",
    "nobody has helped me",
    "nobody called me back",
    "nobody got back to me",
    "nobody can help me",
    "nobody told me",
    "I was promised",
    "I was told it would",
    "I've been waiting for",
    "kept me on hold",
    "on hold for ages",
    "thanks for nothing",
)

DEFAULT_SARCASM_OPENERS = (
    "oh great",
    "great",
    "brilliant",
    "wonderful",
    "fantastic",
    "perfect",
    "lovely",
    "marvellous",
    "thanks a lot",
    "that's just great",
)

DEFAULT_SARCASM_CONTEXT = (
    "again",
    "another",
    "still",
    "wait",
    "hold",
    "nothing",
    "not",
    "never",
    "wasted",
    "missed",
)

DEFAULT_AGREEMENT_PHRASES = (
    "sure",
    "okay",
    "ok",
    "yes",
    "yeah",
    "fine",
    "no problem",
    "go ahead",
    "that's fine",
    "of course",
    "alright",
)

DEFAULT_ANSWER_PARTICLES = ("no", "nope", "nah", "uh", "um", "well")
NEGATIONS = frozenset({"not", "never", "no"})


class SentimentAnalyzer(Protocol):
    """VADER's interface: ``polarity_scores(text)["compound"]`` in -1..1."""

    def polarity_scores(self, text: str) -> dict[str, float]: ...


class CustomerOptions(BaseModel):
    """Every phrase list and threshold of the customer signals; defaults are the project's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    escalation_phrases: tuple[str, ...] = Field(DEFAULT_ESCALATION_PHRASES, min_length=1)
    frustration_phrases: tuple[str, ...] = Field(DEFAULT_FRUSTRATION_PHRASES, min_length=1)
    sarcasm_openers: tuple[str, ...] = Field(
        DEFAULT_SARCASM_OPENERS,
        description="said in a turn's first words, praise that may be sarcasm",
    )
    sarcasm_context: tuple[str, ...] = Field(
        DEFAULT_SARCASM_CONTEXT, description="lemmas that make such an opener sarcastic"
    )
    sarcasm_opener_within_tokens: int = Field(
        4, ge=1, description="how early the opener must start"
    )
    agreement_phrases: tuple[str, ...] = Field(
        DEFAULT_AGREEMENT_PHRASES,
        description="a customer saying one of these before a hold agreed to it",
    )
    answer_particles: tuple[str, ...] = Field(
        DEFAULT_ANSWER_PARTICLES, description="dropped from a turn's start before VADER scores it"
    )
    phrase_min_similarity: float = Field(
        85.0,
        ge=0,
        le=100,
        description="fuzzy lemma match a cue needs (the rubric's matcher; 85 as the rubric's empathy cues and the call reasons)",
    )
    negation_window_tokens: int = Field(
        2, ge=0, description="a negation this close before a cue cancels it"
    )
    negative_compound: float = Field(
        -0.5, ge=-1, le=0, description="VADER compound at or below: frustrated"
    )
    positive_compound: float = Field(
        0.5, ge=0, le=1, description="VADER compound at or above: satisfied"
    )
    trend_turns: int = Field(
        3, ge=1, description="customer turns averaged at the start and at the end"
    )
    trend_min_drop: float = Field(
        0.3, gt=0, description="a fall in mean sentiment this large is a worsening trend"
    )
    unhappy_min_turns: int = Field(
        2, ge=1, description="this many frustrated turns make an unhappy call"
    )
    closing_turns: int = Field(
        2, ge=0, description="a frustrated turn among the customer's last N: ended unhappy"
    )
    unagreed_wait_min_s: float = Field(10.0, gt=0, description="shorter waits are not flagged")
    hold_agreement_window_s: float = Field(
        15.0, ge=0, description="how long before a hold the customer's agreement may come"
    )


@dataclass(frozen=True)
class TurnSentiment:
    """One customer turn: VADER's compound, the label, and the cue that decided it (if any)."""

    start_s: float
    end_s: float
    text: str
    compound: float
    label: str
    cue: str = ""  # the phrase matched, "sarcasm: <opener>", or "" when VADER decided
    quote: str = ""  # the words matched
    quote_start_s: float | None = None
    quote_end_s: float | None = None

    def valence(self, negative_compound: float) -> float:
        """Compound, or ``negative_compound`` if higher on a frustrated or escalating turn: a
        complaint found by its cue counts as negative however VADER read the words."""
        if self.label in (ESCALATION, FRUSTRATED):
            return min(self.compound, negative_compound)
        return self.compound


@dataclass(frozen=True)
class CustomerSignals:
    """The customer's side of one call: every turn's sentiment, the events, and the verdicts."""

    turns: tuple[TurnSentiment, ...]
    events: tuple[Event, ...]
    mean_compound: float
    start_compound: float
    end_compound: float
    frustrated_turns: int
    escalations: int
    unagreed_wait_s: float
    escalation: str  # the first escalation: quote, sentiment and time ("" when none)
    unhappy_reasons: tuple[str, ...]  # why the customer was unhappy besides escalating

    @property
    def escalated(self) -> bool:
        return self.escalations > 0

    @property
    def unhappy(self) -> bool:
        """Escalated, or unhappy for one of ``unhappy_reasons``."""
        return self.escalated or bool(self.unhappy_reasons)

    @property
    def trend(self) -> float:
        return self.end_compound - self.start_compound


def _strip_particles(text: str, particles: Sequence[str]) -> str:
    words = text.split()
    keep = 0
    while keep < len(words) and normalise_text(words[keep]) in particles:
        keep += 1
    return " ".join(words[keep:]) if keep < len(words) else text


def _turn_of(turns: Sequence[Turn], at_s: float) -> int | None:
    for index, turn in enumerate(turns):
        if turn.start_s - 1e-6 <= at_s < turn.end_s + 1e-6:
            return index
    return None


class _CueFinder:
    """Phrase cues in the customer's words, each assigned to the turn it starts in."""

    def __init__(self, words: Sequence[Word], lemmatizer: Lemmatizer, options: CustomerOptions):
        self.stream = WordStream(words, lemmatizer, CUSTOMER)
        self.lemmatizer = lemmatizer
        self.options = options
        end_s = max((w.end_s for w in self.stream.words), default=0.0) + 1.0
        self.whole = Segment(0.0, end_s)

    def _negated(self, match: PhraseMatch) -> bool:
        """A negation in the few tokens before the match, unless the phrase says one itself."""
        if set(self.lemmatizer.phrase(match.phrase)) & NEGATIONS:
            return False
        before = [w for w in self.stream.words if w.end_s <= match.start_s + 1e-9]
        lemmas: list[str] = []
        for word in reversed(before):
            lemmas = [*self.lemmatizer.phrase(word.word), *lemmas]
            if len(lemmas) >= self.options.negation_window_tokens:
                break
        window = (
            lemmas[-self.options.negation_window_tokens :]
            if self.options.negation_window_tokens
            else []
        )
        return bool(set(window) & NEGATIONS)

    def find(self, phrases: Sequence[str], turns: Sequence[Turn]) -> dict[int, PhraseMatch]:
        """The first un-negated match of any phrase in each customer turn (by turn index)."""
        found: dict[int, PhraseMatch] = {}
        for match in self.stream.find_all(phrases, self.whole, self.options.phrase_min_similarity):
            index = _turn_of(turns, match.start_s)
            if index is None or index in found or self._negated(match):
                continue
            found[index] = match
        return found


def _sarcastic_opener(turn: Turn, lemmatizer: Lemmatizer, options: CustomerOptions) -> str:
    """The opener when ``turn`` starts with praise and carries a complaint context word."""
    tokens = normalise_text(turn.text).split()
    lemmas = set(lemmatizer.phrase(turn.text))
    if not lemmas & set(options.sarcasm_context):
        return ""
    head = tokens[: options.sarcasm_opener_within_tokens + 2]
    for opener in options.sarcasm_openers:
        opener_tokens = normalise_text(opener).split()
        for start in range(min(options.sarcasm_opener_within_tokens, len(head))):
            if head[start : start + len(opener_tokens)] == opener_tokens:
                return opener
    return ""


def label_turns(
    turns: Sequence[Turn],
    words: Sequence[Word],
    lemmatizer: Lemmatizer,
    analyzer: SentimentAnalyzer,
    options: CustomerOptions,
) -> list[TurnSentiment]:
    """Sentiment and label of each customer turn with words, in time order."""
    customer_turns = sorted(
        (t for t in turns if t.speaker == CUSTOMER and t.text.strip()), key=lambda t: t.start_s
    )
    cues = _CueFinder(words, lemmatizer, options)
    escalations = cues.find(options.escalation_phrases, customer_turns)
    complaints = cues.find(options.frustration_phrases, customer_turns)
    labelled: list[TurnSentiment] = []
    for index, turn in enumerate(customer_turns):
        compound = float(
            analyzer.polarity_scores(_strip_particles(turn.text, options.answer_particles))[
                "compound"
            ]
        )
        match = escalations.get(index) or complaints.get(index)
        if match is not None:
            label = ESCALATION if index in escalations else FRUSTRATED
            labelled.append(
                TurnSentiment(turn.start_s, turn.end_s, turn.text, compound, label, match.phrase, match.text,
                              match.start_s, match.end_s)
            )  # fmt: skip
            continue
        opener = _sarcastic_opener(turn, lemmatizer, options)
        if opener:
            label, cue = FRUSTRATED, f"sarcasm: {opener}"
        elif compound <= options.negative_compound:
            label, cue = FRUSTRATED, ""
        elif compound >= options.positive_compound:
            label, cue = SATISFIED, ""
        else:
            label, cue = NEUTRAL, ""
        labelled.append(TurnSentiment(turn.start_s, turn.end_s, turn.text, compound, label, cue))
    return labelled


def _agreed(
    hold: Event, turns: Sequence[Turn], lemmatizer: Lemmatizer, options: CustomerOptions
) -> bool:
    """The customer said an agreement phrase in the window before the hold started."""
    earliest_s = hold.start_s - options.hold_agreement_window_s
    agreements = {lemmatizer.phrase(p) for p in options.agreement_phrases}
    for turn in turns:
        if turn.speaker != CUSTOMER or not (
            earliest_s <= turn.end_s and turn.start_s <= hold.start_s + 1e-6
        ):
            continue
        lemmas = lemmatizer.phrase(turn.text)
        for phrase in agreements:
            size = len(phrase)
            if any(lemmas[i : i + size] == phrase for i in range(len(lemmas) - size + 1)):
                return True
    return False


def unagreed_waits(
    turns: Sequence[Turn], events: Sequence[Event], lemmatizer: Lemmatizer, options: CustomerOptions
) -> list[Event]:
    """Dead air, and holds the customer did not agree to, of at least ``unagreed_wait_min_s``."""
    waits = []
    for event in events:
        if event.end_s - event.start_s < options.unagreed_wait_min_s:
            continue
        if event.kind == "dead_air":
            why = "dead air"
        elif event.kind == "hold" and not _agreed(event, turns, lemmatizer, options):
            why = "hold the customer did not agree to"
        else:
            continue
        waits.append(
            Event(
                "unagreed_wait",
                event.start_s,
                event.end_s,
                CUSTOMER,
                f"{why}, {event.end_s - event.start_s:.1f} s",
            )
        )
    return waits


def _quote(turn: TurnSentiment) -> str:
    said = turn.quote or turn.text
    cue = f" ({turn.cue})" if turn.cue else ""
    return f"'{said}'{cue}, sentiment {turn.compound:+.2f}"


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def analyse_customer(
    turns: Sequence[Turn],
    words: Sequence[Word],
    events: Sequence[Event],
    lemmatizer: Lemmatizer,
    analyzer: SentimentAnalyzer,
    options: CustomerOptions | None = None,
) -> CustomerSignals:
    """The customer's signals on one call (see the module docstring for every rule)."""
    options = options or CustomerOptions()
    labelled = label_turns(turns, words, lemmatizer, analyzer, options)
    found: list[Event] = []
    for turn in labelled:
        if turn.label not in (ESCALATION, FRUSTRATED):
            continue
        kind = "escalation" if turn.label == ESCALATION else "frustration"
        start_s = turn.quote_start_s if turn.quote_start_s is not None else turn.start_s
        end_s = turn.quote_end_s if turn.quote_end_s is not None else turn.end_s
        found.append(Event(kind, start_s, end_s, CUSTOMER, _quote(turn)))
    k = options.trend_turns
    valences = [t.valence(options.negative_compound) for t in labelled]
    start_compound, end_compound = _mean(valences[:k]), _mean(valences[-k:])
    reasons: list[str] = []
    trend_fell = len(labelled) > k and start_compound - end_compound >= options.trend_min_drop
    if trend_fell:
        found.append(
            Event("frustration_trend", labelled[0].start_s, labelled[-1].end_s, CUSTOMER,
                  f"sentiment fell from {start_compound:+.2f} (first {k} turns) to {end_compound:+.2f} (last {k})")
        )  # fmt: skip
    waits = unagreed_waits(turns, events, lemmatizer, options)
    found.extend(waits)
    escalations = [t for t in labelled if t.label == ESCALATION]
    unhappy_turns = [t for t in labelled if t.label in (ESCALATION, FRUSTRATED)]
    closing = labelled[-options.closing_turns :] if options.closing_turns else []
    ended_unhappy = [t for t in closing if t.label in (ESCALATION, FRUSTRATED)]
    escalation = ""
    if escalations:
        first = escalations[0]
        at_s = first.quote_start_s if first.quote_start_s is not None else first.start_s
        escalation = f"{_quote(first)} at {at_s:.1f} s"
    if len(unhappy_turns) >= options.unhappy_min_turns:
        reasons.append(f"{len(unhappy_turns)} frustrated turns")
    if ended_unhappy:
        last = ended_unhappy[-1]
        reasons.append(f"ended frustrated: {_quote(last)} at {last.start_s:.1f} s")
    if trend_fell and end_compound < 0:
        reasons.append(f"sentiment fell from {start_compound:+.2f} to {end_compound:+.2f}")
    return CustomerSignals(
        turns=tuple(labelled),
        events=tuple(sorted(found, key=lambda e: (e.start_s, e.end_s, e.kind))),
        mean_compound=_mean([t.compound for t in labelled]),
        start_compound=start_compound,
        end_compound=end_compound,
        frustrated_turns=len(unhappy_turns),
        escalations=len(escalations),
        unagreed_wait_s=sum(w.end_s - w.start_s for w in waits),
        escalation=escalation,
        unhappy_reasons=tuple(reasons),
    )


def load_sentiment_analyzer() -> SentimentAnalyzer:
    """VADER with the lexicon its package ships (no download); build once per process."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()
