"""Plain data types passed between the pipeline's stages.

Times are seconds from the start of the call, as floats. Speakers are
``agent``, ``customer`` or ``unknown`` (``spk0``... before roles are assigned).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

AGENT = "agent"
CUSTOMER = "customer"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Segment:
    """A span of time on the call."""

    start_s: float
    end_s: float

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass(frozen=True)
class Word:
    """One transcribed word with its time span and the speaker who said it."""

    start_s: float
    end_s: float
    word: str
    probability: float
    speaker: str = UNKNOWN


@dataclass(frozen=True)
class Turn:
    """One stretch of speech by one speaker; ``text`` is filled once words are attached."""

    speaker: str
    start_s: float
    end_s: float
    text: str = ""

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s


@dataclass
class Audio:
    """A decoded call: ``samples`` is float32, shape (channels, frames), at ``sample_rate``."""

    path: str
    sha256: str
    samples: np.ndarray
    sample_rate: int
    source_sample_rate: int
    source_format: str = ""

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.sample_rate


@dataclass
class Transcript:
    """Diarized, transcribed call: the result that the store writes."""

    turns: list[Turn] = field(default_factory=list)
    words: list[Word] = field(default_factory=list)
