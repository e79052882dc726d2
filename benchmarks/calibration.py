"""`callqa calibrate` on a large database: 100 000 scored calls, 10 000 of them human-graded.

Builds the database with bulk inserts (synthetic calls, auto scores and reviewers with known
accuracy and bias: pipeline/calibration/synthetic.py), then times, warm (libraries imported):
reading the grades (SQL), computing the report (1 000 bootstrap resamples per interval), and the
whole `calibrate` including storing the trust decisions — the median of --rounds runs, its ratio
to the 2 s target, and the peak memory of one run. Then the cold command itself (a new process:
Python start-up and imports included), for comparison.

    .venv/bin/python benchmarks/calibration.py [--calls 100000] [--graded 10000] [--rounds 5]
    .venv/bin/python benchmarks/calibration.py --coverage 400   # interval coverage on known truth

``--coverage N`` instead runs N seeded synthetic studies (2 000 calls, 500 graded) and prints how
often each 95 % interval held the true value (κ per criterion, the score bias, ICC(A,1)).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from pipeline.calibration import synthetic
from pipeline.calibration.report import (
    ReportOptions,
    build_report,
    calibrate,
    load_calibration_data,
)
from pipeline.store.store import Store

TARGET_S = 2.0


def build(path: Path, calls: int, graded: int) -> float:
    spec = synthetic.SyntheticSpec(
        n_calls=calls, graded_share=graded / calls, second_share=0.2, days=30
    )
    started = time.perf_counter()
    data = synthetic.simulate(spec, seed=2026)
    with Store(path) as store:
        synthetic.write_synthetic(store.con, data)
    return time.perf_counter() - started


def timed(function, rounds: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def benchmark(calls: int, graded: int, rounds: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "calls.duckdb"
        build_s = build(path, calls, graded)
        with Store(path) as store:
            rows = store.con.execute(
                "SELECT (SELECT count(*) FROM calls), (SELECT count(*) FROM criterion_scores),"
                " (SELECT count(*) FROM reviews), (SELECT count(*) FROM human_grades)"
            ).fetchone()
            print(
                f"database: {rows[0]:,} calls, {rows[1]:,} criterion scores, {rows[2]:,} reviews, "
                f"{rows[3]:,} human grades; built with bulk inserts in {build_s:.1f} s"
            )
            options = ReportOptions()
            calibrate(store.con, options=options)  # warm-up: imports, DuckDB caches
            load_s, data = timed(lambda: load_calibration_data(store.con), rounds)
            report_s, report = timed(lambda: build_report(data, options), rounds)
            whole_s, _ = timed(lambda: calibrate(store.con, options=options), rounds)
            tracemalloc.start()
            calibrate(store.con, options=options)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        started = time.perf_counter()
        command = [str(Path(sys.executable).with_name("callqa")), "calibrate", "--db", str(path)]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        cold_s = time.perf_counter() - started
        if done.returncode != 0:
            print(done.stderr[-2000:])
    print(f"\n{'what ran':58} {'median s':>9} {'÷ 2 s target':>13}")
    for name, seconds in (
        ("read grades and scores (SQL)", load_s),
        ("compute the report (κ/AC1/ICC/α, 1 000 resamples)", report_s),
        ("calibrate: read + report + store trust decisions", whole_s),
        ("`callqa calibrate` cold, new process (imports incl.)", cold_s),
    ):
        print(f"{name:58} {seconds:9.2f} {seconds / TARGET_S:13.2f}")
    print(f"\npeak Python memory of one calibrate: {peak / 2**20:.0f} MiB (tracemalloc)")
    print(
        f"{report.calls_graded:,} graded calls, {len(report.criteria)} criteria, untrusted: {report.untrusted}"
    )


def coverage(runs: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.test_calibration_recovery import SPEC

    truth = {c.id: synthetic.expected_kappa(SPEC, c.id) for c in SPEC.criteria}
    figures = synthetic.expected_score_figures(SPEC)
    hits: dict[str, int] = dict.fromkeys([*truth, "bias", "icc"], 0)
    started = time.perf_counter()
    for seed in range(runs):
        with Store(":memory:") as store:
            synthetic.write_synthetic(store.con, synthetic.simulate(SPEC, seed))
            report = calibrate(
                store.con, options=ReportOptions(n_resamples=600, seed=seed), write_trust=False
            )
        for c in report.criteria:
            kappa = c.agreement.kappa
            hits[c.criterion_id] += kappa.low <= truth[c.criterion_id] <= kappa.high
        hits["bias"] += report.score.bias.low <= figures["bias"] <= report.score.bias.high
        hits["icc"] += report.score.icc.low <= figures["icc"] <= report.score.icc.high
    print(
        f"{'figure':12} {'true value':>10} {'coverage':>9}   ({runs} runs, {time.perf_counter() - started:.0f} s)"
    )
    for name, count in hits.items():
        value = truth.get(name, figures.get(name))
        print(f"{name:12} {value:10.3f} {count / runs:9.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--graded", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--coverage", type=int, default=0, help="seeded runs for the coverage check"
    )
    args = parser.parse_args()
    if args.coverage:
        coverage(args.coverage)
    else:
        benchmark(args.calls, args.graded, args.rounds)


if __name__ == "__main__":
    main()
