"""Real recordings in ../shared/eval with a reference, through the real `callqa run`, side by side in
one run with bare faster-whisper (same model and settings, per channel) and bare Silero (per channel):

  - role-aware DER (agent/customer as labelled; collar 0.25 s each side, overlap scored) and DER
    with the optimal speaker mapping;
  - missed speech (share of the role's reference speech) and false-alarm speech (s) per role;
  - dead-air events over reference speech (> 1.5 s of it), and the reference's own dead air
    (gaps of 5 s or more where nobody speaks) found;
  - WER per role, numbers normalised and fillers/[noise] tags removed on both sides;
  - script-phrase recall: of the rubric's agent phrases (and the company name) the reference agent
    says, the share found in the agent's words.

Every figure comes from ``pipeline.evaluation`` (pyannote.metrics, jiwer), as ``callqa eval`` does.
Recordings are read in place from ../shared/eval; nothing is copied into the project.

    .venv/bin/python benchmarks/real_calls.py [--model whisper-base] [--config FILE] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # this checkout's pipeline, not another installed copy

from pipeline.audio import is_dual_mono, load_audio
from pipeline.config import load_settings
from pipeline.evaluation import (
    CallEvaluation,
    Reference,
    ReferenceSegment,
    evaluate_call,
    load_references,
    reference_key,
    summarise,
)
from pipeline.features import extract_features
from pipeline.models import Models
from pipeline.rubric import load_rubric
from pipeline.script import match_phrase
from pipeline.store.store import Store
from pipeline.types import AGENT, UNKNOWN, Turn, Word

EVAL = PROJECT.parent / "shared" / "eval"
SYSTEMS = ("callqa", "bare-whisper", "bare-silero")
PHRASE_FIELDS = ("phrases", "first_phrases", "then_phrases")  # what the agent is scripted to say


@dataclass
class RealCall:
    """One recording with its reference and what the agent's script names (the company)."""

    group: str
    audio: Path
    reference: Reference
    company: str | None = None
    results: dict[str, CallEvaluation] = field(default_factory=dict)
    recall: dict[str, tuple[int, int]] = field(default_factory=dict)  # system -> (found, said)
    dead_air_found: dict[str, tuple[int, int]] = field(default_factory=dict)
    layout: str = ""


def real_calls(eval_dir: Path) -> list[RealCall]:
    """Every recording under ``eval_dir`` that is a call (or a conversation) with a reference."""
    calls: list[RealCall] = []
    folders = [
        ("bank", "harper-valley", "*.agentL_callerR.flac", "Harper Valley National Bank"),
        ("auto", "aws-live-call-analytics", "*.flac", "Platinum Motors"),
        ("shop", "google-cloud-speech", "*.wav", None),
        ("phone", "pyannote-audio/sample", "*.wav", None),
        ("speech", "jfk", "*.*", None),
    ]
    for group, folder, pattern, company in folders:
        directory = eval_dir / folder
        if not directory.is_dir():
            print(f"skipped (not present): {directory}", file=sys.stderr)
            continue
        references = load_references(directory)
        for audio in sorted(directory.glob(pattern)):
            if audio.suffix.lower() not in {".wav", ".flac"}:
                continue
            reference = references.get(reference_key(audio))
            if reference is not None:
                calls.append(RealCall(group, audio, reference, company))
    stereo = eval_dir / "faster-whisper-stereo" / "stereo_diarization.wav"
    if stereo.is_file():
        # left and right carry one speaker each and a text each, with no times: WER only
        words = [
            ReferenceSegment(
                role, 0.0, 0.0, (stereo.parent / f"stereo_diarization.{side}.txt").read_text()
            )
            for role, side in ((AGENT, "left"), ("customer", "right"))
        ]
        calls.append(RealCall("stereo", stereo, Reference("stereo_diarization", [], words)))
    return calls


def run_callqa(
    calls: list[RealCall], model: str, config: Path | None, workdir: Path
) -> dict[str, object]:
    """The real command line on every recording, into a fresh database; stored calls by path."""
    db = workdir / "real_calls.duckdb"
    command = [sys.executable, "-m", "pipeline.cli", "run", *[str(c.audio) for c in calls]]
    command += ["--db", str(db), "--model", model, "--quiet"]
    if config is not None:
        command += ["--config", str(config)]
    started = time.perf_counter()
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False)
    print(
        f"callqa run: {time.perf_counter() - started:.0f} s, exit {result.returncode}",
        file=sys.stderr,
    )
    if result.returncode not in (0, 1):
        sys.exit(f"callqa run failed:\n{result.stderr[-3000:]}")
    with Store(db, read_only=True) as store:
        stored = {Path(call.source_path).resolve(): call for call in store.calls_for_evaluation()}
    missing = [c.audio for c in calls if c.audio.resolve() not in stored]
    if missing:
        print(f"not processed by callqa: {missing}\n{result.stderr[-2000:]}", file=sys.stderr)
    return stored


def channels_of(path: Path) -> tuple[np.ndarray, int, bool]:
    """16 kHz channels as the pipeline decodes them; dual-mono files count as one channel."""
    audio = load_audio(path)
    samples = audio.samples[:1] if is_dual_mono(audio.samples) else audio.samples
    return samples, audio.sample_rate, samples.shape[0] == 2


def bare_whisper(models: Models, samples: np.ndarray, channel_map: dict[int, str]) -> list[Word]:
    """faster-whisper alone on each channel: its own VAD filter, the pipeline's ASR settings."""
    model, batched = models.bare_whisper()
    asr = models.asr
    common = {
        "language": asr.language,
        "beam_size": asr.beam_size,
        "word_timestamps": True,
        "condition_on_previous_text": False,
    }
    words = []
    for channel, signal in enumerate(samples):
        speaker = channel_map.get(channel, UNKNOWN) if samples.shape[0] == 2 else UNKNOWN
        if batched is not None:
            segments, _ = batched.transcribe(
                signal, batch_size=asr.batch_size, vad_filter=True, **common
            )
        else:
            segments, _ = model.transcribe(signal, vad_filter=True, **common)
        for segment in segments:
            for word in segment.words or []:
                if word.word.strip():
                    words.append(
                        Word(word.start, word.end, word.word.strip(), word.probability, speaker)
                    )
    return sorted(words, key=lambda w: w.start_s)


def bare_silero(samples: np.ndarray, rate: int, channel_map: dict[int, str]) -> list[Turn]:
    """faster-whisper's Silero VAD with its default options on each channel."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    turns = []
    for channel, signal in enumerate(samples):
        speaker = channel_map.get(channel, UNKNOWN) if samples.shape[0] == 2 else UNKNOWN
        for span in get_speech_timestamps(signal, VadOptions(), sampling_rate=rate):
            turns.append(Turn(speaker, span["start"] / rate, span["end"] / rate))
    return sorted(turns, key=lambda t: t.start_s)


def script_phrases(rubric_path: Path, company: str | None) -> list[str]:
    rubric = load_rubric(rubric_path, {"company": company} if company else None)
    phrases = [company] if company else []
    for _, criterion in rubric.criteria():
        for field_name in PHRASE_FIELDS:
            for item in getattr(criterion, field_name, None) or []:
                phrases.extend(item if isinstance(item, list) else [item])
    return list(dict.fromkeys(p for p in phrases if "{" not in p))


def reference_words(reference: Reference, role: str) -> list[Word]:
    """The reference's words of one role, spread evenly over their segments (for the phrase matcher)."""
    words = []
    for segment in reference.words:
        if reference.role(segment.speaker) != role:
            continue
        tokens = segment.text.split()
        step = (segment.end_s - segment.start_s) / max(len(tokens), 1)
        for index, token in enumerate(tokens):
            start = segment.start_s + index * step
            words.append(Word(start, start + step, token, 1.0, role))
    return words


def phrase_recall(
    phrases: list[str], said: list[Word], heard: list[Word], nlp, speaker: str
) -> tuple[int, int]:
    """(found, said): phrases the reference agent says, and how many of them ``heard`` contains."""
    if not said:
        return 0, 0
    spoken = [p for p in phrases if match_phrase(said, [p], nlp, speaker=AGENT).matched]
    found = [p for p in spoken if heard and match_phrase(heard, [p], nlp, speaker=speaker).matched]
    return len(found), len(spoken)


def reference_dead_air(
    reference: Reference, duration_s: float, min_s: float
) -> list[tuple[float, float]]:
    """Gaps of at least ``min_s`` between reference speech (anyone's): dead air as transcribed."""
    spans = sorted((t.start_s, t.end_s) for t in reference.turns)
    gaps, end = [], None
    for start_s, end_s in spans:
        if end is not None and start_s - end >= min_s:
            gaps.append((end, start_s))
        end = end_s if end is None else max(end, end_s)
    return gaps


def found_dead_air(gaps: list[tuple[float, float]], events) -> int:
    dead = [e for e in events if e.kind == "dead_air"]
    return sum(
        1 for start_s, end_s in gaps
        if any(min(end_s, e.end_s) - max(start_s, e.start_s) >= 0.5 * (end_s - start_s) for e in dead)
    )  # fmt: skip


def callqa_evaluation(call: RealCall, stored_call) -> CallEvaluation:
    """The pipeline's stored result for ``call`` scored exactly as ``callqa eval`` scores it."""
    return evaluate_call(
        call.reference, stored_call.turns, stored_call.words, stored_call.duration_s,
        call_id=stored_call.call_id, source=Path(stored_call.source_path).name,
        events=stored_call.events,
    )  # fmt: skip


def evaluate_all(calls: list[RealCall], stored: dict, settings, models: Models) -> None:
    nlp = models.nlp()
    dead_air_min_s = settings.features.dead_air_min_s
    for call in calls:
        samples, rate, dual = channels_of(call.audio)
        call.layout = "dual" if dual else "mono"
        duration_s = samples.shape[1] / rate
        stored_call = stored.get(call.audio.resolve())
        words_bare = bare_whisper(models, samples, settings.channel_map)
        turns_bare = bare_silero(samples, rate, settings.channel_map)
        features_bare = extract_features(turns_bare, [], duration_s, settings.features)[1]
        systems = {
            "bare-whisper": ([], words_bare, []),
            "bare-silero": (turns_bare, [], features_bare),
        }
        if stored_call is not None:
            call.results["callqa"] = callqa_evaluation(call, stored_call)
            systems["callqa"] = (stored_call.turns, stored_call.words, stored_call.events)
        phrases = script_phrases(settings.rubric, call.company)
        gaps = reference_dead_air(call.reference, duration_s, dead_air_min_s)
        said = reference_words(call.reference, AGENT)
        for system, (turns, words, events) in systems.items():
            reference = call.reference
            if system == "bare-whisper":
                reference = replace(reference, turns=[])  # words only
            elif system == "bare-silero":
                reference = replace(reference, words=[])  # speech only
            if system == "callqa":
                result = call.results["callqa"]
            else:
                result = evaluate_call(
                    reference, turns, words, duration_s, source=call.audio.name, events=events
                )
            if system != "callqa" and not dual:  # a bare tool gives a mono call no speakers
                if system == "bare-silero":
                    result.role_der = result.der = result.jer = None
                result.missed_by_role, result.false_alarm_by_role = {}, {}
                # and no role's words: the pooled role WER must not count its words as errors
                result.wer_by_role = {"all": result.wer_by_role.get("all")}
                result.reference_words_by_role = {"all": result.reference_words_by_role.get("all", 0)}
                result.word_errors_by_role = {"all": result.word_errors_by_role.get("all", 0)}
            call.results[system] = result
            if system != "bare-silero":
                speaker = AGENT if (dual or system == "callqa") else "any"
                call.recall[system] = phrase_recall(phrases, said, words, nlp, speaker)
            if system != "bare-whisper" and call.reference.turns:
                call.dead_air_found[system] = (found_dead_air(gaps, events), len(gaps))


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def print_tables(calls: list[RealCall]) -> None:
    header = (
        f"{'call':<22}{'lay':<5}{'system':<13}{'roleDER':>8}{'DERopt':>7}{'miss':>6}{'ag.miss':>8}{'ag.FA s':>8}"
        f"{'cu.miss':>8}{'cu.FA s':>8}{'DA>ref':>7}{'refDA':>6}{'WERag':>7}{'WERcu':>7}{'WERall':>7}{'script':>8}"
    )
    print(header)
    for call in calls:
        name = f"{call.group}:{call.reference.key}"[:21]
        for system in SYSTEMS:
            e = call.results.get(system)
            if e is None:
                continue
            found, said = call.recall.get(system, (0, 0))
            dead_found, dead_total = call.dead_air_found.get(system, (0, 0))
            fa = e.false_alarm_by_role
            print(
                f"{name:<22}{call.layout:<5}{system:<13}{pct(e.role_der):>8}{pct(e.der):>7}"
                f"{pct(e.missed_s / e.reference_speech_s if e.reference_speech_s and system != 'bare-whisper' else None):>6}"
                f"{pct(e.missed_by_role.get(AGENT)):>8}{_seconds(fa.get(AGENT)):>8}"
                f"{pct(e.missed_by_role.get('customer')):>8}{_seconds(fa.get('customer')):>8}"
                f"{(f'{e.dead_air_over_speech}/{e.dead_air_events}' if system != 'bare-whisper' else '-'):>7}"
                f"{(f'{dead_found}/{dead_total}' if call.dead_air_found.get(system) else '-'):>6}"
                f"{pct(e.wer_by_role.get(AGENT)):>7}{pct(e.wer_by_role.get('customer')):>7}{pct(e.wer_by_role.get('all')):>7}"
                f"{(f'{found}/{said}' if said else '-'):>8}"
            )  # fmt: skip
    print()
    print("summary (pooled over calls; role DER mean and worst over calls)")
    groups = {
        "bank calls (harper-valley)": [c for c in calls if c.group == "bank"],
        # the calls whose roles every system hears: WER per role compares like with like
        "dual-channel calls": [c for c in calls if c.layout == "dual"],
        "all calls": calls,
    }
    for title, members in groups.items():
        for system in SYSTEMS:
            evaluations = [c.results[system] for c in members if system in c.results]
            if not evaluations:
                continue
            summary = summarise(evaluations)
            found = sum(c.recall.get(system, (0, 0))[0] for c in members)
            said = sum(c.recall.get(system, (0, 0))[1] for c in members)
            over = (
                sum(e.dead_air_over_speech for e in evaluations)
                if system != "bare-whisper"
                else None
            )
            missed = summary.missed_by_role
            print(
                f"  {title:<27}{system:<13} role DER mean {pct(summary.mean_role_der)} worst {pct(summary.worst_role_der)}"
                f" pooled {pct(summary.role_der)}; missed agent {pct(missed.get(AGENT))} customer {pct(missed.get('customer'))};"
                f" dead air over speech {'-' if over is None else over};"
                f" WER agent {pct(summary.wer_by_role.get(AGENT))} customer {pct(summary.wer_by_role.get('customer'))}"
                f" all {pct(summary.wer_by_role.get('all'))}; script recall {found}/{said}"
            )  # fmt: skip


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default="whisper-base", help="ASR model for callqa and bare faster-whisper"
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="settings file for callqa run (and the baselines' ASR)",
    )
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--json", type=Path, default=None, help="also write every figure here")
    parser.add_argument("--only", default=None, help="only recordings whose path contains this")
    args = parser.parse_args()

    calls = [c for c in real_calls(args.eval_dir) if args.only is None or args.only in str(c.audio)]
    if not calls:
        sys.exit(f"no real recordings with references under {args.eval_dir}")
    settings = load_settings(args.config, asr={"model": args.model})
    with tempfile.TemporaryDirectory() as workdir:
        stored = run_callqa(calls, args.model, args.config, Path(workdir))
        models = Models(settings.models_dir, settings.asr)
        evaluate_all(calls, stored, settings, models)
    print(
        f"model {settings.asr.model}, beam {settings.asr.beam_size}, batch {settings.asr.batch_size}; "
        f"{len(calls)} recordings, {sum(c.results['bare-silero'].reference_speech_s for c in calls):.0f} s of scored "
        "reference speech; DER collar 0.25 s each side, overlap scored; WER text normalised (Whisper's "
        "English normaliser) on both sides"
    )
    print_tables(calls)
    if args.json:
        payload = [
            {"call": c.reference.key, "group": c.group, "audio": str(c.audio), "layout": c.layout,
             "results": {s: e.as_dict() for s, e in c.results.items()}, "script_recall": c.recall,
             "reference_dead_air_found": c.dead_air_found}
            for c in calls
        ]  # fmt: skip
        args.json.write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
