"""Who spoke when. A diarizer is called on a decoded call and returns turns: ``diarizer(audio, regions) -> list[Turn]``.

Dual-channel calls use the channel map (``stereo.py``); mono calls go through a mono diarizer.
"""

from __future__ import annotations

from typing import Protocol

from pipeline.types import Audio, Segment, Turn


class Diarizer(Protocol):
    name: str

    def __call__(self, audio: Audio, speech_regions: list[list[Segment]]) -> list[Turn]: ...
