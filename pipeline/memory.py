"""The memory budget of one worker (``--max-memory-gb``, default 2 GB).

A worker holds its models and, while transcribing, a batch of chunks in flight per batch the
model decodes at once (``asr.parallel_batches``; each decoded together, encoded
``asr.encoder_batch_size`` windows at a time); each call adds
a little per hour of audio (its words and turns, per-frame speech marks, speaker embeddings on
mono calls), since the audio itself streams from a spool on disk. Before the run the plan fits the
ASR batch size into the budget and the workers into the machine's memory; before each call the
call's own need is checked, so a call that cannot fit fails with the reason instead of the
worker being killed for memory (and the call starting again, and dying again, every night).

The figures are measured on CPU with int8 weights (``benchmarks/memory_budget.py`` for what a
worker holds, ``benchmarks/long_calls.py`` for what a call adds per hour); they plan, they do not
police: the peak of a real run is measured by the benchmarks.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field

from pipeline.audio import AudioError

GB = 1024**3


class MemoryFigures(BaseModel):
    """What the plan counts with (measured on CPU, int8 weights, beam 5)."""

    process_gb: float = Field(
        0.30, ge=0.0, description="interpreter and libraries with Silero, spaCy (without torch) and DuckDB loaded"
    )
    weights_per_model_gb: float = Field(
        1.8,
        ge=0.0,
        description="Whisper weights and the ASR's fixed working memory, per GB of its model.bin (float16 on disk)",
    )
    chunk_per_model_gb: float = Field(
        0.16,
        ge=0.0,
        description="ASR memory per chunk of a batch being decoded, per GB of model.bin, at beam 5",
    )
    encoder_window_per_model_gb: float = Field(
        0.19,
        ge=0.0,
        description="more per window the encoder takes at once (its self-attention), per GB of model.bin",
    )
    speaker_encoder_gb: float = Field(
        0.48, ge=0.0, description="Resemblyzer and torch, loaded by the first mono call"
    )
    pyannote_gb: float = Field(
        1.0,
        ge=0.0,
        description="a pyannote pipeline with torch (estimate: its weights are not bundled)",
    )
    call_per_hour_gb: float = Field(
        0.03,
        ge=0.0,
        description="what a call keeps per hour of audio: words, turns, per-frame speech marks",
    )
    mono_per_hour_gb: float = Field(
        0.05,
        ge=0.0,
        description="more per hour of a mono call: speaker embeddings and per-10-ms speaker scores",
    )
    waveform_per_hour_gb: float = Field(
        16_000 * 4 * 3600 / GB,
        ge=0.0,
        description="one channel at 16 kHz float32: pyannote takes it whole",
    )


@dataclass(frozen=True)
class MemoryPlan:
    """How a run fits its budget: per worker, the batch size and the memory held before any call."""

    budget_gb: float
    batch_size: int
    worker_gb: float  # models, and one ASR batch in flight
    workers: int
    mono_backend: str
    figures: MemoryFigures
    notes: tuple[str, ...] = ()

    def call_need_gb(self, duration_s: float, channels: int) -> float:
        """What a worker needs at its peak for a call of ``duration_s`` with ``channels`` channels."""
        hours = duration_s / 3600
        need = self.worker_gb + hours * self.figures.call_per_hour_gb
        if channels == 1:
            need += self.figures.speaker_encoder_gb if self.mono_backend == "embedded" else 0.0
            need += self.figures.pyannote_gb if self.mono_backend == "pyannote" else 0.0
            need += hours * self.figures.mono_per_hour_gb
            if self.mono_backend == "pyannote":
                need += hours * self.figures.waveform_per_hour_gb
        return need

    def check_call(self, path: str, duration_s: float, channels: int) -> None:
        """Refuse a call this worker cannot hold within its budget, saying why and what to do."""
        need = self.call_need_gb(duration_s, channels)
        if need <= self.budget_gb:
            return
        layout = "dual-channel" if channels == 2 else f"mono ({self.mono_backend} diarizer)"
        advice = "raise --max-memory-gb"
        if channels == 1 and self.mono_backend == "pyannote":
            advice += (
                " or use the embedded diarizer (diarization.mono_backend: embedded), which streams"
            )
        raise AudioError(
            path,
            f"needs about {need:.1f} GB of memory ({duration_s / 3600:.1f} h {layout} call, ASR batch "
            f"{self.batch_size}) but a worker's budget is {self.budget_gb:g} GB; {advice}",
        )


def plan_memory(
    budget_gb: float,
    model_file: Path | None,
    batch_size: int,
    beam_size: int,
    workers: int,
    mono_backend: str,
    figures: MemoryFigures | None = None,
    available_gb: float | None = None,
    encoder_batch: int = 0,
    parallel_batches: int = 1,
) -> MemoryPlan:
    """Fit the ASR batch into ``budget_gb`` (halving it while one batch in flight does not fit)
    and the workers into the machine's available memory.

    ``model_file`` is the Whisper model.bin (its size scales the weights and the batch);
    ``encoder_batch`` the windows the encoder takes at once (0: the whole batch);
    ``parallel_batches`` how many batches share the batch size at once (two calls in the model). Raises
    ValueError when even one chunk at a time does not fit, with the figures.
    """
    figures = figures or MemoryFigures()
    model_gb = model_file.stat().st_size / GB if model_file and model_file.is_file() else 0.0
    held_gb = figures.process_gb + model_gb * figures.weights_per_model_gb
    decode_gb = model_gb * figures.chunk_per_model_gb * beam_size / 5
    encode_gb = model_gb * figures.encoder_window_per_model_gb
    chunk_gb = decode_gb + encode_gb

    def worker_gb(size: int) -> float:
        # the batch size is shared out among the parallel batches (``AsrOptions.resolved_call_batch_size``)
        per_batch = max(1, size // parallel_batches)
        encoded_at_once = min(per_batch, encoder_batch) if encoder_batch > 0 else per_batch
        return held_gb + parallel_batches * (per_batch * decode_gb + encoded_at_once * encode_gb)

    notes = []
    planned = batch_size
    while planned > 1 and worker_gb(planned) > budget_gb:
        planned //= 2
    if worker_gb(planned) > budget_gb:
        raise ValueError(
            f"the ASR model alone needs about {worker_gb(planned):.1f} GB per worker (weights "
            f"{model_gb * figures.weights_per_model_gb:.1f} GB, libraries {figures.process_gb:.1f} GB, one chunk "
            f"in flight {chunk_gb:.1f} GB, {parallel_batches} batch(es) at once) but --max-memory-gb is {budget_gb:g}: raise it or use a smaller model"
        )
    if planned != batch_size:
        notes.append(
            f"ASR batch size {batch_size} does not fit a {budget_gb:g} GB worker "
            f"(about {worker_gb(batch_size):.1f} GB): using {planned}"
        )
    available = available_memory_gb() if available_gb is None else available_gb
    fitting = max(1, math.floor(available / budget_gb)) if available else workers
    planned_workers = min(workers, fitting)
    if planned_workers < workers:
        notes.append(
            f"{workers} workers of {budget_gb:g} GB do not fit in the {available:.1f} GB this machine has "
            f"free: running {planned_workers}"
        )
    return MemoryPlan(
        budget_gb=budget_gb,
        batch_size=planned,
        worker_gb=worker_gb(planned),
        workers=planned_workers,
        mono_backend=mono_backend,
        figures=figures,
        notes=tuple(notes),
    )


def available_memory_gb() -> float | None:
    """Memory the machine can give without swapping (MemAvailable), or None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024 / GB
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / GB
    except (ValueError, OSError):
        return None
