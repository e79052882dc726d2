"""Render card-payment calls as audio with espeak-ng, for the redaction check on real ASR.

    .venv/bin/python benchmarks/card_calls/make_card_calls.py            # rewrites this folder
    .venv/bin/python benchmarks/card_calls/make_card_calls.py --out DIR  # the same files in DIR
    .venv/bin/python benchmarks/card_calls/make_card_calls.py --out DIR --seed 9091 --calls 6 \
        --voice-offset 3                  # other calls, other voice pairs: a held-out check

The calls are dialogues from the payment-dialogue generator (tests/payment_dialogues.py, seed
``SEED``, spoken form: the words people say, not ASR's spelling), spoken by espeak-ng voices,
accents, speeds and levels that ``audio_samples/`` does not use, with the generator's own wording
(other cues, groupings, read-backs, corrections, a long pause while the customer finds the card,
expiry and code in one breath). Each call is written as ``cardNN.stereo.flac`` (agent left,
customer right, each leaking into the other at -28 dB), ``cardNN.mono.mp3`` (the two mixed)
and ``cardNN.truth.json`` (the turns as measured from the signal, and for every value that must
be redacted and every number that must be kept: its kind, its digits and the turns it was said
in). 8 kHz, telephone band, the stereo file 16-bit FLAC and the mono one a 32 kbit/s MP3, as in ``audio_samples/``, whose synthesis and mixing
code this script reuses; the output is deterministic for the same espeak-ng, libsndfile and
numpy/scipy.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PROJECT = HERE.parent.parent
SEED = 2613
CALLS = 10
LONGEST_PAUSE_S = 8.0  # every call but one: the files stay small
FINDING_THE_CARD_S = 25.0  # the one call where the customer looks for the card this long
# A quieter line than audio_samples/ (-63 dBFS): noise is what FLAC cannot compress.
NOISE_FLOOR_DBFS = -70.0


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


samples = _load("make_samples", PROJECT / "audio_samples" / "make_samples.py")
sys.path.insert(0, str(PROJECT))
from tests.payment_dialogues import AGENT, Dialogue, make_dialogue

# (espeak-ng voice, words per minute, pitch, level dBFS): none of audio_samples/' voices.
AGENT_VOICES = (
    ("en-gb-x-rp+f4", 175, 60, -24.0),
    ("en-gb-scotland+m3", 170, 45, -25.0),
    ("en-us-nyc+f1", 185, 65, -26.0),
    ("en-gb-x-gbcwmd+m7", 165, 40, -23.0),
    ("en-029+f3", 160, 55, -25.0),
    ("en-gb+m2", 180, 50, -27.0),
)
CUSTOMER_VOICES = (
    ("en-gb-x-gbclan+m5", 150, 35, -30.0),
    ("en-us+f4", 190, 70, -29.0),
    ("en-gb-scotland+f2", 145, 60, -31.0),
    ("en-029+m1", 155, 45, -28.0),
    ("en-us-nyc+m3", 175, 40, -32.0),
    ("en-gb-x-rp+m6", 140, 55, -27.0),
    ("en-us+klatt2", 160, 50, -30.0),
)


def pick_dialogues(seed: int = SEED, calls: int = CALLS) -> list[Dialogue]:
    """The first ``calls`` short dialogues of ``seed`` that take a card payment, no two of the
    same card brand length and first digit until every such kind has been taken once."""
    chosen: list[Dialogue] = []
    seen: set[tuple[int, str]] = set()
    index = 0
    while len(chosen) < calls:
        rng = random.Random(f"{seed}:{index}")
        dialogue = make_dialogue(f"card{len(chosen) + 1:02d}", rng, short=True)
        index += 1
        cards = [v.digits for v in dialogue.values if v.kind == "card"]
        if not cards:
            continue
        shape = (len(cards[0]), cards[0][0])
        if shape in seen and index < 400:
            continue
        seen.add(shape)
        chosen.append(dialogue)
    return chosen


def call_script(
    dialogue: Dialogue, number: int, long_pause: bool, seed: int = SEED, offset: int = 0
):
    rng = random.Random(f"{seed}:voices:{number}")
    agent = AGENT_VOICES[(number + offset) % len(AGENT_VOICES)]
    agent_voice = samples.Voice(*agent, word_gap_10ms=1)
    customer_voice = samples.Voice(*CUSTOMER_VOICES[(number + 2 * offset) % len(CUSTOMER_VOICES)])
    agent = samples.Agent(f"agent{number}", f"c{number:03d}", "payments", agent_voice)
    lines = []
    previous = None
    for utterance in dialogue.utterances:
        pause_s = utterance.pause_s
        if pause_s > LONGEST_PAUSE_S:
            pause_s = FINDING_THE_CARD_S if long_pause else LONGEST_PAUSE_S
        if previous == utterance.speaker:
            pause_s = max(pause_s, 0.3)  # one voice cannot talk over itself
        text = " ".join(token.text for token in utterance.tokens)
        # People read numbers a little slower than they talk.
        has_number = any(t.value is not None or t.kept is not None for t in utterance.tokens)
        voice = agent_voice if utterance.speaker == AGENT else customer_voice
        speed = int(voice.speed_wpm * rng.uniform(0.8, 0.9)) if has_number else None
        lines.append(samples.Line(utterance.speaker, text, pause_s=pause_s, speed_wpm=speed))
        previous = utterance.speaker
    return samples.CallScript(
        name=dialogue.name, agent=agent, customer=customer_voice, queue="payments",
        started_at=f"2026-12-0{1 + number % 9}T1{number % 10}:00:00Z", lines=lines,
        mono_format="mp3",  # a mono recorder's MP3 (32 kbit/s) keeps the set small
    )  # fmt: skip


def labelled(dialogue: Dialogue, what: str) -> list[dict]:
    """Each value (or kept number) with the indices of the turns it was said in."""
    items = dialogue.values if what == "value" else dialogue.kept
    out = []
    for index, item in enumerate(items):
        turns = [
            turn
            for turn, utterance in enumerate(dialogue.utterances)
            if any((t.value if what == "value" else t.kept) == index for t in utterance.tokens)
        ]
        out.append({"kind": item.kind, "digits": item.digits, "turns": turns})
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="folder to write (default: here)")
    parser.add_argument("--seed", type=int, default=SEED, help="the generator seed")
    parser.add_argument("--calls", type=int, default=CALLS, help="how many calls")
    parser.add_argument("--voice-offset", type=int, default=0, help="shift the voice pairs")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    samples.NOISE_FLOOR_DBFS = NOISE_FLOOR_DBFS
    toolchain = {
        "espeak_ng": samples.espeak_version(),
        "libsndfile": samples.sf.__libsndfile_version__,
        "generator_seed": args.seed,
    }
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="callqa-card-calls-") as tmp:
        chosen = pick_dialogues(args.seed, args.calls)
        paused = [d for d in chosen if any(u.pause_s > LONGEST_PAUSE_S for u in d.utterances)]
        for number, dialogue in enumerate(chosen, start=1):
            long_pause = bool(paused) and dialogue is paused[0]
            script = call_script(dialogue, number, long_pause, args.seed, args.voice_offset)
            pauses = np.random.default_rng(samples.NOISE_SEED + zlib.crc32(script.name.encode()))
            call = samples.render(script, Path(tmp), pauses)
            paths = samples.write_call(call, args.out, toolchain)
            truth_path = next(p for p in paths if p.suffix == ".json")
            truth = json.loads(truth_path.read_text())
            truth["values"] = labelled(dialogue, "value")
            truth["kept"] = labelled(dialogue, "kept")
            truth_path.write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n")
            written += paths
    for path in written:
        print(f"{path.stat().st_size:>9,d}  {path.name}")
    total = sum(path.stat().st_size for path in written)
    print(f"{len(written)} files, {total / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
