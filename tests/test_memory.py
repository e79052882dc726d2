"""pipeline/memory.py: the worker's memory plan and the per-call check, on hand-made figures;
and `callqa run` refusing a budget or a call that cannot fit (no model is run)."""

from __future__ import annotations

import subprocess
import sys

import duckdb
import pytest
import yaml

from pipeline.audio import AudioError
from pipeline.batch import memory_plan_for
from pipeline.config import load_settings
from pipeline.memory import GB, MemoryFigures, plan_memory
from tests.conftest import PROJECT, SAMPLES

# round figures: 0.5 GB of libraries, weights 1x and 0.1x a model file per chunk in flight
FIGURES = MemoryFigures(
    process_gb=0.5,
    weights_per_model_gb=1.0,
    chunk_per_model_gb=0.1,
    encoder_window_per_model_gb=0.0,
    speaker_encoder_gb=0.3,
    pyannote_gb=1.0,
    call_per_hour_gb=0.02,
    mono_per_hour_gb=0.05,
    waveform_per_hour_gb=0.25,
)


@pytest.fixture
def model_file(tmp_path):
    """A 1 GB model file (sparse: no disk is used)."""
    path = tmp_path / "model.bin"
    with open(path, "wb") as handle:
        handle.truncate(GB)
    return path


def plan(
    model_file, budget_gb=2.0, batch_size=8, workers=1, mono_backend="embedded", available_gb=64.0
):
    return plan_memory(
        budget_gb, model_file, batch_size, 5, workers, mono_backend, FIGURES, available_gb
    )


def test_the_batch_is_halved_until_one_batch_in_flight_fits(model_file):
    # 0.5 + 1.0 held; 0.1 a chunk: 8 chunks need 2.3 GB, 4 need 1.9 GB
    fitted = plan(model_file, budget_gb=2.0, batch_size=8)
    assert fitted.batch_size == 4
    assert fitted.worker_gb == pytest.approx(1.9)
    assert "batch size 8" in fitted.notes[0] and "using 4" in fitted.notes[0]
    assert plan(model_file, budget_gb=3.0, batch_size=8).batch_size == 8
    assert plan(model_file, budget_gb=3.0).notes == ()


def test_a_batch_encoded_a_few_windows_at_a_time_fits_where_the_whole_batch_would_not(model_file):
    # 1.5 GB held; decoding 0.01 GB a chunk, the encoder 0.1 GB a window taken at once
    figures = FIGURES.model_copy(update={"chunk_per_model_gb": 0.01, "encoder_window_per_model_gb": 0.1})

    def planned(encoder_batch: int):
        return plan_memory(2.0, model_file, 8, 5, 1, "embedded", figures, 64.0, encoder_batch=encoder_batch)

    assert planned(0).batch_size == 4  # 8 windows encoded at once: 1.5 + 0.08 + 0.8 GB
    assert planned(0).worker_gb == pytest.approx(1.94)
    assert planned(4).batch_size == 8  # 4 at a time: 1.5 + 0.08 + 0.4 GB
    assert planned(4).worker_gb == pytest.approx(1.98)


def test_two_batches_in_the_model_at_once_share_the_batch_and_each_counts_its_encoder(model_file):
    # 1.5 GB held; decoding 0.01 GB a chunk, the encoder 0.1 GB a window, 2 windows at a time
    figures = FIGURES.model_copy(update={"chunk_per_model_gb": 0.01, "encoder_window_per_model_gb": 0.1})

    def planned(parallel_batches: int):
        return plan_memory(
            1.9, model_file, 8, 5, 1, "embedded", figures, 64.0, encoder_batch=2, parallel_batches=parallel_batches
        )

    assert planned(1).batch_size == 8 and planned(1).worker_gb == pytest.approx(1.78)  # 8 chunks, 2 windows
    # two batches of 4 chunks: the same 8 chunks, but each batch's encoder holds 2 windows: 1.98 GB
    assert planned(2).batch_size == 2 and planned(2).worker_gb == pytest.approx(1.72)  # 2 batches of 1
    assert "using 2" in planned(2).notes[0]


def test_a_model_that_cannot_fit_even_one_chunk_at_a_time_is_refused_with_the_figures(model_file):
    with pytest.raises(
        ValueError, match=r"needs about 1\.6 GB per worker.*--max-memory-gb is 1\.5"
    ):
        plan(model_file, budget_gb=1.5)


def test_workers_fit_in_the_memory_the_machine_has_free(model_file):
    assert plan(model_file, budget_gb=4.0, workers=4, available_gb=24.0).workers == 4
    crowded = plan(model_file, budget_gb=4.0, workers=8, available_gb=21.0)
    assert crowded.workers == 5
    assert "8 workers of 4 GB" in crowded.notes[0] and "running 5" in crowded.notes[0]
    assert plan(model_file, budget_gb=4.0, workers=2, available_gb=1.0).workers == 1


def test_a_call_too_large_for_the_worker_is_refused_with_the_reason(model_file):
    fitted = plan(model_file, budget_gb=3.0, batch_size=8, mono_backend="pyannote")  # 2.3 GB held
    fitted.check_call("/calls/short.wav", 600.0, 2)  # dual-channel: a few MB more, fits
    fitted.check_call("/calls/long.wav", 4 * 3600.0, 2)
    with pytest.raises(AudioError) as refused:
        fitted.check_call("/calls/conference.wav", 3 * 3600.0, 1)  # pyannote holds the waveform
    message = str(refused.value)
    assert message.startswith(
        "/calls/conference.wav: needs about 4.3 GB"
    )  # 2.3 + 1.0 pyannote + 3 h x (0.02 + 0.05 + 0.25)
    assert "3.0 h mono (pyannote diarizer) call" in message and "budget is 3 GB" in message
    assert "embedded diarizer" in message


def test_mono_calls_count_the_speaker_encoder_and_their_embeddings(model_file):
    fitted = plan(model_file, budget_gb=3.0, batch_size=8)
    assert fitted.call_need_gb(3600.0, 2) == pytest.approx(2.3 + 0.02)
    assert fitted.call_need_gb(3600.0, 1) == pytest.approx(2.3 + 0.02 + 0.3 + 0.05)


def _callqa_run(tmp_path, *options):
    """`callqa run` on one demo call with ``options``; the process result and the database path."""
    db = tmp_path / "calls.duckdb"
    command = [sys.executable, "-m", "pipeline.cli", "run", str(SAMPLES / "good_call.stereo.flac")]
    command += ["--db", str(db), "-q", *options]
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False)
    return result, db


def test_a_budget_too_small_for_the_model_stops_the_run_before_any_call(tmp_path):
    result, db = _callqa_run(tmp_path, "--max-memory-gb", "0.5")
    assert result.returncode == 2, result.stdout + result.stderr
    output = " ".join((result.stdout + result.stderr).split())
    assert "needs about" in output and "--max-memory-gb is 0.5" in output
    assert not db.exists()


def test_a_call_the_worker_cannot_hold_fails_with_the_reason_and_is_recorded(tmp_path):
    # figures that make every second of audio cost a GB: the demo call cannot fit in 2 GB
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"memory": {"call_per_hour_gb": 3600.0}}))
    result, db = _callqa_run(tmp_path, "--config", str(config))
    assert result.returncode == 1, result.stdout + result.stderr
    with duckdb.connect(str(db), read_only=True) as con:
        status, error = con.execute("SELECT status, error FROM calls").fetchone()
    assert status == "failed"
    assert "good_call.stereo.flac" in error and "budget is 2 GB" in error
    assert "dual-channel call" in error and "raise --max-memory-gb" in error


def test_on_cuda_the_whisper_weights_and_batches_are_not_counted_in_the_worker():
    on_cpu = memory_plan_for(load_settings(max_memory_gb=8.0))
    on_gpu = memory_plan_for(load_settings(max_memory_gb=8.0, asr={"device": "cuda"}))
    assert on_gpu.worker_gb == pytest.approx(on_gpu.figures.process_gb)
    assert on_cpu.worker_gb > on_gpu.worker_gb


WORKER_ON_A_CALL = """
import sys
from pathlib import Path
from pipeline.call import CallProcessor
from pipeline.config import load_settings

processor = CallProcessor(load_settings(asr={"model": "whisper-tiny.en"}))
result = processor(Path(sys.argv[1]), "0" * 64)
assert result.words, "nothing heard"
print("torch" in sys.modules)
"""


@pytest.mark.parametrize("call, loads_torch", [("good_call.stereo.flac", False), ("good_call.mono.flac", True)])
def test_torch_is_loaded_only_by_the_mono_speaker_encoder(call, loads_torch):
    """torch costs a worker ~0.45 GB resident. Nothing on a dual-channel call needs it (spaCy's
    thinc would import it for nothing); a mono call's speaker encoder does, and still gets it."""
    command = [sys.executable, "-c", WORKER_ON_A_CALL, str(SAMPLES / call)]
    result = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == str(loads_torch)
