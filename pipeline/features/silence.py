"""Silence and dead air: the gaps where nobody speaks.

A silence is a gap between the merged speech of all speakers. Only gaps *between* speech count:
the time before the first word (ringing, connection) and after the last (hang-up) is not silence.
Dead air is a long silence that is not part of an announced hold (see ``hold.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pipeline import timeline
from pipeline.types import Event, Segment, Turn


@dataclass(frozen=True)
class SilenceStats:
    """All silences of a call, their total and longest, and the dead-air events among them."""

    silences: tuple[Segment, ...]
    total_s: float
    longest_s: float
    dead_air: tuple[Event, ...]


def speech_spans(turns: Sequence[Turn]) -> list[Segment]:
    """The union of all turns (every speaker), as sorted, non-overlapping spans."""
    return timeline.merge(Segment(turn.start_s, turn.end_s) for turn in turns)


def find_silences(turns: Sequence[Turn]) -> list[Segment]:
    """Gaps between speech where nobody speaks, in time order (leading/trailing gaps excluded)."""
    return timeline.gaps(Segment(turn.start_s, turn.end_s) for turn in turns)


def find_dead_air(
    silences: Sequence[Segment], holds: Sequence[Event], dead_air_min_s: float
) -> list[Event]:
    """Silences of at least ``dead_air_min_s`` not inside a hold, as ``dead_air`` events."""
    return [
        Event(
            kind="dead_air",
            start_s=silence.start_s,
            end_s=silence.end_s,
            detail=f"{silence.duration_s:.2f} s",
        )
        for silence in silences
        if silence.duration_s >= dead_air_min_s
        and not any(
            hold.start_s <= silence.start_s and silence.end_s <= hold.end_s for hold in holds
        )
    ]


def summarize_silence(
    silences: Sequence[Segment], holds: Sequence[Event], dead_air_min_s: float
) -> SilenceStats:
    """Total and longest silence (holds included: these are raw gaps) and the dead-air events."""
    return SilenceStats(
        silences=tuple(silences),
        total_s=sum(s.duration_s for s in silences),
        longest_s=max((s.duration_s for s in silences), default=0.0),
        dead_air=tuple(find_dead_air(silences, holds, dead_air_min_s)),
    )
