"""The demo calls in ``audio_samples/``: the ground truth says what each call is meant to show,
the audio agrees with the ground truth, and ``make_samples.py`` rebuilds every file byte for byte.
"""

from __future__ import annotations

import csv
import importlib.util
import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from scipy import signal

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "audio_samples"
GENERATOR = SAMPLES_DIR / "make_samples.py"
CALLS = [
    "good_call",
    "dead_air",
    "talkover",
    "hold",
    "card_payment",
    "rude_call",
    "mono_same_gender",
]


def load_truth(call: str) -> dict:
    return json.loads((SAMPLES_DIR / f"{call}.truth.json").read_text())


def gaps_between_turns(truth: dict) -> list[float]:
    """Pauses between one stretch of speech and the next (overlapping turns merged)."""
    gaps, speech_end = [], None
    for turn in sorted(truth["turns"], key=lambda t: t["start_s"]):
        if speech_end is not None and turn["start_s"] > speech_end:
            gaps.append(turn["start_s"] - speech_end)
        speech_end = turn["end_s"] if speech_end is None else max(speech_end, turn["end_s"])
    return gaps


def first_turn_containing(truth: dict, phrase: str) -> int:
    return next(i for i, t in enumerate(truth["turns"]) if phrase.lower() in t["text"].lower())


def said_by_agent(truth: dict, phrase: str) -> bool:
    return any(
        phrase.lower() in t["text"].lower() for t in truth["turns"] if t["speaker"] == "agent"
    )


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def frame_levels_dbfs(samples: np.ndarray, rate: int, frame_s: float = 0.02) -> np.ndarray:
    frame = int(frame_s * rate)
    usable = len(samples) // frame * frame
    rms = np.sqrt(np.mean(samples[:usable].reshape(-1, frame) ** 2, axis=1))
    return 20 * np.log10(np.maximum(rms, 1e-10))


# --- the ground truth --------------------------------------------------------------------


@pytest.mark.parametrize("call", CALLS)
def test_truth_is_well_formed(call: str) -> None:
    truth = load_truth(call)
    assert truth["call"] == call
    assert truth["sample_rate"] == 8000
    assert 30.0 <= truth["duration_s"] <= 90.0
    turns = truth["turns"]
    assert all(t["speaker"] in {"agent", "customer"} and t["text"] for t in turns)
    assert all(0.0 <= t["start_s"] < t["end_s"] <= truth["duration_s"] for t in turns)
    for speaker in ("agent", "customer"):
        own = [t for t in turns if t["speaker"] == speaker]
        assert all(a["end_s"] <= b["start_s"] for a, b in itertools.pairwise(own)), (
            "a speaker overlaps"
        )
    assert all(s["end_s"] - s["start_s"] >= 2.0 for s in truth["silences"])
    assert all(
        d in truth["silences"] and d["end_s"] - d["start_s"] >= 5.0 for d in truth["dead_air"]
    )
    assert all(h in truth["silences"] and h not in truth["dead_air"] for h in truth["holds"])
    for overlap in truth["overlaps"]:
        assert overlap["interrupter"] != overlap["interrupted"]
        assert overlap["start_s"] < overlap["end_s"]
    assert set(truth["files"]) in ({"stereo", "mono"}, {"mono"})
    assert (truth["channel_map"] is None) == ("stereo" not in truth["files"])


@pytest.mark.parametrize("call", [c for c in CALLS if c != "rude_call"])
def test_well_run_calls_follow_the_script(call: str) -> None:
    truth = load_truth(call)
    opening = truth["turns"][0]
    assert opening["speaker"] == "agent" and opening["start_s"] < 5.0
    assert "Acme Telecom" in opening["text"] and "my name is" in opening["text"]
    # The rubric wants the disclosure before the customer's first turn ends.
    assert "may be recorded" in opening["text"]
    assert first_turn_containing(truth, "date of birth") == 2
    anything_else = truth["turns"][first_turn_containing(truth, "anything else")]
    assert truth["duration_s"] - anything_else["start_s"] <= 60.0
    assert "Thank you for calling Acme Telecom" in truth["turns"][-1]["text"]


def test_good_call_is_clean() -> None:
    truth = load_truth("good_call")
    assert truth["silences"] == [] and truth["overlaps"] == [] and truth["holds"] == []
    assert all(0.3 <= gap <= 1.5 for gap in gaps_between_turns(truth))
    assert said_by_agent(truth, "I understand how frustrating that must be")
    assert truth["expected_rubric_failures"] == []


def test_dead_air_has_two_unannounced_silences() -> None:
    truth = load_truth("dead_air")
    lengths = sorted(d["end_s"] - d["start_s"] for d in truth["dead_air"])
    assert lengths == pytest.approx([7.0, 12.0], abs=0.2)
    assert truth["holds"] == [] and not said_by_agent(truth, "hold")
    assert truth["expected_rubric_failures"] == ["no_dead_air_over_10s"]


def test_talkover_has_interruptions_both_ways_and_a_backchannel() -> None:
    truth = load_truth("talkover")
    real = [o for o in truth["overlaps"] if not o["backchannel"]]
    by_customer = [o for o in real if o["interrupter"] == "customer"]
    by_agent = [o for o in real if o["interrupter"] == "agent"]
    assert len(by_customer) == 2 and len(by_agent) == 2
    assert all(o["end_s"] - o["start_s"] >= 1.0 for o in real)
    (backchannel,) = [o for o in truth["overlaps"] if o["backchannel"]]
    assert backchannel["interrupter"] == "agent"
    (short_turn,) = [t for t in truth["turns"] if t["start_s"] == backchannel["start_s"]]
    assert short_turn["end_s"] - short_turn["start_s"] < 1.0
    # The rubric allows the agent one interruption: two fail it, and only it (the customer's
    # interruptions and the back-channel do not count against the agent).
    assert truth["expected_rubric_failures"] == ["interruptions"]


def test_hold_is_announced_and_is_not_dead_air() -> None:
    truth = load_truth("hold")
    (hold,) = truth["holds"]
    assert hold["end_s"] - hold["start_s"] == pytest.approx(20.0, abs=0.5)
    assert truth["dead_air"] == []
    before = [t for t in truth["turns"] if t["end_s"] <= hold["start_s"]]
    after = [t for t in truth["turns"] if t["start_s"] >= hold["end_s"]]
    assert any(t["speaker"] == "agent" and "on hold" in t["text"] for t in before)
    assert after[0]["text"].startswith("Thank you for holding")


def test_card_payment_lists_the_card_details_and_nothing_else() -> None:
    truth = load_truth("card_payment")
    kinds = {item["type"]: item for item in truth["sensitive"]}
    assert set(kinds) == {"card", "expiry", "cvv"}
    assert len(kinds["card"]["value"]) == 16 and luhn_valid(kinds["card"]["value"])
    assert re.search(r"\b(double|triple)\b", kinds["card"]["spoken"])
    for item in truth["sensitive"]:
        turn = truth["turns"][item["turn"]]
        assert turn["speaker"] == "customer" and item["spoken"] in turn["text"]
    # Not sensitive, and said on the call: an amount and a phone number.
    assert said_by_agent(truth, "forty nine dollars and ninety nine cents")
    assert any("four one six, two eight eight" in t["text"] for t in truth["turns"])


def test_rude_call_breaks_the_rules_it_is_meant_to() -> None:
    truth = load_truth("rude_call")
    assert not said_by_agent(truth, "recorded")
    assert said_by_agent(truth, "calm down") and said_by_agent(truth, "not my problem")
    assert not said_by_agent(truth, "sorry") and not said_by_agent(truth, "anything else")
    assert set(truth["expected_rubric_failures"]) == {
        "recording_disclosure",
        "forbidden_phrases",
        "empathy",
        "closing",
    }


def test_metadata_lists_every_audio_file() -> None:
    with (SAMPLES_DIR / "metadata.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    listed = {row["call_file"] for row in rows}
    expected = {name for call in CALLS for name in load_truth(call)["files"].values()}
    assert listed == expected
    assert all(re.fullmatch(r"a\d{3}", row["agent_id"]) and row["team"] for row in rows)


# --- the audio against the ground truth --------------------------------------------------


@pytest.mark.parametrize("call", CALLS)
def test_audio_matches_truth(call: str) -> None:
    truth = load_truth(call)
    mono, rate = sf.read(SAMPLES_DIR / truth["files"]["mono"], dtype="float64")
    assert rate == 8000 and mono.ndim == 1
    # An MP3 decodes a few ms longer (its last frame's padding); its start is exact.
    lossy_tail_s = 0.072 if truth["files"]["mono"].endswith(".mp3") else 0.0
    decoded_s = len(mono) / rate
    assert -1e-3 <= decoded_s - truth["duration_s"] <= lossy_tail_s + 1e-3
    if "stereo" not in truth["files"]:
        return
    stereo, rate = sf.read(SAMPLES_DIR / truth["files"]["stereo"], dtype="float64")
    assert rate == 8000 and len(stereo) / rate == pytest.approx(truth["duration_s"], abs=1e-3)
    # The mono file is the two channels summed, sample-aligned.
    mixdown = stereo.sum(axis=1)
    lags = signal.correlation_lags(len(mono), len(mixdown))
    assert lags[np.argmax(signal.correlate(mono, mixdown, method="fft"))] == 0

    levels = [frame_levels_dbfs(stereo[:, ch], rate) for ch in (0, 1)]
    frame_mid_s = (np.arange(len(levels[0])) + 0.5) * 0.02
    channel_of = {role: int(ch) for ch, role in truth["channel_map"].items()}
    for turn in truth["turns"]:
        # Where only this speaker talks, their own channel is well above the bleed on the other.
        alone = (frame_mid_s > turn["start_s"]) & (frame_mid_s < turn["end_s"])
        for other in truth["turns"]:
            if other["speaker"] != turn["speaker"]:
                alone &= (frame_mid_s < other["start_s"]) | (frame_mid_s > other["end_s"])
        if np.count_nonzero(alone) < 5:
            continue  # a back-channel, spoken entirely over the other side
        own = channel_of[turn["speaker"]]
        power = [np.mean(10 ** (levels[ch][alone] / 10)) for ch in (0, 1)]
        assert 10 * np.log10(power[own] / power[1 - own]) > 15.0, turn["text"]
    for silence in truth["silences"]:
        inside = (frame_mid_s > silence["start_s"] + 0.1) & (frame_mid_s < silence["end_s"] - 0.1)
        for ch in (0, 1):
            floor_dbfs = 10 * np.log10(np.mean(10 ** (levels[ch][inside] / 10)))
            assert -65.0 < floor_dbfs < -55.0


# --- regeneration ------------------------------------------------------------------------


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_samples", GENERATOR)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _toolchain_differences(recorded: dict) -> list[str]:
    """Why the installed tools may not reproduce the committed bytes; empty if they should."""
    missing = [tool for tool in ("espeak-ng", "ffmpeg") if shutil.which(tool) is None]
    if missing:
        return [f"{tool} is not installed" for tool in missing]
    generator = _load_generator()
    installed = {
        "espeak_ng": generator.espeak_version(),
        "ffmpeg": generator.ffmpeg_version(),
        "libsndfile": sf.__libsndfile_version__,
    }
    return [
        f"{tool} {installed.get(tool)} here, {version} when the samples were made"
        for tool, version in recorded.items()
        if installed.get(tool) != version
    ]


@pytest.mark.slow
def test_generator_rebuilds_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    differences = _toolchain_differences(load_truth("good_call")["synthesis"])
    if differences:
        pytest.skip("cannot reproduce the committed bytes: " + "; ".join(differences))
    subprocess.run(
        [sys.executable, str(GENERATOR), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    generated = sorted(path.name for path in tmp_path.iterdir())
    committed = sorted(
        path.name
        for path in SAMPLES_DIR.iterdir()
        if path.name.endswith((".json", ".csv")) or ".stereo." in path.name or ".mono." in path.name
    )
    assert generated == committed
    changed = [
        name
        for name in generated
        if (tmp_path / name).read_bytes() != (SAMPLES_DIR / name).read_bytes()
    ]
    assert changed == [], f"regenerated files differ from audio_samples/: {changed}"
