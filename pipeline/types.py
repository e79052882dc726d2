"""Plain data types passed between the pipeline's stages.

Times are seconds from the start of the call, as floats. Speakers are
``agent``, ``customer`` or ``unknown`` (``spk0``... before roles are assigned).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

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


# How much audio a stage that streams holds at a time, unless the source says otherwise.
DEFAULT_BLOCK_FRAMES = 60 * 16_000


class AudioSource(Protocol):
    """A decoded call the stages read by span or block: in memory (``Audio``) or spooled on disk
    (``audio.SpooledAudio``). Samples are float32 at ``sample_rate``, shape (channels, frames)."""

    path: str
    sample_rate: int
    source_sample_rate: int

    @property
    def channels(self) -> int: ...

    @property
    def frames(self) -> int: ...

    @property
    def duration_s(self) -> float: ...

    def read(
        self, first_frame: int = 0, last_frame: int | None = None, channel: int | None = None
    ) -> np.ndarray: ...

    def blocks(self, multiple_of: int = 1) -> Iterator[np.ndarray]: ...


@dataclass
class Audio:
    """A decoded call in memory: ``samples`` is float32, shape (channels, frames), at ``sample_rate``."""

    path: str
    sha256: str
    samples: np.ndarray
    sample_rate: int
    source_sample_rate: int
    source_format: str = ""
    block_frames: int = DEFAULT_BLOCK_FRAMES

    @property
    def channels(self) -> int:
        return int(self.samples.shape[0])

    @property
    def frames(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.sample_rate

    def read(
        self, first_frame: int = 0, last_frame: int | None = None, channel: int | None = None
    ) -> np.ndarray:
        """Samples [first_frame, last_frame) as (channels, frames), or one channel's as (frames,)."""
        first = max(0, first_frame)
        last = self.frames if last_frame is None else max(first, min(last_frame, self.frames))
        if channel is not None:
            return self.samples[channel, first:last]
        return self.samples[:, first:last]

    def blocks(self, multiple_of: int = 1) -> Iterator[np.ndarray]:
        """Consecutive (channels, n) pieces of about ``block_frames``, n a multiple of ``multiple_of``
        except in the last one."""
        step = block_length(self.block_frames, multiple_of)
        for first in range(0, self.frames, step):
            yield self.samples[:, first : first + step]


def block_length(block_frames: int, multiple_of: int) -> int:
    """``block_frames`` rounded down to a multiple of ``multiple_of`` (at least one multiple)."""
    return max(multiple_of, block_frames - block_frames % multiple_of)


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
