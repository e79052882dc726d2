"""Custom vocabulary (the rubric's company name as Whisper hotwords): with and without, side by side.

  - script-phrase recall and company-name recall in the agent's words, and WER per role, on the
    real bank calls (harper-valley, human transcripts) and on the fresh synthetic calls
    (benchmarks/synthetic_calls.py, dev and held-out parts; truth text);
  - whether the hotwords make Whisper say them where nobody speaks: clips of digital silence,
    line hiss, car and street noise transcribed whole (as if the speech detector had let them
    through), counting the vocabulary's words in what comes out.

    .venv/bin/python benchmarks/vocabulary.py [--model whisper-base]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT))  # this checkout's pipeline, not another installed copy
sys.path.insert(0, str(PROJECT / "benchmarks"))

from real_calls import phrase_recall, reference_words, script_phrases  # noqa: E402
from synthetic_calls import generate  # noqa: E402

from pipeline.audio import file_sha256  # noqa: E402
from pipeline.batch import CallProcessor  # noqa: E402
from pipeline.config import load_settings  # noqa: E402
from pipeline.evaluation import (  # noqa: E402
    Reference,
    ReferenceSegment,
    evaluate_call,
    load_references,
    reference_key,
)
from pipeline.script import match_phrase  # noqa: E402
from pipeline.transcribe import transcribe_regions  # noqa: E402
from pipeline.types import AGENT, Segment  # noqa: E402

EVAL = PROJECT.parent / "shared" / "eval"
SYNTHETIC = PROJECT / "benchmarks" / "out" / "synthetic"
RATE = 16_000


def calls() -> list[tuple[str, Path, Reference, str]]:
    """(set, audio, reference, company) for the bank calls and the fresh synthetic calls."""
    out = []
    bank = EVAL / "harper-valley"
    if bank.is_dir():
        references = load_references(bank)
        for path in sorted(bank.glob("*.flac")):
            out.append(("bank", path, references[reference_key(path)], "Harper Valley National Bank"))
    for part in ("dev", "heldout"):
        for path in generate(SYNTHETIC, part):
            truth = json.loads(path.with_name(path.name.replace(".mono.wav", ".truth.json")).read_text())
            segments = [ReferenceSegment(t["speaker"], t["start_s"], t["end_s"], t["text"]) for t in truth["turns"]]
            out.append((f"synthetic-{part}", path, Reference(path.stem, segments, segments), truth["company"]))
    return out


def noise_clips(seconds: float = 6.0) -> dict[str, np.ndarray]:
    sys.path.insert(0, str(PROJECT))
    from tests.line_conditions import car_noise, street_noise

    n = int(seconds * RATE)
    rng = np.random.default_rng(5)
    hiss = rng.standard_normal(n) * 10 ** (-60 / 20)
    return {
        "digital silence": np.zeros(n, dtype=np.float32),
        "line hiss -60 dBFS": hiss.astype(np.float32),
        "car noise -30 dBFS": (0.03 * car_noise(n, RATE) / np.std(car_noise(n, RATE))).astype(np.float32),
        "street noise -30 dBFS": (0.03 * street_noise(n, RATE) / np.std(street_noise(n, RATE))).astype(np.float32),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="whisper-base")
    args = parser.parse_args()
    rows = []
    processors: dict[tuple[str, bool], CallProcessor] = {}
    for set_name, path, reference, company in calls():
        row = {"set": set_name, "call": path.name}
        for with_vocabulary in (False, True):
            key = (company, with_vocabulary)
            if key not in processors:
                settings = load_settings(
                    asr={"model": args.model, "vocabulary_from_rubric": with_vocabulary},
                    rubric_variables={"company": company},
                    redacted_audio={"enabled": False},
                )
                shared = next(iter(processors.values()), None)
                processors[key] = CallProcessor(settings, shared.models if shared else None)
            processor = processors[key]
            record = processor(path, file_sha256(path))
            result = evaluate_call(reference, record.turns, record.words, record.duration_s)
            said = reference_words(reference, AGENT)
            phrases = script_phrases(processor.settings.rubric, company)
            found, spoken = phrase_recall(phrases, said, record.words, processor.models.nlp(), AGENT)
            named = match_phrase(record.words, [company], processor.models.nlp(), speaker=AGENT).matched
            tag = "with" if with_vocabulary else "without"
            row[tag] = {"recall": (found, spoken), "company": named, "wer": result.wer_by_role}
        rows.append(row)
        print(json.dumps(row), file=sys.stderr)

    print(f"model {args.model}; custom vocabulary = the rubric's company name as Whisper hotwords")
    print(f"{'set':<18}{'calls':>6}{'script recall without':>23}{'with':>8}{'company named without':>23}{'with':>6}"
          f"{'WER agent without':>19}{'with':>7}{'WER customer without':>22}{'with':>7}")  # fmt: skip
    for set_name in dict.fromkeys(r["set"] for r in rows):
        subset = [r for r in rows if r["set"] == set_name]

        def total(tag, part):
            return sum(r[tag]["recall"][part] for r in subset)

        def wer(tag, role):
            values = [r[tag]["wer"].get(role) for r in subset if r[tag]["wer"].get(role) is not None]
            return f"{100 * np.mean(values):.1f}" if values else "-"

        recall_without = f"{total('without', 0)}/{total('without', 1)}"
        recall_with = f"{total('with', 0)}/{total('with', 1)}"
        named_without = sum(r["without"]["company"] for r in subset)
        named_with = sum(r["with"]["company"] for r in subset)
        print(
            f"{set_name:<18}{len(subset):>6}{recall_without:>23}{recall_with:>8}{named_without:>23}{named_with:>6}"
            f"{wer('without', AGENT):>19}{wer('with', AGENT):>7}{wer('without', 'customer'):>22}{wer('with', 'customer'):>7}"
        )  # fmt: skip

    # hallucinated hotwords where nobody speaks
    settings = load_settings(asr={"model": args.model})
    whisper = next(iter(processors.values())).models.whisper()
    vocabulary = "Harper Valley National Bank, Northwind Telecom, Acme Telecom"
    print(f"\nwhere nobody speaks (each clip transcribed whole, hotwords: {vocabulary!r})")
    for name, clip in noise_clips().items():
        samples = clip[None, :]
        heard = {}
        for hotwords in (None, vocabulary):
            words = transcribe_regions(whisper, samples, RATE, [[Segment(0.0, len(clip) / RATE)]], settings.asr, hotwords=hotwords)
            heard[hotwords is not None] = " ".join(w.word for w in words)
        named = [term for term in vocabulary.split(", ") for part in term.split() if part.lower() in heard[True].lower()]
        print(f"  {name:<24} without: {heard[False]!r:<30} with: {heard[True]!r:<30} vocabulary words heard: {len(named)}")


if __name__ == "__main__":
    main()
