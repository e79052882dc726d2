"""calibration/stats.py: our wrappers against scikit-learn, krippendorff, pingouin and scipy, and
Gwet's AC1 against published worked examples."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pandas as pd
import pingouin
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import cohen_kappa_score, confusion_matrix

from pipeline.calibration.stats import (
    LABELS,
    Estimate,
    ac1_from_tables,
    agreement,
    alpha_interval_two_raters,
    bootstrap_tables,
    cohen_kappa,
    confusion,
    gwet_ac1,
    icc_a1_two_raters,
    icc_absolute_agreement,
    jackknife_tables,
    kappa_from_tables,
    mean_interval,
    more_calls_needed,
    score_agreement,
)


def random_labels(seed: int, n: int, labels=LABELS, agree: float = 0.8):
    rng = np.random.default_rng(seed)
    first = rng.choice(
        labels, n, p=[0.6, 0.3, 0.1][: len(labels)] / np.sum([0.6, 0.3, 0.1][: len(labels)])
    )
    second = np.where(rng.random(n) < agree, first, rng.choice(labels, n))
    return list(first), list(second)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("labels", [LABELS, ("pass", "fail")])
def test_kappa_from_tables_equals_scikit_learn(seed, labels):
    first, second = random_labels(seed, 157 + seed, labels)
    table = confusion_matrix(first, second, labels=list(labels))
    expected = cohen_kappa_score(first, second, labels=list(labels))
    assert kappa_from_tables(table) == pytest.approx(expected, abs=1e-9)
    assert cohen_kappa(first, second, labels) == pytest.approx(expected, abs=1e-9)
    # a stack of tables at once (the bootstrap's use)
    stacked = kappa_from_tables(np.stack([table, table.T]))
    assert stacked == pytest.approx(
        [expected, cohen_kappa_score(second, first, labels=list(labels))], abs=1e-9
    )


def test_agreement_point_estimates_and_table_equal_scikit_learn():
    first, second = random_labels(7, 300)
    result = agreement(confusion(first, second), n_resamples=200)
    assert result.table.tolist() == confusion_matrix(first, second, labels=list(LABELS)).tolist()
    assert result.kappa.value == pytest.approx(cohen_kappa_score(first, second), abs=1e-9)
    assert result.percent.value == pytest.approx(
        np.mean(np.array(first) == np.array(second)), abs=1e-12
    )
    assert result.n == 300
    assert result.kappa.low <= result.kappa.value <= result.kappa.high


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.UndefinedMetricWarning")
def test_kappa_undefined_when_both_raters_give_one_verdict():
    table = confusion(["pass"] * 20, ["pass"] * 20)
    result = agreement(table, n_resamples=100)
    assert math.isnan(result.kappa.value)
    assert result.labels == ("pass", "fail")  # the scale keeps pass/fail, drops the unused N/A
    assert result.ac1.value == pytest.approx(1.0)  # AC1 has no such paradox
    assert math.isnan(cohen_kappa_score(["pass"] * 5, ["pass"] * 5, labels=["pass", "fail"]))


# Gwet's AC1 against published worked examples (irrCAC, K. Gwet's own R package, and its Python
# port: ``gwet.ac1.table(cont3x3abstractors)`` = 0.8493305, ``cont4x4diagnosis`` = 0.456).
CONT3X3_ABSTRACTORS = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]
CONT4X4_DIAGNOSIS = [[40, 4, 4, 17], [6, 25, 2, 13], [4, 1, 21, 12], [15, 5, 9, 45]]


def test_ac1_matches_the_irrcac_worked_examples():
    assert float(ac1_from_tables(np.array(CONT3X3_ABSTRACTORS))) == pytest.approx(
        0.8493305, abs=5e-8
    )
    assert float(ac1_from_tables(np.array(CONT4X4_DIAGNOSIS))) == pytest.approx(0.456, abs=5e-4)
    # the same package's κ and percent agreement on the 3x3 table, as a check on orientation
    assert float(kappa_from_tables(np.array(CONT3X3_ABSTRACTORS))) == pytest.approx(
        0.7964094, abs=5e-8
    )
    labels = ("ectopic", "aiu", "niu")
    result = agreement(np.array(CONT3X3_ABSTRACTORS), labels=labels, n_resamples=200)
    assert result.percent.value == pytest.approx(0.89)
    assert result.ac1.value == pytest.approx(0.8493305, abs=5e-8)


def test_ac1_high_agreement_paradox_gwet_2008():
    # Gwet (2008): 118 both positive, 5 + 2 disagreements, 0 both negative: κ slightly negative,
    # AC1 = 0.94 (raw ratings through gwet_ac1 and sklearn, to check the label handling too).
    first = ["pass"] * 118 + ["pass"] * 5 + ["fail"] * 2
    second = ["pass"] * 118 + ["fail"] * 5 + ["pass"] * 2
    assert gwet_ac1(first, second, ("pass", "fail")) == pytest.approx(0.9408, abs=5e-5)
    assert cohen_kappa(first, second, ("pass", "fail")) == pytest.approx(-0.0234, abs=5e-5)


def kappa_of_codes(a, b, axis=-1):
    """κ of pass (0) / fail (1) codes along ``axis``: the statistic scipy's bootstrap resamples."""
    tables = np.stack(
        [
            np.stack([((a == i) & (b == j)).sum(axis=axis) for j in range(2)], axis=-1)
            for i in range(2)
        ],
        axis=-2,
    )
    return kappa_from_tables(tables)


def test_multinomial_bootstrap_matches_scipy_bootstrap_on_the_raw_pairs():
    first, second = random_labels(3, 400, ("pass", "fail"), agree=0.85)
    codes_first = np.array([LABELS.index(x) for x in first])
    codes_second = np.array([LABELS.index(x) for x in second])

    reference = scipy_stats.bootstrap(
        (codes_first, codes_second), kappa_of_codes, paired=True, vectorized=True, n_resamples=4000,
        method="percentile", rng=np.random.default_rng(1),
    ).confidence_interval  # fmt: skip
    ours = agreement(confusion(first, second), n_resamples=4000, rng=np.random.default_rng(2)).kappa
    assert ours.low == pytest.approx(reference.low, abs=0.015)
    assert ours.high == pytest.approx(reference.high, abs=0.015)
    tables = bootstrap_tables(
        confusion(first, second, ("pass", "fail")), 10, np.random.default_rng(0)
    )
    assert tables.shape == (10, 2, 2) and (tables.sum(axis=(1, 2)) == 400).all()


@pytest.mark.parametrize(("n", "seed"), [(60, 1), (120, 2), (400, 3)])
def test_bca_interval_matches_scipy_bca_on_the_raw_pairs(n, seed):
    """Our BCa from multinomial tables and the per-cell jackknife equals scipy's BCa from the raw
    pairs (up to resampling noise), and differs from the percentile interval where it should:
    on few calls, where κ is skewed."""
    rng = np.random.default_rng(seed)
    first = np.where(rng.random(n) < 0.2, 1, 0)
    second = np.where(rng.random(n) < 0.85, first, 1 - first)

    def scipy_interval(method):
        return scipy_stats.bootstrap(
            (first, second), kappa_of_codes, paired=True, vectorized=True, n_resamples=20000,
            method=method, rng=np.random.default_rng(1),
        ).confidence_interval  # fmt: skip

    names = np.array(["pass", "fail"])
    table = confusion(names[first], names[second], ("pass", "fail"))
    ours = agreement(table, n_resamples=20000, rng=np.random.default_rng(2)).kappa
    reference = scipy_interval("BCa")
    assert ours.low == pytest.approx(reference.low, abs=0.008)
    assert ours.high == pytest.approx(reference.high, abs=0.008)
    if n == 60:  # the correction matters on few calls: the lower bound moves down
        assert ours.low < scipy_interval("percentile").low - 0.01


def test_jackknife_tables_leave_out_one_call_per_cell():
    table = np.array([[5, 0], [2, 3]])
    tables, weights = jackknife_tables(table)
    assert tables.tolist() == [[[4, 0], [2, 3]], [[5, 0], [1, 3]], [[5, 0], [2, 2]]]
    assert weights.tolist() == [5, 2, 3]  # 10 leave-one-out samples in all


@pytest.mark.parametrize("seed", range(4))
def test_alpha_equals_krippendorff(seed):
    rng = np.random.default_rng(seed)
    first = np.round(rng.normal(75, 12, 120))
    second = np.round(first + rng.normal(2, 6, 120))
    expected = krippendorff.alpha(
        reliability_data=np.vstack([first, second]), level_of_measurement="interval"
    )
    assert alpha_interval_two_raters(first, second) == pytest.approx(expected, abs=1e-9)


@pytest.mark.filterwarnings("ignore:The inplace keyword")  # pandas deprecations inside pingouin
@pytest.mark.parametrize("seed", range(4))
def test_icc_equals_pingouin(seed):
    rng = np.random.default_rng(seed)
    first = rng.normal(70, 10, 80)
    second = first + rng.normal(3, 5, 80)
    frame = pd.DataFrame(
        {"call": np.r_[np.arange(80), np.arange(80)], "rater": ["auto"] * 80 + ["human"] * 80,
         "score": np.r_[first, second]}
    )  # fmt: skip
    table = pingouin.intraclass_corr(
        frame, targets="call", raters="rater", ratings="score"
    ).set_index("Type")
    expected = table.loc["ICC(A,1)", "ICC"]
    assert icc_a1_two_raters(first, second) == pytest.approx(expected, abs=1e-9)
    ours = icc_absolute_agreement(first, second)
    assert ours.value == pytest.approx(expected, abs=1e-9)
    low, high = table.loc["ICC(A,1)", "CI95"]  # pingouin rounds its interval to 2 decimals
    assert ours.low == pytest.approx(low, abs=0.005) and ours.high == pytest.approx(high, abs=0.005)


def test_score_agreement_figures_equal_their_libraries():
    rng = np.random.default_rng(5)
    auto = np.clip(rng.normal(78, 10, 250), 0, 100)
    human = np.clip(auto - 2 + rng.normal(0, 6, 250), 0, 100)
    result = score_agreement(auto, human, n_resamples=300, rng=np.random.default_rng(0))
    assert result.n == 250
    assert result.bias.value == pytest.approx(np.mean(auto - human), abs=1e-12)
    assert result.mean_abs_diff.value == pytest.approx(np.mean(np.abs(auto - human)), abs=1e-12)
    assert result.within_10.value == pytest.approx(np.mean(np.abs(auto - human) <= 10), abs=1e-12)
    assert result.spearman == pytest.approx(scipy_stats.spearmanr(auto, human).statistic, abs=1e-12)
    expected_alpha = krippendorff.alpha(
        reliability_data=np.vstack([auto, human]), level_of_measurement="interval"
    )
    assert result.alpha.value == pytest.approx(expected_alpha, abs=1e-9)
    assert result.icc.value == pytest.approx(
        icc_absolute_agreement(auto, human).value, abs=1e-9
    )  # pingouin
    for estimate in (result.bias, result.mean_abs_diff, result.within_10, result.icc, result.alpha):
        assert estimate.low <= estimate.value <= estimate.high


def test_mean_interval_is_scipy_t_interval():
    values = np.array([1.0, -2.0, 3.5, 0.5, 2.0])
    expected = scipy_stats.ttest_1samp(values, 0).confidence_interval()
    estimate = mean_interval(values)
    assert (estimate.low, estimate.high) == pytest.approx((expected.low, expected.high), abs=1e-12)
    assert estimate.n == 5


def test_more_calls_needed_scales_with_the_square_of_the_width():
    wide = Estimate(0.7, 0.5, 0.9, 100)  # ±0.2
    assert more_calls_needed(wide, 0.1) == 300  # four times the calls for half the width
    assert more_calls_needed(Estimate(0.7, 0.65, 0.75, 100), 0.1) == 0
    assert more_calls_needed(Estimate(float("nan"), float("nan"), float("nan"), 0), 0.1) == -1
