"""A fresh set of synthetic mono calls for diarization, unlike ``audio_samples/make_samples.py``.

Other espeak-ng voices (British, Scottish, Caribbean, New York), other speaking rates (130-205
words a minute), other domains and phrasings (insurance, airline, utilities, pharmacy, broadband),
and the hard cases: a customer reading numbers in short bursts with the agent reading them back,
two voices of the same gender and pitch, turn changes with no pause (or a slight overlap), and
back-channels. Each call is a mono 8 kHz telephone-band WAV with a ``.truth.json`` of its turns as
measured from the signal.

Two parts that share no voice and no seed: ``dev`` (what one may look at while developing) and
``heldout`` (measured only); and ``hard``, calls made impossible on purpose (one voice on both
sides, the pitch at most a few steps apart), on which a diarizer should say it is unsure. The
generator shares no code with ``pipeline/``.

    .venv/bin/python benchmarks/synthetic_calls.py --out benchmarks/out/synthetic [--part dev]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

RATE_HZ = 8000
BAND_HZ = (300.0, 3400.0)
FRAME_S = 0.01
AUDIBLE_BELOW_PEAK_DB = 35.0  # a 10 ms frame this far under the utterance's loudest is silence
NOISE_DBFS = -62.0


@dataclass(frozen=True)
class Voice:
    espeak: str
    pitch: int
    level_dbfs: float


# (espeak voice, pitch); none of these is used in audio_samples/.
DEV_VOICES = {
    "female": [("en-gb-x-rp+Annie", 50), ("en-029+steph", 55), ("en-us+shelby", 45)],
    "male": [("en-gb-scotland+Andy", 45), ("en-us-nyc+Denis", 50), ("en-gb-x-gbcwmd+m3", 40)],
}
HELDOUT_VOICES = {
    "female": [
        ("en-gb-x-gbclan+linda", 50),
        ("en-029+belinda", 50),
        ("en-gb-scotland+aunty", 55),
        ("en-us+Andrea", 45),
    ],
    "male": [
        ("en-us-nyc+Gene", 45),
        ("en-gb-x-rp+Hugo", 50),
        ("en-us+quincy", 55),
        ("en-us+victor", 45),
    ],
}
PARTS = {"dev": (DEV_VOICES, 101), "heldout": (HELDOUT_VOICES, 9001), "hard": (HELDOUT_VOICES, 7001)}

DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
DOMAINS = [
    {"company": "Northwind Insurance", "agent_names": ["Priya", "Tom", "Grace"],
         "asks": ["I need to make a claim on my car policy", "somebody backed into my car in a car park",
               "I want to check whether my claim has gone through"],
         "number": "policy number", "resolution": "I have opened the claim and an assessor will ring you within two working days"},
    {"company": "Harbor Air", "agent_names": ["Dan", "Maria", "Yusuf"],
         "asks": ["my flight to Lisbon was cancelled", "I need to move my booking to Friday",
               "I was charged for a bag I never checked"],
         "number": "booking reference", "resolution": "you are now on the Friday flight at six forty and the new ticket is in your email"},
    {"company": "Brightline Energy", "agent_names": ["Olivia", "Sam", "Ken"],
         "asks": ["my meter reading looks far too high", "I moved house and I am still being billed at the old address",
               "the direct debit went out twice"],
         "number": "account number", "resolution": "I have corrected the reading and the refund will reach your bank in five days"},
    {"company": "Meadow Pharmacy", "agent_names": ["Hannah", "Leo", "Amira"],
         "asks": ["I am calling about my repeat prescription", "my tablets did not arrive this week",
               "I need to change the pharmacy my prescription goes to"],
         "number": "NHS number", "resolution": "the prescription is ready and the courier will bring it tomorrow morning"},
    {"company": "Fibrelink Broadband", "agent_names": ["Joe", "Ruth", "Ivan"],
         "asks": ["my internet drops every evening", "the router keeps flashing orange",
               "I was promised an engineer and nobody came"],
         "number": "customer number", "resolution": "an engineer is booked for Thursday between eight and one"},
]  # fmt: skip
BACKCHANNELS = ["mm-hm", "right", "okay", "yeah", "I see"]


@dataclass
class Line:
    speaker: str
    text: str
    pause_s: float  # after the latest end of everything said before (negative: overlap)
    rate_wpm: int


def script(
    rng: np.random.Generator, domain: dict, agent_name: str, customer_name: str
) -> list[Line]:
    """One call's lines; the customer reads a number in bursts and the agent reads it back."""
    agent_rate = int(rng.integers(150, 206))
    customer_rate = int(rng.integers(130, 196))

    def a(text: str, pause: float | None = None) -> Line:
        return Line(
            "agent", text, float(rng.uniform(0.15, 0.7)) if pause is None else pause, agent_rate
        )

    def c(text: str, pause: float | None = None, rate: int | None = None) -> Line:
        return Line(
            "customer",
            text,
            float(rng.uniform(0.15, 0.7)) if pause is None else pause,
            rate or customer_rate,
        )

    ask = domain["asks"][int(rng.integers(len(domain["asks"])))]
    greeting = [
        f"Good morning, you've reached {domain['company']}, {agent_name} speaking.",
        f"{domain['company']}, this is {agent_name}, what can I do for you?",
        f"Hi there, {agent_name} at {domain['company']}, how can I help?",
    ][int(rng.integers(3))]
    digits = [DIGITS[int(d)] for d in rng.integers(0, 10, size=int(rng.integers(8, 11)))]
    bursts, start = [], 0
    while start < len(digits):
        size = int(rng.integers(2, 4))
        bursts.append(" ".join(digits[start : start + size]))
        start += size
    lines = [
        a(greeting, 0.0),
        c(f"Hello, yes, {ask}.", pause=0.0),  # no pause at all at the hand-over
        a(f"Sorry to hear that. Can I take your {domain['number']}, please?"),
        c("Yes, it's"),
    ]
    for index, burst in enumerate(bursts):
        lines.append(c(burst, pause=float(rng.uniform(0.35, 0.9)), rate=customer_rate - 20))
        if index % 2 == 1:  # the agent reads part of it back between bursts
            lines.append(a(burst + ".", pause=float(rng.uniform(0.2, 0.5))))
    lines += [
        a("Thank you. And your name?", pause=float(rng.uniform(0.2, 0.5))),
        c(f"{customer_name}.", pause=0.0),
        a(f"Thanks {customer_name.split()[0]}. Give me one moment while I look at this. "
          f"Right, I can see what happened, {domain['resolution']}."),
        Line("customer", BACKCHANNELS[int(rng.integers(len(BACKCHANNELS)))], -2.2, customer_rate),
        c("Oh, that's brilliant, thank you so much.", pause=-0.15),  # starts a touch before the agent ends
        a("You're welcome. Is there anything else today?", pause=float(rng.uniform(0.1, 0.4))),
        c("No, that's all, cheers.", pause=0.0),
        a(f"Lovely, thanks for calling {domain['company']}, take care.", pause=0.05),
    ]  # fmt: skip
    return lines


def speak(text: str, voice: Voice, rate_wpm: int, workdir: Path) -> np.ndarray:
    wav = workdir / "line.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice.espeak, "-s", str(rate_wpm), "-p", str(voice.pitch), "-w", str(wav), text],
        check=True, capture_output=True,
    )  # fmt: skip
    raw, rate = sf.read(wav, dtype="float64")
    speech = signal.resample_poly(raw, RATE_HZ, rate)
    sos = signal.butter(4, BAND_HZ, btype="bandpass", fs=RATE_HZ, output="sos")
    speech = signal.sosfilt(sos, np.concatenate([np.zeros(400), speech, np.zeros(400)]))
    levels = frame_levels(speech)
    active = levels >= levels.max() - 30.0
    speech *= 10 ** ((voice.level_dbfs - 10 * np.log10(np.mean(10 ** (levels[active] / 10)))) / 20)
    first, last = audible(speech)
    return speech[max(0, first - 160) : last + 160]


def frame_levels(x: np.ndarray) -> np.ndarray:
    size = int(FRAME_S * RATE_HZ)
    frames = x[: len(x) // size * size].reshape(-1, size)
    return 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)


def audible(x: np.ndarray) -> tuple[int, int]:
    levels = frame_levels(x)
    loud = np.flatnonzero(levels >= levels.max() - AUDIBLE_BELOW_PEAK_DB)
    size = int(FRAME_S * RATE_HZ)
    return int(loud[0]) * size, (int(loud[-1]) + 1) * size


def render(lines: list[Line], voices: dict[str, Voice], rng: np.random.Generator, workdir: Path):
    clips = [speak(line.text, voices[line.speaker], line.rate_wpm, workdir) for line in lines]
    starts, latest_end, previous_start = [], int(0.6 * RATE_HZ), 0
    for line, clip in zip(lines, clips):
        if line.pause_s < -1.0:  # a back-channel: that far before the end of the line before it
            start = max(previous_start, latest_end + int(line.pause_s * RATE_HZ))
        else:
            start = latest_end + int(line.pause_s * RATE_HZ)
        starts.append(start)
        previous_start = start
        latest_end = max(latest_end, start + len(clip))
    total = latest_end + int(0.8 * RATE_HZ)
    tracks = {"agent": np.zeros(total), "customer": np.zeros(total)}
    turns = []
    for line, clip, start in zip(lines, clips, starts):
        track = tracks[line.speaker]
        if np.any(track[start : start + len(clip)]):  # one voice never overlaps itself
            start = int(np.flatnonzero(track)[-1]) + int(0.1 * RATE_HZ)
        track[start : start + len(clip)] += clip
        first, last = audible(clip)
        turns.append({"speaker": line.speaker, "start_s": round((start + first) / RATE_HZ, 3),
                      "end_s": round((start + last) / RATE_HZ, 3), "text": line.text})  # fmt: skip
    noise = rng.standard_normal(total) * 10 ** (NOISE_DBFS / 20)
    mono = 0.5 * (tracks["agent"] + tracks["customer"]) + noise
    return mono.astype(np.float32), sorted(turns, key=lambda t: t["start_s"])


def voices_for(
    rng: np.random.Generator, pool: dict, same_gender: bool, same_voice: bool = False
) -> dict[str, Voice]:
    if same_voice:  # made hard on purpose: one voice on both sides, the pitch a touch apart
        gender = ["female", "male"][int(rng.integers(2))]
        voice = pool[gender][int(rng.integers(len(pool[gender])))]
        level = -26.0 + rng.uniform(-2, 2)
        return {
            "agent": Voice(voice[0], voice[1], float(level)),
            "customer": Voice(voice[0], voice[1] + int(rng.integers(0, 6)), float(level - 2)),
        }
    if same_gender:
        gender = ["female", "male"][int(rng.integers(2))]
        first, second = rng.choice(len(pool[gender]), size=2, replace=False)
        picked = [pool[gender][int(first)], pool[gender][int(second)]]
    else:
        genders = ["female", "male"] if rng.random() < 0.5 else ["male", "female"]
        picked = [pool[g][int(rng.integers(len(pool[g])))] for g in genders]
    agent_level, customer_level = -26.0 + rng.uniform(-2, 2), -26.0 + rng.uniform(-8, 3)
    return {
        "agent": Voice(picked[0][0], picked[0][1], float(agent_level)),
        "customer": Voice(picked[1][0], picked[1][1], float(customer_level)),
    }


def generate(out: Path, part: str, calls: int = 8) -> list[Path]:
    """Write ``calls`` mono calls of ``part`` into ``out``; returns the audio paths (kept if present)."""
    pool, seed = PARTS[part]
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(calls):
            name = f"{part}_{index:02d}"
            wav, truth_path = out / f"{name}.mono.wav", out / f"{name}.truth.json"
            paths.append(wav)
            if wav.exists() and truth_path.exists():
                continue
            rng = np.random.default_rng(seed + index)
            domain = DOMAINS[index % len(DOMAINS)]
            same_gender = index % 2 == 1  # every other call: two voices of one gender
            # the "hard" part: one voice on both sides, which no one can tell apart
            voices = voices_for(rng, pool, same_gender, same_voice=part == "hard")
            agent_name = domain["agent_names"][int(rng.integers(3))]
            customer_name = ["Ann Hughes", "Kofi Mensah", "Rosa Delgado", "Liam Byrne", "Mei Chen"][
                index % 5
            ]
            lines = script(rng, domain, agent_name, customer_name)
            mono, turns = render(lines, voices, rng, Path(tmp))
            sf.write(wav, mono, RATE_HZ, subtype="PCM_16")
            truth = {
                "call": name, "part": part, "same_gender": same_gender or part == "hard",
                "same_voice": part == "hard", "company": domain["company"],
                "voices": {role: voice.espeak for role, voice in voices.items()},
                "duration_s": round(len(mono) / RATE_HZ, 3), "turns": turns,
            }  # fmt: skip
            truth_path.write_text(json.dumps(truth, indent=1))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent / "out" / "synthetic"
    )
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--calls", type=int, default=8)
    args = parser.parse_args()
    for part in PARTS if args.part == "all" else [args.part]:
        for path in generate(args.out, part, args.calls):
            print(path)


if __name__ == "__main__":
    main()
