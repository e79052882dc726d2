"""Unhappy-customer and escalation detection: precision and recall on the labelled utterance table,
the demo calls' planted phrases, and the real Harper Valley bank calls against their callers'
ratings, each beside a bare baseline measured in the same run.

1. ``benchmarks/data/customer_utterances.csv`` (180 utterances written for the project; ``test`` is
   the held-out split): ``pipeline/features/customer.py`` against bare VADER (unhappy when the
   compound is at or below -0.05, VADER's own cut-off) and, for escalations, a bare keyword match
   (manager, supervisor, cancel, complaint).
2. ``audio_samples/*.truth.json``: the escalation and frustration events on each demo call's true
   transcript, with their times.
3. ``../shared/eval/harper-valley``: each call's customer turns from the human transcript (and, with
   ``--asr``, from a real ``callqa run`` of the recording with the default model): flagged or not,
   beside the caller's post-call rating (1-10) and comments, and the share of customer segments that
   Gridspace's own emotion model (in the source transcripts) called negative.

    .venv/bin/python benchmarks/customer_sentiment.py [--split test|dev|all] [--asr]
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

# this checkout's pipeline/ and tests/ (the transcript helper), whatever is installed
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.features.customer import (
    TURN_LABELS,
    CustomerOptions,
    analyse_customer,
    label_turns,
    load_sentiment_analyzer,
)
from pipeline.script import Lemmatizer, load_nlp
from tests.synthetic_calibration import transcript_from_lines

PROJECT = Path(__file__).resolve().parent.parent
UTTERANCES = PROJECT / "benchmarks" / "data" / "customer_utterances.csv"
HARPER = PROJECT.parent / "shared" / "eval" / "harper-valley"
SAMPLES = PROJECT / "audio_samples"
UNHAPPY = {"frustrated", "escalation"}
VADER_NEGATIVE = -0.05  # VADER's documented cut-off for negative text
ESCALATION_KEYWORDS = re.compile(
    r"\b(manager|supervisor|cancel\w*|complain\w*|complaint)\b", re.IGNORECASE
)
NOT_SPEECH = re.compile(r"^\s*(\[[a-z ]+\]|<unk>)\s*$")


def precision_recall(pairs: list[tuple[bool, bool]]) -> tuple[float, float, int, int, int]:
    tp = sum(g and s for g, s in pairs)
    fp = sum(s and not g for g, s in pairs)
    fn = sum(g and not s for g, s in pairs)
    return (tp / (tp + fp) if tp + fp else 0.0, tp / (tp + fn) if tp + fn else 0.0, tp, fp, fn)


def utterance_table(split: str, nlp, vader) -> None:
    rows = [r for r in csv.DictReader(UTTERANCES.open()) if split == "all" or r["split"] == split]
    options = CustomerOptions()
    started = time.perf_counter()
    ours = []
    for row in rows:
        turns, words = transcript_from_lines([("customer", 0.0, 4.0, row["text"])])
        ours.append(label_turns(turns, words, nlp, vader, options)[0])
    took_ms = 1000 * (time.perf_counter() - started) / len(rows)
    bare = [vader.polarity_scores(r["text"])["compound"] for r in rows]
    print(f"\n1. Labelled utterances ({split}: {len(rows)}; {Counter(r['label'] for r in rows)})")
    print(
        f"{'task':<12} {'detector':<34} {'precision':>9} {'recall':>7} {'TP':>4} {'FP':>4} {'FN':>4}"
    )
    tasks = {
        "unhappy": [
            ("callqa (VADER + cues)", [(r["label"] in UNHAPPY, t.label in UNHAPPY) for r, t in zip(rows, ours)]),
            (f"bare VADER (compound <= {VADER_NEGATIVE})", [(r["label"] in UNHAPPY, c <= VADER_NEGATIVE) for r, c in zip(rows, bare)]),
        ],
        "escalation": [
            ("callqa (escalation phrases)", [(r["label"] == "escalation", t.label == "escalation") for r, t in zip(rows, ours)]),
            ("bare keywords", [(r["label"] == "escalation", bool(ESCALATION_KEYWORDS.search(r["text"]))) for r in rows]),
        ],
    }  # fmt: skip
    for task, detectors in tasks.items():
        for name, pairs in detectors:
            p, r, tp, fp, fn = precision_recall(pairs)
            print(f"{task:<12} {name:<34} {p:9.3f} {r:7.3f} {tp:4d} {fp:4d} {fn:4d}")
    print(f"({took_ms:.1f} ms per utterance, lemma matching and VADER)")
    print("\nlabels (rows: truth, columns: callqa)")
    print(f"{'':<12}" + "".join(f"{label:>12}" for label in TURN_LABELS))
    for gold in TURN_LABELS:
        counts = Counter(t.label for r, t in zip(rows, ours) if r["label"] == gold)
        print(f"{gold:<12}" + "".join(f"{counts[label]:>12}" for label in TURN_LABELS))
    missed = [
        (r["id"], r["label"], t.label, r["text"])
        for r, t in zip(rows, ours)
        if r["label"] != t.label
    ]
    print(f"\n{len(missed)} utterances labelled otherwise:")
    for item in missed:
        print("  {} truth {:<10} callqa {:<10} {}".format(*item))


def demo_calls(nlp, vader) -> None:
    print("\n2. Demo calls (true transcripts): the customer's escalation and frustration events")
    for path in sorted(SAMPLES.glob("*.truth.json")):
        truth = json.loads(path.read_text())
        lines = [(t["speaker"], t["start_s"], t["end_s"], t["text"]) for t in truth["turns"]]
        turns, words = transcript_from_lines(lines)
        signals = analyse_customer(turns, words, [], nlp, vader, CustomerOptions())
        flagged = [e for e in signals.events if e.kind in ("escalation", "frustration")]
        verdict = "UNHAPPY" if signals.unhappy else "not unhappy"
        print(f"  {path.name.split('.')[0]:<18} {verdict}")
        for event in flagged:
            print(
                f"      {event.kind:<11} {event.start_s:6.1f}-{event.end_s:5.1f} s  {event.detail}"
            )


def harper_calls() -> list[dict]:
    calls = []
    for ref in sorted(HARPER.glob("*.ref.json")):
        sid = ref.name.split(".")[0]
        data = json.loads(ref.read_text())
        metadata = json.loads((HARPER / "source-metadata" / f"{sid}.json").read_text())
        survey = metadata["caller"].get("survey_response", {}).get("data", {})
        source = json.loads((HARPER / "source-transcript" / f"{sid}.json").read_text())
        emotions = [
            s["emotion"] for s in source if s["speaker_role"] == "caller" and s.get("emotion")
        ]
        negative = sum(max(e, key=e.get) == "negative" for e in emotions)
        lines = [
            (t["speaker"], t["start"], t["end"], t["text"])
            for t in data["turns"]
            if not NOT_SPEECH.match(t["text"])
        ]
        calls.append(
            {"sid": sid, "lines": lines, "rating": survey.get("partner_rating", "-"),
             "comments": {k: v for k, v in survey.items() if k not in ("partner_rating", "ease_of_connection")},
             "task": metadata["tasks"][0].get("task_type", "?"), "negative_segments": f"{negative}/{len(emotions)}"}
        )  # fmt: skip
    return calls


def harper_valley(nlp, vader, asr: bool) -> None:
    if not HARPER.exists():
        print(f"\n3. skipped: {HARPER} is missing")
        return
    calls = harper_calls()
    from_asr = run_asr(calls) if asr else {}
    print("\n3. Harper Valley bank calls (real speakers): flagged vs the caller's own rating")
    print(
        f"{'call':<18} {'task':<22} {'rating':>6} {'Gridspace neg.':>14}  {'callqa (human transcript)':<28} {'bare VADER':<11} {'callqa (ASR)' if asr else ''}"
    )
    for call in calls:
        turns, words = transcript_from_lines(call["lines"])
        signals = analyse_customer(turns, words, [], nlp, vader, CustomerOptions())
        ours = (
            "UNHAPPY: " + "; ".join(filter(None, [signals.escalation, *signals.unhappy_reasons]))
            if signals.unhappy
            else "not flagged"
        )
        negative = [
            t
            for t in turns
            if t.speaker == "customer"
            and vader.polarity_scores(t.text)["compound"] <= VADER_NEGATIVE
        ]
        bare = f"{len(negative)} neg. turns"
        print(
            f"{call['sid']:<18} {call['task']:<22} {call['rating']:>6} {call['negative_segments']:>14}  {ours:<28} {bare:<11} {from_asr.get(call['sid'], '')}"
        )
        for turn in negative:
            print(
                f"{'':<64}bare VADER: '{turn.text}' ({vader.polarity_scores(turn.text)['compound']:+.2f})"
            )
        if call["comments"]:
            print(f"{'':<20}caller's comments: {call['comments']}")
    print(
        "(rating: the caller's post-call partner_rating, 1-10; no caller left a comment in these six surveys)"
    )


def run_asr(calls: list[dict]) -> dict[str, str]:
    """`callqa run` with the default model over the recordings; each call's stored verdict."""
    import duckdb

    db = Path(tempfile.mkdtemp()) / "harper.duckdb"
    files = [str(HARPER / f"{c['sid']}.agentL_callerR.flac") for c in calls]
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "pipeline.cli", "run", *files, "--db", str(db), "-q"],
                            cwd=PROJECT, capture_output=True, text=True, check=False)  # fmt: skip
    if result.returncode != 0:
        sys.exit(f"callqa run failed:\n{result.stderr[-2000:]}")
    print(
        f"\n(callqa run over {len(files)} recordings with the default model: {time.perf_counter() - started:.0f} s)"
    )
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT c.source_path, u.unhappy, u.frustrated_turns, u.escalation, u.unhappy_reasons FROM calls c"
            " JOIN call_customer u USING (call_id)"
        ).fetchall()
    return {
        Path(path).name.split(".")[0]: ("UNHAPPY: " + "; ".join(filter(None, [esc, reasons])) if unhappy else f"not flagged ({turns} frustrated turns)")
        for path, unhappy, turns, esc, reasons in rows
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("test", "dev", "all"), default="test")
    parser.add_argument(
        "--asr", action="store_true", help="also run the real pipeline over the Harper Valley audio"
    )
    args = parser.parse_args()
    nlp, vader = Lemmatizer(load_nlp()), load_sentiment_analyzer()
    utterance_table(args.split, nlp, vader)
    demo_calls(nlp, vader)
    harper_valley(nlp, vader, args.asr)


if __name__ == "__main__":
    main()
