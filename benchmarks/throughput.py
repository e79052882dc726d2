"""Whole pipeline vs bare faster-whisper, side by side in one process, on the same audio.

Both use the same loaded model and the same settings (batched inference, beam size, language,
word timestamps); the bare run uses faster-whisper's own decoding and VAD filter on each file.
Rounds alternate between the two so machine noise hits both alike; medians are reported.

    .venv/bin/python benchmarks/throughput.py [--model whisper-base] [--rounds 3] [FILES...]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from pipeline.audio import discover, load_audio
from pipeline.batch import run_batch
from pipeline.call import CallProcessor
from pipeline.config import load_settings
from pipeline.models import Models

PROJECT = Path(__file__).resolve().parent.parent


def bare_faster_whisper(models: Models, files: list[Path]) -> float:
    model, batched = models.bare_whisper()
    asr = models.asr
    started = time.perf_counter()
    for path in files:
        common = dict(language=asr.language, beam_size=asr.beam_size, word_timestamps=True, condition_on_previous_text=False)
        if batched is not None:
            segments, _ = batched.transcribe(str(path), batch_size=asr.batch_size, vad_filter=True, **common)
        else:
            segments, _ = model.transcribe(str(path), vad_filter=True, **common)
        for _ in segments:
            pass
    return time.perf_counter() - started


def whole_pipeline(processor: CallProcessor, files: list[Path]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        summary = run_batch([str(f) for f in files], Path(tmp) / "bench.duckdb", processor.settings, processor=processor)
        elapsed = time.perf_counter() - started
    if summary.failed:
        sys.exit(f"pipeline failed on: {summary.failures}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", default=[str(PROJECT / "audio_samples")])
    parser.add_argument("--model", default=None, help="ASR model (default: the settings' default)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=None)
    args = parser.parse_args()

    asr = {k: v for k, v in dict(model=args.model, batch_size=args.batch_size).items() if v is not None}
    settings = load_settings(asr=asr or None)
    files = discover(args.files)
    audio_s = sum(load_audio(f).duration_s for f in files)
    models = Models(settings.models_dir, settings.asr, settings.diarization)
    processor = CallProcessor(settings, models)
    # warm-up: loads the model once, fills caches, so neither side pays for it in its timing
    bare_faster_whisper(models, files[:1])
    whole_pipeline(processor, files[:1])

    bare_times, pipeline_times = [], []
    for _ in range(args.rounds):
        bare_times.append(bare_faster_whisper(models, files))
        pipeline_times.append(whole_pipeline(processor, files))
    bare, pipe = statistics.median(bare_times), statistics.median(pipeline_times)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    print(f"model {settings.asr.model}, {settings.asr.resolved_compute_type()}, batch {settings.asr.batch_size}, "
          f"beam {settings.asr.beam_size}; {len(files)} files, {audio_s:.1f} s of audio; {args.rounds} rounds")  # fmt: skip
    print(f"{'run':<26}{'median wall s':>14}{'RTF':>8}{'rounds (s)':>30}")
    print(f"{'bare faster-whisper':<26}{bare:>14.2f}{bare / audio_s:>8.3f}{'  '.join(f'{t:.2f}' for t in bare_times):>30}")
    print(f"{'whole pipeline (callqa)':<26}{pipe:>14.2f}{pipe / audio_s:>8.3f}{'  '.join(f'{t:.2f}' for t in pipeline_times):>30}")
    print(f"ratio pipeline / bare: {pipe / bare:.3f}  (target <= 1.1)")
    print(f"peak resident memory of this process (both runs): {peak_gb:.2f} GB  (target <= 2 GB)")


if __name__ == "__main__":
    main()
