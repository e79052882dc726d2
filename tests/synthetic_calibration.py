"""Synthetic human grades with known truth, for tests, the benchmark and the notebook.

Two ways to get them:

- ``simulate(spec, seed)``: fully synthetic calls — a true verdict per criterion, an auto-scorer
  that flips it with a known error rate, and reviewers who flip it with their own error rate and
  shift their overall score by a known bias. ``expected_*`` give the values the report should
  recover (population κ, bias, ICC(A,1), each reviewer's bias against the others).
- ``grade_stored_calls(...)``: reviewers grading calls already scored in a database (real
  transcripts, real auto verdicts); the truth is the stored auto verdict flipped at a known
  per-criterion rate, or given outright.

Everything is plain numpy/pandas; ``write_synthetic`` inserts the frames in bulk.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import yaml

from pipeline.rubric import parse_rubric
from pipeline.store.calibration_sql import CalibrationQueries
from pipeline.store.store import RUBRIC_CRITERIA_COLUMNS, rubric_criteria_rows
from pipeline.calibration.stats import FAIL, LABELS, NA, PASS, kappa_from_tables

_CODES = {PASS: 0, FAIL: 1, NA: 2}


@dataclass(frozen=True)
class SyntheticCriterion:
    id: str
    weight: float
    auto_fail: bool = False
    fail_rate: float = 0.2  # share of applicable calls that truly fail it
    na_rate: float = 0.0  # share of calls where it does not apply (both graders agree)
    auto_error: float = 0.05  # chance the auto-scorer's pass/fail is the wrong way round


@dataclass(frozen=True)
class SyntheticReviewer:
    name: str
    error: float = 0.03  # chance each pass/fail verdict is the wrong way round
    bias: float = 0.0  # points added to the overall score (negative: grades hard)
    noise_sd: float = 2.0  # spread of the overall score around their own criterion total
    errors: Mapping[str, float] = field(default_factory=dict)  # per-criterion override of error


DEFAULT_CRITERIA = (
    SyntheticCriterion("greeting", 10, fail_rate=0.15, auto_error=0.04),
    SyntheticCriterion("recording_disclosure", 10, auto_fail=True, fail_rate=0.08, auto_error=0.03),
    SyntheticCriterion("verification", 15, fail_rate=0.2, na_rate=0.3, auto_error=0.08),
    SyntheticCriterion("empathy", 10, fail_rate=0.35, na_rate=0.6, auto_error=0.2),
    SyntheticCriterion("hold_etiquette", 5, fail_rate=0.3, na_rate=0.7, auto_error=0.06),
    SyntheticCriterion("no_dead_air_over_10s", 10, fail_rate=0.12, auto_error=0.02),
    SyntheticCriterion("interruptions", 10, fail_rate=0.2, auto_error=0.1),
    SyntheticCriterion("resolution", 15, fail_rate=0.25, auto_error=0.12),
    SyntheticCriterion("closing", 10, fail_rate=0.2, auto_error=0.05),
    SyntheticCriterion("forbidden_phrases", 5, auto_fail=True, fail_rate=0.03, auto_error=0.01),
)
DEFAULT_REVIEWERS = (
    SyntheticReviewer("ana", error=0.03, bias=0.0),
    SyntheticReviewer("ben", error=0.04, bias=-4.0),
    SyntheticReviewer("chloe", error=0.03, bias=3.0),
    SyntheticReviewer("dev", error=0.05, bias=0.0),
)


@dataclass(frozen=True)
class SyntheticSpec:
    criteria: tuple[SyntheticCriterion, ...] = DEFAULT_CRITERIA
    reviewers: tuple[SyntheticReviewer, ...] = DEFAULT_REVIEWERS
    n_calls: int = 2000
    graded_share: float = 0.25  # share of calls graded by a first reviewer
    second_share: float = 0.3  # share of graded calls that a second reviewer grades too
    days: int = 10
    rubric_id: str = "synthetic"
    rubric_version: int = 1
    pass_mark: float = 80.0
    start: datetime = datetime(2026, 1, 5, 8, 0)

    def criterion(self, criterion_id: str) -> SyntheticCriterion:
        return next(c for c in self.criteria if c.id == criterion_id)

    def error_of(self, reviewer: SyntheticReviewer, criterion_id: str) -> float:
        return reviewer.errors.get(criterion_id, reviewer.error)


@dataclass
class SyntheticData:
    spec: SyntheticSpec
    frames: dict[str, pd.DataFrame]  # table name -> rows, ready for ``write_synthetic``
    truth: np.ndarray  # (calls, criteria) codes 0 pass, 1 fail, 2 na
    auto: np.ndarray  # (calls, criteria) codes


def rubric_yaml(spec: SyntheticSpec) -> str:
    """A valid rubric with the spec's criteria (as feature criteria: only ids, weights and flags
    matter to calibration)."""
    criteria = [
        {
            "id": c.id,
            "description": f"synthetic criterion {c.id}",
            "weight": c.weight,
            "auto_fail": c.auto_fail,
            "type": "feature_max",
            "feature": "longest_silence_s",
            "threshold": 10,
        }
        for c in spec.criteria
    ]
    data = {
        "id": spec.rubric_id,
        "version": spec.rubric_version,
        "description": "synthetic rubric for calibration tests",
        "pass_mark": spec.pass_mark,
        "stages": [{"id": "all", "name": "All", "criteria": criteria}],
    }
    return yaml.safe_dump(data, sort_keys=False)


def _flip(codes: np.ndarray, rate: np.ndarray | float, rng: np.random.Generator) -> np.ndarray:
    """Swap pass and fail with probability ``rate``; N/A stays N/A."""
    flip = (rng.random(codes.shape) < rate) & (codes != _CODES[NA])
    return np.where(flip, 1 - codes, codes)


def _scores(codes: np.ndarray, weights: np.ndarray) -> np.ndarray:
    applicable = codes != _CODES[NA]
    possible = (applicable * weights).sum(axis=-1)
    earned = ((codes == _CODES[PASS]) * weights).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(possible > 0, 100.0 * earned / possible, 100.0)


def _call_ids(n: int, salt: str) -> np.ndarray:
    return np.array([hashlib.sha256(f"{salt}:{i}".encode()).hexdigest()[:16] for i in range(n)])


def simulate(spec: SyntheticSpec = SyntheticSpec(), seed: int = 0) -> SyntheticData:
    """Fully synthetic calls, auto scores and human grades (see the module docstring)."""
    rng = np.random.default_rng(seed)
    n, criteria = spec.n_calls, spec.criteria
    weights = np.array([c.weight for c in criteria], dtype=float)
    na_rate = np.array([c.na_rate for c in criteria])
    fail_rate = np.array([c.fail_rate for c in criteria])
    u = rng.random((n, len(criteria)))
    truth = np.where(
        u < na_rate,
        _CODES[NA],
        np.where(rng.random(u.shape) < fail_rate, _CODES[FAIL], _CODES[PASS]),
    )
    auto = _flip(truth, np.array([c.auto_error for c in criteria]), rng)
    auto_scores = _scores(auto, weights)
    auto_fail_flags = np.array([c.auto_fail for c in criteria])
    criterion_auto_fail = (auto == _CODES[FAIL]) & auto_fail_flags
    call_auto_fail = criterion_auto_fail.any(axis=1)

    call_ids = _call_ids(n, f"synthetic-{seed}-{spec.rubric_id}")
    day = rng.integers(0, spec.days, n)
    started_at = (
        pd.to_datetime(spec.start)
        + pd.to_timedelta(day, unit="D")
        + pd.to_timedelta(rng.integers(0, 9 * 3600, n), unit="s")
    )
    calls = pd.DataFrame(
        {
            "call_id": call_ids,
            "source_path": [f"/recordings/synthetic/{c}.wav" for c in call_ids],
            "sha256": [c * 4 for c in call_ids],
            "duration_s": rng.uniform(60, 900, n).round(1),
            "sample_rate": 8000,
            "channels": 2,
            "status": "done",
            "asr_model": "synthetic",
            "diarizer": "channel_map",
            "num_speakers": 2,
            "diarization_confidence": 1.0,
            "role_confidence": 1.0,
            "mean_word_probability": 0.9,
            "processed_at": started_at + pd.Timedelta(hours=12),
            "started_at": started_at,
        }
    )
    scored_at = pd.Timestamp(spec.start) + pd.Timedelta(days=spec.days + 1)
    call_scores = pd.DataFrame(
        {
            "call_id": call_ids,
            "rubric_id": spec.rubric_id,
            "rubric_version": spec.rubric_version,
            "score": auto_scores.round(2),
            "passed": ~call_auto_fail & (auto_scores >= spec.pass_mark),
            "auto_fail": call_auto_fail,
            "confidence": 0.9,
            "scored_at": scored_at,
        }
    )
    labels = np.array(LABELS)
    criterion_scores = pd.DataFrame(
        {
            "call_id": np.repeat(call_ids, len(criteria)),
            "rubric_id": spec.rubric_id,
            "rubric_version": spec.rubric_version,
            "criterion_id": np.tile([c.id for c in criteria], n),
            "stage": "all",
            "points": ((auto == _CODES[PASS]) * weights).ravel().astype(float),
            "max_points": np.tile(weights, n),
            "status": labels[auto.ravel()],
            "auto_fail": criterion_auto_fail.ravel(),
            "confidence": 0.9,
            "evidence_text": "synthetic",
        }
    )

    # who grades what: a random first reviewer on graded calls, a different second on some
    graded = rng.permutation(n)[: round(spec.graded_share * n)]
    n_reviewers = len(spec.reviewers)
    first = rng.integers(0, n_reviewers, len(graded))
    twice = (
        rng.random(len(graded)) < spec.second_share
        if n_reviewers > 1
        else np.zeros(len(graded), bool)
    )
    second = (first + rng.integers(1, max(n_reviewers, 2), len(graded))) % n_reviewers
    review_call = np.r_[graded, graded[twice]]
    review_by = np.r_[first, second[twice]]
    review_rank = np.r_[np.ones(len(graded), int), np.full(int(twice.sum()), 2)]
    errors = np.array([[spec.error_of(r, c.id) for c in criteria] for r in spec.reviewers])
    human = _flip(truth[review_call], errors[review_by], rng)
    bias = np.array([r.bias for r in spec.reviewers])[review_by]
    noise = np.array([r.noise_sd for r in spec.reviewers])[review_by]
    human_scores = _scores(human, weights) + bias + rng.normal(0, 1, len(review_call)) * noise
    review_ids = np.array([f"syn-{seed}-{i}" for i in range(len(review_call))])
    submitted = started_at[review_call] + pd.to_timedelta(
        review_rank * 86400 + rng.integers(0, 3600, len(review_call)), unit="s"
    )
    names = np.array([r.name for r in spec.reviewers])
    reviews = pd.DataFrame(
        {
            "review_id": review_ids,
            "call_id": call_ids[review_call],
            "reviewer": names[review_by],
            "rubric_id": spec.rubric_id,
            "rubric_version": spec.rubric_version,
            "human_score": human_scores.round(2),
            "source": "app",
            "started_at": submitted - pd.Timedelta(minutes=10),
            "submitted_at": submitted,
        }
    )
    human_grades = pd.DataFrame(
        {
            "review_id": np.repeat(review_ids, len(criteria)),
            "criterion_id": np.tile([c.id for c in criteria], len(review_call)),
            "status": labels[human.ravel()],
            "points": ((human == _CODES[PASS]) * weights).ravel().astype(float),
        }
    )
    rubrics = pd.DataFrame(
        {
            "rubric_id": [spec.rubric_id],
            "rubric_version": [spec.rubric_version],
            "pass_mark": [spec.pass_mark],
            "source_path": ["<synthetic>"],
            "source_text": [rubric_yaml(spec)],
            "first_used_at": [pd.Timestamp(spec.start)],
        }
    )
    rubric = parse_rubric(rubric_yaml(spec), "<synthetic>")
    frames = {
        "rubrics": rubrics,
        "rubric_criteria": pd.DataFrame(rubric_criteria_rows(rubric), columns=list(RUBRIC_CRITERIA_COLUMNS)),
        "calls": calls,
        "call_scores": call_scores,
        "criterion_scores": criterion_scores,
        "reviews": reviews,
        "human_grades": human_grades,
    }
    return SyntheticData(spec, frames, truth, auto)


def write_synthetic(queries: CalibrationQueries, data: SyntheticData) -> None:
    """Insert every synthetic table in bulk (one transaction)."""
    queries.insert_frames(data.frames)


# --- the values the report should recover ------------------------------------------------------


def _pass_probability(fail_rate: float, error: float) -> float:
    return (1 - fail_rate) * (1 - error) + fail_rate * error


def _joint(criterion: SyntheticCriterion, first_error: float, second_error: float) -> np.ndarray:
    """3 x 3 probabilities of (first, second) verdicts of two independent flippers of the truth."""
    p, na = criterion.fail_rate, criterion.na_rate
    table = np.zeros((3, 3))
    for truth, weight in ((0, 1 - p), (1, p)):
        for a in (0, 1):
            for b in (0, 1):
                pa = 1 - first_error if a == truth else first_error
                pb = 1 - second_error if b == truth else second_error
                table[a, b] += (1 - na) * weight * pa * pb
    table[2, 2] = na
    return table


def expected_kappa(spec: SyntheticSpec, criterion_id: str) -> float:
    """Population κ of the reference human grade (first reviewer, chosen at random) vs auto."""
    criterion = spec.criterion(criterion_id)
    table = np.mean(
        [
            _joint(criterion, spec.error_of(r, criterion_id), criterion.auto_error)
            for r in spec.reviewers
        ],
        axis=0,
    )
    return float(kappa_from_tables(table))


def expected_ceiling_kappa(spec: SyntheticSpec, criterion_id: str) -> float:
    """Population κ between the first and second reviewer of calls graded twice."""
    criterion = spec.criterion(criterion_id)
    pairs = [(r, s) for r in spec.reviewers for s in spec.reviewers if r.name != s.name]
    table = np.mean(
        [
            _joint(criterion, spec.error_of(r, criterion_id), spec.error_of(s, criterion_id))
            for r, s in pairs
        ],
        axis=0,
    )
    return float(kappa_from_tables(table))


def _score_moments(spec: SyntheticSpec) -> tuple[float, float, list[tuple[float, float, float]]]:
    """E[auto], Var[auto], and per reviewer (E[H], Var[H], Cov[auto, H])."""
    if any(c.na_rate for c in spec.criteria):
        raise ValueError("expected score figures need a spec without N/A criteria")
    scale = 100.0 / sum(c.weight for c in spec.criteria)
    auto_pass = [_pass_probability(c.fail_rate, c.auto_error) for c in spec.criteria]
    mean_auto = scale * sum(c.weight * a for c, a in zip(spec.criteria, auto_pass))
    var_auto = scale**2 * sum(c.weight**2 * a * (1 - a) for c, a in zip(spec.criteria, auto_pass))
    per_reviewer = []
    for r in spec.reviewers:
        mean_h, var_h, cov = r.bias, r.noise_sd**2, 0.0
        for c, a in zip(spec.criteria, auto_pass):
            e = spec.error_of(r, c.id)
            h = _pass_probability(c.fail_rate, e)
            both = (1 - c.fail_rate) * (1 - c.auto_error) * (1 - e) + c.fail_rate * c.auto_error * e
            mean_h += scale * c.weight * h
            var_h += scale**2 * c.weight**2 * h * (1 - h)
            cov += scale**2 * c.weight**2 * (both - a * h)
        per_reviewer.append((mean_h, var_h, cov))
    return mean_auto, var_auto, per_reviewer


def expected_score_figures(spec: SyntheticSpec) -> dict[str, float]:
    """Population bias (auto - reference human) and ICC(A,1) of the overall score.

    For two raters ICC(A,1) converges to 2 Cov / (Var1 + Var2 + (mean1 - mean2)^2), whatever the
    distribution (the two-way ANOVA mean squares' limits).
    """
    mean_auto, var_auto, per_reviewer = _score_moments(spec)
    means = np.array([m for m, _, _ in per_reviewer])
    mean_h = float(means.mean())
    var_h = float(np.mean([v + m**2 for m, v, _ in per_reviewer]) - mean_h**2)
    cov = float(np.mean([c for _, _, c in per_reviewer]))
    icc = 2 * cov / (var_auto + var_h + (mean_auto - mean_h) ** 2)
    return {"bias": mean_auto - mean_h, "icc": icc, "mean_auto": mean_auto, "mean_human": mean_h}


def expected_reviewer_bias(spec: SyntheticSpec, reviewer: str) -> float:
    """Population mean of (reviewer's score - the other reviewer's) on calls graded twice."""
    _, _, per_reviewer = _score_moments(spec)
    means = {r.name: m for r, (m, _, _) in zip(spec.reviewers, per_reviewer)}
    others = [m for name, m in means.items() if name != reviewer]
    return means[reviewer] - float(np.mean(others))


# --- graders on top of stored auto scores ------------------------------------------------------


def grade_stored_calls(
    queries: CalibrationQueries,
    rubric_id: str,
    version: int,
    reviewers: Sequence[SyntheticReviewer] = DEFAULT_REVIEWERS,
    auto_error: Mapping[str, float] | None = None,
    truth: Mapping[tuple[str, str], str] | None = None,
    graded_share: float = 1.0,
    second_share: float = 0.3,
    seed: int = 0,
    start: datetime = datetime(2026, 2, 1, 9, 0),
) -> pd.DataFrame:
    """Human grades for calls scored under a rubric version, written to the database.

    The true verdict of (call, criterion) is ``truth`` where given, else the stored auto verdict
    flipped with probability ``auto_error[criterion]`` (0 by default: the machine is right);
    each reviewer then flips the truth with their error rate. Overall scores are each
    reviewer's criterion total plus their bias and noise. Returns the reviews written.
    """
    rng = np.random.default_rng(seed)
    auto_error = dict(auto_error or {})
    truth = dict(truth or {})
    stored = queries.stored_verdicts(rubric_id, version)
    criteria = list(dict.fromkeys(stored.criterion_id))
    calls = list(dict.fromkeys(stored.call_id))
    wide = stored.pivot(index="call_id", columns="criterion_id", values="status").loc[
        calls, criteria
    ]
    weights = stored.groupby("criterion_id").max_points.max().loc[criteria].to_numpy(dtype=float)
    codes = np.vectorize(_CODES.get)(wide.to_numpy())
    rates = np.array([auto_error.get(c, 0.0) for c in criteria])
    true_codes = _flip(codes, rates, rng)
    for (call_id, criterion_id), status in truth.items():
        if call_id in wide.index and criterion_id in criteria:
            true_codes[calls.index(call_id), criteria.index(criterion_id)] = _CODES[status]
    graded = rng.permutation(len(calls))[: round(graded_share * len(calls))]
    n_reviewers = len(reviewers)
    first = rng.integers(0, n_reviewers, len(graded))
    twice = (
        rng.random(len(graded)) < second_share if n_reviewers > 1 else np.zeros(len(graded), bool)
    )
    second = (first + rng.integers(1, max(n_reviewers, 2), len(graded))) % n_reviewers
    review_call = np.r_[graded, graded[twice]]
    review_by = np.r_[first, second[twice]]
    rank = np.r_[np.ones(len(graded), int), np.full(int(twice.sum()), 2)]
    errors = np.array([[r.errors.get(c, r.error) for c in criteria] for r in reviewers])
    human = _flip(true_codes[review_call], errors[review_by], rng)
    bias = np.array([r.bias for r in reviewers])[review_by]
    noise = np.array([r.noise_sd for r in reviewers])[review_by]
    scores = _scores(human, weights) + bias + rng.normal(0, 1, len(review_call)) * noise
    review_ids = [f"graded-{seed}-{i}" for i in range(len(review_call))]
    submitted = [start + timedelta(hours=int(k), minutes=int(i % 60)) for i, k in enumerate(rank)]
    labels = np.array(LABELS)
    reviews = pd.DataFrame(
        {
            "review_id": review_ids,
            "call_id": np.array(calls)[review_call],
            "reviewer": np.array([r.name for r in reviewers])[review_by],
            "rubric_id": rubric_id,
            "rubric_version": version,
            "human_score": scores.round(2),
            "source": "app",
            "submitted_at": submitted,
        }
    )
    grades = pd.DataFrame(
        {
            "review_id": np.repeat(review_ids, len(criteria)),
            "criterion_id": np.tile(criteria, len(review_call)),
            "status": labels[human.ravel()],
        }
    )
    queries.insert_frames({"reviews": reviews, "human_grades": grades})
    return reviews


# --- scripted calls with real transcripts (for rescoring and tuning) ---------------------------

# Opening lines with the greeting said in full, misheard by the ASR, clipped, or not said; the
# second value is what a human who listened would grade it.
GREETINGS: dict[str, tuple[str, str]] = {
    "full": ("Thank you for calling Acme Telecom, my name is Sarah.", PASS),
    "misheard": (
        "Thank you for calling at Acne Tell a comb, my name is Sarah.",
        PASS,
    ),  # similarity ~77
    "clipped": ("Thank you call Acme, my name is Sarah.", PASS),  # ~73
    "casual": ("Hello and thanks Acme Telecom, my name is Sarah.", FAIL),  # ~67
    "none": ("Hi, Acme Telecom here, my name is Sarah.", FAIL),  # ~50
}


@dataclass(frozen=True)
class ScriptedCall:
    """A short inbound call (the default rubric's wording) with parts left out or garbled."""

    greeting: str = "full"
    disclosure: bool = True
    resolution: bool = True
    closing: bool = True
    forbidden: bool = False

    def human_truth(self) -> dict[str, str]:
        """What a careful human grades the parts this script varies."""
        return {
            "greeting": GREETINGS[self.greeting][1],
            "recording_disclosure": PASS if self.disclosure else FAIL,
            "resolution": PASS if self.resolution else FAIL,
            "closing": PASS if self.closing else FAIL,
            "forbidden_phrases": FAIL if self.forbidden else PASS,
        }

    def script(self) -> list[tuple[str, float, float, str]]:
        disclosure = (
            " This call may be recorded for quality and training purposes."
            if self.disclosure
            else ""
        )
        fee = "I see it, that is a late fee that was added by mistake."
        return [
            ("agent", 0.5, 9.0, f"{GREETINGS[self.greeting][0]}{disclosure} How can I help you today?"),
            ("customer", 9.5, 15.0, "Hi Sarah, I have a question about a charge on my bill."),
            ("agent", 15.5, 21.0, "I can help with that. Can you verify your date of birth for me please?"),
            ("customer", 21.5, 24.0, "Sure, it's the fourth of May 1980."),
            ("agent", 24.5, 33.0, "Thank you. Your last payment was received on the first of the month."),
            ("customer", 33.5, 40.0, "Okay, but there is an extra ten dollar fee this month."),
            ("agent", 40.5, 50.0, ("Calm down please. " if self.forbidden else "")
             + fee + (" I've applied a credit of ten dollars to your account." if self.resolution else "")),
            ("customer", 50.5, 53.0, "Great, thank you."),
            ("agent", 53.5, 62.0, "Let me check the rest of your account."
             + (" Is there anything else I can help you with?" if self.closing else "")),
            ("customer", 62.5, 65.0, "No, that's everything."),
            ("agent", 65.5, 70.0, "Thank you for calling Acme Telecom, have a great day."),
        ]  # fmt: skip


SCRIPTED_DURATION_S = 71.0


def scripted_transcript(call: ScriptedCall, probability: float = 0.9):
    """Turns and words (spread evenly over each turn) of a scripted call."""
    return transcript_from_lines(call.script(), probability)


def transcript_from_lines(lines: Sequence[tuple[str, float, float, str]], probability: float = 0.9):
    """Turns and words (spread evenly over each turn) from (speaker, start, end, text) lines."""
    from pipeline.types import Turn, Word

    turns, words = [], []
    for speaker, start_s, end_s, text in lines:
        turns.append(Turn(speaker, start_s, end_s, text))
        pieces = text.split()
        step = (end_s - start_s) / len(pieces)
        words += [
            Word(start_s + i * step, start_s + (i + 1) * step, piece, probability, speaker)
            for i, piece in enumerate(pieces)
        ]
    return turns, words


def write_scripted_calls(
    store, calls: Sequence[ScriptedCall], start: datetime = datetime(2026, 3, 2, 9, 0)
) -> list[str]:
    """Store each scripted call (transcript only, not yet scored) in bulk; returns their call ids.

    Calls are spread over five days; ``callqa rescore`` (or ``rescore_calls``) scores them.
    """
    call_ids, turn_rows, word_rows = [], [], []
    for index, call in enumerate(calls):
        call_id = hashlib.sha256(f"scripted:{index}:{call}".encode()).hexdigest()[:16]
        call_ids.append(call_id)
        turns, words = scripted_transcript(call)
        turn_rows += [
            (call_id, i, t.speaker, t.start_s, t.end_s, t.text) for i, t in enumerate(turns)
        ]
        word_rows += [
            (call_id, i, w.speaker, w.start_s, w.end_s, w.word, w.probability)
            for i, w in enumerate(words)
        ]
    n = len(call_ids)
    started = [start + timedelta(days=i % 5, minutes=i) for i in range(n)]
    frames = {
        "calls": pd.DataFrame(
            {
                "call_id": call_ids,
                "source_path": [f"/recordings/scripted/call-{i:04d}.wav" for i in range(n)],
                "sha256": [c * 4 for c in call_ids],
                "duration_s": SCRIPTED_DURATION_S,
                "sample_rate": 8000,
                "channels": 2,
                "status": "done",
                "asr_model": "scripted",
                "diarizer": "channel_map",
                "num_speakers": 2,
                "diarization_confidence": 1.0,
                "role_confidence": 1.0,
                "mean_word_probability": 0.9,
                "processed_at": [s + timedelta(hours=12) for s in started],
                "started_at": started,
            }
        ),
        "turns": pd.DataFrame(
            turn_rows, columns=["call_id", "turn_idx", "speaker", "start_s", "end_s", "text"]
        ),
        "words": pd.DataFrame(
            word_rows,
            columns=["call_id", "word_idx", "speaker", "start_s", "end_s", "word", "probability"],
        ),
    }
    store.calibration.insert_frames(frames)
    return call_ids
