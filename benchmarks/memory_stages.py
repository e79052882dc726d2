"""Where a call's memory goes: resident memory over each stage of ``CallProcessor``, calls processed
one after another in this process and this thread (no lanes, no other call in flight).

RSS is sampled every 50 ms; for each stage it prints the RSS when the stage ended and the peak
while it ran. Give calls of growing length (e.g. made by ``benchmarks/long_calls.py``'s
``build_long_call``) to see which stage, if any, grows with the call.

    .venv/bin/python benchmarks/memory_stages.py [--model whisper-base] CALL...
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's pipeline

from pipeline import call as call_module  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.digest import file_sha256  # noqa: E402
from pipeline.models import Models  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("calls", nargs="+", type=Path)
    parser.add_argument("--model", default=None, help="ASR model (default: the settings' default)")
    args = parser.parse_args()

    settings = load_settings(asr={"model": args.model} if args.model else None)
    processor = call_module.CallProcessor(settings, Models(settings.models_dir, settings.asr, settings.diarization))
    process = psutil.Process()
    samples: list[tuple[float, float]] = []  # (time, MB)
    marks: list[tuple[float, str, float]] = []  # (time, stage ended, MB)
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.perf_counter(), process.memory_info().rss / 2**20))
            stop.wait(0.05)

    lap = call_module.StageClock.lap

    def marked_lap(clock, stage: str) -> None:
        marks.append((time.perf_counter(), stage, process.memory_info().rss / 2**20))
        lap(clock, stage)

    call_module.StageClock.lap = marked_lap  # this process only: a measuring tool
    threading.Thread(target=sample, daemon=True).start()
    for path in args.calls:
        started = time.perf_counter()
        result = processor(path, file_sha256(path))
        ended = time.perf_counter()
        print(f"{path.name}: {result.duration_s:.0f} s of audio, {len(result.words)} words")
        previous = started
        for at, stage, rss in (m for m in marks if started <= m[0] <= ended and m[1] != "waiting"):
            peak = max((mb for t, mb in samples if previous <= t <= at), default=rss)
            print(f"  {stage:<18} ends at {at - started:7.1f} s   RSS {rss:7.0f} MB   peak during {peak:7.0f} MB")
            previous = at
    stop.set()


if __name__ == "__main__":
    main()
