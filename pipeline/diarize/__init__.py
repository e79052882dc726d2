"""Who spoke when. Every diarizer is called the same way and returns the same result type:
``diarizer(audio, speech_regions) -> DiarizationResult`` (turns, speaker count, confidence).

Dual-channel calls use the channel map (``stereo.py``); mono calls go through a mono diarizer
(``embedded.py``, ``pyannote_backend.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from pydantic import BaseModel, Field

from pipeline.types import Audio, Segment, Turn


class DiarizationOptions(BaseModel):
    """Mono calls: who spoke when. Dual-channel calls use the channel map instead."""

    mono_backend: Literal["embedded", "pyannote", "none"] = Field(
        "embedded", description="embedded: bundled Resemblyzer encoder; pyannote: a pyannote.audio pipeline; none: speaker 'unknown'"
    )
    pyannote_model: str = Field("pyannote-community-1", description="manifest name or local pipeline directory")
    num_speakers: int | None = Field(None, ge=1, description="exact count when known")
    min_speakers: int = Field(2, ge=1)
    max_speakers: int = Field(2, ge=1)


@dataclass(frozen=True)
class DiarizationResult:
    """Turns (speakers ``agent``/``customer`` from a channel map, ``spk0``... from a mono
    diarizer), how many speakers were found, and how sure the split is: 1.0 when the channels
    say who is who, near 0 when the voices could not be told apart, None when nothing was split.
    """

    turns: tuple[Turn, ...]
    num_speakers: int
    confidence: float | None


class Diarizer(Protocol):
    name: str

    def __call__(self, audio: Audio, speech_regions: list[list[Segment]]) -> DiarizationResult: ...


# Measured with Resemblyzer windows: one voice split in two explains ~0.09-0.15 of the
# embeddings' variance, two different voices 0.19-0.38 (benchmarks/diarization.py, set d).
DOUBTFUL_SPLIT_SHARE = 0.10
CLEAR_SPLIT_SHARE = 0.25


def split_confidence(
    embeddings: np.ndarray,
    centroids: np.ndarray,
    doubtful_share: float = DOUBTFUL_SPLIT_SHARE,
    clear_share: float = CLEAR_SPLIT_SHARE,
) -> float:
    """How sure a split of speaker embeddings into speakers is, 0..1.

    Each embedding goes to its nearest centroid; the share of the embeddings' spread that the
    split explains (between-speaker variance over total variance) is mapped linearly from
    ``doubtful_share`` (or less: 0) to ``clear_share`` (or more: 1). Voices that cannot be told
    apart leave most of the spread inside each "speaker", whatever the clustering did.
    """
    vectors = np.asarray(embeddings, dtype=np.float64)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    centres = np.asarray(centroids, dtype=np.float64)
    if len(vectors) < 2 or len(centres) < 2:
        return 0.0
    labels = np.argmax(vectors @ centres.T, axis=1)
    total = float(np.sum((vectors - vectors.mean(axis=0)) ** 2))
    if total <= 0.0:
        return 0.0
    within = sum(
        float(np.sum((vectors[labels == k] - vectors[labels == k].mean(axis=0)) ** 2))
        for k in np.unique(labels)
    )
    explained = 1.0 - within / total
    return float(np.clip((explained - doubtful_share) / (clear_share - doubtful_share), 0.0, 1.0))
