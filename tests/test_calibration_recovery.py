"""calibration/report.py on synthetic grades with known truth: the reported κ, bias and ICC recover
the true values within their 95 % intervals, reviewers' biases are found, and gating switches on
and off where it should."""

from __future__ import annotations

import numpy as np
import pytest

from tests import synthetic_calibration as syn
from pipeline.calibration.report import ReportOptions, TrustPolicy, calibrate
from pipeline.store.store import Store

C, R = syn.SyntheticCriterion, syn.SyntheticReviewer
SPEC = syn.SyntheticSpec(
    criteria=(
        C("greeting", 20, fail_rate=0.2, auto_error=0.06),
        C("disclosure", 15, auto_fail=True, fail_rate=0.1, auto_error=0.04),
        C("resolution", 25, fail_rate=0.3, auto_error=0.15),
        C("closing", 20, fail_rate=0.25, auto_error=0.08),
        C("hold", 10, fail_rate=0.2, auto_error=0.3),
        C("forbidden", 10, auto_fail=True, fail_rate=0.05, auto_error=0.02),
    ),
    reviewers=(
        R("ana", 0.03, 0.0, 3.0),
        R("ben", 0.04, -5.0, 3.0),
        R("chloe", 0.03, 4.0, 3.0),
        R("dev", 0.05, 0.0, 3.0),
    ),
    n_calls=2000,  # 500 graded by a first reviewer, ~150 of them twice
    graded_share=0.25,
    second_share=0.3,
)
RUNS = 100  # seeds 0-99; 0.15 s each


def run_report(spec, seed, options=None, write_trust=False):
    with Store(":memory:") as store:
        syn.write_synthetic(store.calibration, syn.simulate(spec, seed))
        report = calibrate(
            store.calibration,
            options=options or ReportOptions(n_resamples=600, seed=seed),
            write_trust=write_trust,
        )
        trust = store.calibration.trust_decisions(spec.rubric_id, spec.rubric_version)
    return report, trust


@pytest.fixture(scope="module")
def reports():
    return [run_report(SPEC, seed)[0] for seed in range(RUNS)]


def covered(estimate, truth):
    return estimate.low <= truth <= estimate.high


@pytest.mark.slow
def test_kappa_bias_and_icc_are_recovered_within_their_intervals(reports):
    """The truth lies inside the reported 95 % interval as often as it should.

    100 seeded runs x 8 figures (κ of each of 6 criteria, the score bias, ICC(A,1)). Asserted:
    every figure covered in >= 88 of 100 runs and >= 93 % of all 800 checks. For exactly
    calibrated 95 % intervals that fails with probability ~1.7 % (binomial), while intervals
    that truly cover 90 % fail it surely and 85 % ones three times in four.

    Not asserted: "every figure in >= 19 of 20 runs". A calibrated 95 % interval meets that with
    probability 0.95^20 + 20 * 0.95^19 * 0.05 = 74 % per figure, 9 % for all 8 at once; only
    intervals that really cover ~99 % pass it reliably. ``benchmarks/calibration.py --coverage``
    prints the coverage per figure over 2 000 other seeds and how often 20-run blocks meet it.
    """
    truth = {c.id: syn.expected_kappa(SPEC, c.id) for c in SPEC.criteria}
    score_truth = syn.expected_score_figures(SPEC)
    hits = {
        name: [covered(r.criterion(name).agreement.kappa, value) for r in reports]
        for name, value in truth.items()
    }
    hits["bias"] = [covered(r.score.bias, score_truth["bias"]) for r in reports]
    hits["icc"] = [covered(r.score.icc, score_truth["icc"]) for r in reports]
    counts = {name: sum(values) for name, values in hits.items()}
    assert min(counts.values()) >= 88, counts
    assert sum(counts.values()) >= 0.93 * RUNS * len(counts), counts
    # unbiased, and not recovered by being uselessly wide
    assert np.mean([r.score.icc.value for r in reports]) == pytest.approx(
        score_truth["icc"], abs=0.02
    )
    assert np.mean([r.score.bias.value for r in reports]) == pytest.approx(
        score_truth["bias"], abs=0.4
    )
    assert np.mean(
        [r.criterion("greeting").agreement.kappa.value for r in reports]
    ) == pytest.approx(truth["greeting"], abs=0.02)
    assert np.median([r.criterion("greeting").agreement.kappa.half_width for r in reports]) < 0.1
    assert np.median([r.score.icc.half_width for r in reports]) < 0.08
    assert np.median([r.score.bias.half_width for r in reports]) < 1.5


def test_every_figure_carries_its_n(reports):
    report = reports[0]
    assert report.calls_scored == 2000 and report.calls_graded == 500
    for c in report.criteria:
        assert c.n == 500 == c.agreement.kappa.n == c.agreement.ac1.n
        assert c.ceiling is not None and c.ceiling.n == report.calls_graded_twice
    assert report.score.n == 500 == report.score.icc.n == report.score.bias.n


def test_reviewer_biases_and_the_human_ceiling_are_recovered():
    spec = syn.SyntheticSpec(
        criteria=SPEC.criteria,
        reviewers=SPEC.reviewers,
        n_calls=4000,
        graded_share=0.3,
        second_share=0.5,
    )
    report, _ = run_report(spec, seed=99)
    by_name = {r.reviewer: r for r in report.reviewers}
    assert by_name["ben"].tendency == "hard" and by_name["chloe"].tendency == "soft"
    assert by_name["ana"].tendency == "in line"
    for name, reviewer in by_name.items():
        assert covered(reviewer.bias_vs_others, syn.expected_reviewer_bias(spec, name)), (
            name,
            reviewer,
        )
    ceiling = report.criterion("resolution").ceiling
    assert covered(ceiling.kappa, syn.expected_ceiling_kappa(spec, "resolution"))
    pairs = report.reviewer_pairs.set_index(["reviewer", "other"])
    assert pairs.loc[("ben", "chloe"), "bias"] < -5  # ben grades ~9 points below chloe


def test_gating_switches_on_for_noisy_criteria_and_off_for_clean_ones():
    criteria = (
        C("clean", 40, fail_rate=0.3, auto_error=0.01),
        C("noisy", 30, auto_fail=True, fail_rate=0.3, auto_error=0.3),  # κ ≈ 0.3 against humans
        C("rare", 30, fail_rate=0.0, auto_error=0.0),  # never fails: cannot be known
    )
    reviewers = (R("ana", 0.03, errors={"rare": 0.0}), R("ben", 0.04, errors={"rare": 0.0}))
    spec = syn.SyntheticSpec(criteria=criteria, reviewers=reviewers, n_calls=800, graded_share=0.5)
    assert syn.expected_kappa(spec, "noisy") == pytest.approx(0.3, abs=0.05)
    report, trust = run_report(spec, seed=1, write_trust=True)
    assert report.untrusted == ["noisy", "rare"]
    assert (
        trust["clean"]["trusted"]
        and trust["clean"]["kappa_low"] >= 0.6
        and trust["clean"]["n_calls"] == 400
    )
    assert not trust["noisy"]["trusted"] and "lower bound" in trust["noisy"]["reason"]
    assert trust["noisy"]["kappa_high"] < 0.6
    assert "κ undefined" in trust["rare"]["reason"]
    # the same criteria on too few graded calls: not known, so not trusted
    few = syn.SyntheticSpec(criteria=criteria, reviewers=reviewers, n_calls=80, graded_share=0.5)
    report, trust = run_report(
        few,
        seed=1,
        options=ReportOptions(n_resamples=300, trust=TrustPolicy(min_calls=50)),
        write_trust=True,
    )
    assert (
        not trust["clean"]["trusted"]
        and trust["clean"]["reason"] == "only 40 graded calls (need 50)"
    )
    assert any("clean: only 40 graded calls" in w and "grade 10 more" in w for w in report.warnings)


def test_a_criterion_humans_rarely_fail_is_not_trusted_until_enough_failures_are_graded():
    """κ on a handful of human-failed calls says little: a near-perfect criterion that failed on
    ~4 of 200 graded calls is not trusted, and the report says to grade failing calls; the same
    criterion with a few dozen failures is."""
    criteria = (
        C("clean", 50, fail_rate=0.3, auto_error=0.01),
        C("rarely_fails", 50, fail_rate=0.02, auto_error=0.002),
    )
    reviewers = (R("ana", 0.002), R("ben", 0.002))
    few = syn.SyntheticSpec(criteria=criteria, reviewers=reviewers, n_calls=400, graded_share=0.5)
    assert syn.expected_kappa(few, "rarely_fails") > 0.85  # a good criterion, rarely failed
    report, trust = run_report(few, seed=6, write_trust=True)
    failed = report.criterion("rarely_fails").agreement.table[1, :].sum()
    assert 0 < failed < 10
    assert report.untrusted == ["rarely_fails"]
    assert trust["rarely_fails"]["reason"] == (
        f"only {failed} graded calls a human failed (need 10)"
    )
    assert any(
        w.startswith(f"rarely_fails: only {failed} of 200 graded calls failed by a human")
        for w in report.warnings
    )
    many = syn.SyntheticSpec(criteria=criteria, reviewers=reviewers, n_calls=6000, graded_share=0.5)
    report, trust = run_report(many, seed=6, write_trust=True)
    assert report.untrusted == [] and trust["rarely_fails"]["trusted"]
    # the bar is the QA lead's to set
    report, _ = run_report(
        few, seed=6, options=ReportOptions(n_resamples=300, trust=TrustPolicy(min_failed=0))
    )
    assert "human failed" not in report.criterion("rarely_fails").trust.reason


def test_trust_of_an_uncalibrated_version_carries_over_from_the_last_calibrated_one():
    with Store(":memory:") as store:
        syn.write_synthetic(
            store.calibration, syn.simulate(syn.SyntheticSpec(n_calls=400, graded_share=0.5), seed=2)
        )
        report = calibrate(store.calibration, options=ReportOptions(n_resamples=200))
        assert store.calibration.untrusted_criteria("synthetic", 1) == frozenset(report.untrusted)
        carried = store.calibration.trust_decisions("synthetic", 2)
        assert {row["decided_for"] for row in carried.values()} == {1}
        assert store.calibration.untrusted_criteria("synthetic", 2) == frozenset(report.untrusted)
        assert store.calibration.untrusted_criteria("other-rubric", 1) == frozenset()


def test_sample_size_warnings_say_how_many_more_calls_would_narrow_the_interval():
    spec = syn.SyntheticSpec(
        criteria=SPEC.criteria, reviewers=SPEC.reviewers, n_calls=400, graded_share=0.3
    )
    report, _ = run_report(spec, seed=3)
    kappa_warnings = [w for w in report.warnings if w.startswith("hold: κ ±")]
    assert kappa_warnings and "more graded calls would narrow it to ±0.1" in kappa_warnings[0]
    more = int(kappa_warnings[0].split("about ")[1].split(" ")[0])
    hold = report.criterion("hold").agreement.kappa
    assert more == pytest.approx(hold.n * (hold.half_width / 0.1) ** 2 - hold.n, abs=1)


def test_since_keeps_only_grades_submitted_from_that_date():
    with Store(":memory:") as store:
        data = syn.simulate(syn.SyntheticSpec(n_calls=400, graded_share=0.5), seed=4)
        syn.write_synthetic(store.calibration, data)
        reviews = data.frames["reviews"]
        cut = reviews.submitted_at.sort_values().iloc[len(reviews) // 2].to_pydatetime()
        report = calibrate(
            store.calibration, since=cut, options=ReportOptions(n_resamples=100), write_trust=False
        )
    later = reviews[reviews.submitted_at >= cut]
    assert report.calls_graded == later.call_id.nunique() < reviews.call_id.nunique()
    assert report.since == cut
