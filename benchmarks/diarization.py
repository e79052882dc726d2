"""Mono diarization quality and speed: DER / JER (pyannote.metrics), role accuracy, and the time the
diarizer adds next to transcription, on three sets:

  (a) the mono versions of audio_samples/ (reference: their truth files, roles included);
  (b) real recordings with reference RTTM under ../shared/eval (read in place, never copied);
  (c) the dual-channel samples mixed down to mono (reference: the same call's channel turns);
  (d) a fresh synthetic set (benchmarks/synthetic_calls.py: other voices, rates and phrasings,
      number bursts, same-gender pairs, turn changes with no pause), a development part and a
      held-out part, reported separately; and a "hard" part made impossible on purpose (one voice
      on both sides), where the confidence must be low.

Set (b) includes the dual-channel bank calls (harper-valley) and the AWS call mixed down, scored
against their transcript segments. Whether the confidences mean something is shown by how DER
differs between the calls the pipeline is sure of and those it doubts.

    .venv/bin/python benchmarks/diarization.py [--model whisper-tiny.en] [--backend embedded] [--sets abcd]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import soundfile as sf
from pyannote.core import Annotation, Segment, Timeline
from pyannote.database.util import load_rttm, load_uem
from pyannote.metrics.diarization import DiarizationErrorRate, JaccardErrorRate

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # this checkout's pipeline, not another installed copy
sys.path.insert(0, str(PROJECT / "benchmarks"))

from pipeline.audio import file_sha256, load_audio
from pipeline.call import CallProcessor
from pipeline.config import load_settings
from pipeline.evaluation import evaluate_call, load_references, reference_key
from pipeline.evaluation import Reference, ReferenceSegment
from synthetic_calls import generate

warnings.filterwarnings("ignore", message=".*'uem' was approximated.*")
SAMPLES = PROJECT / "audio_samples"
EVAL = PROJECT.parent / "shared" / "eval"


def annotation(turns, label=lambda speaker: speaker) -> Annotation:
    result = Annotation()
    for index, (speaker, start, end) in enumerate(turns):
        if end > start:
            result[Segment(start, end), index] = label(speaker)
    return result


def score(reference: Annotation, hypothesis: Annotation, uem: Timeline | None) -> dict[str, float]:
    out = {}
    for collar_s in (0.25, 0.0):
        # pyannote's collar is the total width around each boundary
        der = DiarizationErrorRate(collar=2 * collar_s, skip_overlap=False)
        out[f"der_{collar_s}"] = (
            der(reference, hypothesis, uem=uem) if uem else der(reference, hypothesis)
        )
    jer = JaccardErrorRate(collar=0.5, skip_overlap=False)
    out["jer_0.25"] = jer(reference, hypothesis, uem=uem) if uem else jer(reference, hypothesis)
    mapping = DiarizationErrorRate().optimal_mapping(
        reference, hypothesis
    )  # hyp label -> ref label
    out["mapping"] = mapping
    return out


def role_correct(mapping: dict, roles_of_reference: dict[str, str]) -> bool | None:
    """True when every hypothesis role maps to the reference speaker with that role."""
    if not roles_of_reference:
        return None
    checked = [
        roles_of_reference.get(ref) == hyp
        for hyp, ref in mapping.items()
        if hyp in ("agent", "customer")
    ]
    return bool(checked) and all(checked)


def run_call(processor: CallProcessor, path: Path):
    record = processor(path, file_sha256(path))
    turns = [(t.speaker, t.start_s, t.end_s) for t in record.turns]
    return record, turns


def mono_copy(path: Path, folder: Path) -> Path:
    audio = load_audio(path)
    target = folder / (path.stem.split(".")[0] + ".mixdown.wav")
    sf.write(target, audio.samples.mean(axis=0), audio.sample_rate, subtype="PCM_16")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model",
        default="whisper-tiny.en",
        help="ASR model used for roles and the time comparison",
    )
    parser.add_argument("--backend", default="embedded", choices=["embedded", "pyannote"])
    parser.add_argument("--sets", default="abcd", help="which sets to run (letters a-d)")
    parser.add_argument(
        "--synthetic-dir", type=Path, default=PROJECT / "benchmarks" / "out" / "synthetic"
    )
    args = parser.parse_args()
    settings = load_settings(asr={"model": args.model}, diarization={"mono_backend": args.backend})
    processor = CallProcessor(settings)
    rows = []
    tmp = Path(tempfile.mkdtemp())

    def evaluate(set_name, name, path, reference, uem=None, roles=None):
        record, turns = run_call(processor, path)
        figures = score(reference, annotation(turns), uem)
        diarize_s = record.stage_s.get("diarize", 0.0)
        role_der = None
        if roles:
            segments = [
                ReferenceSegment(roles.get(label, label), s.start, s.end)
                for s, _, label in reference.itertracks(yield_label=True)
            ]
            spans = [(u.start, u.end) for u in uem] if uem else None
            role_der = evaluate_call(
                Reference(name, segments, uem=spans), record.turns, [], record.duration_s
            ).role_der
        rows.append(
            dict(
                set=set_name, file=name, duration_s=record.duration_s, der25=figures["der_0.25"], der0=figures["der_0.0"],
                role_der=role_der,
                jer=figures["jer_0.25"], roles=role_correct(figures["mapping"], roles or {}),
                diar_rtf=diarize_s / record.duration_s, asr_rtf=record.stage_s.get("transcribe", 0.0) / record.duration_s,
                confidence=record.diarization_confidence, role_confidence=record.role_confidence,
            )
        )  # fmt: skip

    # (a) mono samples against their truth
    for truth_path in sorted(SAMPLES.glob("*.truth.json")) if "a" in args.sets else []:
        truth = json.loads(truth_path.read_text())
        if "mono" not in truth["files"]:
            continue
        reference = annotation([(t["speaker"], t["start_s"], t["end_s"]) for t in truth["turns"]])
        evaluate(
            "a:samples-mono",
            truth["files"]["mono"],
            SAMPLES / truth["files"]["mono"],
            reference,
            roles={"agent": "agent", "customer": "customer"},
        )

    # (b) real recordings with reference RTTM
    real = [
        ("pyannote-audio/sample/sample.wav", "pyannote-audio/sample/sample.rttm", None, None),
        ("google-cloud-speech/commercial_mono.wav", "google-cloud-speech/commercial_mono.derived.rttm",
         "google-cloud-speech/commercial_mono.derived.uem", {"Agent": "agent", "Customer": "customer"}),
        ("aws-live-call-analytics/Auto_Repairs_40_UTC.agentL_callerR.flac",
         "aws-live-call-analytics/Auto_Repairs_40_UTC.derived_channel_vad.rttm", None, {"Agent": "agent", "Caller": "customer"}),
    ]  # fmt: skip
    for audio_rel, rttm_rel, uem_rel, roles in real if "b" in args.sets else []:
        audio_path = EVAL / audio_rel
        if not audio_path.exists():
            print(f"skipped (not present): {audio_path}")
            continue
        reference = next(iter(load_rttm(EVAL / rttm_rel).values()))
        uem = next(iter(load_uem(EVAL / uem_rel).values())) if uem_rel else None
        path = mono_copy(audio_path, tmp) if sf.info(audio_path).channels == 2 else audio_path
        evaluate("b:real", audio_path.name, path, reference, uem, roles)
    bank = EVAL / "harper-valley"
    bank_references = load_references(bank) if bank.is_dir() and "b" in args.sets else {}
    for audio_path in sorted(bank.glob("*.flac")) if bank_references else []:
        # the transcript's speech segments ([noise]-only segments left out), mixed down to mono
        turns = bank_references[reference_key(audio_path)].turns
        reference = annotation([(t.speaker, t.start_s, t.end_s) for t in turns])
        evaluate(
            "b:real",
            audio_path.name,
            mono_copy(audio_path, tmp),
            reference,
            None,
            {"agent": "agent", "customer": "customer"},
        )

    # (c) dual-channel samples mixed down; the channel turns are the exact reference
    for stereo in sorted(SAMPLES.glob("*.stereo.*")) if "c" in args.sets else []:
        record, channel_turns = run_call(processor, stereo)
        reference = annotation(channel_turns)
        evaluate(
            "c:mixdown",
            stereo.name,
            mono_copy(stereo, tmp),
            reference,
            roles={"agent": "agent", "customer": "customer"},
        )

    # (d) the fresh synthetic set: development and held-out parts
    for part in ("dev", "heldout", "hard") if "d" in args.sets else []:
        for path in generate(args.synthetic_dir, part):
            truth = json.loads(
                path.with_name(path.name.replace(".mono.wav", ".truth.json")).read_text()
            )
            reference = annotation(
                [(t["speaker"], t["start_s"], t["end_s"]) for t in truth["turns"]]
            )
            label = path.name + (
                " (same voice)" if truth.get("same_voice") else " (same gender)" if truth["same_gender"] else ""
            )
            evaluate(
                f"d:synth-{part}",
                label,
                path,
                reference,
                roles={"agent": "agent", "customer": "customer"},
            )

    print(
        f"backend {args.backend}; roles and the ASR time from {args.model}; DER/JER with overlap scored"
    )
    header = f"{'set':<17}{'file':<44}{'dur s':>7}{'DER.25':>8}{'role':>7}{'DER0':>7}{'JER.25':>8}{'roles':>7}{'conf':>6}{'rconf':>6}{'diar RTF':>9}{'asr RTF':>8}"
    print(header)
    for r in rows:
        roles = {True: "ok", False: "WRONG", None: "-"}[r["roles"]]
        role_der = "-" if r["role_der"] is None else f"{r['role_der']:.1%}"
        print(
            f"{r['set']:<17}{r['file'][:43]:<44}{r['duration_s']:>7.1f}{r['der25']:>8.1%}{role_der:>7}{r['der0']:>7.1%}{r['jer']:>8.1%}"
            f"{roles:>7}{(r['confidence'] or 0):>6.2f}{(r['role_confidence'] or 0):>6.2f}{r['diar_rtf']:>9.3f}{r['asr_rtf']:>8.3f}"
        )
    for set_name in sorted({r["set"] for r in rows}):
        subset = [r for r in rows if r["set"] == set_name]
        judged = [r["roles"] for r in subset if r["roles"] is not None]
        print(
            f"{set_name}: median DER(0.25) {statistics.median(r['der25'] for r in subset):.1%}, "
            f"max {max(r['der25'] for r in subset):.1%}; roles right {sum(judged)}/{len(judged)}; "
            f"median diarization RTF {statistics.median(r['diar_rtf'] for r in subset):.3f} "
            f"(ASR {statistics.median(r['asr_rtf'] for r in subset):.3f})"
        )
    confidence_table(rows)


def confidence_table(rows: list[dict]) -> None:
    """Does a low diarization confidence point at the calls with a high DER?"""
    scored = [r for r in rows if r["confidence"] is not None]
    if len(scored) < 4:
        return
    from scipy.stats import spearmanr

    rho = spearmanr([r["confidence"] for r in scored], [r["der25"] for r in scored]).statistic
    low = [r for r in scored if r["confidence"] < 0.5]
    high = [r for r in scored if r["confidence"] >= 0.5]

    def describe(subset):
        if not subset:
            return "none"
        return f"{len(subset)} calls, median DER {statistics.median(r['der25'] for r in subset):.1%}, max {max(r['der25'] for r in subset):.1%}"

    print(
        f"confidence vs DER over {len(scored)} calls: Spearman rho {rho:.2f} (negative = low confidence goes with high DER); "
        f"confidence < 0.5: {describe(low)}; >= 0.5: {describe(high)}"
    )


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
