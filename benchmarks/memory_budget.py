"""The figures the memory budget plans with (``pipeline/memory.py``), measured in this process.

What a worker holds whatever the call: the interpreter and libraries with Silero and spaCy loaded,
each bundled Whisper model's weights, the speaker encoder for mono calls; and what the ASR adds
while one batch of chunks is in flight, per chunk, at the configured beam size. Peak memory is
read from /proc (VmHWM, reset before each measurement). What a call adds per hour of audio comes
from ``benchmarks/long_calls.py`` (peak against call length).

    .venv/bin/python benchmarks/memory_budget.py [--call ../shared/eval/aws-live-call-analytics/...flac]
"""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # this checkout's pipeline, not another installed copy
DEFAULT_CALL = (
    PROJECT.parent
    / "shared"
    / "eval"
    / "aws-live-call-analytics"
    / "Auto_Repairs_40_UTC.agentL_callerR.flac"
)
BATCH_SIZES = (1, 4, 8)


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def resident_mb() -> float:
    gc.collect()
    return _status_mb("VmRSS")


def reset_peak() -> None:
    Path("/proc/self/clear_refs").write_text("5")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--call",
        type=Path,
        default=DEFAULT_CALL,
        help="a real call with 8 chunks of speech or more",
    )
    parser.add_argument("--models", nargs="+", default=["whisper-base", "whisper-tiny.en"])
    args = parser.parse_args()

    started_mb = resident_mb()
    from pipeline.audio import decode_to_spool
    from pipeline.call import CallProcessor  # noqa: F401  (what a worker imports)
    from pipeline.config import load_settings
    from pipeline.models import Models
    from pipeline.transcribe import pack_regions, transcribe_regions
    from pipeline.vad import detect_speech

    settings = load_settings()
    models = Models(settings.models_dir, settings.asr, settings.diarization)
    models.silero_vad()
    models.nlp()
    process_mb = resident_mb()
    print(
        f"process (interpreter, libraries, Silero, spaCy): {process_mb:.0f} MB (interpreter alone {started_mb:.0f} MB)"
    )

    before = resident_mb()
    models.speaker_encoder()
    print(f"speaker encoder (Resemblyzer, torch): {resident_mb() - before:.0f} MB")

    with decode_to_spool(args.call) as audio:
        activity = detect_speech(
            audio,
            audio.sample_rate,
            settings.vad,
            settings.bleed,
            models.silero_vad(),
            audio.source_sample_rate,
        )
        for model in args.models:
            asr = settings.asr.model_copy(update={"model": model})
            model_settings = load_settings(asr=asr.model_dump())
            loaded = Models(model_settings.models_dir, model_settings.asr)
            before = resident_mb()
            whisper = loaded.whisper()
            weights_mb = resident_mb() - before
            streams = list(enumerate(activity.speech))
            chunks = len(pack_regions(audio, audio.sample_rate, streams).chunks)
            per_chunk = []
            for batch_size in BATCH_SIZES:
                if batch_size > chunks:
                    break
                batched = model_settings.asr.model_copy(update={"batch_size": batch_size})
                base = resident_mb()
                reset_peak()  # batches run one after another: the peak is one batch in flight
                transcribe_regions(whisper, audio, audio.sample_rate, activity.speech, batched)
                in_flight = _status_mb("VmHWM") - base
                per_chunk.append((batch_size, in_flight))
            figures = ", ".join(
                f"batch {b}: {mb:.0f} MB ({mb / b:.0f} MB a chunk)" for b, mb in per_chunk
            )
            print(
                f"{model} (beam {asr.beam_size}, {asr.resolved_compute_type()}): weights {weights_mb:.0f} MB; one batch in flight: {figures}"
            )
            del whisper, loaded
            gc.collect()


if __name__ == "__main__":
    main()
