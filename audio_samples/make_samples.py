"""Synthesise the demo calls in ``audio_samples/`` with espeak-ng, with their ground truth.

Run from anywhere::

    python audio_samples/make_samples.py             # rewrites audio_samples/
    python audio_samples/make_samples.py --out DIR   # writes the same files into DIR

Each call is a script of lines (who says what, and when relative to the line before). Every
line is spoken by espeak-ng, resampled to 8 kHz, band-limited to the telephone band and placed
on its speaker's track. The stereo file carries the agent on the left and the customer on the
right, each with the other side leaking in at -28 dB and a quiet noise floor; the mono file is
the two channels averaged. ``NAME.truth.json`` holds the turns as measured from the synthesised
signal (not as placed), and the silences, holds and overlaps derived from them.

The output is deterministic: the same espeak-ng, libsndfile (libFLAC), ffmpeg (LAME) and
numpy/scipy give the same bytes; seeds are fixed and nothing records the time. The tool
versions used are written into each truth file so a test can tell a real regression from a
different toolchain. The generator deliberately shares no code with ``pipeline/``: the ground
truth must not come from the code it is used to check.

Needs the Debian packages espeak-ng and ffmpeg, and numpy, scipy and soundfile.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

SAMPLE_RATE_HZ = 8000
ESPEAK_RATE_HZ = 22050
TELEPHONE_BAND_HZ = (300.0, 3400.0)
BLEED_DB = -28.0  # the other side's voice leaking into each channel of the stereo file
# Noise is the one thing FLAC cannot compress: a quiet floor that rolls off early keeps the seven
# calls under about 9.5 MB (every second costs about as much silent as spoken).
NOISE_FLOOR_DBFS = -63.0
NOISE_TILT_HZ = 1000.0  # the noise floor rolls off above this
# A 5 ms frame whose RMS reaches this level counts as audible speech: about 25 dB under the
# speech level and 13 dB over the noise floor.
SPEECH_THRESHOLD_DBFS = -50.0
FRAME_S = 0.005
EDGE_MARGIN_S = 0.03  # sub-threshold audio kept around each trimmed utterance, so no clicks
LEAD_IN_S = 0.5
TAIL_S = 0.6
SILENCE_MIN_S = 2.0
DEAD_AIR_MIN_S = 5.0
BACKCHANNEL_MAX_S = 1.0
MONO_MIX_GAIN = 0.5  # the two legs averaged, so two voices at once do not clip
NOISE_SEED = 20261123
FLAC_COMPRESSION_LEVEL = 1.0  # soundfile's 0..1 scale; 1.0 is libFLAC's -8
MP3_BITRATE = "32k"  # MPEG-2.5 layer III at 8 kHz

AGENT = "agent"
CUSTOMER = "customer"
CHANNEL_MAP = {"0": AGENT, "1": CUSTOMER}


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice and the level its speech is normalised to."""

    espeak_voice: str
    speed_wpm: int
    pitch: int
    speech_level_dbfs: float
    word_gap_10ms: int = 0  # espeak-ng -g: a short pause after every word, in 10 ms units


@dataclass(frozen=True)
class Agent:
    """A call-center agent: how they sound and where they sit in the org chart."""

    name: str
    agent_id: str
    team: str
    voice: Voice


@dataclass(frozen=True)
class Line:
    """One utterance and where it starts.

    By default it starts ``pause_s`` after the latest end of everything said so far; a negative
    ``pause_s`` makes it cut in over the line still being spoken. ``into_s`` instead starts it
    that far into the previous line (a back-channel). ``after_hold`` marks the pause before it as
    an announced hold.
    """

    speaker: str
    text: str
    pause_s: float | None = None
    into_s: float | None = None
    after_hold: bool = False
    speed_wpm: int | None = None  # overrides the voice's speed (people read numbers slowly)


@dataclass(frozen=True)
class Sensitive:
    """A card detail the redactor must find: its digits and the words it was spoken as."""

    type: str
    value: str
    spoken: str


@dataclass(frozen=True)
class CallScript:
    """Everything that makes one demo call: who, what is said, and what it should score."""

    name: str
    agent: Agent
    customer: Voice
    queue: str
    started_at: str  # as the call platform's export would give it; fixed, never "now"
    lines: list[Line]
    stereo: bool = True
    mono_format: str = "flac"  # or "wav", or "mp3" encoded by ffmpeg/libmp3lame
    sensitive: list[Sensitive] = field(default_factory=list)
    expected_rubric_failures: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MeasuredTurn:
    """A line as it ended up in the signal: its audible extent, in seconds from the start."""

    speaker: str
    start_s: float
    end_s: float
    text: str


@dataclass
class RenderedCall:
    """A call placed on its two clean speaker tracks, before bleed, noise and encoding."""

    script: CallScript
    agent_track: np.ndarray  # clean band-limited speech, float64, at SAMPLE_RATE_HZ
    customer_track: np.ndarray
    turns: list[MeasuredTurn]
    hold_returns: list[int]  # indices of turns that end an announced hold


# --- voices -------------------------------------------------------------------------------

# Agents speak at the -26 dBov telephony nominal, customers' lines a little quieter.
# Voices and speeds were picked among espeak-ng's variants for being understood best by
# whisper-base and tiny.en on 8 kHz telephone-band audio (the bundled ASR models): the agents say
# what the rubric listens for, so they speak a little slower, with a short gap after each word
# (at espeak's default pace "Acme Telecom" runs together into "me Pelacom"). Whisper's verdict on
# synthetic speech turns on small details (a voice, a word, the noise): after any change here,
# run the pipeline with both models and check each call still scores as its truth says.
SARAH = Agent("Sarah", "a101", "billing", Voice("en-us+f5", 150, 55, -26.0, word_gap_10ms=2))
JAMES = Agent("James", "a102", "support", Voice("en-us+m6", 160, 50, -26.0, word_gap_10ms=2))
MIKE = Agent("Mike", "a103", "support", Voice("en-us+klatt4", 165, 40, -25.0, word_gap_10ms=2))
EMILY = Agent("Emily", "a104", "billing", Voice("en-us+f2", 165, 60, -26.0, word_gap_10ms=2))

# "Hello" first: the unvoiced "Th" that opens a call is lost in the telephone band ("and you
# for calling"); after a word, Whisper hears "thank you".
GREETING = "Hello, thank you for calling Acme Telecom, my name is {name}."
DISCLOSURE = "This call may be recorded for quality and training purposes."
VERIFY = "Can I please confirm your full name and date of birth?"
EMPATHY = "I'm sorry to hear that, I understand how frustrating that must be."
ANYTHING_ELSE = "Is there anything else I can do for you today?"
CLOSING = "Thank you for calling Acme Telecom, have a great day."


def opening(agent: Agent) -> str:
    """The agent's first turn: greeting, recording disclosure, offer of help."""
    return f"{GREETING.format(name=agent.name)} {DISCLOSURE} How can I help you today?"


def _agent(text: str, **placement: object) -> Line:
    return Line(AGENT, text, **placement)


def _customer(text: str, **placement: object) -> Line:
    return Line(CUSTOMER, text, **placement)


def call_scripts() -> list[CallScript]:
    """The seven demo calls, in the order they are written.

    The wording follows ``pipeline/rubrics/default.yaml`` where a criterion should pass (the
    disclosure comes before the customer's first turn ends, account details only after the
    verification question, a resolution phrase, "anything else" near the end) and where one
    should fail (frustration cues with no empathy after them, forbidden phrases).
    """
    good_call = CallScript(
        name="good_call",
        agent=SARAH,
        customer=Voice("en-us+m8", 165, 50, -28.0),
        queue="billing_inbound",
        started_at="2026-11-02T09:14:05Z",
        lines=[
            _agent(opening(SARAH)),
            _customer("Hi, I was charged twice on my bill this month."),
            _agent(f"I can look into that for you. {VERIFY}"),
            _customer("David Miller, the fourth of March, nineteen eighty five."),
            _agent("Thank you, David. I can see on your account that the charge was taken twice."),
            _customer("This is ridiculous, it's the second time this has happened."),
            _agent(
                f"{EMPATHY} I have applied a credit for the duplicate charge, and you will"
                " receive a confirmation email today."
            ),
            _customer("Okay, thank you."),
            _agent(ANYTHING_ELSE),
            _customer("No, that's everything."),
            _agent(CLOSING),
        ],
    )
    dead_air = CallScript(
        name="dead_air",
        agent=JAMES,
        customer=Voice("en-us+f3", 165, 55, -28.0),
        queue="tech_support",
        started_at="2026-11-02T10:02:41Z",
        lines=[
            _agent(opening(JAMES)),
            _customer("Hi, my internet has been really slow since yesterday."),
            _agent(f"I can help with that. {VERIFY}"),
            _customer("Linda Park, June twelfth, nineteen ninety."),
            # Dead air: the agent works in silence and has announced nothing.
            _agent(
                "Okay, I can see on your account that your modem dropped off the network"
                " overnight.",
                pause_s=7.0,
            ),
            _customer("Can you fix it from there? I work from home."),
            _customer("Hello? Are you still there?", pause_s=12.0),
            _agent(
                "Yes, sorry about that. I have reset the connection, and you will receive a text"
                f" message when your modem is back online. {ANYTHING_ELSE}"
            ),
            _customer("No, that's all."),
            _agent(CLOSING),
        ],
        expected_rubric_failures=["no_dead_air_over_10s"],
    )
    talkover = CallScript(
        name="talkover",
        agent=JAMES,
        customer=Voice("en-us+f5", 170, 50, -28.0),
        queue="cancellations",
        started_at="2026-11-02T11:37:12Z",
        lines=[
            _agent(opening(JAMES)),
            _customer("Hi, I want to cancel my contract, I'm moving abroad next month."),
            # The agent cuts in before she is done (the first of two times).
            _agent(f"I can help with that. {VERIFY}", pause_s=-1.3),
            _customer("Maria Lopez, the second of October, nineteen seventy nine."),
            _agent(
                "Thank you, Maria. Your current plan runs until August, so an early termination"
                " fee would apply."
            ),
            # The customer cuts in over the agent...
            _customer("This is ridiculous, nobody told me about any fee!", pause_s=-1.5),
            _agent(
                f"{EMPATHY} As you're moving abroad, we can waive it with a copy of your new lease."
            ),
            # ...and again.
            _customer("How long does that take? I leave in three weeks.", pause_s=-1.4),
            _agent("About five days."),
            _customer(
                "Okay, I can email the lease today, I just need to find it in my inbox first."
            ),
            # A back-channel while she talks, then the agent cuts in again: two interruptions,
            # one more than the rubric allows (the back-channel is not one).
            _agent("Uh-huh.", into_s=1.5),
            _agent(
                "Let me send that to you now, you will receive my email in a minute, just reply"
                " to it.",
                pause_s=-1.2,
            ),
            _customer("Great, thanks."),
            _agent(ANYTHING_ELSE),
            _customer("No, that's it."),
            _agent(CLOSING),
        ],
        expected_rubric_failures=["interruptions"],
    )
    hold = CallScript(
        name="hold",
        agent=SARAH,
        customer=Voice("en-us+m4", 170, 45, -28.0),
        queue="billing_inbound",
        started_at="2026-11-02T13:20:58Z",
        mono_format="mp3",
        lines=[
            _agent(opening(SARAH)),
            _customer("Hi, there's a roaming charge on my bill, but I haven't left the country."),
            _agent(f"I can look into that for you. {VERIFY}"),
            _customer("Robert Chen, November third, nineteen sixty eight."),
            # Said slowly: at her usual pace "on hold" comes out of the telephone band as "unfold".
            _agent(
                "Thank you, can I put you on hold for a moment while I check that?", speed_wpm=130
            ),
            _customer("Sure."),
            _agent(
                "Thank you for holding. The charge on your account was a network error, so I have"
                " applied a credit for it, and you will receive an updated bill by email.",
                pause_s=20.0,
                after_hold=True,
            ),
            _customer("Oh, great, thanks."),
            _agent(ANYTHING_ELSE),
            _customer("No, that's all."),
            _agent(CLOSING),
        ],
    )
    # Visa test number 4012 8888 8888 1881 (Luhn-valid), read the way people read it aloud.
    card_spoken = (
        "four oh one two, double eight double eight, triple eight eight, one eight eight one"
    )
    card_payment = CallScript(
        name="card_payment",
        agent=EMILY,
        customer=Voice("en-us+m1", 155, 45, -28.0),
        queue="payments",
        started_at="2026-11-02T14:05:33Z",
        lines=[
            _agent(opening(EMILY)),
            _customer("Hi, I'd like to pay my bill."),
            _agent(f"Of course. {VERIFY}"),
            _customer("Thomas Wright, the ninth of May, nineteen seventy two."),
            _agent(
                "Thank you. Your balance is forty nine dollars and ninety nine cents. And the best"
                " number to reach you on?"
            ),
            _customer("It's four one six, two eight eight, one oh two four.", speed_wpm=140),
            _agent("Thanks. Go ahead with the card number."),
            _customer(f"It's {card_spoken}.", speed_wpm=140),
            _agent("And the expiry date?"),
            _customer("Twelve twenty eight.", speed_wpm=140),
            _agent("And the code on the back?"),
            _customer("The security code is four two one.", speed_wpm=140),
            _agent("Thank you, one moment."),
            _agent(
                "Your payment has gone through on the card ending in one eight eight one, and you"
                f" will receive a receipt by email. {ANYTHING_ELSE}",
                pause_s=3.0,
            ),
            _customer("No, that's all."),
            _agent(CLOSING),
        ],
        sensitive=[
            Sensitive("card", "4012888888881881", card_spoken),
            Sensitive("expiry", "1228", "Twelve twenty eight"),
            Sensitive("cvv", "421", "four two one"),
        ],
    )
    rude_call = CallScript(
        name="rude_call",
        mono_format="wav",  # one plain WAV among the FLAC/MP3 files
        agent=MIKE,
        customer=Voice("en-us+f2", 170, 65, -27.0),
        queue="tech_support",
        started_at="2026-11-02T15:48:19Z",
        lines=[
            _agent("Thanks for calling Acme Telecom, this is Mike."),
            _customer(
                "Hi, my phone has had no signal for three days, and I've called three times."
            ),
            _agent("Name and date of birth."),
            _customer("Karen Davis, August fifth, nineteen eighty two."),
            _agent("Okay. There's an outage in your area."),
            _customer("This is ridiculous, I pay for this every month!"),
            _agent("Calm down. That's not my problem, I don't run the network."),
            _customer("Well, when will it be fixed?"),
            _agent("I don't know. You will receive a text when it's back."),
            _customer("Can I at least get a credit?"),
            _agent("You'd have to call billing for that."),
            _customer("Unbelievable."),
            _agent("Thanks for calling Acme Telecom, goodbye."),
        ],
        # "closing" is the rubric's criterion for offering further help ("anything else").
        expected_rubric_failures=[
            "recording_disclosure",
            "empathy",
            "closing",
            "forbidden_phrases",
        ],
    )
    mono_same_gender = CallScript(
        name="mono_same_gender",
        agent=JAMES,
        # Another male voice of the same pitch (~97 Hz, as James), British and a little slower.
        customer=Voice("en-gb+m1", 155, 50, -27.0),
        queue="sales",
        started_at="2026-11-02T16:31:07Z",
        stereo=False,
        lines=[
            _agent(opening(JAMES)),
            _customer("Hi, I'd like to switch to the unlimited data plan."),
            _agent(f"Sure. {VERIFY}"),
            _customer("Peter Walsh, the first of July, nineteen eighty."),
            _agent("Thank you, Peter. Unlimited is sixty dollars a month. Shall I go ahead?"),
            _customer("Yes, please."),
            _agent(
                "Done, I have updated your plan, and you will receive a confirmation text today."
                f" {ANYTHING_ELSE}"
            ),
            _customer("No, thanks."),
            _agent(CLOSING),
        ],
    )
    return [good_call, dead_air, talkover, hold, card_payment, rude_call, mono_same_gender]


# --- synthesis ----------------------------------------------------------------------------


def _tool_output(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout
    except FileNotFoundError:
        raise SystemExit(
            f"{command[0]} is not installed; on Debian: apt-get install {command[0]}"
        ) from None


def espeak_version() -> str:
    """The espeak-ng version, e.g. ``1.51``."""
    out = _tool_output(["espeak-ng", "--version"])
    match = re.search(r"text-to-speech:\s*(\S+)", out)
    return match.group(1) if match else out.strip()


def ffmpeg_version() -> str:
    """The ffmpeg version, e.g. ``5.1.6-0+deb12u1``."""
    out = _tool_output(["ffmpeg", "-version"])
    match = re.search(r"ffmpeg version (\S+)", out)
    return match.group(1) if match else out.splitlines()[0]


def _to_samples(seconds: float) -> int:
    return round(seconds * SAMPLE_RATE_HZ)


def _bandpass(samples: np.ndarray) -> np.ndarray:
    sos = signal.butter(4, TELEPHONE_BAND_HZ, btype="bandpass", fs=SAMPLE_RATE_HZ, output="sos")
    return signal.sosfilt(sos, samples)


def _frame_levels_dbfs(samples: np.ndarray) -> np.ndarray:
    """RMS level of each FRAME_S frame, in dBFS (full scale = 1.0)."""
    frame = _to_samples(FRAME_S)
    n_frames = len(samples) // frame
    frames = samples[: n_frames * frame].reshape(n_frames, frame)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return 20.0 * np.log10(np.maximum(rms, 1e-10))


def audible_extent(samples: np.ndarray) -> tuple[int, int] | None:
    """First and one-past-last sample of the frames at or above SPEECH_THRESHOLD_DBFS."""
    loud = np.flatnonzero(_frame_levels_dbfs(samples) >= SPEECH_THRESHOLD_DBFS)
    if loud.size == 0:
        return None
    frame = _to_samples(FRAME_S)
    return int(loud[0]) * frame, (int(loud[-1]) + 1) * frame


def synthesize(text: str, voice: Voice, workdir: Path, speed_wpm: int | None = None) -> np.ndarray:
    """Speak ``text``: 8 kHz, telephone band, normalised, trimmed to its audible extent."""
    wav_path = workdir / "line.wav"
    command = ["espeak-ng", "-v", voice.espeak_voice, "-s", str(speed_wpm or voice.speed_wpm)]
    command += ["-p", str(voice.pitch), "-g", str(voice.word_gap_10ms), "-w", str(wav_path), text]
    subprocess.run(command, check=True, capture_output=True)
    raw, rate = sf.read(wav_path, dtype="float64")
    if rate != ESPEAK_RATE_HZ:
        raise RuntimeError(f"espeak-ng wrote {rate} Hz audio, expected {ESPEAK_RATE_HZ} Hz")
    pad = np.zeros(ESPEAK_RATE_HZ // 10)  # room for the filters to ring out on both sides
    speech = signal.resample_poly(np.concatenate([pad, raw, pad]), 160, 441)
    speech = _bandpass(speech)

    levels = _frame_levels_dbfs(speech)
    active = levels >= levels.max() - 30.0
    active_rms_dbfs = 10.0 * np.log10(np.mean(10.0 ** (levels[active] / 10.0)))
    speech *= 10.0 ** ((voice.speech_level_dbfs - active_rms_dbfs) / 20.0)

    extent = audible_extent(speech)
    if extent is None:
        raise RuntimeError(f"espeak-ng produced no audible speech for {text!r}")
    margin = _to_samples(EDGE_MARGIN_S)
    return speech[max(extent[0] - margin, 0) : extent[1] + margin]


def render(script: CallScript, workdir: Path, rng: np.random.Generator) -> RenderedCall:
    """Place every line on its speaker's track and measure the turns from the signal."""
    voices = {AGENT: script.agent.voice, CUSTOMER: script.customer}
    clips = [
        synthesize(line.text, voices[line.speaker], workdir, line.speed_wpm)
        for line in script.lines
    ]

    starts: list[int] = []
    latest_end = _to_samples(LEAD_IN_S)
    for index, (line, clip) in enumerate(zip(script.lines, clips)):
        if index == 0:
            start = latest_end
        elif line.into_s is not None:
            start = starts[-1] + _to_samples(line.into_s)
        else:
            # Ordinary turn-taking gaps vary a little; a seeded draw keeps them reproducible.
            pause_s = line.pause_s if line.pause_s is not None else float(rng.uniform(0.25, 0.6))
            start = latest_end + _to_samples(pause_s)
        starts.append(start)
        latest_end = max(latest_end, start + len(clip))

    total = latest_end + _to_samples(TAIL_S)
    tracks = {AGENT: np.zeros(total), CUSTOMER: np.zeros(total)}
    windows: list[tuple[int, int]] = []
    for line, clip, start in zip(script.lines, clips, starts):
        track = tracks[line.speaker]
        if np.any(track[start : start + len(clip)]):
            raise RuntimeError(
                f"{script.name}: {line.text!r} overlaps the same speaker's last line"
            )
        track[start : start + len(clip)] += clip
        windows.append((start, start + len(clip)))

    turns = []
    for line, (start, end) in zip(script.lines, windows):
        extent = audible_extent(tracks[line.speaker][start:end])
        if extent is None:
            raise RuntimeError(f"{script.name}: {line.text!r} is not audible once placed")
        turns.append(
            MeasuredTurn(
                speaker=line.speaker,
                start_s=(start + extent[0]) / SAMPLE_RATE_HZ,
                end_s=(start + extent[1]) / SAMPLE_RATE_HZ,
                text=line.text,
            )
        )
    hold_returns = [i for i, line in enumerate(script.lines) if line.after_hold]
    return RenderedCall(script, tracks[AGENT], tracks[CUSTOMER], turns, hold_returns)


# --- ground truth -------------------------------------------------------------------------


def speech_union(turns: list[MeasuredTurn]) -> list[tuple[float, float]]:
    """Stretches where at least one person speaks, merged and sorted."""
    merged: list[list[float]] = []
    for turn in sorted(turns, key=lambda t: t.start_s):
        if merged and turn.start_s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], turn.end_s)
        else:
            merged.append([turn.start_s, turn.end_s])
    return [(start, end) for start, end in merged]


def find_silences(turns: list[MeasuredTurn], duration_s: float) -> list[tuple[float, float]]:
    """Every gap of at least SILENCE_MIN_S where nobody speaks, call edges included."""
    edges = [0.0]
    for start, end in speech_union(turns):
        edges += [start, end]
    edges.append(duration_s)
    gaps = zip(edges[0::2], edges[1::2])
    return [(start, end) for start, end in gaps if end - start >= SILENCE_MIN_S]


def find_overlaps(turns: list[MeasuredTurn]) -> list[dict]:
    """Every stretch where both speak; whoever started later is the interrupter."""
    overlaps = []
    for i, first in enumerate(turns):
        for second in turns[i + 1 :]:
            if first.speaker == second.speaker:
                continue
            start, end = max(first.start_s, second.start_s), min(first.end_s, second.end_s)
            if end <= start:
                continue
            earlier, later = sorted((first, second), key=lambda t: t.start_s)
            is_backchannel = (
                later.end_s - later.start_s < BACKCHANNEL_MAX_S and later.end_s <= earlier.end_s
            )
            overlaps.append(
                {
                    "start_s": round(start, 3),
                    "end_s": round(end, 3),
                    "interrupter": later.speaker,
                    "interrupted": earlier.speaker,
                    "backchannel": is_backchannel,
                }
            )
    return sorted(overlaps, key=lambda o: o["start_s"])


def _span(start_s: float, end_s: float) -> dict:
    return {"start_s": round(start_s, 3), "end_s": round(end_s, 3)}


def truth_for(call: RenderedCall, files: dict, toolchain: dict) -> dict:
    """The ground-truth record of one call, as written to ``NAME.truth.json``."""
    script = call.script
    duration_s = len(call.agent_track) / SAMPLE_RATE_HZ
    silences = find_silences(call.turns, duration_s)
    hold_ends = {call.turns[i].start_s for i in call.hold_returns}
    holds = [(start, end) for start, end in silences if end in hold_ends]
    if len(holds) != len(hold_ends):
        raise RuntimeError(f"{script.name}: an announced hold is not a silence in the signal")
    dead_air = [
        (start, end)
        for start, end in silences
        if end - start >= DEAD_AIR_MIN_S and (start, end) not in holds
    ]
    truth = {
        "call": script.name,
        "duration_s": round(duration_s, 3),
        "sample_rate": SAMPLE_RATE_HZ,
        "files": files,
        "channel_map": CHANNEL_MAP if script.stereo else None,
        "turns": [
            {
                "speaker": turn.speaker,
                "start_s": round(turn.start_s, 3),
                "end_s": round(turn.end_s, 3),
                "text": turn.text,
            }
            for turn in call.turns
        ],
        "silences": [_span(*gap) for gap in silences],
        "dead_air": [_span(*gap) for gap in dead_air],
        "holds": [_span(*gap) for gap in holds],
        "overlaps": find_overlaps(call.turns),
        "sensitive": [],
        "expected_rubric_failures": list(script.expected_rubric_failures),
        "synthesis": toolchain,
    }
    for item in script.sensitive:
        turn_index = next(
            (i for i, turn in enumerate(call.turns) if item.spoken in turn.text), None
        )
        if turn_index is None:
            raise RuntimeError(f"{script.name}: {item.spoken!r} is not in any line")
        truth["sensitive"].append(
            {"type": item.type, "value": item.value, "spoken": item.spoken, "turn": turn_index}
        )
    return truth


# --- writing ------------------------------------------------------------------------------


def _noise(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Line noise at NOISE_FLOOR_DBFS, tilted towards low frequencies as hum and rumble are."""
    tilt = signal.butter(2, NOISE_TILT_HZ, fs=SAMPLE_RATE_HZ, output="sos")
    noise = _bandpass(signal.sosfilt(tilt, rng.standard_normal(frames)))
    return noise * (10.0 ** (NOISE_FLOOR_DBFS / 20.0) / np.sqrt(np.mean(noise**2)))


def _to_pcm16(samples: np.ndarray, what: str) -> np.ndarray:
    peak = float(np.max(np.abs(samples)))
    if peak >= 1.0:
        raise RuntimeError(f"{what} clips (peak {peak:.3f}); lower the speech levels")
    return np.round(samples * 32767.0).astype(np.int16)


def _write_mp3(path: Path, samples: np.ndarray) -> None:
    """Encode 16-bit mono samples as MP3 with no timestamps, tags or encoder-version text."""
    with tempfile.TemporaryDirectory(prefix="callqa-mp3-") as tmp:
        wav_path = Path(tmp) / "mono.wav"
        sf.write(wav_path, samples, SAMPLE_RATE_HZ, subtype="PCM_16", format="WAV")
        command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(wav_path)]
        command += ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact"]
        command += ["-c:a", "libmp3lame", "-b:a", MP3_BITRATE, str(path)]
        subprocess.run(command, check=True, capture_output=True)


def write_call(call: RenderedCall, out_dir: Path, toolchain: dict) -> list[Path]:
    """Write the call's audio and truth files; returns the paths written."""
    name = call.script.name
    seed = NOISE_SEED + zlib.crc32(name.encode())
    rng = np.random.default_rng(seed)
    frames = len(call.agent_track)
    bleed = 10.0 ** (BLEED_DB / 20.0)
    written = []
    files: dict[str, str] = {}  # only the files this call has: mono-only calls list no "stereo"
    if call.script.stereo:
        left = call.agent_track + bleed * call.customer_track + _noise(rng, frames)
        right = call.customer_track + bleed * call.agent_track + _noise(rng, frames)
        # Summing the two legs, as a mono recorder does, with headroom for the talk-over.
        mono = MONO_MIX_GAIN * (left + right)
        stereo_path = out_dir / f"{name}.stereo.flac"
        stereo = _to_pcm16(np.stack([left, right], axis=1), stereo_path.name)
        sf.write(
            stereo_path,
            stereo,
            SAMPLE_RATE_HZ,
            subtype="PCM_16",
            format="FLAC",
            compression_level=FLAC_COMPRESSION_LEVEL,
        )
        files["stereo"] = stereo_path.name
        written.append(stereo_path)
    else:
        mono = MONO_MIX_GAIN * (call.agent_track + call.customer_track) + _noise(rng, frames)
    files["mono"] = f"{name}.mono.{call.script.mono_format}"
    mono_path = out_dir / files["mono"]
    mono_pcm16 = _to_pcm16(mono, mono_path.name)
    if call.script.mono_format == "mp3":
        _write_mp3(mono_path, mono_pcm16)
    elif call.script.mono_format == "flac":
        sf.write(
            mono_path,
            mono_pcm16,
            SAMPLE_RATE_HZ,
            subtype="PCM_16",
            format="FLAC",
            compression_level=FLAC_COMPRESSION_LEVEL,
        )
    else:
        sf.write(mono_path, mono_pcm16, SAMPLE_RATE_HZ, subtype="PCM_16", format="WAV")
    written.append(mono_path)

    truth_path = out_dir / f"{name}.truth.json"
    truth = truth_for(call, files, toolchain)
    truth_path.write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n")
    written.append(truth_path)
    return written


def write_metadata(out_dir: Path, written: list[Path]) -> Path:
    """``metadata.csv``: one row per audio file, as a call-center platform would export it."""
    scripts = {script.name: script for script in call_scripts()}
    path = out_dir / "metadata.csv"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["call_file", "agent_id", "team", "queue", "started_at"])
    for audio in written:
        if audio.suffix == ".json":
            continue
        script = scripts[audio.name.split(".")[0]]
        agent = script.agent
        writer.writerow([audio.name, agent.agent_id, agent.team, script.queue, script.started_at])
    path.write_text(buffer.getvalue())
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).resolve().parent,
        help="directory to write into (default: the audio_samples/ folder this script is in)",
    )
    args = parser.parse_args(argv)
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)

    began = time.perf_counter()
    toolchain = {
        "espeak_ng": espeak_version(),
        "libsndfile": sf.__libsndfile_version__,
        "ffmpeg": ffmpeg_version(),
    }
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="callqa-samples-") as tmp:
        for script in call_scripts():
            rng = np.random.default_rng(NOISE_SEED + zlib.crc32(f"pauses:{script.name}".encode()))
            call = render(script, Path(tmp), rng)
            written += write_call(call, out_dir, toolchain)
    written.append(write_metadata(out_dir, written))
    for path in written:
        print(f"{path.stat().st_size:>9,d}  {path}")
    print(f"{len(written)} files in {time.perf_counter() - began:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
