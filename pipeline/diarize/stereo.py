"""Dual-channel calls: each channel is one party, so turns are that channel's speech regions."""

from __future__ import annotations

from pipeline.diarize import DiarizationResult
from pipeline.types import UNKNOWN, Audio, Segment, Turn


class ChannelMapDiarizer:
    """Turns from per-channel speech regions; roles from the channel map (default left = agent)."""

    name = "channel-map"

    def __init__(self, channel_map: dict[int, str]):
        self.channel_map = dict(channel_map)

    def __call__(self, audio: Audio, speech_regions: list[list[Segment]]) -> DiarizationResult:
        turns = [
            Turn(self.channel_map.get(channel, UNKNOWN), region.start_s, region.end_s, channel=channel)
            for channel, regions in enumerate(speech_regions)
            for region in regions
        ]
        turns.sort(key=lambda turn: (turn.start_s, turn.end_s))
        # each channel is one party: nothing to guess
        return DiarizationResult(tuple(turns), len({turn.speaker for turn in turns}), 1.0)


class UnassignedMonoDiarizer:
    """Mono calls when no speaker model is configured: speech regions, speaker ``unknown`` (never guessed)."""

    name = "none"

    def __call__(self, audio: Audio, speech_regions: list[list[Segment]]) -> DiarizationResult:
        turns = tuple(Turn(UNKNOWN, region.start_s, region.end_s) for region in speech_regions[0])
        return DiarizationResult(turns, 1 if turns else 0, None)
