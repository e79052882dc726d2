"""Redaction quality and speed on the test corpus (tests/redaction_corpus.py).

Per entity kind: precision and recall per word (was each word given the right tag) and per
entity (was every word of a value tagged; was every tagged stretch all of one true value), on
the whole corpus, then on its hand-written items and on the real ASR output alone. Next to it,
as a baseline measured in the same run, the usual plain scan: runs of written digits, 13-19
long, that pass the Luhn check. Then how often random numbers (not in the corpus) get tagged,
the time per 1,000 words on the corpus repeated into one long call (alone, and spread through
ordinary talk), the peak memory of one run, and redaction's share of the whole pipeline's wall
time on the demo call audio_samples/card_payment (target: 3 % at most).

    .venv/bin/python benchmarks/redaction.py [--rounds 7] [--words 5000]
        [--pipeline-models whisper-tiny.en,whisper-base | --pipeline-models ""]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import sys
import time
import tracemalloc
from dataclasses import replace
from pathlib import Path

from pipeline.redact import KINDS, TAGS, redact_words
from pipeline.types import Word

PROJECT = Path(__file__).resolve().parent.parent
CORPUS_PATH = PROJECT / "tests" / "redaction_corpus.py"
DEMO_TRUTH = PROJECT / "audio_samples" / "card_payment.truth.json"
SHARE_TARGET = 0.03
KIND_OF_TAG = {tag: kind for kind, tag in TAGS.items()}


def load_corpus():
    spec = importlib.util.spec_from_file_location("redaction_corpus", CORPUS_PATH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module.labelled_corpus()


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        digit = int(char) * (2 if index % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def baseline_redact(words: list[Word]) -> list[Word]:
    """Tag runs of consecutive written-digit words holding 13-19 digits that pass Luhn."""
    out = list(words)
    run: list[int] = []

    def flush() -> None:
        digits = "".join(ch for i in run for ch in words[i].word if ch.isdigit())
        if 13 <= len(digits) <= 19 and luhn_ok(digits):
            for i in run:
                out[i] = replace(words[i], word=" " + TAGS["card"])
        run.clear()

    for index, word in enumerate(words):
        text = word.word.strip().strip(".,?!").replace("-", "")
        if text.isdigit():
            run.append(index)
        else:
            flush()
    flush()
    return out


def predicted_kinds(words: list[Word]) -> list[str | None]:
    return [KIND_OF_TAG.get(word.word.strip()) for word in words]


def stretches(kinds: list[str | None]) -> list[tuple[str, list[int]]]:
    """Consecutive words with the same predicted kind: what a Redaction span covers."""
    out: list[tuple[str, list[int]]] = []
    for index, kind in enumerate(kinds):
        if kind is None:
            continue
        if out and out[-1][0] == kind and out[-1][1][-1] == index - 1:
            out[-1][1].append(index)
        else:
            out.append((kind, [index]))
    return out


def score(calls, redact) -> dict[str, dict[str, int]]:
    counts = {
        kind: dict.fromkeys(("tp", "fp", "fn", "etp", "efn", "sp_ok", "sp_bad"), 0)
        for kind in KINDS
    }
    for call in calls:
        got = predicted_kinds(redact(call.words))
        for want, have in zip(call.kinds, got, strict=True):
            if want is not None and want == have:
                counts[want]["tp"] += 1
            if want is not None and want != have:
                counts[want]["fn"] += 1
            if have is not None and have != want:
                counts[have]["fp"] += 1
        for entity in {e for e in call.entities if e is not None}:
            members = [i for i, e in enumerate(call.entities) if e == entity]
            kind = call.kinds[members[0]]
            found = all(got[i] == kind for i in members)
            counts[kind]["etp" if found else "efn"] += 1
        for kind, members in stretches(got):
            correct = all(call.kinds[i] == kind for i in members)
            counts[kind]["sp_ok" if correct else "sp_bad"] += 1
    return counts


def ratio(numerator: int, denominator: int) -> str:
    return f"{numerator / denominator:6.3f}" if denominator else "     -"


def print_table(title: str, counts: dict[str, dict[str, int]]) -> None:
    print(title)
    print(
        f"  {'kind':8} {'word P':>6} {'word R':>6} {'ent P':>6} {'ent R':>6}   words tp/fp/fn  entities"
    )
    total = dict.fromkeys(next(iter(counts.values())), 0)
    for kind in KINDS:
        c = counts[kind]
        for key in total:
            total[key] += c[key]
        if not any(c.values()):
            continue
        print(format_row(kind, c))
    print(format_row("all", total))


def format_row(name: str, c: dict[str, int]) -> str:
    return (
        f"  {name:8} {ratio(c['tp'], c['tp'] + c['fp'])} {ratio(c['tp'], c['tp'] + c['fn'])}"
        f" {ratio(c['sp_ok'], c['sp_ok'] + c['sp_bad'])} {ratio(c['etp'], c['etp'] + c['efn'])}"
        f"   {c['tp']:4d}/{c['fp']:3d}/{c['fn']:3d}  {c['etp']}/{c['etp'] + c['efn']}"
    )


# Ordinary talk, for a call where numbers are rare, as they are in most calls.
TALK = (
    "thank you for calling how can I help you today",
    "I was looking at my bill and I think I was charged twice for the same thing",
    "I'm sorry to hear that let me pull up your details and have a look for you",
    "can you confirm the name on the account and your date of birth for me please",
    "sure it's the one under my name I moved house last spring so it might be the old address",
    "okay I can see the two charges here one of them looks like a pending authorisation",
    "that should drop off in a few days but I can raise a request to speed it up if you like",
    "yes please that would be great I just don't want to be out of pocket",
    "no problem at all is there anything else I can help you with today",
    "no that's everything thanks for your help have a good day",
)


def long_call(calls, target_words: int, talk_turns_per_item: int = 0) -> list[Word]:
    """The corpus calls one after another, repeated, as one call of about ``target_words``;
    with ``talk_turns_per_item`` turns of ordinary talk between two corpus items."""
    words: list[Word] = []
    offset_s = 0.0
    talk = 0
    while len(words) < target_words:
        for call in calls:
            for word in call.words:
                words.append(
                    replace(word, start_s=word.start_s + offset_s, end_s=word.end_s + offset_s)
                )
            offset_s = words[-1].end_s + 2.0
            for _ in range(talk_turns_per_item):
                speaker = ("agent", "customer")[talk % 2]
                for token in TALK[talk % len(TALK)].split():
                    words.append(Word(offset_s, offset_s + 0.3, " " + token, 0.9, speaker))
                    offset_s += 0.4
                offset_s += 1.0
                talk += 1
    return words[:target_words]


SPOKEN_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def random_number_flag_rate(
    prefix: str, length: int, spoken: bool, trials: int, seed: int
) -> float:
    """Share of random ``length``-digit numbers said after ``prefix`` that get any tag: not in
    the corpus, so a check the corpus was not tuned on. Some random numbers are valid card
    numbers (Luhn and a brand prefix): about 1 in 20 of 16 digits; those are redacted by design."""
    rng = random.Random(seed)
    flagged = 0
    for _ in range(trials):
        digits = "".join(rng.choice("0123456789") for _ in range(length))
        tokens = prefix.split() + (
            [SPOKEN_DIGITS[int(d)] for d in digits]
            if spoken
            else [digits[i : i + 4] for i in range(0, length, 4)]
        )
        words = [
            Word(i * 0.4, i * 0.4 + 0.3, " " + t, 0.9, "customer") for i, t in enumerate(tokens)
        ]
        flagged += bool(redact_words(words)[1])
    return flagged / trials


def median_ms(function, words: list[Word], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        function(words)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--words", type=int, default=5000, help="length of the timed call")
    parser.add_argument(
        "--pipeline-models",
        default="whisper-tiny.en,whisper-base",
        help='ASR models to time the whole pipeline with ("" to skip; needs the models)',
    )
    args = parser.parse_args()

    calls = load_corpus()
    with_values = sum(not call.is_near_miss for call in calls)
    words_total = sum(len(call.words) for call in calls)
    print(
        f"corpus: {len(calls)} items ({with_values} with values, {len(calls) - with_values} "
        f"near-misses), {words_total} words"
    )
    print()
    print_table("redact_words (defaults)", score(calls, lambda words: redact_words(words)[0]))
    print()
    for title, part in (
        ("hand-written items", [call for call in calls if not call.item.timed_words]),
        ("real ASR output (whisper on card_payment)", [c for c in calls if c.item.timed_words]),
    ):
        print_table(f"redact_words on {title}", score(part, lambda words: redact_words(words)[0]))
        print()
    print_table(
        "baseline: written-digit runs of 13-19 that pass Luhn", score(calls, baseline_redact)
    )
    print()

    print("random numbers (not in the corpus): share given any tag, 500 each")
    print(f"  {'said after':22} {'form':8}" + "".join(f" {n:>2} digits" for n in (10, 13, 16, 19)))
    for prefix in ("my order number is", "it's", "the card number is"):
        for spoken in (True, False):
            rates = [
                random_number_flag_rate(prefix, n, spoken, trials=500, seed=n)
                for n in (10, 13, 16, 19)
            ]
            form = "spoken" if spoken else "written"
            print(f"  {prefix!r:22} {form:8}" + "".join(f" {rate:9.3f}" for rate in rates))
    print()

    for title, talk_turns in (
        ("numbers only: the corpus repeated", 0),
        ("typical: 8 turns of talk per corpus item", 8),
    ):
        words = long_call(calls, args.words, talk_turns)
        ours_ms = median_ms(redact_words, words, args.rounds)
        base_ms = median_ms(baseline_redact, words, args.rounds)
        per_thousand = 1000 / len(words)
        print(f"speed, {title}: one call of {len(words)} words, median of {args.rounds} runs")
        print(
            f"  redact_words {ours_ms * per_thousand:7.2f} ms per 1,000 words"
            f"  ({ours_ms:.1f} ms per call)"
        )
        print(
            f"  baseline     {base_ms * per_thousand:7.2f} ms per 1,000 words"
            f"  ({base_ms:.1f} ms per call)"
        )
        print(f"  ratio        {ours_ms / base_ms:7.1f}x the baseline")
    tracemalloc.start()
    redact_words(words)
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory of one redact_words run on the typical call: {peak_bytes / 2**20:.1f} MiB")
    models = [model for model in args.pipeline_models.split(",") if model]
    if models:
        print()
        pipeline_share(calls, models, args.rounds)


def asr_item_name(model: str, layout: str) -> str:
    """The corpus item holding ``model``'s words for the demo call's ``layout`` file."""
    return f"asr_{model.removeprefix('whisper-').replace('.', '_')}_card_payment_{layout}"


def pipeline_share(calls, models: list[str], rounds: int) -> None:
    """Redaction's share of the pipeline's wall time: the whole CallProcessor on each demo file
    (models loaded and warmed up first) against redact_words, in the pipeline's own "redact"
    stage and timed alone on the same call's real words from the corpus."""
    from pipeline.audio import file_sha256
    from pipeline.call import CallProcessor
    from pipeline.config import load_settings

    truth = json.loads(DEMO_TRUTH.read_text())
    files = {layout: DEMO_TRUTH.parent / name for layout, name in truth["files"].items()}
    real_words = {call.item.name: call.words for call in calls if call.item.timed_words}
    print("share of pipeline wall time spent redacting, demo call card_payment")
    print(
        f"  {'model':16} {'file':7} {'pipeline s':>10} {'redact stage ms':>15}"
        f" {'redact_words ms':>15} {'words':>5} {'share':>7}"
    )
    total_s = redact_s = 0.0
    for model in models:
        processor = CallProcessor(load_settings(asr={"model": model}))
        hashes = {layout: file_sha256(path) for layout, path in files.items()}
        for layout, path in files.items():  # warm-up: load the models, fill the caches
            processor(path, hashes[layout])
        for layout, path in files.items():
            record = processor(path, hashes[layout])
            stage_s = record.stage_s["redact"]
            words = real_words.get(asr_item_name(model, layout))
            alone_ms = median_ms(redact_words, words, rounds) if words else float("nan")
            total_s += record.processing_s
            redact_s += stage_s
            print(
                f"  {model:16} {layout:7} {record.processing_s:10.2f} {stage_s * 1000:15.2f}"
                f" {alone_ms:15.2f} {len(words or ()):5d} {stage_s / record.processing_s:7.3%}"
            )
    share = redact_s / total_s
    verdict = "within" if share <= SHARE_TARGET else "OVER"
    print(
        f"  redaction's share of pipeline wall time: {share:.3%} "
        f"({verdict} the {SHARE_TARGET:.0%} target)"
    )


if __name__ == "__main__":
    main()
