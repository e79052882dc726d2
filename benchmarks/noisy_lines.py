"""Every shared dual-channel real call with a reference, the customer's line degraded (car and
street noise at 20/10/5 dB SNR, clipping, a level jump, noise alone), always with the agent
leaking in at -25 dB: how much of the customer's speech the pipeline keeps, and whether anything
comes out of the noise or the leak. Side by side with bare Silero per channel (faster-whisper's
VAD with its defaults) on the same degraded audio.

Customer speech kept = 1 - missed / reference (0.25 s collar each side), pooled over the calls;
phantom = customer turns (or Silero regions) mostly outside the customer's reference speech;
for "noise only" the customer never speaks, so every customer second is a phantom.

    .venv/bin/python benchmarks/noisy_lines.py [--model whisper-base] [--conditions "car 5;street 5"]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # this checkout's pipeline, not another installed copy

from pipeline.audio import file_sha256, load_audio
from pipeline.batch import CallProcessor
from pipeline.config import load_settings
from pipeline.evaluation import Reference, ReferenceSegment, evaluate_call, load_references
from pipeline.types import Turn
from tests.line_conditions import CONDITIONS, degrade

EVAL = PROJECT.parent / "shared" / "eval"


def shared_calls() -> list[tuple[str, Path, Reference]]:
    """(name, stereo file, reference with agent/customer turns) for each dual-channel real call."""
    calls = []
    bank = EVAL / "harper-valley"
    if bank.is_dir():
        references = load_references(bank)
        for path in sorted(bank.glob("*.flac")):
            calls.append((path.name[:8], path, references[path.name.split(".")[0]]))
    aws = EVAL / "aws-live-call-analytics" / "Auto_Repairs_40_UTC.agentL_callerR.flac"
    if aws.is_file():
        roles = {"Agent": "agent", "Caller": "customer"}
        turns = load_references(aws.parent)["Auto_Repairs_40_UTC"].turns
        calls.append(
            (
                "aws",
                aws,
                Reference(
                    "aws", [ReferenceSegment(roles[t.speaker], t.start_s, t.end_s) for t in turns]
                ),
            )
        )
    return calls


def customer_only(reference: Reference) -> Reference:
    return Reference(reference.key, [t for t in reference.turns if t.speaker == "customer"])


def phantom_s(turns, spans) -> float:
    """Seconds of customer turns lying mostly outside the customer's reference speech (+0.5 s)."""
    said = [(s - 0.5, e + 0.5) for s, e in spans]
    total = 0.0
    for turn in turns:
        covered = sum(max(0.0, min(turn.end_s, e) - max(turn.start_s, s)) for s, e in said)
        if covered < 0.5 * turn.duration_s:
            total += turn.duration_s
    return total


def share_kept(totals: list[float]) -> str:
    """The share of reference speech kept, from (missed s, reference s, phantom s)."""
    missed, total, _ = totals
    return "-" if not total else f"{1 - missed / total:.1%}"


def bare_silero_customer(path: Path) -> list[Turn]:
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    audio = load_audio(path)
    rate = audio.sample_rate
    return [
        Turn("customer", span["start"] / rate, span["end"] / rate)
        for span in get_speech_timestamps(audio.samples[1], VadOptions(), sampling_rate=rate)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="whisper-base")
    parser.add_argument("--conditions", default=";".join(CONDITIONS), help="line conditions, separated by ;")
    args = parser.parse_args()
    processor = CallProcessor(
        load_settings(asr={"model": args.model}, redacted_audio={"enabled": False})
    )
    calls = shared_calls()
    print(
        f"model {args.model}; {len(calls)} calls; customer line degraded, agent leaking in at -25 dB"
    )
    print(f"{'condition':<20}{'kept callqa':>12}{'kept Silero':>12}{'phantom s callqa':>18}{'phantom s Silero':>18}"
          f"{'dead air over speech':>22}  worst call (callqa)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        for name in ["clean", *[c.strip() for c in args.conditions.split(";") if c.strip()]]:
            totals = {"callqa": [0.0, 0.0, 0.0], "silero": [0.0, 0.0, 0.0]}
            dead_air = 0
            worst = (1.0, "")
            for call, path, reference in calls:
                samples, rate = sf.read(path, dtype="float32")
                spans = [(t.start_s, t.end_s) for t in reference.turns if t.speaker == "customer"]
                degraded = degrade(name, samples[:, 0], samples[:, 1], rate, spans)
                target = Path(tmp) / f"{call}.flac"
                sf.write(target, np.stack([samples[:, 0], degraded], axis=1), rate)
                record = processor(target, file_sha256(target))
                silent = name.endswith("noise only")
                for system, turns in (
                    ("callqa", [t for t in record.turns if t.speaker == "customer"]),
                    ("silero", bare_silero_customer(target)),
                ):
                    if silent:
                        totals[system][2] += sum(t.duration_s for t in turns)
                        continue
                    scored = evaluate_call(customer_only(reference), turns, [], record.duration_s)
                    totals[system][0] += scored.missed_s
                    totals[system][1] += scored.reference_speech_s
                    totals[system][2] += phantom_s(turns, spans)
                    if system == "callqa":
                        kept = 1 - scored.missed_s / scored.reference_speech_s
                        worst = min(worst, (kept, f"{call} {kept:.0%}"))
                if not silent:
                    full = evaluate_call(
                        reference,
                        record.turns,
                        record.words,
                        record.duration_s,
                        events=record.judgement.events,
                    )
                    dead_air += full.dead_air_over_speech

            print(
                f"{name:<20}{share_kept(totals['callqa']):>12}{share_kept(totals['silero']):>12}"
                f"{totals['callqa'][2]:>18.1f}"
                f"{totals['silero'][2]:>18.1f}{dead_air:>22}  {worst[1]}"
            )  # fmt: skip


if __name__ == "__main__":
    main()
