"""`callqa report production` over 1 000 000 calls: wall time of the command as a new process.

Builds (once, then reuses) a database of synthetic calls with bulk SQL: calls with agents, teams,
queues and start times over 90 days, their features, a score, the customer summary (about 8 %
unhappy), the per-call report summary, one or two call reasons, a review queue of about 40 % of
the calls and a human review of a tenth. Then runs `callqa report production` (printed table, and each export) as a new process,
`--rounds` times each, and prints the median beside two baselines measured in the same run: the
bare process start (python -m pipeline.cli --help) and a bare DuckDB group-by of the same calls
(one `count(*)` per week and team, in a fresh process).

    .venv/bin/python benchmarks/reports.py [--calls 1000000] [--rounds 5] [--rebuild]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# this checkout's pipeline/, whatever is installed
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.store.store import Store

PROJECT = Path(__file__).resolve().parent.parent
TARGET_S = 2.0
REASONS = [
    "billing_dispute",
    "technical_fault",
    "card_replacement",
    "cancellation_intent",
    "payment",
    "long_hold",
]


def build_database(db: Path, calls: int) -> None:
    """Bulk-insert ``calls`` synthetic calls (seconds per million on 2 cores)."""
    db.unlink(missing_ok=True)
    with Store(db) as store:
        con = store.con
        call_id = "substr(md5(i::VARCHAR), 1, 16)"
        con.execute(
            f"""INSERT INTO calls (call_id, source_path, sha256, duration_s, sample_rate, channels, status, asr_model,
                                   diarizer, num_speakers, processed_at, agent_id, team, queue_name, started_at)
                SELECT {call_id}, '/recordings/' || i || '.wav', md5(i::VARCHAR), 60 + (i * 7919) % 840, 8000, 2,
                       'done', 'whisper-base', 'channel-map', 2, TIMESTAMP '2026-06-01' + INTERVAL (i * 7) SECOND,
                       'a' || (100 + i % 400), 'team' || lpad(((i % 400) // 40)::VARCHAR, 2, '0'), 'queue' || (i % 8),
                       TIMESTAMP '2026-06-01' + INTERVAL ((i * 7776000) // ?) SECOND
                  FROM range(?) t(i)""",
            [calls, calls],
        )
        con.execute(
            f"""INSERT INTO features (call_id, handle_time_s, agent_talk_s, customer_talk_s, agent_talk_ratio,
                                      silence_total_s, longest_silence_s, dead_air_events, hold_events, hold_total_s,
                                      talkover_events, talkover_total_s, agent_interruptions, customer_interruptions,
                                      agent_wpm, customer_wpm, longest_agent_monologue_s, mean_response_latency_s)
                SELECT {call_id}, 60 + (i * 7919) % 840, 100, 80, 0.55, 20, 6, i % 3, (i % 4 = 0)::INT, (i % 4 = 0)::INT * (i % 180),
                       i % 5, 2.0, i % 3, i % 2, 150, 140, 30, 0.8
                  FROM range(?) t(i)""",
            [calls],
        )
        con.execute(
            f"""INSERT INTO call_scores (call_id, rubric_id, rubric_version, score, passed, auto_fail, confidence, scored_at)
                SELECT {call_id}, 'contact-center-default', 1, (i * 37) % 101, (i * 37) % 101 >= 80, i % 11 = 0, 0.9,
                       TIMESTAMP '2026-09-01' FROM range(?) t(i)""",
            [calls],
        )
        con.execute(
            f"""INSERT INTO call_summary (call_id, hold_total_s, dead_air_s, auto_score, rubric_id, rubric_version,
                                          queued, unhappy)
                SELECT {call_id}, (i % 4 = 0)::INT * (i % 180), (i % 3) * 6.0, (i * 37) % 101, 'contact-center-default',
                       1, (i * 37) % 101 < 80 AND i % 2 = 0, i % 13 = 0 OR i % 50 = 0
                  FROM range(?) t(i)""",
            [calls],
        )
        con.execute(
            f"""INSERT INTO call_customer (call_id, customer_turns, frustrated_turns, escalations, mean_sentiment,
                                           start_sentiment, end_sentiment, unagreed_wait_s, escalated, unhappy)
                SELECT {call_id}, 8, (i % 13 = 0)::INT * 2, (i % 50 = 0)::INT, 0.1, 0.1, 0.0, 0, i % 50 = 0,
                       i % 13 = 0 OR i % 50 = 0 FROM range(?) t(i)""",
            [calls],
        )
        con.execute(
            f"""INSERT INTO call_categories (call_id, set_id, set_version, category_id, name, evidence_text)
                SELECT {call_id}, 'contact-center-reasons', 1, (?::VARCHAR[])[1 + (i + k) % 6], 'reason', ''
                  FROM range(?) t(i), range(2) u(k) WHERE k = 0 OR i % 3 = 0""",
            [REASONS, calls],
        )
        con.execute(
            f"""INSERT INTO review_queue (call_id, priority, reasons, rubric_id, rubric_version, status, created_at)
                SELECT {call_id}, 2, 'score below pass mark', 'contact-center-default', 1,
                       CASE WHEN i % 10 = 0 THEN 'done' ELSE 'pending' END, TIMESTAMP '2026-09-01'
                  FROM range(?) t(i) WHERE (i * 37) % 101 < 80 AND i % 2 = 0""",
            [calls],
        )
        con.execute(
            f"""INSERT INTO reviews (review_id, call_id, reviewer, rubric_id, rubric_version, human_score, source,
                                     started_at, submitted_at)
                SELECT md5('review' || i), {call_id}, 'lead', 'contact-center-default', 1, 50 + (i * 13) % 51, 'app',
                       TIMESTAMP '2026-09-02', TIMESTAMP '2026-09-02' FROM range(?) t(i) WHERE i % 10 = 0""",
            [calls],
        )
        con.execute("CHECKPOINT")


def timed(command: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system, every thread) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False)
    wall_s = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return wall_s, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--db", type=Path, default=Path(tempfile.gettempdir()) / "callqa_reports_bench.duckdb"
    )
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    db = args.db.with_name(f"{args.db.stem}_{args.calls}{args.db.suffix}")
    if args.rebuild or not db.exists():
        started = time.perf_counter()
        partial = db.with_suffix(".building")  # a build cut short is never reused
        build_database(partial, args.calls)
        partial.replace(db)
        print(f"built {db} with {args.calls:,} calls in {time.perf_counter() - started:.1f} s")
    cli = [sys.executable, "-m", "pipeline.cli"]
    out = Path(tempfile.mkdtemp())
    bare_query = (
        f"import duckdb; con = duckdb.connect({str(db)!r}, read_only=True); con.execute(\"SELECT date_trunc('week', "
        'started_at), team, count(*) FROM calls GROUP BY ALL").fetchall()'
    )
    runs = {
        "baseline: python -m pipeline.cli --help": [*cli, "--help"],
        "baseline: bare DuckDB count per week and team": [sys.executable, "-c", bare_query],
        "report production --by week --group team": [*cli, "report", "production", "--by", "week", "--group", "team", "--db", str(db)],
        "report production --by day --group agent": [*cli, "report", "production", "--by", "day", "--group", "agent", "--db", str(db)],
        "report production --by week --group queue": [*cli, "report", "production", "--by", "week", "--group", "queue", "--db", str(db)],
        "report production --by week --group reason": [*cli, "report", "production", "--by", "week", "--group", "reason", "--db", str(db)],
        "... --by day --group team --out x.csv": [*cli, "report", "production", "--by", "day", "--group", "team", "--db", str(db), "--out", str(out / "x.csv")],
        "... --by day --group team --out x.parquet": [*cli, "report", "production", "--by", "day", "--group", "team", "--db", str(db), "--out", str(out / "x.parquet")],
        "... --by week --group team --out x.html": [*cli, "report", "production", "--by", "week", "--group", "team", "--db", str(db), "--out", str(out / "x.html")],
    }  # fmt: skip
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in runs}
    for _ in range(
        args.rounds
    ):  # interleaved, so a busy moment on the shared machine hits every command alike
        for name, command in runs.items():
            results[name].append(timed(command))
    floor = statistics.median(
        w for w, _ in results["baseline: bare DuckDB count per week and team"]
    )
    load = os.getloadavg()[0]
    print(
        f"\n{args.calls:,} calls, {args.rounds} rounds each, a new process per run; {os.cpu_count()} cores,"
        f" load average {load:.1f} at the end"
    )
    print(
        f"{'command':<50} {'wall median':>11} {'min':>6} {'max':>6} {'CPU median':>10} {'x bare':>7}  target"
    )
    for name, runs_of in results.items():
        walls = [w for w, _ in runs_of]
        median = statistics.median(walls)
        cpu = statistics.median(c for _, c in runs_of)
        target = (
            ""
            if name.startswith("baseline")
            else ("< 2 s: yes" if median < TARGET_S else "< 2 s: NO")
        )
        print(
            f"{name:<50} {median:11.2f} {min(walls):6.2f} {max(walls):6.2f} {cpu:10.2f} {median / floor:7.2f}  {target}"
        )


if __name__ == "__main__":
    main()
