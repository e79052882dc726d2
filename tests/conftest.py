"""Shared helpers: hand-made signals and the paths of the project's demo calls."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# The same kernels on every x86 machine, so the models give the same words in CI as where the
# expectations were written: CTranslate2 (Whisper), oneDNN, MKL and torch pick wider vector code
# (AVX-512) and Intel MKL on CPUs that have them, and int8 decoding then hears a different word now
# and then (seen: "41 .6" for "4 -1 -6" on the same demo call). Every x86 server since 2013 has AVX2.
for variable, value in {
    "CT2_FORCE_CPU_ISA": "AVX2",
    "CT2_USE_MKL": "0",
    "ONEDNN_MAX_CPU_ISA": "AVX2",
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",
    "ATEN_CPU_CAPABILITY": "avx2",
}.items():
    os.environ.setdefault(variable, value)

PROJECT = Path(__file__).resolve().parent.parent
SAMPLES = PROJECT / "audio_samples"
RATE = 16_000


def tone(
    duration_s: float, level_dbfs: float = -20.0, frequency_hz: float = 440.0, rate: int = RATE
) -> np.ndarray:
    t = np.arange(int(duration_s * rate)) / rate
    amplitude = np.sqrt(2) * 10 ** (level_dbfs / 20)
    return (amplitude * np.sin(2 * np.pi * frequency_hz * t)).astype(np.float32)


def place(
    total_s: float, spans: list[tuple[float, float]], level_dbfs: float = -20.0, rate: int = RATE
) -> np.ndarray:
    """A channel that is silent except for a tone over each (start_s, end_s) span."""
    signal = np.zeros(int(total_s * rate), dtype=np.float32)
    for start_s, end_s in spans:
        piece = tone(end_s - start_s, level_dbfs, rate=rate)
        first = int(start_s * rate)
        signal[first : first + len(piece)] += piece
    return signal


@pytest.fixture(scope="session")
def tiny_settings(tmp_path_factory):
    """Settings with the fast bundled model, for end-to-end tests."""
    from pipeline.config import load_settings

    return load_settings(asr={"model": "whisper-tiny.en"})


@pytest.fixture(scope="session")
def default_model_db(tmp_path_factory) -> Path:
    """One real `callqa run` over audio_samples/ with the embedded defaults (whisper-base), made
    once per test session. Read it only; a test that changes it works on a copy."""
    from tests.rows_snapshot import run_default_model

    db = tmp_path_factory.mktemp("default_model") / "calls.duckdb"
    result = run_default_model(db)
    assert result.returncode == 0, result.stderr
    return db
