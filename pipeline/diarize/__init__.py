"""Who spoke when. A diarizer is called on a decoded call and returns turns: ``diarizer(audio, regions) -> list[Turn]``.

Dual-channel calls use the channel map (``stereo.py``); mono calls go through a mono diarizer.
"""

from __future__ import annotations

from typing import Literal, Protocol

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


class Diarizer(Protocol):
    name: str

    def __call__(self, audio: Audio, speech_regions: list[list[Segment]]) -> list[Turn]: ...
