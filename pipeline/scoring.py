"""Score one call against a rubric: pure, from features, events, turns and words to a ``CallScore``.

Points: a passed criterion earns its weight, a failed one 0; N/A criteria are left out and the
score is ``100 * earned / (sum of the weights of criteria that applied)`` (100.0 when none
applied). The call passes when no ``auto_fail`` criterion failed and the score reaches the
rubric's ``pass_mark``.

Confidence (0-1) says how far the verdicts can be trusted given the transcription. A phrase
criterion's confidence is the mean ASR probability of the words it rests on: the matched words
when a phrase was found, the words searched when it was not (a phrase may be missing only because
it was misheard); 1.0 when no words are involved (nothing was said in the window, or a feature
criterion, which rests on timing). The call's confidence is the weight-weighted mean over the
criteria that applied.

Evidence: the matched quote and its times; for a failed feature or event criterion the event that
broke it (the longest matching event for a feature, the first event over the limit for a count);
for a missing phrase the window that was searched.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from pipeline.rubric import (
    Criterion,
    EventCountMaxCriterion,
    FeatureMaxCriterion,
    FeatureMinCriterion,
    ForbiddenCriterion,
    OrderCriterion,
    PhraseAfterCueCriterion,
    PhraseCriterion,
    Rubric,
)
from pipeline.script import (
    ANY_SPEAKER,
    Lemmatizer,
    PhraseMatch,
    WordStream,
    as_lemmatizer,
    mean_probability,
    search_window,
)
from pipeline.types import AGENT, CUSTOMER, Event, Features, Segment, Turn, Word

if TYPE_CHECKING:
    from spacy.language import Language

PASS, FAIL, NA = "pass", "fail", "na"

# Which events explain a feature, for the evidence of a failed feature criterion.
_FEATURE_EVENTS: dict[str, tuple[str, str]] = {
    "dead_air_events": ("dead_air", ANY_SPEAKER),
    "longest_silence_s": ("dead_air", ANY_SPEAKER),
    "silence_total_s": ("dead_air", ANY_SPEAKER),
    "hold_events": ("hold", ANY_SPEAKER),
    "hold_total_s": ("hold", ANY_SPEAKER),
    "talkover_events": ("talkover", ANY_SPEAKER),
    "talkover_total_s": ("talkover", ANY_SPEAKER),
    "agent_interruptions": ("interruption", AGENT),
    "customer_interruptions": ("interruption", CUSTOMER),
}


@dataclass(frozen=True)
class CriterionScore:
    """The verdict on one criterion, with the quote or span a reviewer should check."""

    criterion_id: str
    points: float
    max_points: float
    status: str
    evidence_text: str
    evidence_start_s: float | None
    evidence_end_s: float | None
    stage: str = ""
    auto_fail: bool = False
    confidence: float = 1.0
    # False when calibration found the auto verdict on this criterion unreliable: it may not
    # auto-fail the call, and a human decides where its verdict changes the call's pass/fail
    # (``decides_outcome``).
    trusted: bool = True
    decides_outcome: bool = False
    # The similarity this verdict turns on (see ``SWEEPABLE_TYPES``): the criterion passes (a
    # forbidden one fails) at any ``min_similarity`` up to it. None for other criteria and N/A.
    similarity_margin: float | None = None


@dataclass(frozen=True)
class CallScore:
    """A call's score (0-100, N/A renormalised), pass/fail and the per-criterion verdicts."""

    rubric_id: str
    rubric_version: int
    score: float
    passed: bool
    auto_failed: bool
    confidence: float
    criteria: tuple[CriterionScore, ...]


@dataclass(frozen=True)
class _Verdict:
    status: str
    evidence_text: str
    evidence_start_s: float | None = None
    evidence_end_s: float | None = None
    confidence: float = 1.0
    similarity_margin: float | None = None


class _Call:
    """One call's inputs, with a word stream per speaker built on first use."""

    def __init__(
        self,
        features: Features,
        events: Sequence[Event],
        turns: Sequence[Turn],
        words: Sequence[Word],
        rubric: Rubric,
        lemmatizer: Lemmatizer,
    ) -> None:
        self.features = features
        self.events = sorted(events, key=lambda e: (e.start_s, e.end_s))
        self.turns = turns
        self.words = words
        self.rubric = rubric
        self.lemmatizer = lemmatizer
        self.duration_s = features.handle_time_s
        self.whole = Segment(0.0, max(self.duration_s, max((w.end_s for w in words), default=0.0)))
        self._streams: dict[str, WordStream] = {}

    def stream(self, speaker: str) -> WordStream:
        if speaker not in self._streams:
            self._streams[speaker] = WordStream(
                self.words, self.lemmatizer, speaker, self.rubric.matching
            )
        return self._streams[speaker]

    def min_similarity(self, value: float | None) -> float:
        return self.rubric.min_similarity if value is None else value


def _quote(match: PhraseMatch) -> str:
    return f"'{match.text}' ({match.start_s:.1f}-{match.end_s:.1f} s, {match.similarity:.0f})"


def _span(window: Segment) -> str:
    return f"{window.start_s:.1f}-{window.end_s:.1f} s"


def _phrase(criterion: PhraseCriterion, call: _Call) -> _Verdict:
    window = search_window(
        call.duration_s,
        call.turns,
        within_first_s=criterion.within_first_s,
        within_last_s=criterion.within_last_s,
        before_first_customer_turn_end=criterion.before_first_customer_turn_end,
    )
    stream = call.stream(criterion.speaker)
    bar = call.min_similarity(criterion.min_similarity)
    # passes at any threshold up to the weakest group's best match
    margin = min(stream.find_best(group, window, 0.0).similarity for group in criterion.phrases)
    found: list[PhraseMatch] = []
    for group in criterion.phrases:
        match = stream.find_best(group, window, bar)
        if not match.matched:
            closest = f"; closest {_quote(match)}" if match.text else ""
            return _Verdict(
                FAIL,
                f"not said in {_span(window)}: '{group[0]}'{closest}",
                window.start_s,
                window.end_s,
                mean_probability(stream.words_in(window)),
                margin,
            )
        found.append(match)
    return _Verdict(
        PASS,
        " ... ".join(_quote(m) for m in found),
        min(m.start_s for m in found),
        max(m.end_s for m in found),
        mean_probability(w for m in found for w in m.words),
        margin,
    )


def _forbidden(criterion: ForbiddenCriterion, call: _Call) -> _Verdict:
    stream = call.stream(criterion.speaker)
    # fails at any threshold up to the best match of any forbidden phrase
    margin = stream.find_best(criterion.phrases, call.whole, 0.0).similarity
    hits = stream.find_all(
        criterion.phrases, call.whole, call.min_similarity(criterion.min_similarity)
    )
    if not hits:
        return _Verdict(
            PASS,
            f"none of {len(criterion.phrases)} forbidden phrases said",
            confidence=mean_probability(stream.words),
            similarity_margin=margin,
        )
    first = hits[0]
    more = f" and {len(hits) - 1} more" if len(hits) > 1 else ""
    return _Verdict(
        FAIL,
        f"forbidden '{first.phrase}': {_quote(first)}{more}",
        first.start_s,
        first.end_s,
        mean_probability(w for m in hits for w in m.words),
        margin,
    )


def _matching_events(
    call: _Call, kind: str, speaker: str, min_duration_s: float = 0.0
) -> list[Event]:
    return [
        e
        for e in call.events
        if e.kind == kind
        and (speaker == ANY_SPEAKER or e.speaker == speaker)
        and e.end_s - e.start_s >= min_duration_s
    ]


def _feature(criterion: FeatureMaxCriterion | FeatureMinCriterion, call: _Call) -> _Verdict:
    value = float(getattr(call.features, criterion.feature))
    if criterion.type == "feature_max":
        ok, relation = value <= criterion.threshold, "max"
    else:
        ok, relation = value >= criterion.threshold, "min"
    text = f"{criterion.feature} = {value:g} ({relation} {criterion.threshold:g})"
    if ok:
        return _Verdict(PASS, text)
    kind, speaker = _FEATURE_EVENTS.get(criterion.feature, ("", ANY_SPEAKER))
    events = _matching_events(call, kind, speaker) if kind else []
    if not events:
        return _Verdict(FAIL, text)
    worst = max(events, key=lambda e: (e.end_s - e.start_s, -e.start_s))
    return _Verdict(
        FAIL,
        f"{text}; longest {kind} {worst.start_s:.1f}-{worst.end_s:.1f} s",
        worst.start_s,
        worst.end_s,
    )


def _event_count(criterion: EventCountMaxCriterion, call: _Call) -> _Verdict:
    events = _matching_events(call, criterion.event, criterion.speaker, criterion.min_duration_s)
    by = "" if criterion.speaker == ANY_SPEAKER else f" by {criterion.speaker}"
    longer = f" of {criterion.min_duration_s:g} s or more" if criterion.min_duration_s else ""
    text = f"{len(events)} {criterion.event} events{by}{longer} (max {criterion.max_count})"
    if len(events) <= criterion.max_count:
        return _Verdict(PASS, text)
    breaking = events[criterion.max_count]
    return _Verdict(
        FAIL,
        f"{text}; over the limit at {breaking.start_s:.1f}-{breaking.end_s:.1f} s",
        breaking.start_s,
        breaking.end_s,
    )


def _cues(criterion: PhraseAfterCueCriterion, call: _Call) -> list[PhraseMatch]:
    """Cue phrases said by the cue speaker and events of the cue kinds (by that speaker), in time order."""
    cues: list[PhraseMatch] = []
    if criterion.cue_phrases:
        cue_bar = call.min_similarity(criterion.cue_min_similarity)
        cues += call.stream(criterion.cue_speaker).find_all(criterion.cue_phrases, call.whole, cue_bar)
    for kind in criterion.cue_events:
        for event in _matching_events(call, kind, criterion.cue_speaker):
            cues.append(PhraseMatch(True, 100.0, event.detail or kind, event.start_s, event.end_s, f"{kind} event"))
    return sorted(cues, key=lambda m: (m.start_s, m.end_s))


def _phrase_after_cue(criterion: PhraseAfterCueCriterion, call: _Call) -> _Verdict:
    cues = _cues(criterion, call)
    if not cues:
        if criterion.na_when == "no_cue":
            return _Verdict(NA, "no cue said")
        return _Verdict(PASS, "no cue said", similarity_margin=math.inf)  # passes at any threshold
    stream = call.stream(criterion.speaker)
    bar = call.min_similarity(criterion.min_similarity)
    # passes at any threshold up to the best answer after any cue (cues keep their own bar)
    margin = max(
        stream.find_best(
            criterion.phrases, Segment(cue.start_s, cue.end_s + criterion.within_s), 0.0
        ).similarity
        for cue in cues
    )
    for cue in cues:
        window = Segment(cue.start_s, cue.end_s + criterion.within_s)
        answer = stream.find_best(criterion.phrases, window, bar)
        if answer.matched:
            return _Verdict(
                PASS,
                f"cue {_quote(cue)} -> {_quote(answer)}",
                cue.start_s,
                answer.end_s,
                mean_probability([*cue.words, *answer.words]),
                margin,
            )
    first = cues[0]
    window = Segment(first.start_s, first.end_s + criterion.within_s)
    return _Verdict(
        FAIL,
        f"cue {_quote(first)} not answered within {criterion.within_s:g} s",
        window.start_s,
        window.end_s,
        mean_probability([*first.words, *stream.words_in(window)]),
        margin,
    )


def _order(criterion: OrderCriterion, call: _Call) -> _Verdict:
    stream = call.stream(criterion.speaker)
    bar = call.min_similarity(criterion.min_similarity)
    firsts = stream.find_all(criterion.first_phrases, call.whole, bar)
    thens = stream.find_all(criterion.then_phrases, call.whole, bar)
    if not thens:
        if criterion.na_when == "no_cue":
            return _Verdict(NA, "none of the later phrases said")
        if firsts:
            return _Verdict(
                PASS,
                _quote(firsts[0]),
                firsts[0].start_s,
                firsts[0].end_s,
                firsts[0].mean_probability,
            )
        return _Verdict(
            FAIL, "none of the first phrases said", confidence=mean_probability(stream.words)
        )
    then = thens[0]
    before = [m for m in firsts if m.start_s < then.start_s]
    if before:
        first = before[0]
        return _Verdict(
            PASS,
            f"{_quote(first)} before {_quote(then)}",
            first.start_s,
            then.end_s,
            mean_probability([*first.words, *then.words]),
        )
    searched = Segment(call.whole.start_s, then.start_s)
    return _Verdict(
        FAIL,
        f"{_quote(then)} with none of the first phrases before it",
        then.start_s,
        then.end_s,
        mean_probability([*then.words, *stream.words_in(searched)]),
    )


_JUDGES = {
    "phrase": _phrase,
    "forbidden": _forbidden,
    "feature_max": _feature,
    "feature_min": _feature,
    "event_count_max": _event_count,
    "phrase_after_cue": _phrase_after_cue,
    "order": _order,
}


def _judge(criterion: Criterion, call: _Call) -> _Verdict:
    if criterion.na_when == "no_hold" and call.features.hold_events == 0:
        return _Verdict(NA, "no hold on this call")
    return _JUDGES[criterion.type](criterion, call)


def score_call(
    features: Features,
    events: Sequence[Event],
    turns: Sequence[Turn],
    words: Sequence[Word],
    rubric: Rubric,
    nlp: Lemmatizer | Language,
    untrusted: Collection[str] = frozenset(),
) -> CallScore:
    """Judge every criterion of ``rubric`` on one call and total the score.

    ``words`` are attributed to speakers by ``Word.speaker``; ``features.handle_time_s`` is the
    call length that ``within_last_s`` counts back from. Pass ``nlp`` as a :class:`Lemmatizer`
    built once per process (a bare spaCy pipeline works but re-reads its tables every call).

    ``untrusted`` names criteria calibration found unreliable (``criterion_trust``): they still
    earn or lose their points, but never auto-fail the call; each is marked ``decides_outcome``
    when the call's pass/fail with its verdict (auto-fail included) differs from the pass/fail
    without it, so the queue can send the call to a human.
    """
    call = _Call(features, events, turns, words, rubric, as_lemmatizer(nlp))
    scores: list[CriterionScore] = []
    may_auto_fail: dict[str, bool] = {}
    for stage, criterion in rubric.criteria():
        verdict = _judge(criterion, call)
        trusted = criterion.id not in untrusted
        may_auto_fail[criterion.id] = criterion.auto_fail
        scores.append(
            CriterionScore(
                criterion_id=criterion.id,
                points=criterion.weight if verdict.status == PASS else 0.0,
                max_points=criterion.weight,
                status=verdict.status,
                evidence_text=verdict.evidence_text,
                evidence_start_s=verdict.evidence_start_s,
                evidence_end_s=verdict.evidence_end_s,
                stage=stage.id,
                auto_fail=criterion.auto_fail and verdict.status == FAIL and trusted,
                confidence=verdict.confidence,
                trusted=trusted,
                similarity_margin=verdict.similarity_margin,
            )
        )
    applied = [s for s in scores if s.status != NA]
    possible = sum(s.max_points for s in applied)
    earned = sum(s.points for s in applied)
    score = 100.0 * earned / possible if possible > 0 else 100.0
    auto_failed = any(s.auto_fail for s in scores)
    confidence = (
        sum(s.confidence * s.max_points for s in applied) / possible if possible > 0 else 1.0
    )
    scores = [
        _with_outcome(s, may_auto_fail[s.criterion_id], auto_failed, earned, possible, rubric)
        for s in scores
    ]
    return CallScore(
        rubric_id=rubric.id,
        rubric_version=rubric.version,
        score=score,
        passed=not auto_failed and score >= rubric.pass_mark,
        auto_failed=auto_failed,
        confidence=confidence,
        criteria=tuple(scores),
    )


def _with_outcome(
    verdict: CriterionScore,
    may_auto_fail: bool,
    auto_failed: bool,
    earned: float,
    possible: float,
    rubric: Rubric,
) -> CriterionScore:
    """An untrusted verdict marked ``decides_outcome`` when the call's pass/fail with it
    (auto-fail included) differs from the pass/fail with the criterion left out (as if N/A)."""
    if verdict.trusted or verdict.status == NA:
        return verdict
    with_score = 100.0 * earned / possible if possible > 0 else 100.0
    fails_it = may_auto_fail and verdict.status == FAIL
    passed_with = not (auto_failed or fails_it) and with_score >= rubric.pass_mark
    rest = possible - verdict.max_points
    without_score = 100.0 * (earned - verdict.points) / rest if rest > 0 else 100.0
    passed_without = not auto_failed and without_score >= rubric.pass_mark
    return replace(verdict, decides_outcome=passed_with != passed_without)


# Criteria whose verdict turns on one fuzzy-match threshold: ``order`` is left out (which
# phrase is heard first moves with the threshold, so no single margin gives its verdict).
SWEEPABLE_TYPES = ("phrase", "forbidden", "phrase_after_cue")


def similarity_margins(
    features: Features,
    events: Sequence[Event],
    turns: Sequence[Turn],
    words: Sequence[Word],
    rubric: Rubric,
    nlp: Lemmatizer | Language,
) -> dict[str, float]:
    """For each ``SWEEPABLE_TYPES`` criterion that applies to the call, the similarity its verdict
    turns on (``CriterionScore.similarity_margin``, computed by the judge itself).

    A ``phrase`` criterion passes at ``min_similarity`` t exactly when its margin (the weakest of
    its groups' best matches in the search window) is at least t; a ``forbidden`` criterion
    fails exactly when its margin (the best match of any forbidden phrase) is at least t; a
    ``phrase_after_cue`` criterion passes exactly when its margin (the best answer after any cue,
    cues found at their own fixed ``cue_min_similarity``) is at least t, and with no cue it is N/A
    or passes whatever t (margin infinite). So one pass over a call gives its verdict at every
    threshold (calibration sweeps them).
    """
    score = score_call(features, events, turns, words, rubric, nlp)
    return {
        c.criterion_id: c.similarity_margin for c in score.criteria if c.similarity_margin is not None
    }
