"""What features + scoring add to a call, and how fast `callqa queue` answers on 100 000 calls.

(1) Runs the whole CallProcessor on the demo calls and prints, per call and in total, the share
    of wall time spent in feature extraction + rubric scoring + the queue decision (target <= 5 %).
(2) Builds a database of 100 000 synthetic scored calls (bulk SQL, the review-app benchmark's
    builder) and times `callqa queue` as a user runs it (a new process each time) and the query
    alone (target < 0.5 s).

    .venv/bin/python benchmarks/scoring.py [--model whisper-base] [--calls 100000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from review_app import build_database  # noqa: E402

from pipeline.audio import discover, file_sha256  # noqa: E402
from pipeline.call import CallProcessor  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.store.store import Store  # noqa: E402

PROJECT = Path(__file__).resolve().parent.parent


def scoring_share(model: str | None) -> None:
    settings = load_settings(asr={"model": model} if model else None)
    processor = CallProcessor(settings)
    files = discover([str(PROJECT / "audio_samples")])
    processor(files[0], file_sha256(files[0]))  # warm-up: models and spaCy loaded once
    shares, total_scoring, total_wall = [], 0.0, 0.0
    print(f"{'call':<30}{'wall s':>8}{'features+scoring s':>20}{'share':>8}")
    for path in files:
        record = processor(path, file_sha256(path))
        scoring_s = record.stage_s.get("features_scoring", 0.0)
        shares.append(scoring_s / record.processing_s)
        total_scoring += scoring_s
        total_wall += record.processing_s
        print(f"{path.name:<30}{record.processing_s:>8.2f}{scoring_s:>20.3f}{shares[-1]:>8.2%}")
    print(f"features + scoring: {total_scoring:.2f} s of {total_wall:.1f} s pipeline wall time = "
          f"{total_scoring / total_wall:.2%} (median per call {statistics.median(shares):.2%}; target <= 5 %)")  # fmt: skip


def queue_speed(calls: int, rounds: int = 5) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "queue.duckdb"
        started = time.perf_counter()
        build_database(db, calls, Path(tmp) / "tone.flac")
        print(f"built {calls} synthetic calls in {time.perf_counter() - started:.1f} s")
        query_times, cli_times = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            with Store(db, read_only=True) as store:
                rows = store.queue_rows("pending", 50)
            query_times.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            result = subprocess.run(
                [sys.executable, "-m", "pipeline.cli", "queue", "--db", str(db)], capture_output=True, text=True
            )
            cli_times.append(time.perf_counter() - t0)
            assert result.returncode == 0 and len(rows) == 50, result.stderr
        print(f"queue query (open db + first 50 pending rows): median {statistics.median(query_times) * 1000:.0f} ms")
        print(f"`callqa queue` as a new process: median {statistics.median(cli_times):.2f} s "
              f"(rounds {', '.join(f'{t:.2f}' for t in cli_times)}; target < 0.5 s)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--skip-pipeline", action="store_true")
    args = parser.parse_args()
    if not args.skip_pipeline:
        scoring_share(args.model)
    queue_speed(args.calls)


if __name__ == "__main__":
    main()
