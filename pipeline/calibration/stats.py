"""Agreement statistics for calibration: pure functions from ratings to estimates with intervals.

The point estimates come from the libraries that own them where the command can afford them:
scipy (``spearmanr``, ``bootstrap``, ``ttest_1samp``); scikit-learn (``cohen_kappa_score``,
``confusion_matrix``) is wrapped for raw label lists (threshold tuning) and is the reference for
the table form. Three things are computed here, each tested against its library to 1e-9:

- ``kappa_from_tables``: Cohen's κ from contingency tables, vectorised over thousands of bootstrap
  tables (scikit-learn takes one pair of label arrays per call, which is too slow inside a
  bootstrap, and importing it costs ``callqa calibrate`` 0.4 s of its 2 s).
- ``alpha_interval_two_raters``: Krippendorff's α (interval) for two raters who rated every unit,
  in closed form; ``krippendorff.alpha`` builds a units x values x values array, which does not
  fit in memory for 10 000 calls with continuous scores.
- ``icc_a1_two_raters``: ICC(A,1) from the two-way ANOVA mean squares, vectorised for the
  bootstrap; ``pingouin.intraclass_corr`` (wrapped by ``icc_absolute_agreement``) is its
  reference, not imported by the command: pingouin loads matplotlib, half a second of the
  command's 2 s budget.

Gwet's AC1 has no mainstream Python implementation; ``ac1_from_tables`` implements Gwet (2008)
and is tested against the worked examples published with the irrCAC package and in Gwet (2008).

Intervals for categorical agreement are BCa bootstrap intervals over calls. Resampling n
paired ratings with replacement is the same as drawing the q x q contingency table from a
multinomial with the observed cell shares, so ``bootstrap_tables`` draws the tables directly, and
the jackknife needs one leave-one-out table per non-empty cell (``jackknife_tables``); both are
tested to agree with ``scipy.stats.bootstrap(method="BCa")`` on the raw pairs, and keep 1 000
resamples of 10 000 calls to a millisecond per criterion.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

PASS, FAIL, NA = "pass", "fail", "na"
LABELS = (PASS, FAIL, NA)
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """A figure with its 95 % interval and the number of calls behind it (NaN when undefined)."""

    value: float
    low: float
    high: float
    n: int

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2

    @property
    def defined(self) -> bool:
        return not math.isnan(self.value)

    def __str__(self) -> str:
        if not self.defined:
            return f"undefined (n={self.n})"
        return f"{self.value:.2f} [{self.low:.2f}, {self.high:.2f}] (n={self.n})"


UNDEFINED = float("nan")


def undefined(n: int = 0) -> Estimate:
    return Estimate(UNDEFINED, UNDEFINED, UNDEFINED, n)


# --- categorical agreement -------------------------------------------------------------------


def confusion(
    first: Sequence[str],
    second: Sequence[str],
    labels: Sequence[str] = LABELS,
    weights: Sequence[float] | None = None,
) -> np.ndarray:
    """Counts with ``first``'s labels as rows and ``second``'s as columns (scikit-learn)."""
    from sklearn.metrics import confusion_matrix

    if len(first) == 0:
        return np.zeros((len(labels), len(labels)), dtype=np.int64)
    return confusion_matrix(first, second, labels=list(labels), sample_weight=weights)


def cohen_kappa(
    first: Sequence[str],
    second: Sequence[str],
    labels: Sequence[str] = LABELS,
    weights: Sequence[float] | None = None,
) -> float:
    """Cohen's κ (scikit-learn); NaN when chance agreement is total (one label only)."""
    from sklearn.metrics import cohen_kappa_score

    if len(first) == 0:
        return UNDEFINED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(
            cohen_kappa_score(
                first,
                second,
                labels=list(labels),
                sample_weight=weights,
                replace_undefined_by=np.nan,
            )
        )


def _shares(tables: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed agreement, row and column marginal shares of (..., q, q) tables."""
    tables = np.asarray(tables, dtype=float)
    n = tables.sum(axis=(-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = tables / n[..., None, None]
    observed = np.trace(p, axis1=-2, axis2=-1)
    return observed, p.sum(axis=-1), p.sum(axis=-2)


def kappa_from_tables(tables: np.ndarray) -> np.ndarray:
    """Cohen's κ of each q x q table (vectorised over leading axes); NaN where undefined."""
    observed, rows, cols = _shares(tables)
    chance = (rows * cols).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = (observed - chance) / (1 - chance)
    return np.where(np.isclose(chance, 1.0, rtol=0, atol=1e-12), np.nan, kappa)


def ac1_from_tables(tables: np.ndarray) -> np.ndarray:
    """Gwet's AC1 of each q x q table (Gwet 2008, eq. 4), vectorised over leading axes.

    Chance agreement is ``sum_k pi_k (1 - pi_k) / (q - 1)`` with ``pi_k`` the mean of the two
    raters' shares of category k and q the table's number of categories: pass only the
    categories the scale really has (a table of one category is undefined).
    """
    tables = np.asarray(tables, dtype=float)
    q = tables.shape[-1]
    if q < 2:
        return np.full(tables.shape[:-2], np.nan)
    observed, rows, cols = _shares(tables)
    pi = (rows + cols) / 2
    chance = (pi * (1 - pi)).sum(axis=-1) / (q - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (observed - chance) / (1 - chance)


def gwet_ac1(
    first: Sequence[str],
    second: Sequence[str],
    labels: Sequence[str] = LABELS,
) -> float:
    """Gwet's AC1 of two raters' labels over ``labels`` (the categories of the scale)."""
    return float(ac1_from_tables(confusion(first, second, labels)))


def bootstrap_tables(table: np.ndarray, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``n_resamples`` tables of the same total drawn from the observed cell shares.

    Equivalent to resampling the rated calls with replacement (the nonparametric bootstrap),
    because a resample of categorical pairs is fully described by its cell counts.
    """
    table = np.asarray(table)
    n = int(table.sum())
    if n == 0:
        return np.zeros((n_resamples, *table.shape))
    draws = rng.multinomial(n, table.ravel() / n, size=n_resamples)
    return draws.reshape(n_resamples, *table.shape)


def jackknife_tables(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The leave-one-call-out tables of a contingency table and how many calls each stands for.

    Leaving out any one of the calls in cell (i, j) gives the same table, so n jackknife samples
    collapse into one table per non-empty cell, weighted by its count.
    """
    table = np.asarray(table)
    cells = np.argwhere(table > 0)
    tables = np.repeat(table[None], len(cells), axis=0)
    tables[np.arange(len(cells)), cells[:, 0], cells[:, 1]] -= 1
    return tables, table[cells[:, 0], cells[:, 1]].astype(float)


def _percentile_interval(values: np.ndarray) -> tuple[float, float]:
    values = values[~np.isnan(values)]
    if values.size == 0:
        return UNDEFINED, UNDEFINED
    tail = (1 - CONFIDENCE) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def bca_interval(
    point: float, resampled: np.ndarray, jackknife: np.ndarray, weights: np.ndarray
) -> tuple[float, float]:
    """Bias-corrected and accelerated bootstrap interval (Efron 1987) computed as
    ``scipy.stats.bootstrap(method="BCa")`` does, from resampled values and a weighted jackknife.

    Why not the plain percentile interval: on 50-100 graded calls κ's sampling distribution is
    skewed and its estimate biased upward, so the percentile lower bound lands above the true κ
    up to 3x as often as the 2.5 % it should (measured on synthetic grades), and that lower bound
    decides whether a criterion is trusted. Falls back to the percentile interval where a
    correction is undefined (every resample on one side of the estimate).
    """
    from scipy.special import ndtr, ndtri

    values = resampled[~np.isnan(resampled)]
    keep = ~np.isnan(jackknife) & (weights > 0)
    if values.size == 0 or math.isnan(point) or not keep.any():
        return _percentile_interval(values)
    # ties count half (scipy's mid-rank rule): κ of a small table takes few distinct values
    below = np.count_nonzero(values < point) + np.count_nonzero(values <= point)
    z0 = ndtri(below / (2 * values.size))
    theta, w = jackknife[keep], weights[keep]
    spread = np.average(theta, weights=w) - theta
    denominator = 6 * float(w @ spread**2) ** 1.5
    acceleration = float(w @ spread**3) / denominator if denominator > 0 else 0.0
    z = ndtri(np.array([(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2]))
    with np.errstate(all="ignore"):
        levels = ndtr(z0 + (z0 + z) / (1 - acceleration * (z0 + z)))
    if not np.isfinite(levels).all():
        return _percentile_interval(values)
    low, high = np.percentile(values, levels * 100)
    return float(low), float(high)


@dataclass(frozen=True)
class Agreement:
    """Two raters on one criterion: counts, agreement and chance-corrected agreement."""

    labels: tuple[str, ...]
    table: np.ndarray  # rows: first rater (the human), columns: second (the auto-scorer)
    percent: Estimate
    kappa: Estimate
    ac1: Estimate

    @property
    def n(self) -> int:
        return int(self.table.sum())

    def share(self, label: str, rater: int = 0) -> float:
        """Share of calls the first (0) or second (1) rater put in ``label``."""
        if label not in self.labels or self.n == 0:
            return 0.0
        index = self.labels.index(label)
        counts = self.table[index, :] if rater == 0 else self.table[:, index]
        return float(counts.sum() / self.n)


def scale_labels(table: np.ndarray, labels: Sequence[str] = LABELS) -> tuple[str, ...]:
    """The categories of the scale (what AC1's chance term is over): pass and fail always,
    any other label (N/A) when either rater used it."""
    used = (table.sum(axis=0) + table.sum(axis=1)) > 0
    return tuple(label for label, keep in zip(labels, used) if keep or label in (PASS, FAIL))


def agreement(
    table: np.ndarray,
    labels: Sequence[str] = LABELS,
    n_resamples: int = 1000,
    rng: np.random.Generator | None = None,
) -> Agreement:
    """Percent agreement, Cohen's κ and Gwet's AC1 of a contingency table, with 95 % intervals.

    N/A is dropped when neither rater used it. κ is ``kappa_from_tables`` of the table (equal to
    scikit-learn's ``cohen_kappa_score`` to 1e-9, tested), so ``callqa calibrate`` need not load
    scikit-learn; the intervals are BCa bootstrap intervals over calls (``bca_interval``).
    """
    rng = rng or np.random.default_rng(0)
    table = np.asarray(table, dtype=np.int64)
    kept = scale_labels(table, labels)
    index = [list(labels).index(label) for label in kept]
    table = table[np.ix_(index, index)]
    n = int(table.sum())
    if n == 0:
        return Agreement(kept, table, undefined(), undefined(), undefined())
    kappa = float(kappa_from_tables(table)) if len(kept) > 1 else UNDEFINED
    ac1 = float(ac1_from_tables(table))
    percent = float(np.trace(table) / n)
    resampled = bootstrap_tables(table, n_resamples, rng)
    left_out, weights = jackknife_tables(table)

    def estimate(point: float, statistic) -> Estimate:
        if math.isnan(point):
            return undefined(n)
        interval = bca_interval(point, statistic(resampled), statistic(left_out), weights)
        return Estimate(point, *interval, n)

    return Agreement(
        labels=kept,
        table=table,
        percent=estimate(percent, lambda tables: _shares(tables)[0]),
        kappa=estimate(kappa, kappa_from_tables),
        ac1=estimate(ac1, ac1_from_tables),
    )


# --- overall scores ----------------------------------------------------------------------------


def alpha_interval_two_raters(first: np.ndarray, second: np.ndarray, axis: int = -1) -> np.ndarray:
    """Krippendorff's α (interval metric) for two raters who rated every unit, along ``axis``.

    With m = 2n pairable values v, observed disagreement is ``2 * sum((a - b)^2) / m`` and expected
    disagreement ``2 * sum((v - mean v)^2) / (m - 1)`` (Krippendorff 2011, interval metric).
    """
    first = np.asarray(first, dtype=float)
    second = np.asarray(second, dtype=float)
    m = first.shape[axis] + second.shape[axis]
    total = first.sum(axis=axis) + second.sum(axis=axis)
    squares = (first**2).sum(axis=axis) + (second**2).sum(axis=axis)
    observed = 2 * ((first - second) ** 2).sum(axis=axis) / m
    expected = 2 * (squares - total**2 / m) / (m - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1 - observed / expected


def icc_a1_two_raters(first: np.ndarray, second: np.ndarray, axis: int = -1) -> np.ndarray:
    """ICC(A,1) of two raters along ``axis``, from the two-way ANOVA mean squares (McGraw & Wong
    1996, case 2A): ``(MSR - MSE) / (MSR + MSE + 2 (MSC - MSE) / n)``. Vectorised for the
    bootstrap; equal to ``pingouin.intraclass_corr``'s ICC(A,1)."""
    first = np.asarray(first, dtype=float)
    second = np.asarray(second, dtype=float)
    n = first.shape[axis]
    rows = (first + second) / 2
    grand = rows.mean(axis=axis, keepdims=True)
    ms_rows = 2 * ((rows - grand) ** 2).sum(axis=axis) / (n - 1)
    gap = first.mean(axis=axis) - second.mean(axis=axis)
    ms_raters = n * gap**2 / 2
    difference = first - second
    centred = difference - difference.mean(axis=axis, keepdims=True)
    ms_error = (centred**2).sum(axis=axis) / 2 / (n - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (ms_rows - ms_error) / (ms_rows + ms_error + 2 * (ms_raters - ms_error) / n)


@contextmanager
def _pingouin_full_precision():
    """pingouin rounds the ICC interval to 2 decimals by default; keep every digit."""
    import pingouin

    saved = dict(pingouin.options)
    pingouin.options["round"] = None
    pingouin.options.pop("round.column.CI95", None)
    try:
        yield pingouin
    finally:
        pingouin.options.clear()
        pingouin.options.update(saved)


def icc_absolute_agreement(first: np.ndarray, second: np.ndarray) -> Estimate:
    """ICC(A,1) — two-way random effects, absolute agreement, single rater (McGraw & Wong 1996)
    — with its F-distribution 95 % interval, from ``pingouin.intraclass_corr``.

    The F interval assumes normally distributed scores; QA scores are sums of pass/fail verdicts
    graded by a mix of reviewers, where it covers the truth only ~91 % of the time (measured on
    synthetic grades), so ``score_agreement`` reports a bootstrap interval instead."""
    import pandas as pd

    first = np.asarray(first, dtype=float)
    second = np.asarray(second, dtype=float)
    n = len(first)
    if n < 3 or np.ptp(np.concatenate([first, second])) == 0:
        return undefined(n)
    units = np.arange(n)
    frame = pd.DataFrame(
        {
            "unit": np.concatenate([units, units]),
            "rater": np.repeat(["first", "second"], n),
            "score": np.concatenate([first, second]),
        }
    )
    with (
        _pingouin_full_precision() as pingouin,
        np.errstate(all="ignore"),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")  # pandas deprecations inside pingouin
        table = pingouin.intraclass_corr(frame, targets="unit", raters="rater", ratings="score")
    row = table.set_index("Type").loc["ICC(A,1)"]
    low, high = row["CI95"]
    return Estimate(float(row["ICC"]), float(low), float(high), n)


@dataclass(frozen=True)
class ScoreAgreement:
    """Auto vs human overall score (0-100) on the same calls."""

    n: int
    bias: Estimate  # mean of auto - human: positive = the machine grades softer
    mean_abs_diff: Estimate
    within_10: Estimate  # share of calls where the two are within ±10 points
    icc: Estimate
    alpha: Estimate
    spearman: float
    spearman_p: float


def _score_statistics(auto: np.ndarray, human: np.ndarray, axis: int = -1) -> np.ndarray:
    difference = auto - human
    return np.stack(
        [
            difference.mean(axis=axis),
            np.abs(difference).mean(axis=axis),
            (np.abs(difference) <= 10).mean(axis=axis),
            alpha_interval_two_raters(auto, human, axis=axis),
            icc_a1_two_raters(auto, human, axis=axis),
        ]
    )


def score_agreement(
    auto: np.ndarray,
    human: np.ndarray,
    n_resamples: int = 1000,
    rng: np.random.Generator | None = None,
) -> ScoreAgreement:
    """Bias, mean absolute difference, share within ±10, ICC(A,1), Krippendorff's α and Spearman's
    ρ of paired overall scores; intervals by percentile bootstrap over calls (ICC: see
    ``icc_absolute_agreement`` for why not pingouin's F interval). The ICC's point
    estimate is pingouin's."""
    rng = rng or np.random.default_rng(0)
    auto = np.asarray(auto, dtype=float)
    human = np.asarray(human, dtype=float)
    n = len(auto)
    if n < 3:
        nothing = undefined(n)
        return ScoreAgreement(n, nothing, nothing, nothing, nothing, nothing, UNDEFINED, UNDEFINED)
    point = _score_statistics(auto, human)
    with np.errstate(all="ignore"):
        result = scipy_stats.bootstrap(
            (auto, human),
            _score_statistics,
            paired=True,
            vectorized=True,
            n_resamples=n_resamples,
            method="percentile",
            batch=max(1, min(n_resamples, 1_000_000 // n)),
            rng=rng,
        )
    low, high = result.confidence_interval
    estimates = [
        Estimate(float(v), float(lo), float(hi), n) if not math.isnan(v) else undefined(n)
        for v, lo, hi in zip(point, low, high)
    ]
    constant = np.ptp(auto) == 0 or np.ptp(human) == 0
    if constant:
        rho, p_value = UNDEFINED, UNDEFINED
    else:
        spearman = scipy_stats.spearmanr(auto, human)
        rho, p_value = float(spearman.statistic), float(spearman.pvalue)
    return ScoreAgreement(
        n=n,
        bias=estimates[0],
        mean_abs_diff=estimates[1],
        within_10=estimates[2],
        icc=estimates[4],
        alpha=estimates[3],
        spearman=rho,
        spearman_p=p_value,
    )


def mean_interval(values: np.ndarray) -> Estimate:
    """Mean with its t-distribution 95 % interval (scipy ``ttest_1samp``)."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return undefined(0)
    mean = float(values.mean())
    if n < 2 or np.ptp(values) == 0:
        return Estimate(mean, mean, mean, n) if n >= 2 else Estimate(mean, UNDEFINED, UNDEFINED, n)
    interval = scipy_stats.ttest_1samp(values, 0.0).confidence_interval(CONFIDENCE)
    return Estimate(mean, float(interval.low), float(interval.high), n)


# --- sample size -------------------------------------------------------------------------------


def more_calls_needed(estimate: Estimate, target_half_width: float) -> int:
    """About how many more rated calls would narrow ``estimate``'s interval to ±target.

    Interval widths shrink with the square root of n, so n must grow by (width / target)^2.
    0 when the interval is already narrow enough; -1 when it cannot be said (no interval).
    """
    if math.isnan(estimate.low) or math.isnan(estimate.high) or estimate.n == 0:
        return -1
    if estimate.half_width <= target_half_width:
        return 0
    needed = estimate.n * (estimate.half_width / target_half_width) ** 2
    return math.ceil(needed) - estimate.n
