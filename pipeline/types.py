"""Plain data types passed between the pipeline's stages.

Times are seconds from the start of the call, as floats. Speakers are
``agent``, ``customer`` or ``unknown`` (``spk0``... before roles are assigned).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    """One transcribed word with its time span, the speaker who said it and the channel it was heard on."""

    start_s: float
    end_s: float
    word: str
    probability: float
    speaker: str = UNKNOWN
    channel: int = 0


@dataclass(frozen=True)
class Turn:
    """One stretch of speech by one speaker on one channel; ``text`` is filled once words are attached."""

    speaker: str
    start_s: float
    end_s: float
    text: str = ""
    channel: int = 0

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


@dataclass(frozen=True)
class Event:
    """Something a reviewer may want to jump to: dead air, a hold, a talk-over, an interruption.

    ``speaker`` is who caused it where that means something (who cut in, who put the call on hold).
    """

    kind: str
    start_s: float
    end_s: float
    speaker: str = ""
    detail: str = ""


@dataclass(frozen=True)
class Features:
    """Per-call conversation measures; one row of the ``call_features`` view."""

    handle_time_s: float
    agent_talk_s: float
    customer_talk_s: float
    agent_talk_ratio: float
    silence_total_s: float
    longest_silence_s: float
    dead_air_events: int
    hold_events: int
    hold_total_s: float
    talkover_events: int
    talkover_total_s: float
    agent_interruptions: int
    customer_interruptions: int
    agent_wpm: float
    customer_wpm: float
    longest_agent_monologue_s: float
    mean_response_latency_s: float
