"""Speech regions per channel, with crosstalk (channel bleed) removed on dual-channel calls.

The frame grid is Silero's: 512 samples at 16 kHz (32 ms). A frame is speech on a channel when
the speech detector says so *and* the frame is not far below the other channel (a leak of the
other side's voice); runs of speech frames become regions.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from pydantic import BaseModel, Field

from pipeline import timeline
from pipeline.types import Segment

FRAME_SAMPLES = 512
SILENT_DB = -120.0


class VadOptions(BaseModel):
    """Speech detection per channel (Silero VAD)."""

    threshold: float = Field(0.5, ge=0.0, le=1.0, description="Silero speech probability threshold")
    method: Literal["silero", "energy"] = "silero"
    min_speech_s: float = Field(0.12, ge=0.0, description="shorter speech blips are dropped")
    min_silence_s: float = Field(0.35, ge=0.0, description="shorter pauses do not split a turn")
    pad_s: float = Field(0.05, ge=0.0, description="padding added around each speech region")


class BleedOptions(BaseModel):
    """Dual-channel crosstalk: one side's voice leaking quietly into the other channel."""

    # Leaks through a hybrid or headset sit 20-60 dB under the talker (measured on real 8 kHz
    # call-center stereo); two people talking at once are within a few dB of each other.
    margin_db: float = Field(
        15.0, ge=0.0, description="a frame this far below the other channel is bleed"
    )
    above_floor_db: float = Field(
        6.0, ge=0.0, description="own speech stands this far above the channel's noise floor"
    )


def frame_levels_db(channel: np.ndarray) -> np.ndarray:
    """RMS level of each 512-sample frame in dBFS (the last partial frame is zero-padded)."""
    frames = _frames(channel)
    power = np.mean(frames.astype(np.float64) ** 2, axis=1)
    return np.maximum(10.0 * np.log10(np.maximum(power, 1e-12)), SILENT_DB)


def silero_probabilities(channel: np.ndarray, vad_model) -> np.ndarray:
    """Speech probability per frame from a loaded Silero model (``Models.silero_vad()``)."""
    frames = _frames(channel)
    return np.asarray(vad_model(frames.reshape(-1)), dtype=np.float32).reshape(-1)


def energy_probabilities(
    levels_db: np.ndarray, snr_db: float = 15.0, min_level_db: float = -55.0
) -> np.ndarray:
    """A plain energy detector: 1.0 where a frame is ``snr_db`` above the channel's floor."""
    floor_db = float(np.percentile(levels_db, 10)) if levels_db.size else SILENT_DB
    threshold_db = max(floor_db + snr_db, min_level_db)
    return (levels_db >= threshold_db).astype(np.float32)


def own_voice_mask(
    levels_db: np.ndarray, margin_db: float, above_floor_db: float = 6.0
) -> np.ndarray:
    """For a (channels, frames) array of levels, True where the frame is the channel's own voice.

    Mono calls have no bleed: every frame counts. On two channels a frame more than
    ``margin_db`` below the other channel is that side's voice leaking in (through the hybrid,
    a headset or the room), not speech of this channel's party. Two people really talking at
    once are each loud on their own channel, so true overlap survives. A frame must also stand
    ``above_floor_db`` over the channel's noise floor: where the talker's quiet sounds leak in,
    the leak sums with the line noise into something only the speech detector would hear.
    """
    mask = np.ones_like(levels_db, dtype=bool)
    if levels_db.shape[0] != 2:
        return mask
    floors_db = np.percentile(levels_db, 10, axis=1)
    for own, other in ((0, 1), (1, 0)):
        mask[own] = (levels_db[own] >= levels_db[other] - margin_db) & (
            levels_db[own] >= floors_db[own] + above_floor_db
        )
    return mask


def hysteresis(probabilities: np.ndarray, threshold: float) -> np.ndarray:
    """Speech starts at ``threshold`` and ends below ``threshold - 0.15`` (as Silero's own rule)."""
    off_threshold = max(threshold - 0.15, 0.01)
    active = np.zeros(probabilities.shape, dtype=bool)
    speaking = False
    for index, probability in enumerate(probabilities):
        if speaking:
            speaking = probability >= off_threshold
        else:
            speaking = probability >= threshold
        active[index] = speaking
    return active


def mask_to_regions(
    mask: np.ndarray,
    frame_s: float,
    min_speech_s: float,
    min_silence_s: float,
    pad_s: float,
    duration_s: float,
) -> list[Segment]:
    """Runs of True frames -> regions: short pauses bridged, blips dropped, edges padded."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    runs = timeline.merge(
        (Segment(start * frame_s, end * frame_s) for start, end in zip(edges[::2], edges[1::2])),
        bridge_s=min_silence_s,
    )
    return timeline.merge(
        Segment(round(max(0.0, run.start_s - pad_s), 3), round(min(duration_s, run.end_s + pad_s), 3))
        for run in runs
        if run.duration_s >= min_speech_s
    )


def detect_speech(
    samples: np.ndarray,
    sample_rate: int,
    options: VadOptions,
    bleed: BleedOptions,
    vad_model=None,
) -> list[list[Segment]]:
    """Speech regions for each channel of ``samples`` (channels, frames) at 16 kHz.

    ``vad_model`` is the loaded Silero model (``Models.silero_vad()``); the ``energy`` method needs none.
    """
    if sample_rate != 16_000:
        raise ValueError(f"speech detection runs at 16 kHz, got {sample_rate} Hz")
    frame_s = FRAME_SAMPLES / sample_rate
    duration_s = samples.shape[1] / sample_rate
    levels = np.stack([frame_levels_db(channel) for channel in samples])
    if options.method == "silero":
        if vad_model is None:
            raise ValueError("the silero speech detector needs its model: pass Models.silero_vad()")
        probabilities = np.stack([silero_probabilities(channel, vad_model) for channel in samples])
    else:
        probabilities = np.stack([energy_probabilities(level) for level in levels])
    own = own_voice_mask(levels, bleed.margin_db, bleed.above_floor_db)
    regions = []
    for channel in range(samples.shape[0]):
        speech = hysteresis(probabilities[channel], options.threshold) & own[channel]
        regions.append(
            mask_to_regions(
                speech,
                frame_s,
                options.min_speech_s,
                options.min_silence_s,
                options.pad_s,
                duration_s,
            )
        )
    return regions


def _frames(channel: np.ndarray) -> np.ndarray:
    remainder = (-len(channel)) % FRAME_SAMPLES
    padded = np.pad(channel.astype(np.float32, copy=False), (0, remainder))
    return padded.reshape(-1, FRAME_SAMPLES)
