"""Calibration report: where the auto-scorer may grade alone, and where a human must listen.

``load_calibration_data`` reads what is needed from the database (through
``pipeline.store.calibration_sql``); ``build_report`` is pure: from those frames to a
``CalibrationReport`` of plain results, each figure with its n and its 95 % interval, the trust
decision per criterion, and warnings where an interval is too wide to act on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from pipeline.store.calibration_sql import CalibrationQueries
from pipeline.calibration.stats import (
    FAIL,
    LABELS,
    Agreement,
    Estimate,
    ScoreAgreement,
    agreement,
    mean_interval,
    more_calls_needed,
    score_agreement,
)

DEFAULT_PASS_MARK = 80.0


class TrustPolicy(BaseModel):
    """When an auto-scored criterion may decide a call on its own."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_kappa_low: float = Field(0.6, ge=-1, le=1, description="lower 95 % bound of κ to reach")
    min_calls: int = Field(
        50, ge=1, description="fewer graded calls than this: not known, not trusted"
    )
    # κ on a handful of failures says little whatever n is: with ~3 human-failed calls in 50 the
    # 95 % interval held the true κ only 86 % of the time (benchmarks/calibration.py --coverage)
    min_failed: int = Field(
        10, ge=0, description="fewer calls a human failed than this: not known, not trusted"
    )


class ReportOptions(BaseModel):
    """How the report is computed and when it warns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trust: TrustPolicy = TrustPolicy()
    n_resamples: int = Field(1000, ge=100, description="bootstrap resamples per interval")
    seed: int = 0
    target_catch: float = Field(
        0.95, gt=0, le=1, description="share of human-failed calls the queue must catch"
    )
    kappa_half_width: float = Field(
        0.1, gt=0, description="warn when a κ interval is wider than ±this"
    )
    score_half_width: float = Field(
        2.0, gt=0, description="warn when a bias interval is wider than ±this (points)"
    )
    min_shared_calls: int = Field(
        20, ge=2, description="warn when a reviewer shares fewer calls with others"
    )


@dataclass(frozen=True)
class RubricFacts:
    """What the report needs from a rubric: pass mark, and each criterion's weight, auto-fail
    flag and type, in file order."""

    pass_mark: float
    weights: dict[str, float]
    auto_fail: dict[str, bool]
    types: dict[str, str]


def rubric_facts(criteria: pd.DataFrame, pass_mark: float) -> RubricFacts | None:
    """The facts from a rubric version's stored criteria (``CalibrationQueries.rubric_criteria``);
    None when none are stored."""
    if criteria.empty:
        return None
    ids = list(criteria.criterion_id)
    return RubricFacts(
        float(pass_mark),
        dict(zip(ids, criteria.weight.astype(float))),
        dict(zip(ids, criteria.auto_fail.astype(bool))),
        dict(zip(ids, criteria.type.astype(str))),
    )


@dataclass(frozen=True)
class TrustDecision:
    trusted: bool
    reason: str


@dataclass(frozen=True)
class CriterionCalibration:
    """Auto vs the reference human grade on one criterion, the human ceiling, and the decision."""

    criterion_id: str
    weight: float
    auto_fail: bool
    agreement: Agreement  # rows: human, columns: auto
    ceiling: Agreement | None  # first vs second human grade on calls graded twice
    trust: TrustDecision

    @property
    def n(self) -> int:
        return self.agreement.n

    @property
    def human_fail_share(self) -> float:
        return self.agreement.share(FAIL, rater=0)

    def as_trust_row(self) -> dict:
        kappa = self.agreement.kappa
        return {
            "criterion_id": self.criterion_id,
            "trusted": self.trust.trusted,
            "reason": self.trust.reason,
            "n_calls": self.n,
            "kappa": None if math.isnan(kappa.value) else kappa.value,
            "kappa_low": None if math.isnan(kappa.low) else kappa.low,
            "kappa_high": None if math.isnan(kappa.high) else kappa.high,
        }


@dataclass(frozen=True)
class ReviewerCalibration:
    """How one reviewer grades compared with the others on the same calls, and with the machine."""

    reviewer: str
    calls: int
    bias_vs_others: Estimate  # mean of (this reviewer - the others' mean) on shared calls
    bias_vs_auto: Estimate  # mean of (this reviewer - auto) on every call they graded

    @property
    def tendency(self) -> str:
        bias = self.bias_vs_others
        if bias.n < 2 or math.isnan(bias.low):
            return "too few shared calls"
        if bias.high < 0:
            return "hard"
        if bias.low > 0:
            return "soft"
        return "in line"


@dataclass(frozen=True)
class QueueCalibration:
    """What the review queue catches of the calls a human failed.

    Budget: each day the queue's first ``budget`` calls are reviewed (auto-fails first, then the
    lowest scores). Pass mark: calls auto-failed or scoring below it are reviewed.
    """

    target: float
    human_failed: int
    graded: int
    calls_per_day: float
    budgets: np.ndarray  # reviews a day
    catch: np.ndarray  # share of human-failed calls caught at each budget
    budget_for_target: int | None
    pass_mark: float
    catch_at_pass_mark: float
    reviews_per_day_at_pass_mark: float
    pass_mark_for_target: float | None
    catch_at_pass_mark_for_target: float
    reviews_per_day_for_target: float


@dataclass
class CalibrationReport:
    rubric_id: str
    rubric_version: int
    since: datetime | None
    options: ReportOptions
    calls_scored: int
    calls_graded: int
    calls_graded_twice: int
    criteria: list[CriterionCalibration]
    score: ScoreAgreement
    reviewers: list[ReviewerCalibration]
    reviewer_pairs: pd.DataFrame  # reviewer, other, bias (reviewer - other), n
    queue: QueueCalibration
    warnings: list[str] = field(default_factory=list)
    # call_id, auto, human: the pairs behind the overall-score figures
    score_pairs: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    trust_stored: bool = False

    def criterion(self, criterion_id: str) -> CriterionCalibration:
        return next(c for c in self.criteria if c.criterion_id == criterion_id)

    @property
    def untrusted(self) -> list[str]:
        return [c.criterion_id for c in self.criteria if not c.trust.trusted]


@dataclass
class CalibrationData:
    """Everything the report is computed from, as read from the database."""

    rubric_id: str
    rubric_version: int
    since: datetime | None
    facts: RubricFacts
    criteria: list[str]  # scored criteria, rubric order
    tables: pd.DataFrame  # criterion_id, human, auto, n
    ceiling: pd.DataFrame  # criterion_id, first, second, n
    reviews: pd.DataFrame  # call_id, reviewer, reviewer_rank, human_score, auto_score
    queue: dict[str, np.ndarray]  # day, score, auto_fail, human_failed


def load_calibration_data(
    queries: CalibrationQueries,
    rubric_id: str | None = None,
    version: int | None = None,
    since: datetime | None = None,
) -> CalibrationData | None:
    """Read a rubric version's auto scores and the human grades beside them; None when no call
    is scored under it."""
    picked = queries.pick_rubric(rubric_id, version)
    if picked is None:
        return None
    rubric_id, version = picked
    source = queries.rubric_source(rubric_id, version)
    scored = queries.scored_criteria(rubric_id, version)
    facts = rubric_facts(queries.rubric_criteria(rubric_id, version), source["pass_mark"]) if source else None
    if facts is None:
        facts = RubricFacts(
            DEFAULT_PASS_MARK,
            dict(zip(scored.criterion_id, scored.weight.astype(float))),
            dict(zip(scored.criterion_id, scored.auto_failed.astype(bool))),
            {},
        )
    criteria = [c for c in facts.weights if c in set(scored.criterion_id)]
    criteria += [c for c in scored.criterion_id if c not in criteria]
    auto_fail_ids = [c for c, flag in facts.auto_fail.items() if flag]
    return CalibrationData(
        rubric_id=rubric_id,
        rubric_version=version,
        since=since,
        facts=facts,
        criteria=criteria,
        tables=queries.criterion_tables(rubric_id, version, since),
        ceiling=queries.ceiling_tables(since),
        reviews=queries.review_scores(rubric_id, version, since),
        queue=queries.queue_frame(rubric_id, version, facts.pass_mark, auto_fail_ids, since),
    )


def _table(counts: pd.DataFrame, first: str, second: str) -> np.ndarray:
    table = np.zeros((len(LABELS), len(LABELS)), dtype=np.int64)
    for a, b, n in zip(counts[first], counts[second], counts["n"]):
        if a in LABELS and b in LABELS:
            table[LABELS.index(a), LABELS.index(b)] += int(n)
    return table


def human_failed(result: Agreement) -> int:
    """Graded calls where the human (the table's rows) failed the criterion."""
    return int(result.table[result.labels.index(FAIL), :].sum()) if FAIL in result.labels else 0


def decide_trust(result: Agreement, policy: TrustPolicy) -> TrustDecision:
    """Trusted only with enough graded calls, enough of them failed by a human, and a κ whose
    lower 95 % bound reaches the bar."""
    kappa = result.kappa
    if result.n < policy.min_calls:
        return TrustDecision(False, f"only {result.n} graded calls (need {policy.min_calls})")
    if not kappa.defined:
        table = result.table
        used = [
            label
            for i, label in enumerate(result.labels)
            if table[i, :].sum() + table[:, i].sum() > 0
        ]
        said = f"'{used[0]}'" if len(used) == 1 else "the same verdict"
        return TrustDecision(
            False, f"κ undefined: both graders said {said} on all {result.n} calls"
        )
    failed = human_failed(result)
    if failed < policy.min_failed:
        return TrustDecision(
            False, f"only {failed} graded calls a human failed (need {policy.min_failed})"
        )
    # enough digits that the bound and the bar never print alike
    digits = 2 if abs(round(kappa.low, 2) - policy.min_kappa_low) >= 0.005 else 3
    if math.isnan(kappa.low) or kappa.low < policy.min_kappa_low:
        return TrustDecision(
            False,
            f"κ {kappa.value:.2f}, lower bound {kappa.low:.{digits}f} < {policy.min_kappa_low:g}",
        )
    return TrustDecision(
        True, f"κ {kappa.value:.2f}, lower bound {kappa.low:.{digits}f} ≥ {policy.min_kappa_low:g}"
    )


def _reviewers(reviews: pd.DataFrame) -> tuple[list[ReviewerCalibration], pd.DataFrame]:
    if reviews.empty:
        return [], pd.DataFrame(columns=["reviewer", "other", "bias", "n"])
    frame = reviews[["call_id", "reviewer", "human_score", "auto_score"]].copy()
    per_call = frame.groupby("call_id").human_score.agg(["sum", "count"])
    frame = frame.join(per_call, on="call_id")
    shared = frame[frame["count"] > 1]
    others_mean = (shared["sum"] - shared.human_score) / (shared["count"] - 1)
    versus_others = (shared.human_score - others_mean).groupby(shared.reviewer)
    versus_auto = (frame.human_score - frame.auto_score).groupby(frame.reviewer)
    results = []
    for reviewer, against_auto in versus_auto:
        against_others = (
            versus_others.get_group(reviewer).to_numpy()
            if reviewer in versus_others.groups
            else np.array([])
        )
        results.append(
            ReviewerCalibration(
                reviewer=str(reviewer),
                calls=len(against_auto),
                bias_vs_others=mean_interval(against_others),
                bias_vs_auto=mean_interval(against_auto.to_numpy()),
            )
        )
    pairs = shared[["call_id", "reviewer", "human_score"]].merge(
        shared[["call_id", "reviewer", "human_score"]], on="call_id", suffixes=("", "_other")
    )
    pairs = pairs[pairs.reviewer != pairs.reviewer_other]
    matrix = (
        pairs.assign(bias=pairs.human_score - pairs.human_score_other)
        .groupby(["reviewer", "reviewer_other"])
        .bias.agg(["mean", "count"])
        .reset_index()
        .rename(columns={"reviewer_other": "other", "mean": "bias", "count": "n"})
    )
    return results, matrix


def _pass_mark_grid() -> np.ndarray:
    return np.arange(0.0, 100.5, 0.5)


def queue_catch(
    day: np.ndarray,
    score: np.ndarray,
    auto_fail: np.ndarray,
    human_failed: np.ndarray,
    pass_mark: float,
    target: float = 0.95,
) -> QueueCalibration:
    """Catch rates of the review queue against human pass/fail (see ``QueueCalibration``).

    Catch rates are measured on graded calls; review volumes on all calls. Both assume the
    graded calls are a fair sample of the day's calls.
    """
    day = np.asarray(day)
    score = np.asarray(score, dtype=float)
    auto_fail = np.asarray(auto_fail, dtype=bool)
    human_failed = np.asarray(human_failed)
    days = max(len(np.unique(day)), 1)
    failed = human_failed == 1
    graded = int((human_failed >= 0).sum())
    n_failed = int(failed.sum())
    # rank within the day: auto-fails first, then the lowest scores
    order = np.lexsort((score, ~auto_fail, day))
    ranks = np.empty(len(day), dtype=np.int64)
    sorted_days = day[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_days)) + 1]
    first_of_day = np.repeat(starts, np.diff(np.r_[starts, len(day)]))
    ranks[order] = np.arange(len(day)) - first_of_day
    daily_max = int(np.bincount(np.unique(day, return_inverse=True)[1]).max()) if len(day) else 0
    budgets = np.arange(0, daily_max + 1)
    failed_ranks = np.sort(ranks[failed])
    catch = (
        np.searchsorted(failed_ranks, budgets, side="left") / n_failed
        if n_failed
        else np.full(len(budgets), np.nan)
    )
    reaching = np.flatnonzero(catch >= target - 1e-12)
    budget_for_target = int(budgets[reaching[0]]) if n_failed and reaching.size else None

    def caught_share(mark: float) -> float:
        return float(((auto_fail | (score < mark))[failed]).mean()) if n_failed else float("nan")

    def reviews_per_day(mark: float) -> float:
        return float((auto_fail | (score < mark)).sum() / days)

    mark_for_target = None
    for mark in _pass_mark_grid():
        if n_failed and caught_share(mark) >= target - 1e-12:
            mark_for_target = float(mark)
            break
    return QueueCalibration(
        target=target,
        human_failed=n_failed,
        graded=graded,
        calls_per_day=len(day) / days,
        budgets=budgets,
        catch=catch,
        budget_for_target=budget_for_target,
        pass_mark=pass_mark,
        catch_at_pass_mark=caught_share(pass_mark),
        reviews_per_day_at_pass_mark=reviews_per_day(pass_mark),
        pass_mark_for_target=mark_for_target,
        catch_at_pass_mark_for_target=caught_share(mark_for_target)
        if mark_for_target is not None
        else float("nan"),
        reviews_per_day_for_target=reviews_per_day(mark_for_target)
        if mark_for_target is not None
        else float("nan"),
    )


def build_report(data: CalibrationData, options: ReportOptions | None = None) -> CalibrationReport:
    """Every figure of the calibration report, from the data read by ``load_calibration_data``."""
    options = options or ReportOptions()
    rng = np.random.default_rng(options.seed)
    criteria = []
    for criterion_id in data.criteria:
        result = agreement(
            _table(data.tables[data.tables.criterion_id == criterion_id], "human", "auto"),
            n_resamples=options.n_resamples,
            rng=rng,
        )
        ceiling_counts = data.ceiling[data.ceiling.criterion_id == criterion_id]
        ceiling = (
            agreement(
                _table(ceiling_counts, "first", "second"), n_resamples=options.n_resamples, rng=rng
            )
            if not ceiling_counts.empty
            else None
        )
        criteria.append(
            CriterionCalibration(
                criterion_id=criterion_id,
                weight=data.facts.weights.get(criterion_id, float("nan")),
                auto_fail=data.facts.auto_fail.get(criterion_id, False),
                agreement=result,
                ceiling=ceiling,
                trust=decide_trust(result, options.trust),
            )
        )
    reference = data.reviews[data.reviews.reviewer_rank == 1]
    score = score_agreement(
        reference.auto_score.to_numpy(), reference.human_score.to_numpy(), options.n_resamples, rng
    )
    reviewers, pairs = _reviewers(data.reviews)
    queue = queue_catch(**data.queue, pass_mark=data.facts.pass_mark, target=options.target_catch)
    report = CalibrationReport(
        rubric_id=data.rubric_id,
        rubric_version=data.rubric_version,
        since=data.since,
        options=options,
        calls_scored=len(data.queue["day"]),
        calls_graded=int(reference.call_id.nunique()),
        calls_graded_twice=int((data.reviews.reviewer_rank == 2).sum()),
        criteria=criteria,
        score=score,
        reviewers=reviewers,
        reviewer_pairs=pairs,
        queue=queue,
        score_pairs=pd.DataFrame(
            {
                "call_id": reference.call_id,
                "auto": reference.auto_score,
                "human": reference.human_score,
            }
        ).reset_index(drop=True),
    )
    report.warnings = sample_size_warnings(report)
    return report


def _narrowing(
    estimate: Estimate, target: float, unit: str = "", calls: str = "graded calls"
) -> str:
    more = more_calls_needed(estimate, target)
    if more <= 0:
        return ""
    return f"; about {more} more {calls} would narrow it to ±{target:g}{unit}"


def sample_size_warnings(report: CalibrationReport) -> list[str]:
    """Where n is too small for an interval to be useful, and how many more calls would do."""
    options = report.options
    warnings: list[str] = []
    if report.calls_graded == 0:
        return [
            f"no human grades for calls scored under {report.rubric_id} v{report.rubric_version}"
        ]
    for c in report.criteria:
        kappa = c.agreement.kappa
        if c.n < options.trust.min_calls:
            warnings.append(
                f"{c.criterion_id}: only {c.n} graded calls; the interval is not worth acting on until "
                f"{options.trust.min_calls} (grade {options.trust.min_calls - c.n} more)"
            )
        elif kappa.defined and human_failed(c.agreement) < options.trust.min_failed:
            failed = human_failed(c.agreement)
            warnings.append(
                f"{c.criterion_id}: only {failed} of {c.n} graded calls failed by a human; κ is "
                f"not worth acting on until {options.trust.min_failed} (grade calls where it "
                "fails: the review queue's auto-fails and low scores)"
            )
        elif kappa.defined and kappa.half_width > options.kappa_half_width:
            warnings.append(
                f"{c.criterion_id}: κ ±{kappa.half_width:.2f} on {c.n} calls"
                + _narrowing(kappa, options.kappa_half_width)
            )
        elif not kappa.defined:
            warnings.append(
                f"{c.criterion_id}: κ undefined on {c.n} calls (one verdict only); grade calls where it fails"
                " (or applies) to learn whether the machine gets those right"
            )
        if c.ceiling is None:
            warnings.append(
                f"{c.criterion_id}: no call graded by two reviewers, so no human ceiling"
            )
        elif c.ceiling.kappa.defined and c.ceiling.kappa.half_width > options.kappa_half_width:
            warnings.append(
                f"{c.criterion_id}: human ceiling κ ±{c.ceiling.kappa.half_width:.2f} on {c.ceiling.n} calls"
                " graded twice"
                + _narrowing(c.ceiling.kappa, options.kappa_half_width, calls="calls graded twice")
            )
    score = report.score
    if score.n < 3:
        warnings.append(f"overall score: only {score.n} calls with both scores")
    elif score.bias.half_width > options.score_half_width:
        warnings.append(
            f"overall score: bias ±{score.bias.half_width:.1f} points on {score.n} calls"
            + _narrowing(score.bias, options.score_half_width, " points")
        )
    for reviewer in report.reviewers:
        if reviewer.bias_vs_others.n < options.min_shared_calls:
            warnings.append(
                f"reviewer {reviewer.reviewer}: {reviewer.bias_vs_others.n} calls shared with other reviewers;"
                f" {options.min_shared_calls} or more are needed to say whether they grade hard or soft"
            )
    if report.queue.human_failed < 20:
        warnings.append(
            f"queue: catch rates rest on {report.queue.human_failed} human-failed calls; treat them as rough"
        )
    return warnings


def calibrate(
    queries: CalibrationQueries,
    rubric_id: str | None = None,
    version: int | None = None,
    since: datetime | None = None,
    options: ReportOptions | None = None,
    write_trust: bool = True,
) -> CalibrationReport | None:
    """Build the report for a rubric version and (by default) store its trust decisions — unless
    no call under it has a human grade yet: then nothing was learned and nothing is stored."""
    data = load_calibration_data(queries, rubric_id, version, since)
    if data is None:
        return None
    report = build_report(data, options)
    if write_trust and report.calls_graded > 0:
        rows = [c.as_trust_row() for c in report.criteria]
        queries.write_trust(report.rubric_id, report.rubric_version, rows)
        report.trust_stored = True
    return report
